"""Tests of first1000.stats.meta (meta-analysis of per-cohort summary statistics).

References: numbers published by metafor 3.8-1 on ``dat.bcg`` (Colditz et al. 1994),
statsmodels' independent ``combine_effects`` called live, and METAL's own output for its
``tests/test_07`` (three studies, 2,495 markers) -- all files in tests/data/reference (see
its README).
"""

import doctest
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.meta_analysis import combine_effects

import first1000.stats.meta as meta_module
from first1000.errors import ModelError
from first1000.stats.meta import RESULT_COLUMNS, log_risk_ratio, meta_analyse

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference"
METAL = REFERENCE / "metal_test07"


# --- metafor's dat.bcg ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def bcg():
    d = pd.read_csv(REFERENCE / "dat_bcg.csv")
    yi, vi = log_risk_ratio(d["tpos"], d["tneg"], d["cpos"], d["cneg"])
    return pd.DataFrame({"trial": d["trial"], "estimate": yi, "se": np.sqrt(vi)})


def _one(table, **kwargs):
    res = meta_analyse(table, by=None, study="trial", **kwargs)
    assert list(res.columns) == RESULT_COLUMNS and len(res) == 1
    return res.iloc[0]


def test_log_risk_ratio_matches_escalc(bcg):
    # metafor escalc("RR", ai=tpos, bi=tneg, ci=cpos, di=cneg, data=dat.bcg) prints (4 digits)
    # yi -0.8893, vi 0.3256 for trial 1 and yi -0.0173, vi 0.0714 for trial 13
    assert bcg["estimate"].iloc[0] == pytest.approx(-0.8893, abs=5e-5)
    assert bcg["se"].iloc[0] ** 2 == pytest.approx(0.3256, abs=5e-5)
    assert bcg["estimate"].iloc[12] == pytest.approx(-0.0173, abs=5e-5)
    assert bcg["se"].iloc[12] ** 2 == pytest.approx(0.0714, abs=5e-5)
    # and the formulas themselves, trial 13: 27/16913 treated vs 29/17854 control
    assert bcg["estimate"].iloc[12] == pytest.approx(np.log((27 / 16913) / (29 / 17854)), rel=1e-14)
    assert bcg["se"].iloc[12] ** 2 == pytest.approx(
        1 / 27 - 1 / 16913 + 1 / 29 - 1 / 17854, rel=1e-14
    )


def test_log_risk_ratio_continuity_correction_only_for_zero_cells():
    yi, vi = log_risk_ratio([0, 4], [10, 6], [2, 2], [8, 8])
    # zero cell: 1/2 added to all four cells of that study only
    assert yi[0] == pytest.approx(np.log((0.5 / 11) / (2.5 / 11)))
    assert vi[0] == pytest.approx(1 / 0.5 - 1 / 11 + 1 / 2.5 - 1 / 11)
    assert yi[1] == pytest.approx(np.log((4 / 10) / (2 / 10)))
    assert vi[1] == pytest.approx(1 / 4 - 1 / 10 + 1 / 2 - 1 / 10)


def test_fixed_effect_matches_metafor(bcg):
    r = _one(bcg, method="FE")
    assert r["estimate"] == pytest.approx(-0.430285, abs=5e-7)
    assert r["se"] == pytest.approx(0.040499, abs=5e-7)
    assert r["Q"] == pytest.approx(152.2330, abs=5e-5)
    assert r["Q_df"] == 12 and r["tau2"] == 0
    assert r["fe_estimate"] == r["estimate"]
    # FE: the prediction interval is the confidence interval
    assert (r["pi_low"], r["pi_high"]) == (r["ci_low"], r["ci_high"])
    assert np.isnan(r["tau2_ci_low"]) and np.isnan(r["tau2_ci_high"])


def test_dersimonian_laird_matches_metafor(bcg):
    r = _one(bcg, method="DL")
    assert r["estimate"] == pytest.approx(-0.714117, abs=5e-7)
    assert r["se"] == pytest.approx(0.178742, abs=5e-7)
    assert r["tau2"] == pytest.approx(0.308760, abs=5e-7)
    # DL: I2 from tau2 is the classic 100 (Q - df) / Q
    assert r["I2"] == pytest.approx(100 * (r["Q"] - 12) / r["Q"], rel=1e-12)


def test_dersimonian_laird_matches_statsmodels(bcg):
    r = _one(bcg, method="DL")
    sm = combine_effects(bcg["estimate"].to_numpy(), bcg["se"].to_numpy() ** 2, method_re="dl")
    assert r["estimate"] == pytest.approx(sm.mean_effect_re, rel=1e-12)
    assert r["se"] == pytest.approx(sm.sd_eff_w_re, rel=1e-12)
    assert r["tau2"] == pytest.approx(sm.tau2, rel=1e-12)
    assert r["fe_estimate"] == pytest.approx(sm.mean_effect_fe, rel=1e-12)
    assert r["fe_se"] == pytest.approx(sm.sd_eff_w_fe, rel=1e-12)
    assert r["Q"] == pytest.approx(sm.q, rel=1e-12)
    assert r["I2"] == pytest.approx(100 * sm.i2, rel=1e-12)
    frame = sm.summary_frame()
    assert r["ci_low"] == pytest.approx(frame.loc["random effect", "ci_low"], rel=1e-12)
    assert r["ci_high"] == pytest.approx(frame.loc["random effect", "ci_upp"], rel=1e-12)
    # statsmodels' "random effect wls" row is the Knapp-Hartung variance (with z quantiles)
    kh = _one(bcg, method="DL", knapp_hartung=True)
    assert kh["se"] == pytest.approx(frame.loc["random effect wls", "sd_eff"], rel=1e-12)


def test_reml_matches_metafor(bcg):
    r = _one(bcg, method="REML")
    assert r["k"] == 13 and r["status"] == "ok"
    assert r["estimate"] == pytest.approx(-0.714532, abs=5e-7)
    assert r["se"] == pytest.approx(0.179782, abs=5e-7)
    assert r["ci_low"] == pytest.approx(-1.066898, abs=5e-7)
    assert r["ci_high"] == pytest.approx(-0.362167, abs=5e-7)
    assert r["tau2"] == pytest.approx(0.313243, abs=5e-7)
    assert r["tau2_ci_low"] == pytest.approx(0.1197, abs=5e-5)
    assert r["tau2_ci_high"] == pytest.approx(1.1115, abs=5e-5)
    assert r["I2"] == pytest.approx(92.2214, abs=5e-5)
    assert r["H2"] == pytest.approx(12.8558, abs=5e-5)
    assert r["Q"] == pytest.approx(152.2330, abs=5e-5) and r["Q_df"] == 12
    assert r["Q_p"] < 1e-20
    assert np.exp(r["pi_low"]) == pytest.approx(0.1546, abs=5e-5)
    assert np.exp(r["pi_high"]) == pytest.approx(1.5490, abs=5e-5)
    assert r["statistic"] == pytest.approx(r["estimate"] / r["se"]) and np.isnan(r["df"])
    assert r["direction"] == "-------+---+-"


def test_reml_score_is_zero_at_the_estimate(bcg):
    # REML estimating equation: sum w^2 (y - mu)^2 = tr P (independent of the iteration used)
    r = _one(bcg, method="REML")
    y, v = bcg["estimate"].to_numpy(), bcg["se"].to_numpy() ** 2
    w = 1 / (v + r["tau2"])
    mu = np.sum(w * y) / w.sum()
    assert np.sum(w**2 * (y - mu) ** 2) == pytest.approx(
        w.sum() - np.sum(w**2) / w.sum(), rel=1e-10
    )


def test_q_profile_bounds_solve_their_equations(bcg):
    from scipy import stats

    r = _one(bcg, method="REML")
    y, v = bcg["estimate"].to_numpy(), bcg["se"].to_numpy() ** 2

    def q(t):
        w = 1 / (v + t)
        return np.sum(w * (y - np.sum(w * y) / w.sum()) ** 2)

    assert q(r["tau2_ci_low"]) == pytest.approx(stats.chi2.isf(0.025, 12), rel=1e-10)
    assert q(r["tau2_ci_high"]) == pytest.approx(stats.chi2.isf(0.975, 12), rel=1e-10)


def test_knapp_hartung_matches_metafor(bcg):
    r = _one(bcg, method="REML", knapp_hartung=True)
    assert r["se"] == pytest.approx(0.1807917, abs=5e-8)
    assert r["df"] == 12
    from scipy import stats

    crit = stats.t.isf(0.025, 12)
    assert r["ci_low"] == pytest.approx(r["estimate"] - crit * r["se"], rel=1e-12)
    assert r["p"] == pytest.approx(2 * stats.t.sf(abs(r["estimate"] / r["se"]), 12), rel=1e-12)
    half = crit * np.sqrt(r["se"] ** 2 + r["tau2"])
    assert r["pi_high"] == pytest.approx(r["estimate"] + half, rel=1e-12)


# --- METAL test_07 ------------------------------------------------------------------------

_CODES = {"1": "a", "2": "c", "3": "g", "4": "t"}
_COMPLEMENT = {"a": "t", "c": "g", "g": "c", "t": "a"}


def _study(path, effect_allele, other_allele, beta, se, numeric_alleles=False):
    d = pd.read_csv(path, sep=r"\s+", dtype={effect_allele: str, other_allele: str})
    ea, oa = d[effect_allele].str.lower(), d[other_allele].str.lower()
    if numeric_alleles:
        ea, oa = ea.map(_CODES), oa.map(_CODES)
    return pd.DataFrame({"marker": d["SNP"], "ea": ea, "oa": oa, "estimate": d[beta], "se": d[se]})


def _align(study, reference):
    """Sign each effect towards METAL's Allele1 (test plumbing: the engine knows no alleles)."""
    m = study.merge(reference, on="marker", how="left", validate="one_to_one")
    a1, a2 = m["Allele1"].str.lower(), m["Allele2"].str.lower()
    same = (m["ea"] == a1) & (m["oa"] == a2)
    swap = (m["ea"] == a2) & (m["oa"] == a1)
    ea_c, oa_c = m["ea"].map(_COMPLEMENT), m["oa"].map(_COMPLEMENT)
    same |= ~swap & (ea_c == a1) & (oa_c == a2)  # other strand
    swap |= ~same & (ea_c == a2) & (oa_c == a1)
    sign = np.select([same, swap], [1.0, -1.0], np.nan)
    assert not np.isnan(sign).any(), "every study allele pair matches METAL's"
    m["estimate"] = m["estimate"] * sign
    return m[["marker", "estimate", "se"]]


@pytest.fixture(scope="module")
def metal():
    tbl = pd.read_csv(METAL / "test07.TBL", sep="\t", dtype={"P-value": str, "HetPVal": str})
    ref = tbl[["MarkerName", "Allele1", "Allele2"]].rename(columns={"MarkerName": "marker"})
    # METAL's study order = the order of PROCESS commands: DGI, FUSION, SARDINIA (the only
    # order under which every '?' in Direction sits where that study lacks the marker).
    studies = {
        "DGI": _study(
            METAL / "DGI_three_regions.txt",
            "EFFECT_ALLELE",
            "NON_EFFECT_ALLELE",
            "BETA",
            "SE",
            numeric_alleles=True,
        ),
        "FUSION": _study(
            METAL / "MAGIC_FUSION_Results.txt.gz",
            "EFFECT_ALLELE",
            "NON_EFFECT_ALLELE",
            "BETA",
            "SE",
        ),
        "SARDINIA": _study(METAL / "magic_SARDINIA.tbl", "AL1", "AL2", "EFFECT", "SE"),
    }
    long = pd.concat(
        [_align(d, ref).assign(cohort=name) for name, d in studies.items()], ignore_index=True
    )
    res = meta_analyse(long, by="marker", study="cohort", method="FE")
    merged = tbl.merge(
        res,
        left_on="MarkerName",
        right_on="marker",
        how="outer",
        validate="one_to_one",
        indicator=True,
    )
    assert (merged["_merge"] == "both").all(), "same 2,495 markers as METAL"
    return merged


def _within_last_digit(ours, printed_text):
    """|ours - printed| <= half a unit of the last printed significant digit (%.4g/%.3f...)."""
    printed = printed_text.astype(float).to_numpy()
    mantissa_digits = printed_text.str.replace(r"e.*$", "", regex=True)
    decimals = mantissa_digits.str.split(".").str[1].str.len().fillna(0).to_numpy()
    exponent = printed_text.str.extract(r"e([-+]?\d+)$")[0].astype(float).fillna(0).to_numpy()
    half_unit = 0.5 * 10.0 ** (exponent - decimals)
    return np.abs(ours - printed) <= half_unit * (1 + 1e-9) + 1e-15


def test_metal_effect_stderr_pvalue(metal):
    assert len(metal) == 2495
    assert (metal["Effect"].map("{:.4f}".format) == metal["estimate"].map("{:.4f}".format)).all()
    assert (metal["StdErr"].map("{:.4f}".format) == metal["se"].map("{:.4f}".format)).all()
    assert _within_last_digit(metal["p"].to_numpy(), metal["P-value"]).all()
    # and, printed the way METAL prints (%.4g for |z| < 20), identical text
    assert (metal["p"].map("{:.4g}".format) == metal["P-value"]).all()


def test_metal_heterogeneity(metal):
    assert (metal["HetDf"] == metal["Q_df"]).all()
    assert (metal["HetChiSq"].map("{:.3f}".format) == metal["Q"].map("{:.3f}".format)).all()
    assert (metal["HetISq"].map("{:.1f}".format) == metal["I2"].map("{:.1f}".format)).all()
    assert _within_last_digit(metal["Q_p"].to_numpy(), metal["HetPVal"]).all()
    single = metal["HetDf"] == 0
    assert single.sum() > 100
    assert (metal.loc[single, "I2"] == 0.0).all() and (metal.loc[single, "H2"] == 1.0).all()
    assert (metal.loc[single, "Q_p"] == 1.0).all() and (metal.loc[single, "k"] == 1).all()


def test_metal_direction(metal):
    assert (metal["Direction"] == metal["direction"]).all()
    assert metal["direction"].str.contains("0").sum() > 0  # METAL writes '0' for a zero effect


# --- hand-computed and edge cases ------------------------------------------------------------


def test_two_studies_by_hand():
    # y = 1, 3 with se = 1, 2: w = 1, 1/4; mu = (1 + 3/4) / (5/4) = 1.4; se = sqrt(1/1.25);
    # Q = 1 (0.4)^2 + 1/4 (1.6)^2 = 0.8; I2 = 0 (Q < df = 1); DL tau2 = max(0, (0.8-1)/c) = 0.
    t = pd.DataFrame(
        {"marker": "m", "cohort": ["A", "B"], "estimate": [1.0, 3.0], "se": [1.0, 2.0]}
    )
    for method in ("FE", "DL", "REML"):
        r = meta_analyse(t, method=method).iloc[0]
        assert r["estimate"] == pytest.approx(1.4)
        assert r["se"] == pytest.approx(np.sqrt(0.8))
        assert r["Q"] == pytest.approx(0.8) and r["Q_df"] == 1
        assert r["tau2"] == 0.0 and r["I2"] == 0.0
        assert r["direction"] == "++"
    # Larger spread: y = 0, 4 (se 1, 1): Q = 8, DL tau2 = (8 - 1) / (2 - 1) = 7,
    # RE weights 1/8 each: mu = 2, se = 2; REML for k = 2 equal v: tau2 = (y1-y2)^2/2 - v = 7.
    t2 = t.assign(estimate=[0.0, 4.0], se=[1.0, 1.0])
    for method in ("DL", "REML"):
        r = meta_analyse(t2, method=method).iloc[0]
        assert r["tau2"] == pytest.approx(7.0)
        assert r["estimate"] == pytest.approx(2.0) and r["se"] == pytest.approx(2.0)
        assert r["I2"] == pytest.approx(100 * 7 / 8) and r["H2"] == pytest.approx(8.0)
        assert r["fe_estimate"] == pytest.approx(2.0) and r["fe_se"] == pytest.approx(np.sqrt(0.5))
    fe = meta_analyse(t2, method="FE").iloc[0]
    assert fe["I2"] == pytest.approx(100 * 7 / 8) and fe["H2"] == pytest.approx(8.0)
    assert fe["Q_p"] == pytest.approx(0.004677734981047276, rel=1e-10)  # chi2.sf(8, 1)


@pytest.mark.parametrize("method", ["FE", "DL", "REML"])
def test_single_study_guard(method):
    t = pd.DataFrame({"marker": "m", "cohort": ["A"], "estimate": [0.3], "se": [0.1]})
    r = meta_analyse(t, method=method).iloc[0]
    assert r["k"] == 1 and r["status"] == "ok"
    assert r["estimate"] == 0.3 and r["se"] == pytest.approx(0.1)
    assert r["tau2"] == 0.0 and r["Q"] == 0.0 and r["Q_df"] == 0 and r["Q_p"] == 1.0
    assert r["I2"] == 0.0 and r["H2"] == 1.0  # exactly, not a rounding-error 100 %
    assert np.isnan(r["tau2_ci_low"]) and np.isnan(r["tau2_ci_high"])
    assert (r["pi_low"], r["pi_high"]) == (r["ci_low"], r["ci_high"])
    kh = meta_analyse(t, method=method, knapp_hartung=True).iloc[0]
    assert kh["estimate"] == 0.3 and np.isnan(kh["se"]) and np.isnan(kh["p"])
    assert "single study" in kh["status"]


def test_nan_invalid_and_skipped_rows():
    t = pd.DataFrame(
        {
            "marker": ["a"] * 5 + ["b"] * 2,
            "cohort": ["C1", "C2", "C3", "C4", "C5", "C1", "C2"],
            "estimate": [0.2, np.nan, 0.1, 0.4, -0.1, 0.3, 0.2],
            "se": [0.1, 0.1, 0.0, 0.2, np.inf, 0.1, 0.1],
            "status": ["ok", "ok", "ok", "ok", "ok", "failed", "separation"],
        }
    )
    res = meta_analyse(t, method="REML").set_index("marker")
    a, b = res.loc["a"], res.loc["b"]
    assert a["k"] == 2 and a["n_dropped"] == 3 and a["n_skipped"] == 0
    assert a["direction"] == "+??+?"
    ref = meta_analyse(t.iloc[[0, 3]], method="REML").iloc[0]
    assert a["estimate"] == ref["estimate"] and a["tau2"] == ref["tau2"]
    assert b["k"] == 0 and b["n_skipped"] == 2 and b["n_dropped"] == 0
    assert b["direction"] == "?????" and b["status"] != "ok"
    assert np.isnan(b["estimate"]) and np.isnan(b["Q"]) and np.isnan(b["fe_estimate"])
    # without a status column every row counts
    nostatus = meta_analyse(t.drop(columns="status")).set_index("marker")
    assert nostatus.loc["b", "k"] == 2 and nostatus.loc["b", "n_skipped"] == 0


def test_study_order_and_by_several_columns():
    t = pd.DataFrame(
        {
            "exposure": ["x", "x", "z", "z"],
            "outcome": ["y", "y", "y", "y"],
            "cohort": ["B", "A", "A", "B"],
            "estimate": [0.1, -0.2, 0.3, 0.0],
            "se": [0.1, 0.1, 0.1, 0.1],
        }
    )
    res = meta_analyse(t, by=["exposure", "outcome"], study_order=["A", "B"])
    assert list(res.columns[:2]) == ["exposure", "outcome"]
    assert list(res["direction"]) == ["-+", "+0"]
    assert list(meta_analyse(t, by=["exposure", "outcome"])["direction"]) == ["+-", "0+"]
    with pytest.raises(ModelError, match="study_order"):
        meta_analyse(t, by="exposure", study_order=["A"])


def test_group_results_do_not_depend_on_other_groups():
    rng = np.random.default_rng(1)
    t = pd.DataFrame(
        {
            "marker": np.repeat(np.arange(50), 4),
            "cohort": np.tile(list("ABCD"), 50),
            "estimate": rng.normal(0, 0.3, 200),
            "se": rng.uniform(0.05, 0.3, 200),
        }
    )
    t = t.sample(frac=1, random_state=2).reset_index(drop=True)  # shuffled rows
    res = meta_analyse(t, method="REML").set_index("marker")
    for m in (0, 17, 49):
        alone = meta_analyse(t[t["marker"] == m], method="REML").iloc[0]
        got = res.loc[m]
        for col in ("estimate", "se", "tau2", "tau2_ci_low", "tau2_ci_high", "I2", "Q"):
            assert got[col] == pytest.approx(alone[col], rel=1e-9, abs=1e-14)


# Two CpGs (simulated, 5 cohorts) on which plain Fisher scoring fails: for cg661297 it
# oscillates between ~0 and ~5e-5 for ever (observed information 3x the expected one), for
# cg586538 it crawls sublinearly towards the flat maximum at 0.
_HARD_REML = pd.DataFrame(
    [
        ("cg586538", "c0", 0.018632115697688655, 0.011353906059044204),
        ("cg586538", "c1", 0.011440665045137443, 0.00471673788227147),
        ("cg586538", "c2", 0.010444139983175471, 0.015392394771741078),
        ("cg586538", "c4", -0.02461639227619163, 0.016214795097694246),
        ("cg661297", "c0", 0.01511862339520629, 0.01724838908709909),
        ("cg661297", "c1", -0.0034282007371381944, 0.006431612585367264),
        ("cg661297", "c2", 0.01388505435089492, 0.016230701244693772),
        ("cg661297", "c3", 0.01396160008699463, 0.018375998064572414),
        ("cg661297", "c4", 0.013068822946923705, 0.017504101906779163),
    ],
    columns=["marker", "cohort", "estimate", "se"],
)


def _restricted_loglik(y, v, tau2):
    tau2 = np.atleast_1d(tau2)[:, None]
    w = 1 / (v + tau2)
    mu = (w * y).sum(1, keepdims=True) / w.sum(1, keepdims=True)
    return -0.5 * (np.log(v + tau2).sum(1) + np.log(w.sum(1)) + (w * (y - mu) ** 2).sum(1))


def test_reml_where_plain_fisher_scoring_fails():
    res = meta_analyse(_HARD_REML, method="REML").set_index("marker")
    assert (res["status"] == "ok").all()
    grid = np.concatenate([[0.0], np.geomspace(1e-10, 1e-2, 20_001)])
    for marker, rows in _HARD_REML.groupby("marker"):
        y, v = rows["estimate"].to_numpy(), rows["se"].to_numpy() ** 2
        best = _restricted_loglik(y, v, grid).max()
        # the estimate is the global maximum of the restricted likelihood on [0, inf)
        assert _restricted_loglik(y, v, res.loc[marker, "tau2"])[0] >= best - 1e-12
    assert res.loc["cg586538", "tau2"] == 0.0  # exactly, on the boundary
    assert 0 < res.loc["cg661297", "tau2"] < 5e-5


def test_knapp_hartung_identical_estimates_keeps_the_unadjusted_se():
    # metafor: s2w = 1 when sum w (y - mu)^2 <= .Machine$double.eps (else the SE would be 0)
    t = pd.DataFrame(
        {"marker": "m", "cohort": ["A", "B", "C"], "estimate": 0.2, "se": [0.1, 0.2, 0.1]}
    )
    kh = meta_analyse(t, method="REML", knapp_hartung=True).iloc[0]
    plain = meta_analyse(t, method="REML").iloc[0]
    assert kh["se"] == pytest.approx(plain["se"]) and kh["df"] == 2


@pytest.mark.parametrize("method", ["DL", "REML"])
def test_results_scale_with_the_data(bcg, method):
    # CpG-sized effects (1e-3 of the log risk ratios): same I2, tau2 scaled by 1e-6, ...
    big = _one(bcg, method=method)
    small = _one(bcg.assign(estimate=bcg["estimate"] * 1e-3, se=bcg["se"] * 1e-3), method=method)
    for col in ("estimate", "se", "ci_low", "pi_high"):
        assert small[col] == pytest.approx(big[col] * 1e-3, rel=1e-9)
    for col in ("tau2", "tau2_ci_low", "tau2_ci_high"):
        assert small[col] == pytest.approx(big[col] * 1e-6, rel=1e-9)
    for col in ("I2", "H2", "Q", "p"):
        assert small[col] == pytest.approx(big[col], rel=1e-9)


def test_misuse_raises():
    t = pd.DataFrame(
        {"marker": "m", "cohort": ["A", "A"], "estimate": [0.1, 0.2], "se": [0.1, 0.1]}
    )
    with pytest.raises(ModelError, match="repeat a study"):
        meta_analyse(t)
    with pytest.raises(ModelError, match="unknown meta-analysis method"):
        meta_analyse(t, method="PM")
    with pytest.raises(ModelError, match="not in the table"):
        meta_analyse(t, se="stderr")
    with pytest.raises(ModelError, match="alpha"):
        meta_analyse(t, alpha=1.5)
    with pytest.raises(ModelError, match="missing label"):
        meta_analyse(t.assign(cohort=["A", None]))
    with pytest.raises(ModelError, match="numeric"):
        meta_analyse(t.assign(cohort=["A", "B"], se=["x", "y"]))


def test_empty_table():
    t = pd.DataFrame({"marker": [], "cohort": [], "estimate": [], "se": []})
    res = meta_analyse(t)
    assert len(res) == 0 and list(res.columns) == ["marker", *RESULT_COLUMNS]


def test_many_markers_vectorised_speed():
    """200,000 markers x 3 cohorts in one call (measured, not asserted: no per-marker loop)."""
    rng = np.random.default_rng(7)
    n_markers, cohorts = 200_000, ["ALSPAC", "GenR", "MoBa"]
    t = pd.DataFrame(
        {
            "marker": np.repeat(np.char.add("cg", np.arange(n_markers).astype(str)), 3),
            "cohort": np.tile(cohorts, n_markers),
            "estimate": rng.normal(0, 0.02, 3 * n_markers),
            "se": rng.uniform(0.005, 0.02, 3 * n_markers),
        }
    )
    start = time.perf_counter()
    res = meta_analyse(t, method="REML")
    elapsed = time.perf_counter() - start
    print(f"\nREML, {n_markers:,} markers x 3 cohorts: {elapsed:.2f} s")
    assert len(res) == n_markers and (res["status"] == "ok").all()
    assert res["tau2"].notna().all() and (res["tau2"] >= 0).all()
    # (a REML estimate may lie outside the Q-profile interval: different principles)
    assert (res["tau2_ci_low"] <= res["tau2_ci_high"]).all()
    assert ((res["I2"] >= 0) & (res["I2"] < 100) & (res["H2"] >= 1)).all()


def test_docstring_examples():
    failures, tried = doctest.testmod(meta_module, verbose=False)
    assert tried >= 4 and failures == 0
