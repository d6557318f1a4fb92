"""Pipeline-level combination of per-cohort results (first1000.analysis), on hand-made tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from first1000.analysis.mediation import MEDIATION_COLUMNS, combine_mediation


def _rows(cohort, estimate, se, scale="difference", effect="tnie"):
    return dict(cohort=cohort, exposure="x", mediator="m", outcome="y", effect=effect, scale=scale,
                estimate=estimate, se=se, ci_low=np.nan, ci_high=np.nan, p=0.01, n=100, n_boot=1000,
                contrast="sd", a0=0.0, a1=1.0, ci_method="percentile", seed=1, covariates="", status="ok")


def test_mediation_meta_pools_ratios_on_the_log_scale_and_skips_pm():
    eff = pd.DataFrame([
        _rows("a", 2.0, 0.2, "risk_ratio"), _rows("b", 1.0, 0.1, "risk_ratio"),
        _rows("a", 0.3, 0.1), _rows("b", 0.1, 0.1),
        _rows("a", 0.5, np.nan, effect="pm"), _rows("b", 0.4, np.nan, effect="pm"),
    ])
    out = combine_mediation(eff, {"method": "FE", "knapp_hartung": False})
    meta = out[out.cohort == "meta"].set_index("scale")
    # log RR: (ln 2 / 0.04 + 0 / 0.01) / (25 + 100) -> exp
    w = np.array([1 / 0.04, 1 / 0.01])
    log_rr = (np.log(2.0) * w[0]) / w.sum()
    assert meta.loc["risk_ratio", "estimate"] == pytest.approx(np.exp(log_rr))
    assert meta.loc["risk_ratio", "ci_low"] == pytest.approx(np.exp(log_rr - 1.959964 * w.sum() ** -0.5), rel=1e-6)
    assert meta.loc["difference", "estimate"] == pytest.approx(0.2)
    assert meta.loc["difference", "n"] == 200 and meta.loc["difference", "k"] == 2
    assert not ((out.cohort == "meta") & (out.effect == "pm")).any()
    # FDR of tnie (first scale of each path) within each cohort: one path -> q = p
    first = out[(out.effect == "tnie") & (out.scale == "risk_ratio") & (out.cohort == "a")]
    assert first.q.iloc[0] == pytest.approx(0.01)


def _mediation_data(n=600, seed=3):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    c = rng.normal(size=n)
    m = 0.5 * x + 0.3 * c + rng.normal(size=n)
    y = 0.4 * m + 0.2 * x + 0.3 * c + rng.normal(size=n)
    return pd.DataFrame({"cohort": "a", "x": x, "m": m, "y": y, "c": c})


SETTINGS = dict(n_boot=200, ci_method="percentile", inference="bootstrap", contrast=[0.0, 1.0],
                interaction=False, sensitivity=False)


def test_mediation_under_multiple_imputation_pools_by_rubin():
    from first1000.analysis.mediation import mediation

    data = _mediation_data()
    paths = [{"exposure": "x", "mediator": "m", "outcome": "y"}]
    missing = {"method": "multiple_imputation", "m": 5, "max_iter": 5, "auxiliary": []}
    full, _, _ = mediation(data, paths, ["c"], SETTINGS, 7, {}, missing_data=missing)
    # Nothing missing: MI is not needed and the result is the complete-data analysis.
    plain, _, _ = mediation(data, paths, ["c"], SETTINGS, 7, {})
    pd.testing.assert_frame_equal(full, plain)
    # The mediator missing at random given the outcome (complete cases are biased).
    gappy = data.copy()
    rng = np.random.default_rng(11)
    gappy.loc[rng.random(len(gappy)) < np.where(gappy.y > 0.5, 0.8, 0.1), "m"] = np.nan
    mi, _, _ = mediation(gappy, paths, ["c"], SETTINGS, 7, {}, missing_data=missing)
    cc, _, _ = mediation(gappy, paths, ["c"], SETTINGS, 7, {})
    mi, cc, full = (t.set_index("effect") for t in (mi, cc, full))
    assert (mi.m == 5).all() and mi.fmi.between(0, 1).all()
    assert mi.loc["tnie", "n"] == len(gappy) and cc.loc["tnie", "n"] < len(gappy)
    assert "Rubin's rules over m=5" in mi.loc["tnie", "ci_method"]
    # Closer to the full-data estimate than the complete cases (truth 0.5 * 0.4 = 0.2).
    assert abs(mi.loc["tnie", "estimate"] - full.loc["tnie", "estimate"]) < \
        abs(cc.loc["tnie", "estimate"] - full.loc["tnie", "estimate"])
    assert mi.loc["tnie", "ci_low"] < 0.2 < mi.loc["tnie", "ci_high"]


# --- issue #16: exposure coding, covariate types, dropped rows, Firth, statuses -----------


def _two_cohorts(n=240, seed=5):
    rng = np.random.default_rng(seed)
    x = rng.integers(1, 3, n).astype(float)  # binary exposure coded 1/2
    c = rng.normal(size=n)
    m = 0.5 * x + 0.3 * c + rng.normal(size=n)
    y = 0.4 * m + 0.2 * x + 0.3 * c + rng.normal(size=n)
    data = pd.DataFrame({"cohort": np.where(np.arange(n) % 2 == 0, "a", "b"), "x": x, "m": m, "y": y, "c": c})
    data.loc[rng.random(n) < 0.1, "c"] = np.nan
    return data


def test_mediation_compares_a_1_2_coded_exposure_1_to_2_and_counts_incomplete_rows():
    import statsmodels.api as sm

    from first1000.analysis.mediation import mediation

    data = _two_cohorts()
    paths = [{"exposure": "x", "mediator": "m", "outcome": "y"}]
    settings = {**SETTINGS, "contrast": "sd"}
    for schema in ({}, {"x": {"type": "binary"}}):
        eff, pth, _ = mediation(data, paths, ["c"], settings, 7, schema)
        rows = eff[eff.cohort != "meta"]
        assert (rows.contrast == "binary (1 -> 2)").all() and (rows.a0 == 1).all() and (rows.a1 == 2).all()
    a = data[data.cohort == "a"].dropna()
    total = sm.OLS(a.y, sm.add_constant(a[["x", "c"]])).fit().params["x"]  # per 1 -> 2
    te = eff[(eff.cohort == "a") & (eff.effect == "te")].iloc[0]
    assert te.estimate == pytest.approx(total, rel=1e-10)
    # n_missing: the cohort's rows left out (c missing), aggregate; meta: the sum
    for cohort in ("a", "b"):
        part = data[data.cohort == cohort]
        row = eff[(eff.cohort == cohort) & (eff.effect == "te")].iloc[0]
        assert row.n_missing == int(part.c.isna().sum()) and row.n == len(part) - row.n_missing
    meta = eff[(eff.cohort == "meta") & (eff.effect == "te")].iloc[0]
    assert meta.n_missing == int(data.c.isna().sum())
    assert list(eff.columns[:len(MEDIATION_COLUMNS)]) == MEDIATION_COLUMNS


def test_mediation_refuses_a_mixed_type_covariate_naming_mechanism_path_and_cohort():
    from first1000.analysis.associations import associations
    from first1000.analysis.mediation import mediation
    from first1000.errors import InputTableError

    data = _two_cohorts()
    # cohort a stores parity as text, cohort b as numbers: each is fine alone, the pooled
    # analysis would split "0" and 0 into two levels
    data["parity"] = pd.Series(["0", 0, "1", 1] * (len(data) // 4), dtype=object)
    paths = [{"exposure": "x", "mediator": "m", "outcome": "y"}]
    with pytest.raises(InputTableError) as err:
        mediation(data, paths, ["c", "parity"], SETTINGS, 7, {}, mechanism="immune")
    message = str(err.value)
    assert message.startswith("column 'parity' (mechanism immune, mediation path x -> m -> y, cohort pooled) "
                              "mixes numbers and text (120 numeric and 120 text values)")
    assert "recode 'parity' to one type" in message and "\n" not in message
    with pytest.raises(InputTableError, match=r"'parity' \(mechanism immune, cohort pooled\)"):
        associations(data, "immune", {"biomarkers": ["m"], "exposures": ["x"]}, ["parity"], {})
    # within one cohort, mixed values are refused in that cohort
    data.loc[data.index[0], "parity"] = 0
    with pytest.raises(InputTableError, match=r"cohort a\) mixes numbers and text \(1 numeric and 119 text"):
        mediation(data, paths, ["c", "parity"], SETTINGS, 7, {}, mechanism="immune")


def test_associations_count_the_rows_each_model_leaves_out():
    from first1000.analysis.associations import ASSOCIATION_COLUMNS, associations

    data = _two_cohorts()
    data.loc[data.index[:30], "m"] = np.nan
    out = associations(data, "immune", {"biomarkers": ["m"], "exposures": ["x"]}, ["c"], {})
    assert list(out.columns[:len(ASSOCIATION_COLUMNS)]) == ASSOCIATION_COLUMNS
    for cohort in ("a", "b"):
        part = data[data.cohort == cohort]
        row = out[out.cohort == cohort].iloc[0]
        assert row.n_missing == int(part[["m", "x", "c"]].isna().any(axis=1).sum())
        assert row.n + row.n_missing == len(part)
    assert out[out.cohort == "meta"].n_missing.iloc[0] == out[out.cohort.isin(["a", "b"])].n_missing.sum()


def test_mediation_firth_setting_reaches_the_effects_and_the_path_table():
    from first1000.analysis.mediation import mediation

    rng = np.random.default_rng(8)
    n = 150
    x = rng.normal(size=n)
    z = (np.arange(n) < 8).astype(float)
    m = 0.5 * x + rng.normal(size=n)
    y = (rng.random(n) < 1 / (1 + np.exp(-(-0.5 + 0.6 * m + 0.3 * x)))).astype(float)
    y[z == 1] = 1.0  # z separates the outcome in the full data
    data = pd.DataFrame({"cohort": "a", "x": x, "m": m, "y": y, "z": z})
    paths = [{"exposure": "x", "mediator": "m", "outcome": "y"}]
    schema = {"y": {"type": "binary"}}
    ml, ml_paths, _ = mediation(data, paths, ["z"], SETTINGS, 7, schema)
    assert ml.status.str.contains("separation").all()
    assert ml_paths.set_index("path").loc["c", "status"].startswith("perfect or quasi-perfect separation")
    eff, pth, _ = mediation(data, paths, ["z"], {**SETTINGS, "firth": True}, 7, schema)
    assert (eff.status == "ok").all() and eff.firth.all() and (eff.n_boot_dropped == 0).all()
    again, _, _ = mediation(data, paths, ["z"], {**SETTINGS, "firth": True}, 7, schema)
    assert again.to_csv(sep="\t", index=False) == eff.to_csv(sep="\t", index=False)  # byte-identical
    c = pth.set_index("path").loc["c"]
    assert c.status == "ok" and np.isfinite(c.estimate)


def test_sequential_paths_follow_the_same_pm_and_resample_rules():
    from first1000.analysis.mediation import mediation
    from first1000.stats.causal import PM_STATUS_CI

    rng = np.random.default_rng(12)
    n = 400
    x = rng.normal(size=n)
    m1 = 0.6 * x + rng.normal(size=n)
    m2 = 0.5 * m1 + rng.normal(size=n)
    paths = [{"exposure": "x", "mediator": ["m1", "m2"], "outcome": "y", "sequential": True}]
    for direct, ci_method in ((-0.3 * 0.6 - 0.4 * 0.5 * 0.6, "percentile"), (0.3, "bias_corrected")):
        y = 0.3 * m1 + 0.4 * m2 + direct * x + rng.normal(size=n)
        if ci_method == "percentile":  # the sample's total effect shrunk to a twentieth
            y = y - 0.95 * np.polyfit(x, y, 1)[0] * x
        data = pd.DataFrame({"cohort": "a", "x": x, "m1": m1, "m2": m2, "y": y})
        eff, _, _ = mediation(data, paths, [], {**SETTINGS, "ci_method": ci_method}, 3, {})
        e = eff.set_index("effect")
        assert (eff.n_boot_dropped == 0).all() and (~eff.firth.astype(bool)).all() and (eff.n_missing == 0).all()
        if ci_method == "percentile":  # te about 0: its CI includes 0, pm_joint is not reported
            assert e.loc["te", "ci_low"] < 0 < e.loc["te", "ci_high"]
            assert np.isnan(e.loc["pm_joint", "estimate"]) and e.loc["pm_joint", "status"] == PM_STATUS_CI.format(
                level="95%")
        else:  # a clear te: pm_joint = nie_joint / te, but no bias-corrected interval of a ratio
            assert e.loc["te", "ci_low"] > 0 and e.loc["pm_joint", "status"] == "ok"
            assert e.loc["pm_joint", "estimate"] == pytest.approx(e.loc["nie_joint", "estimate"] / e.loc["te", "estimate"],
                                                                  rel=1e-10)
            assert np.isnan(e.loc["pm_joint", "ci_low"]) and np.isfinite(e.loc["nie_joint", "ci_low"])


def test_a_cohort_model_on_fewer_than_min_cell_participants_is_not_shown_nor_pooled():
    """privacy.min_cell_size: an estimate on 4 women describes them. The small cohort's
    association, mediation effects, regression paths and sensitivity rows show no number
    (n stays), and the meta-analysis pools the other cohorts only."""
    from first1000.analysis.associations import associations
    from first1000.analysis.mediation import mediation
    from first1000.privacy import SMALL_MODEL

    big = _mediation_data(300, seed=4)
    small = _mediation_data(4, seed=5).assign(cohort="b")
    other = _mediation_data(200, seed=6).assign(cohort="c")
    data = pd.concat([big, small, other], ignore_index=True)
    hidden = SMALL_MODEL.format(min_cell=5)
    spec = {"biomarkers": ["m"], "exposures": ["x"]}
    out = associations(data, "immune", spec, [], {}, min_cell=5).set_index("cohort")
    assert out.loc["b", "status"] == hidden and out.loc["b", "n"] == 4
    assert out.loc["b", ["estimate", "se", "ci_low", "ci_high", "p", "q"]].isna().all()
    assert out.loc["a", "status"] == "ok" and out.loc["meta", "n"] == 300 + 200  # b left out
    shown = associations(data, "immune", spec, [], {}).set_index("cohort")  # min_cell 1: b fitted and pooled
    assert shown.loc["b", "status"] == "ok" and np.isfinite(shown.loc["b", "estimate"])
    assert shown.loc["meta", "n"] == 504 and shown.loc["a", "estimate"] == out.loc["a", "estimate"]
    paths = [{"exposure": "x", "mediator": "m", "outcome": "y"}]
    eff, pth, sens = mediation(data, paths, [], {**SETTINGS, "sensitivity": True}, 7, {}, min_cell=5)
    b = eff[eff.cohort == "b"]
    assert len(b) and (b.status == hidden).all() and b.estimate.isna().all() and (b.n == 4).all()
    assert (eff[eff.cohort == "meta"].n == 500).all()
    assert (pth[pth.cohort == "b"].status == hidden).all() and pth[pth.cohort == "b"].estimate.isna().all()
    assert set(sens.cohort) == {"a", "c", "pooled"}


def test_association_firth_setting_fits_a_separated_outcome():
    """A rare outcome (SGA-like: 6 cases in 120, all in the top exposure range) is
    quasi-separated: maximum likelihood gives no estimate (the demo's SGA forest plot was
    empty). With associations.firth the logistic model is Firth's penalised likelihood:
    the estimate and SE equal first1000.stats.regression.firth_logit (checked against R
    brglm2), the CI is Wald, the linear models are unchanged."""
    from scipy import stats

    from first1000.analysis.associations import associations
    from first1000.stats.regression import design_matrix, firth_logit

    rng = np.random.default_rng(11)
    n = 120
    x = np.sort(rng.normal(size=n))
    data = pd.DataFrame({"pseudo_id": [f"p{i}" for i in range(n)], "cohort": "a", "x": x,
                         "c": rng.normal(size=n), "sga": (np.arange(n) >= n - 6).astype(float),
                         "m": 0.4 * x + rng.normal(size=n)})
    schema = {"x": {"type": "continuous"}, "c": {"type": "continuous"}, "sga": {"type": "binary"},
              "m": {"type": "continuous"}}
    spec = {"biomarkers": ["m"], "exposures": ["x"], "outcomes": ["sga"]}
    data["m"] = data.x  # the biomarker separates the outcome exactly as x does
    ml = associations(data, "immune", spec, ["c"], schema).set_index("response")
    assert "separation" in ml.loc["sga", "status"] and np.isnan(ml.loc["sga", "estimate"])
    fit = associations(data, "immune", spec, ["c"], schema, firth=True).set_index("response")
    row = fit.loc["sga"]
    assert row.status == "ok" and row.model == "logistic (Firth)"
    X, names = design_matrix(data, ["m", "c"])
    ref = firth_logit(X, data.sga.to_numpy(float))
    k = names.index("m")
    assert row.estimate == pytest.approx(ref["coef"][k], rel=1e-9) and row.se == pytest.approx(ref["se"][k], rel=1e-9)
    z = stats.norm.ppf(0.975)
    assert row.ci_low == pytest.approx(ref["coef"][k] - z * ref["se"][k], rel=1e-9)
    pd.testing.assert_series_equal(fit.loc["m"], ml.loc["m"])  # the linear model is the same
    # a cohort without the outcome: the same model name, so the forest plot keeps one row
    # per pair (its meta row took the first cohort's "logistic" and split the pair)
    other = data.assign(cohort="b", pseudo_id="q" + data.pseudo_id, sga=np.nan)
    both = associations(pd.concat([other, data], ignore_index=True), "immune", spec, ["c"], schema, firth=True)
    assert set(both[both.response == "sga"].model) == {"logistic (Firth)"}


def test_the_mediation_sensitivity_rows_hide_the_iqr_contrast_as_the_effects_do():
    """With 12 participants the effects blanked a0/a1 (the exposure's 25th and 75th
    percentiles, each one participant's value) but the sensitivity rows printed them."""
    from first1000.analysis.mediation import mediation

    rng = np.random.default_rng(3)
    n = 12
    x, c = rng.normal(size=n), rng.normal(size=n)
    m = 0.5 * x + 0.3 * c + rng.normal(size=n)
    data = pd.DataFrame({"pseudo_id": [f"p{i}" for i in range(n)], "cohort": "a", "x": x, "m": m, "c": c,
                         "y": 0.4 * m + 0.2 * x + rng.normal(size=n)})
    settings = dict(n_boot=200, ci_method="percentile", inference="bootstrap", contrast="iqr", interaction=False,
                    sensitivity=True)
    eff, _, sens = mediation(data, [{"exposure": "x", "mediator": "m", "outcome": "y"}], ["c"], settings, 7, {},
                             min_cell=5)
    summary = sens[sens.part == "summary"]
    assert len(summary) and eff[["a0", "a1"]].isna().all().all() and summary[["a0", "a1"]].isna().all().all()
    assert summary.estimate.notna().all()  # the model itself (n 12 >= 5) stays
    _, _, shown = mediation(data, [{"exposure": "x", "mediator": "m", "outcome": "y"}], ["c"], settings, 7, {},
                            min_cell=3)
    assert shown[shown.part == "summary"].a0.notna().all()  # 12 values: 3 below the 25th percentile's position
