"""Mechanism-specific sensitivity analyses, optional covariates, percent differences and the
mood QC table, on values computed by hand or from a direct fit of the same data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from first1000.analysis import associations as analyse
from first1000.mechanisms import hpa, immune
from first1000.scoring import questionnaires as mood
from first1000.privacy import suppress_small_counts

SCHEMA = {"epds": {"label": "EPDS", "unit": "point", "type": "continuous"},
          "age": {"label": "Age", "unit": "years", "type": "continuous"},
          "wash": {"label": "Washes", "unit": "washes/week", "type": "continuous"}}


def test_winsorise_clips_at_mean_plus_minus_k_sd():
    x = pd.Series([0.0, 1.0, 2.0, 3.0, 20.0, np.nan])
    mean, sd = np.mean([0, 1, 2, 3, 20]), np.std([0, 1, 2, 3, 20], ddof=1)
    out = hpa.winsorise(x, 1.0)
    assert out.iloc[4] == pytest.approx(mean + sd)  # 20 pulled in to mean + 1 SD
    assert out.iloc[:4].tolist() == [max(v, mean - sd) for v in (0.0, 1.0, 2.0, 3.0)]
    assert np.isnan(out.iloc[5])  # missing stays missing, nothing dropped


def test_hpa_prepare_writes_winsorised_copies_and_declares_the_analysis():
    n = 30
    values = np.exp(np.r_[np.linspace(2.0, 3.0, n - 1), 9.0])  # one far outlier
    hair = pd.DataFrame({"pseudo_id": [f"p{i}" for i in range(n)], "segment_start_cm": 0.0, "segment_end_cm": 3.0,
                         "cortisol": values, "below_limit": False})
    settings = {"windows": {"t3": [0, 3]}, "loq": 1.0, "outlier_sd": 3,
                "covariates": ["hair_wash_frequency", "corticosteroid_use"]}
    biomarkers, qc = hpa.prepare({"c": hair}, settings)
    ln = np.log(values)
    upper = ln.mean() + 3 * ln.std(ddof=1)
    assert biomarkers.hair_cortisol_t3_ln.max() == pytest.approx(9.0)
    assert biomarkers.hair_cortisol_t3_ln_winsorised.max() == pytest.approx(upper)
    assert int(qc.n_outliers.iloc[0]) == 1
    (analysis,) = hpa.sensitivity_analyses(settings)
    assert analysis["replace"] == {"hair_cortisol_t3_ln": "hair_cortisol_t3_ln_winsorised"}
    assert "3 SD" in analysis["description"]
    assert hpa.optional_covariates(settings) == ["hair_wash_frequency", "corticosteroid_use"]


def _immune_long(crp, il1b_below):
    ids = [f"p{i}" for i in range(len(crp))]
    return pd.concat([
        pd.DataFrame({"pseudo_id": ids, "marker": "crp", "value": crp, "below_limit": False}),
        pd.DataFrame({"pseudo_id": ids, "marker": "il1b", "value": np.where(il1b_below, np.nan, 0.5),
                      "below_limit": il1b_below}),
    ], ignore_index=True)


def test_immune_crp_flag_il1b_detection_and_qc():
    crp = np.array([2.0, 12.0, 4.0, 30.0, np.nan, 9.9])
    below = np.array([True, False, True, False, False, False])
    biomarkers, qc = immune.prepare({"c": _immune_long(crp, below)}, {"lod": {"il1b": 0.2}, "crp_exclusion_mg_l": 10})
    row = biomarkers.set_index("pseudo_id")
    assert row.crp_above_limit.tolist() == [False, True, False, True, False, False]  # missing CRP: kept
    assert row.il1b_ln.tolist() == pytest.approx(np.log([0.2 / np.sqrt(2), 0.5, 0.2 / np.sqrt(2), 0.5, 0.5, 0.5]))
    q = qc.set_index("marker")
    assert q.loc["crp", "n_above_limit"] == 2 and q.loc["crp", "pct_above_limit"] == pytest.approx(40.0)
    assert q.loc["il1b", "pct_below_lod"] == pytest.approx(100 * 2 / 6) and np.isnan(q.loc["il1b", "n_above_limit"])
    (analysis,) = immune.sensitivity_analyses({"crp_exclusion_mg_l": 10})
    assert analysis == {"name": "crp_le_10", "exclude": "crp_above_limit",
                        "description": "excluding participants with CRP > 10 mg/L (acute infection or inflammation)"}
    assert immune.sensitivity_analyses({"crp_exclusion_mg_l": None}) == []
    # two flagged participants (< 5) are suppressed in the report, and their percentage with them
    shown = suppress_small_counts(qc, 5).set_index("marker")
    assert shown.loc["crp", "n_above_limit"] == "<5" and np.isnan(shown.loc["crp", "pct_above_limit"])


def test_percent_difference_is_the_back_transformed_log_effect():
    rows = pd.DataFrame({
        "cohort": "c", "mechanism": "m", "predictor": ["x", "x", "x"], "response": ["a_ln", "b", "y"],
        "model": "linear", "n": 10, "estimate": [0.05, 0.05, 0.05], "se": 0.01, "ci_low": [0.01, 0.01, 0.01],
        "ci_high": [0.09, 0.09, 0.09], "p": 0.01, "family": ["gaussian", "gaussian", "binomial"],
        "covariates": "", "unit": ["ln T/S per point (x)", "M-value per point (x)", "log odds per point (x)"],
        "status": "ok"})
    out = analyse.combine_cohorts(rows)
    assert out.percent_difference[0] == pytest.approx(100 * (np.exp(0.05) - 1))  # 5.127 %
    assert out.percent_ci_low[0] == pytest.approx(100 * (np.exp(0.01) - 1))
    assert out.percent_ci_high[0] == pytest.approx(100 * (np.exp(0.09) - 1))
    assert out.percent_difference[1:].isna().all()  # not on the ln scale / a log odds ratio


def _two_cohorts(seed=3):
    rng = np.random.default_rng(seed)
    n = 120
    frame = pd.DataFrame({
        "pseudo_id": [f"p{i}" for i in range(2 * n)], "cohort": ["a"] * n + ["b"] * n,
        "epds": rng.normal(7, 4, 2 * n), "age": rng.normal(31, 4, 2 * n), "wash": rng.poisson(3, 2 * n) * 1.0,
    })
    frame.loc[frame.cohort == "b", "wash"] = np.nan  # cohort b did not record hair washing
    frame["y_ln"] = 0.03 * frame.epds - 0.02 * frame.wash.fillna(3) + rng.normal(0, 0.3, 2 * n)
    frame["y_ln_alt"] = frame.y_ln.clip(upper=frame.y_ln.quantile(0.9))
    frame["flag"] = rng.random(2 * n) < 0.2
    return frame


def test_optional_covariates_per_cohort_and_in_the_pooled_model():
    frame = _two_cohorts()
    subsets = {c: covs for c, _, covs in analyse.cohort_subsets(frame, ["age"], ["wash", "absent"])}
    assert subsets == {"a": ["age", "wash"], "b": ["age"], "pooled": ["age", "cohort"]}
    spec = {"biomarkers": ["y_ln"], "exposures": ["epds"]}
    out = analyse.associations(frame, "m", spec, ["age"], SCHEMA, optional_covariates=["wash"])
    a = out[out.cohort == "a"].iloc[0]
    direct = smf.ols("y_ln ~ epds + age + wash", data=frame[frame.cohort == "a"]).fit()
    assert a.estimate == pytest.approx(direct.params["epds"], rel=1e-9)
    assert a.covariates == "age+wash"
    meta = out[out.cohort == "meta"].iloc[0]
    assert meta.covariates == "a: age+wash; b: age"  # each cohort's set, not the first one's


def test_a_categorical_optional_covariate_is_nested_within_cohort_when_pooled():
    frame = _two_cohorts()
    frame["batch"] = np.where(np.arange(len(frame)) % 2 == 0, "p1", "p2")  # same labels, different cohorts
    subsets = {c: (d, covs) for c, d, covs in analyse.cohort_subsets(frame, ["age"], ["batch"])}
    pooled, covs = subsets["pooled"]
    assert covs == ["age", "batch_within_cohort"]  # no separate cohort term: the nested levels hold it
    assert sorted(pooled.batch_within_cohort.unique()) == ["a:p1", "a:p2", "b:p1", "b:p2"]
    spec = {"biomarkers": ["y_ln"], "exposures": ["epds"]}
    out = analyse.associations(frame, "m", spec, ["age"], SCHEMA, optional_covariates=["batch"])
    row = out[out.cohort == "pooled"].iloc[0]
    direct = smf.ols("y_ln ~ epds + age + C(batch)", data=frame.assign(batch=frame.cohort + frame.batch)).fit()
    assert row.estimate == pytest.approx(direct.params["epds"], rel=1e-9)


def test_sensitivity_analyses_refit_the_same_models():
    frame = _two_cohorts()
    spec = {"biomarkers": ["y_ln"], "exposures": ["epds"]}
    kwargs = dict(mechanism="m", spec=spec, covariates=["age"], data_schema=SCHEMA)
    main = analyse.associations(frame, **kwargs)
    analyses = [{"name": "alt", "description": "alternative values", "replace": {"y_ln": "y_ln_alt"}},
                {"name": "excl", "description": "flagged excluded", "exclude": "flag"}]
    out = analyse.sensitivity_associations(frame, main, analyses, **kwargs)
    assert set(out.analysis) == {"alt", "excl"}
    alt = out[(out.analysis == "alt") & (out.cohort == "a")].iloc[0]
    a = frame[frame.cohort == "a"]
    assert alt.estimate == pytest.approx(smf.ols("y_ln_alt ~ epds + age", data=a).fit().params["epds"], rel=1e-9)
    assert alt.response == "y_ln"  # reported under the main biomarker's name, beside its main estimate
    assert alt.estimate_main == pytest.approx(smf.ols("y_ln ~ epds + age", data=a).fit().params["epds"], rel=1e-9)
    excl = out[(out.analysis == "excl") & (out.cohort == "a")].iloc[0]
    kept = a[~a.flag]
    assert excl.n == len(kept) and excl.n_main == len(a)
    assert excl.estimate == pytest.approx(smf.ols("y_ln ~ epds + age", data=kept).fit().params["epds"], rel=1e-9)
    assert (out[out.cohort == "meta"].k == 2).all()


def test_mood_qc_table_from_the_harmonisation_reports():
    reports = pd.DataFrame({
        "cohort": ["a", "a", "a", "b"], "variable": ["epds", "resilience", "bmi", "epds"],
        "rule": ["derive", "derive", "direct", "direct"], "n": [4, 4, 4, 3], "n_missing": [0, 0, 0, 1],
        "n_prorated": [1, 0, np.nan, np.nan], "alpha": [0.81, 0.7, np.nan, np.nan],
        "note": ["epds: sum of 10 items (7 reversed) ...", "brs: mean of 6 items ...", "", ""],
    })
    participants = pd.DataFrame({"cohort": ["a"] * 4 + ["b"] * 4, "epds": [2, 4, 6, 8, 1, 3, 5, np.nan],
                                 "resilience": [3.0, 3.5, 4.0, 4.5] + [np.nan] * 4, "bmi": 25.0})
    schema = {"epds": {"label": "EPDS"}, "resilience": {"label": "BRS"}, "bmi": {"label": "BMI"}}
    qc = mood.qc_table(participants, reports, schema).set_index(["cohort", "variable"])
    assert list(qc.index) == [("a", "epds"), ("a", "resilience"), ("b", "epds")]  # bmi is no mood variable
    assert qc.loc[("a", "epds"), "alpha"] == 0.81 and qc.loc[("a", "epds"), "n_prorated"] == 1
    assert qc.loc[("a", "epds"), "mean"] == 5.0 and qc.loc[("a", "epds"), "sd"] == pytest.approx(np.std([2, 4, 6, 8],
                                                                                                         ddof=1))
    assert qc.loc[("a", "resilience"), "instrument"] == "brs"
    assert qc.loc[("b", "epds"), "scoring"] == "total supplied by the cohort"
    assert np.isnan(qc.loc[("b", "epds"), "alpha"]) and qc.loc[("b", "epds"), "median"] == 3.0


def test_a_0_1_modifier_gives_strata_0_and_1_and_the_planted_stratum_effects():
    from first1000.stats.modification import effect_modification

    rng = np.random.default_rng(8)
    n = 4000
    cmv = (rng.random(n) < 0.45).astype(float)  # a harmonised binary: float 0.0/1.0
    epds = rng.normal(7, 4, n)
    y = 0.15 * cmv - 0.025 * cmv * (epds - 7) + rng.normal(0, 0.35, n)
    fit = effect_modification(pd.DataFrame({"y": y, "epds": epds, "cmv": cmv}), "y", "epds", "cmv")
    strata = fit.strata[fit.strata.method == "stratified"].set_index("level")
    assert sorted(strata.index.astype(str)) == ["0", "1"]
    assert strata.loc[strata.index.astype(str) == "1", "estimate"].iloc[0] == pytest.approx(-0.025, abs=0.006)
    assert strata.loc[strata.index.astype(str) == "0", "estimate"].iloc[0] == pytest.approx(0.0, abs=0.006)


def test_a_suppressed_count_is_not_given_back_by_its_complement():
    qc = pd.DataFrame({"n_samples_in": [311, 300], "n_samples_removed": [1, 20], "n_samples_kept": [310, 280]})
    out = suppress_small_counts(qc, 5)
    assert out.n_samples_removed.tolist() == ["<5", 20]
    assert out.n_samples_kept.tolist() == [">306", 280]  # 307..310 kept: consistent with 1..4 removed


def test_ewas_covariates_add_cell_types_and_batch_where_given():
    from first1000.plan import ewas_covariates
    from first1000.stages.ewas import cohort_covariates

    def used(cfg, cohort):  # the plan's covariates (params), then the cohort's data (in the job)
        return cohort_covariates(people, cohort, *ewas_covariates(cfg))

    cfg = {"covariates": ["age"], "epigenome_wide": {},
           "preparation": {"methylation": {"covariates": ["cell_cd8t", "methylation_batch", "absent"]}}}
    people = pd.DataFrame({"cohort": ["a", "a", "b", "b"], "cell_cd8t": [0.1, np.nan, np.nan, np.nan],
                           "methylation_batch": ["p1", "p2", "p1", None]})
    assert used(cfg, "a") == ["age", "cell_cd8t", "methylation_batch"]
    assert used(cfg, "b") == ["age", "methylation_batch"]
    cfg["epigenome_wide"]["covariates"] = ["age", "methylation_batch"]  # declared: not added twice
    assert used(cfg, "a") == ["age", "methylation_batch", "cell_cd8t"]
