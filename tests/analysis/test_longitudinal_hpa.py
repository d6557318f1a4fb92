"""Hair cortisol of the pregnancy's windows in one mixed model (longitudinal stage, the
``gestation`` time axis): the windows' months, the long table, the model against
statsmodels' MixedLM written here, and a planted change over the pregnancy recovered."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from first1000.analysis.longitudinal import AXES, longitudinal_models, trajectories
from first1000.mechanisms.hpa import DAYS_PER_MONTH, repeated_measures, window_months

SCALP = {"windows": {"t3": [0, 3], "t2": [3, 6], "t1": [6, 9]}}
SCHEMA = {"ses_index": {"type": "continuous", "label": "SES index", "unit": "index unit"},
          "bmi": {"type": "continuous", "label": "BMI", "unit": "kg/m²"}}


def test_window_months_by_timing():
    # cut at a 40-week delivery (280 days = 9.20 months); 1 cm of hair per month
    term = 280 / DAYS_PER_MONTH
    assert window_months(SCALP) == pytest.approx({"t3": term - 1.5, "t2": term - 4.5, "t1": term - 7.5})
    assert window_months({**SCALP, "growth_cm_per_month": 1.5})["t1"] == pytest.approx(term - 7.5 / 1.5)
    gest = {"timing": "gestation", "windows": {"t1": [0, 14], "t2": [14, 28], "t3": [28, 43]}}
    assert window_months(gest) == pytest.approx({"t1": 7 * 7 / DAYS_PER_MONTH, "t2": 21 * 7 / DAYS_PER_MONTH,
                                                 "t3": 35.5 * 7 / DAYS_PER_MONTH})


def mothers(n=700, seed=5, per_month=0.0, main=-0.2, slope_sd=0.0):
    """Wide prepared table (as the hpa mechanism writes it) of two cohorts: the exposure's
    effect is ``main`` at mid-pregnancy and changes by ``per_month`` per month; baseline
    levels differ by window (wash-out), a random intercept per mother."""
    rng = np.random.default_rng(seed)
    months = window_months(SCALP)
    ses = rng.normal(size=n)
    bmi = rng.normal(25, 4, n)
    person = rng.normal(0, 0.45, n)
    slope = rng.normal(0, slope_sd, n)
    wide = pd.DataFrame({"pseudo_id": [f"p{i:04d}" for i in range(n)],
                         "cohort": np.where(np.arange(n) < n // 2, "a", "b")})
    for w, base in (("t3", np.log(20.1)), ("t2", np.log(6.8)), ("t1", np.log(5.7))):
        t = months[w] - 4.5
        value = (base + (main + per_month * t) * ses + 0.01 * (bmi - 25) + person + slope * t
                 + rng.normal(0, 0.35, n))
        value[rng.random(n) < 0.15] = np.nan  # a missing segment now and then
        wide[f"hair_cortisol_{w}_ln"] = value
    wide.loc[wide.cohort == "b", "hair_cortisol_t1_ln"] = np.nan  # cohort b cut 6 cm only
    people = pd.DataFrame({"pseudo_id": wide.pseudo_id, "cohort": wide.cohort, "ses_index": ses, "bmi": bmi})
    return wide, people


def long_table(wide, people):
    long = repeated_measures(wide, SCALP, AXES["gestation"].origin_months)
    return long.merge(people.drop(columns="cohort"), on="pseudo_id", how="left", validate="many_to_one")


def test_long_table_has_one_row_per_mother_and_measured_window():
    wide, people = mothers(n=40)
    long = repeated_measures(wide, SCALP, 4.5)
    assert len(long) == int(wide.filter(like="hair_cortisol").notna().sum().sum())
    assert list(long.columns) == ["pseudo_id", "cohort", "window", "hair_cortisol_ln", "pregnancy_month_c"]
    row = long[(long.pseudo_id == "p0000") & (long.window == "t2")]
    if len(row):
        assert row.hair_cortisol_ln.iloc[0] == wide.loc[0, "hair_cortisol_t2_ln"]
        assert row.pregnancy_month_c.iloc[0] == pytest.approx(280 / DAYS_PER_MONTH - 4.5 - 4.5)


@pytest.mark.parametrize("slope", [False, True])
def test_equals_statsmodels_mixedlm(slope):
    """Random intercept: the estimates equal MixedLM's. With a random slope on three
    windows MixedLM stops unconverged here; our REML optimum is then at least as good at
    its estimates (the criterion is ours, evaluated at both)."""
    from first1000.stats import mixed
    from first1000.stats.regression import design_matrix

    wide, people = mothers(slope_sd=0.05 if slope else 0.0)
    table = long_table(wide, people)
    fits = {}
    spec = {"scores": ["hair_cortisol_ln"], "exposures": ["ses_index"], "random_slope": slope}
    out = longitudinal_models(table, "hpa", spec, ["bmi"], SCHEMA, fits=fits, axis=AXES["gestation"])
    assert set(out.age_term) == {"mid_pregnancy", "per_month"}
    d = table[table.cohort == "a"]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = smf.mixedlm("hair_cortisol_ln ~ ses_index * pregnancy_month_c - pregnancy_month_c + C(window) + bmi",
                          d, groups=d.pseudo_id, re_formula="~pregnancy_month_c" if slope else "~1").fit(reml=True)
    ours = out[out.cohort == "a"].set_index("age_term")
    if slope:
        x, _ = design_matrix(d, ["ses_index", "window", "bmi"])
        x = np.column_stack([x, x[:, 1] * d.pregnancy_month_c.to_numpy()])
        z = np.column_stack([np.ones(len(d)), d.pregnancy_month_c])
        codes, uniques = mixed._codes(d.pseudo_id.to_numpy())
        sums = mixed._Sums(d.hair_cortisol_ln.to_numpy(), x, z, codes, len(uniques))
        at_ref = mixed._criterion(np.linalg.cholesky(np.asarray(ref.cov_re) / ref.scale)[np.tril_indices(2)], sums,
                                  True)
        fit = mixed.fit_lmm(d.hair_cortisol_ln.to_numpy(), x, d.pseudo_id.to_numpy(), z)
        assert fit["criterion"] <= at_ref + 1e-6
        assert ours.loc["per_month", "estimate"] == pytest.approx(fit["params"][-1], abs=1e-7)
    else:
        for term, name in (("mid_pregnancy", "ses_index"), ("per_month", "ses_index:pregnancy_month_c")):
            assert ours.loc[term, "estimate"] == pytest.approx(ref.fe_params[name], abs=2e-5)
            assert ours.loc[term, "se"] == pytest.approx(ref.bse_fe[name], rel=0.01)
    assert ours.loc["mid_pregnancy", "n_obs"] == len(d) and ours.loc["mid_pregnancy", "n_participants"] == \
        d.pseudo_id.nunique()
    assert ours.loc["per_month", "unit"].endswith("per month of pregnancy")
    assert set(out.cohort) == {"a", "b", "pooled", "meta"}
    effects = "intercept + month-of-pregnancy slope per mother" if slope else "intercept per mother"
    assert (out.random_effects == effects).all()


def test_planted_change_over_pregnancy_recovered_and_constant_effect_not():
    """A constant effect (the demo's: -0.2 per SES unit in every window) gives per_month
    CIs around 0 and mid-pregnancy CIs around -0.2; a planted change is found."""
    spec = {"scores": ["hair_cortisol_ln"], "exposures": ["ses_index"], "random_slope": False}
    found = []
    for seed in range(4):
        table = long_table(*mothers(seed=seed))
        pooled = longitudinal_models(table, "hpa", spec, ["bmi"], SCHEMA, axis=AXES["gestation"]) \
            .query("cohort == 'pooled'").set_index("age_term")
        assert pooled.loc["mid_pregnancy", "ci_low"] < -0.2 < pooled.loc["mid_pregnancy", "ci_high"]
        found.append(pooled.loc["per_month", "ci_low"] > 0 or pooled.loc["per_month", "ci_high"] < 0)
    assert sum(found) <= 1
    table = long_table(*mothers(seed=11, per_month=-0.03))
    pooled = longitudinal_models(table, "hpa", spec, ["bmi"], SCHEMA, axis=AXES["gestation"]) \
        .query("cohort == 'pooled'").set_index("age_term")
    row = pooled.loc["per_month"]
    assert row.ci_low <= -0.03 <= row.ci_high and row.ci_high < 0


def test_trajectories_at_each_window():
    table = long_table(*mothers())
    fits = {}
    spec = {"scores": ["hair_cortisol_ln"], "exposures": ["ses_index"], "random_slope": False}
    models = longitudinal_models(table, "hpa", spec, ["bmi"], SCHEMA, fits=fits, axis=AXES["gestation"])
    traj = trajectories(fits)
    months = sorted(window_months(SCALP).values())
    assert (traj.time_axis == "gestation").all() and traj.cohort.eq("pooled").all()
    for _, rows in traj.groupby("group"):
        assert rows.months.tolist() == pytest.approx(months)
    # the groups differ by 2 SD of SES times the effect at each window's month
    sd = table.drop_duplicates("pseudo_id").ses_index.std()
    pooled = models[models.cohort == "pooled"].set_index("age_term").estimate
    hi = traj[traj.group == "mean + 1 SD"].set_index("months").estimate
    lo = traj[traj.group == "mean \u2212 1 SD"].set_index("months").estimate
    for m in months:
        expected = 2 * sd * (pooled["mid_pregnancy"] + pooled["per_month"] * (m - 4.5))
        assert hi[m] - lo[m] == pytest.approx(expected, rel=1e-9)
    # ln cortisol is lower in older (more distal) hair: the window effects
    assert hi[months[-1]] > hi[months[0]]
