"""Tests of first1000.stats.ewas against independent computations.

* the least-squares fit against a per-CpG statsmodels OLS on the non-missing samples;
* the moderated statistics against a reference implementation of limma's ``squeezeVar``/
  ``fitFDist``/``trigammaInverse``/``eBayes`` written here from the published equations
  (Smyth 2004, Stat Appl Genet Mol Biol 3:3) - it does not use the engine's helpers;
* BH/Bonferroni against statsmodels ``multipletests``, lambda against ``chi2.isf``;
* sharding, chunking and missingness grouping for bitwise identity;
* the readers (Parquet, TSV, .npy) against the whole matrix converted at once.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import statsmodels.api as sm
from scipy import special, stats
from statsmodels.stats.multitest import multipletests

from first1000.errors import InputTableError, ModelError
from first1000.stats.ewas import (
    THRESHOLD_450K,
    THRESHOLD_EPIC,
    beta_to_m,
    ewas_fit,
    fit_prior,
    genomic_inflation,
    iqr_outliers,
    m_to_beta,
    moderate,
    multiple_testing,
    trigamma_inverse,
)
from first1000.analysis.epigenome import ewas  # the engine end to end on a file or a matrix
from first1000.io.methylation import read_methylation_chunks

NUMERIC = [
    "n", "n_outliers", "df_residual", "sigma2", "coef", "stdev_unscaled", "se", "t", "p",
    "coef_beta", "se_beta", "s2_post", "se_moderated", "t_moderated", "df_total",
    "p_moderated", "fdr", "bonferroni", "sig_450k", "sig_epic",
]  # fmt: skip


# --------------------------------------------------------------------------------------
# Simulated data
# --------------------------------------------------------------------------------------


def make_design(n: int, rng: np.random.Generator) -> pd.DataFrame:
    """Intercept, exposure and 4 covariates (2 binary), indexed by sample ID."""
    return pd.DataFrame(
        {
            "intercept": np.ones(n),
            "exposure": rng.normal(size=n),
            "sex": rng.integers(0, 2, n).astype(float),
            "ga": rng.normal(39, 1.5, n),
            "smoking": (rng.random(n) < 0.3).astype(float),
            "cells": rng.beta(3, 20, n),
        },
        index=[f"S{i:03d}" for i in range(n)],
    )


def make_m_values(design: pd.DataFrame, m: int, rng, planted=(), effect=0.0, d0=6.0, s0=0.3):
    """M-values with the limma variance model (sigma^2 = d0 s0^2 / chi2_d0)."""
    x = design.to_numpy()
    n, p = x.shape
    sigma = np.sqrt(d0 * s0**2 / rng.chisquare(d0, m))
    gamma = rng.normal(0, 0.3, (m, p)) * sigma[:, None] / x.std(axis=0).clip(1e-9)
    gamma[:, 0] = rng.normal(0, 2.5, m)  # mean M-value
    gamma[:, 1] = 0.0
    gamma[list(planted), 1] = effect * sigma[list(planted)]
    return gamma @ x.T + sigma[:, None] * rng.standard_normal((m, n))


def add_missing_patterns(y: np.ndarray, rng) -> list[np.ndarray]:
    """Three missingness patterns on blocks of CpGs (plus one pattern on a single CpG)."""
    n = y.shape[1]
    patterns = [rng.choice(n, k, replace=False) for k in (1, 3, 8)]
    y[10:40, patterns[0]] = np.nan
    y[100:130, patterns[1]] = np.nan
    y[200:205, patterns[2]] = np.nan
    y[250, patterns[1][:2]] = np.nan
    return patterns


@pytest.fixture(scope="module")
def sim():
    rng = np.random.default_rng(20240611)
    design = make_design(60, rng)
    y = make_m_values(design, 300, rng, planted=range(5), effect=1.0)
    add_missing_patterns(y, rng)
    return design, y


# --------------------------------------------------------------------------------------
# Stage a: the least-squares fit
# --------------------------------------------------------------------------------------


def test_fit_equals_statsmodels_ols_per_cpg(sim):
    design, y = sim
    terms = ["exposure", "smoking"]
    fit = ewas_fit(y, design, terms)
    assert list(fit.columns[:2]) == ["cpg", "term"]
    assert len(fit) == 2 * y.shape[0]
    x = design.to_numpy()
    checked = 0
    for i in range(y.shape[0]):
        obs = np.isfinite(y[i])
        ols = sm.OLS(y[i, obs], x[obs]).fit()
        rows = fit.iloc[2 * i : 2 * i + 2]
        assert (rows["cpg"] == i).all()
        assert (rows["n"] == obs.sum()).all()
        assert (rows["df_residual"] == ols.df_resid).all()
        np.testing.assert_allclose(rows["sigma2"], ols.scale, rtol=1e-8)
        for (_, row), j in zip(rows.iterrows(), (1, 4)):
            np.testing.assert_allclose(row["coef"], ols.params[j], rtol=1e-8)
            np.testing.assert_allclose(row["se"], ols.bse[j], rtol=1e-8)
            np.testing.assert_allclose(row["t"], ols.tvalues[j], rtol=1e-8)
            np.testing.assert_allclose(row["p"], ols.pvalues[j], rtol=1e-8)
            np.testing.assert_allclose(
                row["stdev_unscaled"], math.sqrt(np.linalg.inv(x[obs].T @ x[obs])[j, j]),
                rtol=1e-8,
            )  # fmt: skip
        checked += 1
    assert checked == 300
    assert (fit["status"] == "ok").all()
    assert (fit["n"] < 60).sum() == 2 * (30 + 30 + 5 + 1)


def test_fit_without_intercept_and_dataframe_input(sim):
    """No intercept (the constant is outside the column space) and a CpG x sample frame."""
    design, y = sim
    d = design.drop(columns="intercept")
    frame = pd.DataFrame(y[:20, ::-1], index=[f"cg{i}" for i in range(20)],
                         columns=list(design.index[::-1]))  # fmt: skip
    fit = ewas_fit(frame + 3.0, d, "exposure")
    for i in range(20):
        obs = np.isfinite(y[i])
        ols = sm.OLS(y[i, obs] + 3.0, d.to_numpy()[obs]).fit()
        row = fit.iloc[i]
        assert row["cpg"] == f"cg{i}"
        np.testing.assert_allclose([row["coef"], row["se"], row["sigma2"]],
                                   [ols.params[0], ols.bse[0], ols.scale], rtol=1e-8)  # fmt: skip


def test_beta_difference_equals_ols_on_beta_values(sim):
    design, y = sim
    beta = m_to_beta(y[:40])
    fit = ewas_fit(y[:40], design, "exposure", beta=beta)
    x = design.to_numpy()
    for i in range(40):
        obs = np.isfinite(beta[i])
        ols = sm.OLS(beta[i, obs], x[obs]).fit()
        np.testing.assert_allclose(fit["coef_beta"].iloc[i], ols.params[1], rtol=1e-8)
        np.testing.assert_allclose(fit["se_beta"].iloc[i], ols.bse[1], rtol=1e-8)


def test_missingness_groups_equal_fitting_each_cpg_alone(sim):
    design, y = sim
    block = y[[0, 12, 13, 105, 201, 250, 251]]  # complete, 3 patterns, a lone pattern
    together = ewas_fit(block, design, ["exposure", "sex"])
    for i in range(block.shape[0]):
        alone = ewas_fit(block[i : i + 1], design, ["exposure", "sex"])
        got = together.iloc[2 * i : 2 * i + 2].reset_index(drop=True)
        for col in ["n", "df_residual", "sigma2", "coef", "stdev_unscaled", "se", "t", "p"]:
            np.testing.assert_array_equal(got[col].to_numpy(), alone[col].to_numpy(), err_msg=col)


def test_too_few_samples_and_aliased_terms():
    rng = np.random.default_rng(3)
    design = make_design(12, rng)
    design["sex"] = [0.0] * 6 + [1.0] * 6
    y = rng.normal(size=(4, 12))
    y[1, 6:] = np.nan  # every 'sex = 1' sample missing: sex is aliased (not estimable)
    y[2, 5:] = np.nan  # 5 samples for 6 columns: too few
    y[3, :] = np.nan
    fit = ewas_fit(y, design, ["exposure", "sex"])
    status = fit["status"].astype(str).to_numpy().reshape(4, 2)
    assert status.tolist() == [
        ["ok", "ok"], ["ok", "not_estimable"], ["too_few_samples"] * 2, ["too_few_samples"] * 2
    ]  # fmt: skip
    cpg1 = fit.iloc[2:4]
    assert np.isnan(cpg1["coef"].iloc[1]) and np.isnan(cpg1["se"].iloc[1])
    # The exposure of CpG 1 is estimated as R's lm.fit does: the aliased column dropped.
    x = design.drop(columns="sex").to_numpy()[:6]
    ols = sm.OLS(y[1, :6], x).fit()
    np.testing.assert_allclose(cpg1["coef"].iloc[0], ols.params[1], rtol=1e-8)
    np.testing.assert_allclose(cpg1["se"].iloc[0], ols.bse[1], rtol=1e-8)
    assert cpg1["df_residual"].iloc[0] == 6 - 5
    assert fit.iloc[4:]["coef"].isna().all() and (fit.iloc[4:]["df_residual"] == 0).all()
    assert fit.iloc[4:]["n"].tolist() == [5, 5, 0, 0]


def test_design_misuse_raises(sim):
    design, y = sim
    bad = design.assign(copy=2 * design["exposure"])
    with pytest.raises(ModelError, match="rank deficient"):
        ewas_fit(y, bad, "exposure")
    with pytest.raises(ModelError, match="not a design column"):
        ewas_fit(y, design, "bmi")
    with pytest.raises(ModelError, match="missing or infinite"):
        ewas_fit(y, design.assign(ga=np.where(np.arange(60) == 3, np.nan, design["ga"])), "ga")
    with pytest.raises(ModelError, match="sample columns"):
        ewas_fit(y[:, :50], design, "exposure")


# --------------------------------------------------------------------------------------
# Stages b and c: limma's empirical Bayes, against a reference written from the equations
# --------------------------------------------------------------------------------------


def ref_trigamma_inverse(x: float) -> float:
    """limma trigammaInverse: Newton's method on 1/trigamma(y) from y = 1/2 + 1/x."""
    if x > 1e7:
        return 1.0 / math.sqrt(x)
    if x < 1e-6:
        return 1.0 / x
    y = 0.5 + 1.0 / x
    for _ in range(51):
        tri = float(special.polygamma(1, y))
        dif = tri * (1.0 - tri / x) / float(special.polygamma(2, y))
        y += dif
        if -dif / y < 1e-8:
            break
    return y


def ref_limma(coef, stdev_unscaled, s2, df):
    """squeezeVar(var, df) (fitFDist, covariate NULL, robust FALSE) and eBayes' t and p.

    Smyth (2004), eq. 4.1 and section 6.2: with e_g = log s_g^2 - digamma(d_g/2) +
    log(d_g/2), E e_g = log s0^2 - digamma(d0/2) + log(d0/2) and
    Var e_g = trigamma(d_g/2) + trigamma(d0/2).
    """
    s2 = np.asarray(s2, float)
    df = np.asarray(df, float)
    ok = [i for i in range(len(s2)) if np.isfinite(s2[i]) and df[i] > 0]
    x = [s2[i] for i in ok]
    d = [df[i] for i in ok]
    g = len(x)
    med = float(np.median(x))
    x = [max(v, 1e-5 * med) for v in x]
    e = [math.log(v) - float(special.digamma(k / 2)) + math.log(k / 2) for v, k in zip(x, d)]
    ebar = sum(e) / g
    evar = sum((v - ebar) ** 2 for v in e) / (g - 1)
    evar -= sum(float(special.polygamma(1, k / 2)) for k in d) / g
    if evar > 0:
        d0 = 2 * ref_trigamma_inverse(evar)
        s20 = math.exp(ebar + float(special.digamma(d0 / 2)) - math.log(d0 / 2))
    else:
        d0, s20 = math.inf, math.exp(ebar)
    df_pooled = float(np.sum(df))
    out = []
    for c, su, v, k in zip(coef, stdev_unscaled, s2, df):
        if not k > 0:
            out.append((np.nan, np.nan, np.nan, np.nan))
            continue
        post = s20 if math.isinf(d0) else (d0 * s20 + k * v) / (d0 + k)
        t = c / (su * math.sqrt(post))
        dft = min(k + d0, df_pooled)
        out.append((post, t, dft, 2 * stats.t.sf(abs(t), dft)))
    return d0, s20, np.array(out)


@pytest.mark.parametrize("with_missing", [False, True])
def test_moderated_statistics_equal_reference_limma(sim, with_missing):
    design, y = sim
    if not with_missing:
        y = np.where(np.isfinite(y), y, 0.0)
    fit = ewas_fit(y, design, "exposure")
    assert (fit["df_residual"].nunique() > 1) == with_missing
    prior = fit_prior(fit["sigma2"], fit["df_residual"])
    d0, s20, ref = ref_limma(fit["coef"], fit["stdev_unscaled"], fit["sigma2"], fit["df_residual"])
    assert math.isfinite(d0) and 2 < d0 < 30
    np.testing.assert_allclose(prior.df_prior, d0, rtol=1e-10)
    np.testing.assert_allclose(prior.s2_prior, s20, rtol=1e-10)
    assert prior.df_pooled == fit["df_residual"].sum()
    mod = moderate(fit, prior)
    for j, col in enumerate(["s2_post", "t_moderated", "df_total", "p_moderated"]):
        np.testing.assert_allclose(mod[col], ref[:, j], rtol=1e-9, err_msg=col)
    np.testing.assert_allclose(mod["se_moderated"], mod["coef"] / mod["t_moderated"], rtol=1e-12)


def test_infinite_prior_df_and_zero_variances():
    rng = np.random.default_rng(8)
    df = np.full(500, 20.0)
    s2 = np.full(500, 0.04) * rng.uniform(0.999, 1.001, 500)  # far less spread than chi2
    prior = fit_prior(s2, df)
    d0, s20, ref = ref_limma(np.ones(500), np.full(500, 0.1), s2, df)
    assert math.isinf(d0) and math.isinf(prior.df_prior)
    np.testing.assert_allclose(prior.s2_prior, s20, rtol=1e-12)
    fit = pd.DataFrame({"coef": np.ones(500), "stdev_unscaled": 0.1, "sigma2": s2,
                        "df_residual": df})  # fmt: skip
    mod = moderate(fit, prior.to_dict())
    np.testing.assert_allclose(mod["s2_post"], s20, rtol=1e-12)
    assert (mod["df_total"] == df.sum()).all()  # limma: min(d + Inf, df.pooled)
    np.testing.assert_allclose(mod["p_moderated"], ref[:, 3], rtol=1e-9)
    # Zero variances are offset to 1e-5 * median, as limma's fitFDist does.
    s2 = rng.chisquare(10, 400) / 10
    s2[:3] = 0.0
    prior = fit_prior(s2, np.full(400, 10.0))
    d0, s20, _ = ref_limma(np.ones(400), np.ones(400), s2, np.full(400, 10.0))
    assert prior.status == "zero variances offset"
    np.testing.assert_allclose([prior.df_prior, prior.s2_prior], [d0, s20], rtol=1e-10)


def ref_unequal_df(s2, df, xtol):
    """limma fitFDistUnequalDF1 (robust FALSE, no covariate), maximised with scipy."""
    from scipy.optimize import fminbound

    keep = df > 0
    x, d1 = s2[keep], df[keep] / 2
    x = np.maximum(x, 1e-12 * np.median(x[x > 0]))
    logmdigamma = lambda v: np.log(v) - special.digamma(v)  # noqa: E731
    w = 1 / special.polygamma(1, d1)
    emean = np.sum(w * (np.log(x) + logmdigamma(d1))) / np.sum(w)

    def minus_twice_loglik(par):
        d2 = par / (1 - par)
        d2s20 = d2 * np.exp(emean - logmdigamma(d2))
        return -2 * np.sum(-(d1 + d2) * np.log1p(d1 * x / d2s20) - d1 * np.log(d2s20)
                           + special.gammaln(d1 + d2) - special.gammaln(d2))  # fmt: skip

    par = fminbound(minus_twice_loglik, 0.5, 0.9998, xtol=xtol)
    d2 = par / (1 - par)
    return 2 * d2, float(np.exp(emean - logmdigamma(d2)))


def test_unequal_df_prior_equals_limma_fitfdistunequaldf1(sim):
    """limma >= 3.61's default when the df differ (missing values); method='auto'."""
    design, y = sim
    fit = ewas_fit(y, design, "exposure")
    s2, df = fit["sigma2"].to_numpy().copy(), fit["df_residual"].to_numpy().astype(float)
    s2[:2], df[:2] = np.nan, 0.0  # CpGs without a fit carry no weight
    prior = fit_prior(s2, df, method="unequal_df")
    assert prior.method == "unequal_df" and prior.n_cpgs == 298
    # R's optimize and scipy's fminbound are the same Brent algorithm (tolerance eps^0.25;
    # scipy's eps constant differs in the 4th digit, so the iterates agree to ~1e-10).
    d0, s20 = ref_unequal_df(s2, df, np.finfo(float).eps ** 0.25)
    np.testing.assert_allclose([prior.df_prior, prior.s2_prior], [d0, s20], rtol=1e-7)
    d0_tight, _ = ref_unequal_df(s2, df, 1e-12)  # the maximum likelihood estimate itself
    np.testing.assert_allclose(prior.df_prior, d0_tight, rtol=5e-3)
    assert fit_prior(s2, df, method="auto") == prior
    full = np.where(np.isfinite(y), y, 0.0)
    equal = ewas_fit(full, design, "exposure")
    args = (equal["sigma2"], equal["df_residual"])
    assert fit_prior(*args, method="auto") == fit_prior(*args)  # equal df: trigamma
    moderated = ewas(y, design, "exposure", scale="m", prior_method="auto")
    assert moderated.prior.method == "unequal_df"


def test_trigamma_inverse():
    y = np.array([1e-4, 0.01, 0.3, 1.0, 7.5, 120.0, 5e4])
    np.testing.assert_allclose(trigamma_inverse(special.polygamma(1, y)), y, rtol=1e-7)
    assert trigamma_inverse(2e7) == pytest.approx(1 / math.sqrt(2e7))
    assert trigamma_inverse(1e-7) == pytest.approx(1e7)
    for x in (0.05, 1.3, 40.0):
        assert trigamma_inverse(x) == pytest.approx(ref_trigamma_inverse(x), rel=1e-12)


# --------------------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------------------


def test_multiple_testing_and_lambda():
    rng = np.random.default_rng(5)
    p = np.concatenate([rng.uniform(size=997), [1e-9, 1.5e-7, 3e-7], [np.nan]])
    table = pd.DataFrame({"term": ["a"] * 1001 + ["b"] * 1001, "p_moderated": np.r_[p, p[::-1]]})
    out = multiple_testing(table)
    for term, values in (("a", p), ("b", p[::-1])):
        sel = (out["term"] == term).to_numpy()
        ok = np.isfinite(values)
        np.testing.assert_allclose(
            out.loc[sel, "fdr"].to_numpy()[ok],
            multipletests(values[ok], method="fdr_bh")[1],
            rtol=1e-12,
        )
        np.testing.assert_allclose(
            out.loc[sel, "bonferroni"].to_numpy()[ok],
            multipletests(values[ok], method="bonferroni")[1],
            rtol=1e-12,
        )
        assert np.isnan(out.loc[sel, "fdr"].to_numpy()[~ok]).all()  # fmt: skip
    assert out["sig_450k"].sum() == 4 and out["sig_epic"].sum() == 2
    assert THRESHOLD_450K == 2.4e-7 and THRESHOLD_EPIC == 9e-8
    z2 = stats.chi2.isf(p[np.isfinite(p)], 1)
    assert genomic_inflation(p) == pytest.approx(np.median(z2) / stats.chi2.ppf(0.5, 1), rel=1e-12)
    assert genomic_inflation(p) == pytest.approx(np.median(z2) / 0.4549, rel=2e-4)


def test_planted_cpgs_recovered_and_null_lambda():
    rng = np.random.default_rng(11)
    design = make_design(80, rng)
    planted = np.arange(0, 3000, 150)  # 20 CpGs
    y = make_m_values(design, 3000, rng, planted=planted, effect=1.2)
    result = ewas(y, design, "exposure", scale="m", chunk_cpgs=700)
    table = result.table
    hits = set(np.flatnonzero(table["fdr"].to_numpy() < 0.05))
    assert set(planted) <= hits
    assert len(hits - set(planted)) <= 3
    null = make_m_values(design, 5000, rng)
    lam = ewas(null, design, "exposure", scale="m").summary["lambda"].iloc[0]
    assert 0.9 < lam < 1.1
    assert 2 < result.prior.df_prior < 20  # simulated d0 = 6


# --------------------------------------------------------------------------------------
# Sharding, chunking, outliers
# --------------------------------------------------------------------------------------


def assert_tables_identical(a: pd.DataFrame, b: pd.DataFrame):
    assert len(a) == len(b)
    assert a["cpg"].astype(str).tolist() == b["cpg"].astype(str).tolist()
    assert a["term"].astype(str).tolist() == b["term"].astype(str).tolist()
    assert a["status"].astype(str).tolist() == b["status"].astype(str).tolist()
    for col in NUMERIC:
        if col in a.columns or col in b.columns:
            assert np.array_equal(a[col].to_numpy(), b[col].to_numpy(), equal_nan=True), col


def test_sharded_run_is_identical_to_one_pass(sim):
    design, y = sim
    y = y.copy()
    y[7, 4] = 9.0  # an outlier for the 3*IQR rule
    beta = m_to_beta(y)
    ids = np.array([f"cg{i:04d}" for i in range(y.shape[0])], dtype=object)
    terms = ["exposure", "sex"]
    options = dict(scale="beta", remove_outliers=True, beta_difference=True, npy_cpgs=ids)
    one = ewas(beta, design, terms, chunk_cpgs=64, **options)
    assert one.reasons["outliers_removed"] >= 1 and one.reasons["cpgs_with_missing"] > 66
    other_chunks = ewas(beta, design, terms, chunk_cpgs=7, prefetch=False, **options)
    assert_tables_identical(one.table, other_chunks.table)

    bounds = [0, 13, 50, 51, 120, 200, 260, 300]  # 7 shards, one with a single CpG
    fits = [
        ewas_fit(beta_to_m(beta[a:b]), design, terms, cpgs=ids[a:b], beta=beta[a:b],
                 remove_outliers=True)
        for a, b in zip(bounds[:-1], bounds[1:])
    ]  # fmt: skip
    first = [f[f["term"] == terms[0]] for f in fits]
    prior = fit_prior(np.concatenate([f["sigma2"] for f in first]),
                      np.concatenate([f["df_residual"] for f in first]))  # fmt: skip
    assert prior == one.prior
    table = pd.concat([moderate(f, prior) for f in fits], ignore_index=True)
    table = multiple_testing(table)
    assert_tables_identical(one.table, table)


def test_outlier_rule_by_hand():
    values = np.array(
        [
            [1, 2, 3, 4, 5, 6, 7, 8, 100],  # Q1 = 3, Q3 = 7, IQR 4: bounds -9 and 19
            [-40, 2, 3, 4, 5, 6, 7, 8, 19],  # 19 is on the bound (kept); -40 < -9
            [np.nan, 10, 11, 12, 13, np.nan, 14, 15, -30],  # 7 values: Q1 10.5, Q3 13.5
            [5, 5, 5, 5, 5, 5, 5, 5, 5.0001],  # IQR 0: anything off 5 is out
        ],
        dtype=float,
    )
    mask = iqr_outliers(values)
    expected = np.zeros(values.shape, bool)
    expected[0, 8] = expected[1, 0] = expected[2, 8] = expected[3, 8] = True
    np.testing.assert_array_equal(mask, expected)
    for row, m in zip(values, mask):  # numpy's linear quantile is R's type 7
        q1, q3 = np.nanquantile(row, [0.25, 0.75])
        np.testing.assert_array_equal(m, (row < q1 - 3 * (q3 - q1)) | (row > q3 + 3 * (q3 - q1)))
    assert iqr_outliers(values, k=0.2)[0, 7] and not iqr_outliers(values, k=0.25)[0, 7]
    # 10 values: Q1 = 3 + 0.25 (4 - 3) = 3.25, Q3 = 7 + 0.75 (8 - 7) = 7.75, upper 21.25.
    ten = np.array([[1, 2, 3, 4, 5, 6, 7, 8, 9, 21.3], [1, 2, 3, 4, 5, 6, 7, 8, 9, 21.2]])
    assert iqr_outliers(ten)[:, 9].tolist() == [True, False]


def test_quartiles_equal_a_full_sort_bit_for_bit_at_every_size():
    """The outlier rule's quartiles (one partition per rank and a minimum for the rank after
    it, #19) equal R's type 7 computed here on fully sorted values, bit for bit, at every
    number of samples (ranks that coincide, touch or lie apart), with ties and missing values."""
    from first1000.stats.ewas import _iqr_bounds

    rng = np.random.default_rng(7)
    for n in [*range(1, 30), 97, 494, 3000]:  # 3,000 samples: blocks of 349 rows (on 2 threads)
        rows = 800 if n == 3000 else 40
        for values, gaps in ((rng.normal(size=(rows, n)), False), (rng.normal(size=(rows, n)), True),
                             (rng.integers(0, 4, (rows, n)).astype(float), True)):
            if gaps:  # rows with a missing value take the sorting path; without, every row is partitioned
                values[::5, 0] = np.nan
            lower, upper = _iqr_bounds(values, 3.0)
            for row, lo, hi in zip(values, lower, upper):
                x = np.sort(row[np.isfinite(row)])
                if x.size == 0:
                    assert np.isnan(lo) and np.isnan(hi)
                    continue
                q = []
                for prob in (0.25, 0.75):
                    pos = (x.size - 1) * prob
                    j = int(np.floor(pos))
                    h = pos - j
                    q.append(x[j] if h == 0 or x[j + 1] == x[j] else (1 - h) * x[j] + h * x[j + 1])
                assert (lo, hi) == (q[0] - 3.0 * (q[1] - q[0]), q[1] + 3.0 * (q[1] - q[0])), n


def test_complete_cpgs_fitted_in_place_among_incomplete_ones_equal_their_fit_alone(sim):
    """A chunk whose CpGs are mostly complete fits every column where it lies (no gathered
    copy of the complete ones, #19): the incomplete columns' missing values, infinities and
    removed outliers leave every complete CpG's numbers bit for bit as fitted alone."""
    import warnings

    import first1000.stats.ewas as engine

    design, y = sim
    block = np.vstack([y[:10], y[10:13]])  # 10 complete CpGs, 3 with missing values
    block[3, 5] = np.inf  # one more incomplete
    block[6, 2] -= 30.0  # an outlier (beta ~0 where the others are ~0.98): removed by PACE's rule
    names = [f"cg{i:02d}" for i in range(len(block))]
    beta = m_to_beta(block)
    selections = []
    original = engine._fit_columns

    def spy(yt, dec, want, cols=None, scratch=None):
        selections.append(cols)
        return original(yt, dec, want, cols, scratch)

    for remove in (False, True):
        selections.clear()
        with warnings.catch_warnings(), pytest.MonkeyPatch.context() as patch:
            warnings.simplefilter("error")
            patch.setattr(engine, "_fit_columns", spy)
            together = ewas_fit(block, design, ["exposure"], cpgs=names, beta=beta, remove_outliers=remove)
        assert selections == [None, None]  # every column fitted where it lies (M-values, betas)
        complete = [i for i in range(len(block)) if np.isfinite(block[i]).all() and not (remove and i == 6)]
        assert 2 * len(complete) >= len(block) and len(complete) < len(block)
        alone = ewas_fit(block[complete], design, ["exposure"], cpgs=[names[i] for i in complete],
                         beta=beta[complete], remove_outliers=remove)
        assert_tables_identical(together.iloc[complete].reset_index(drop=True), alone)
        assert together["n"].iloc[3] == len(design) - 1 and together["n"].iloc[6] == len(design) - remove


def test_outlier_removal_equals_fitting_with_them_missing(sim):
    design, y = sim
    y = y[:50].copy()
    y[3, 10] += 25.0
    y[20, 0] -= 25.0
    mask = iqr_outliers(y)
    assert mask[3, 10] and mask[20, 0]
    got = ewas_fit(y, design, "exposure", remove_outliers=True)
    expected = ewas_fit(np.where(mask, np.nan, y), design, "exposure")
    assert got["n_outliers"].sum() == mask.sum()
    assert_tables_identical(got.drop(columns="n_outliers"), expected.drop(columns="n_outliers"))
    assert np.array_equal(y[3], y[3])  # the caller's matrix is left alone
    assert ewas_fit(y, design, "exposure")["n_outliers"].sum() == 0


# --------------------------------------------------------------------------------------
# Readers
# --------------------------------------------------------------------------------------


@pytest.fixture()
def beta_matrix():
    rng = np.random.default_rng(21)
    n_cpg, samples = 103, [f"S{i:02d}" for i in range(9)]
    beta = rng.beta(2, 3, (n_cpg, len(samples)))
    beta[5, 2] = np.nan
    beta[40, [0, 8]] = np.nan
    beta[41, 1] = 0.0  # clipped to 1e-6
    beta[42, 3] = 1.0
    ids = [f"cg{i:05d}" for i in range(n_cpg)]
    return ids, samples, beta


def read_all(source, order, chunk, **kw):
    parts = list(read_methylation_chunks(source, order, chunk_cpgs=chunk, return_beta=True, **kw))
    assert all(len(c.cpgs) <= chunk for c in parts)
    return (
        np.concatenate([c.cpgs for c in parts]).tolist(),
        np.vstack([c.m_values for c in parts]),
        np.vstack([c.beta for c in parts]),
    )


def test_readers_yield_the_whole_matrix_converted(tmp_path, beta_matrix):
    ids, samples, beta = beta_matrix
    order = [samples[i] for i in (4, 0, 8, 2, 6, 1)]  # a design with 6 of the 9 samples
    cols = [samples.index(s) for s in order]
    ln = np.log2(np.clip(beta[:, cols], 1e-6, 1 - 1e-6))
    expected = ln - np.log2(1 - np.clip(beta[:, cols], 1e-6, 1 - 1e-6))
    np.testing.assert_allclose(
        beta_to_m(beta[:, cols]), expected, rtol=1e-13, atol=1e-14, equal_nan=True
    )
    whole = beta_to_m(beta[:, cols])
    assert np.isfinite(whole[41:43]).all()

    shuffled = [samples[i] for i in (3, 8, 0, 5, 1, 7, 2, 6, 4)]
    frame = pd.DataFrame(beta[:, [samples.index(s) for s in shuffled]], columns=shuffled)
    frame.insert(0, "cpg", ids)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "b.parquet",
                   row_group_size=17)  # fmt: skip
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "one.parquet")
    frame.to_csv(tmp_path / "b.tsv", sep="\t", index=False, na_rep="NA")
    np.save(tmp_path / "b.npy", beta)

    sources = [
        (tmp_path / "b.parquet", {}),
        (tmp_path / "one.parquet", {}),  # one row group: streamed with iter_batches
        (tmp_path / "b.tsv", {}),
        (tmp_path / "b.npy", {"npy_samples": samples, "npy_cpgs": ids}),
        (pd.DataFrame(beta, index=ids, columns=samples), {}),
    ]
    for source, kw in sources:
        for chunk in (10, 17, 1000):
            got_ids, m_values, betas = read_all(source, order, chunk, **kw)
            assert got_ids == ids
            assert np.array_equal(m_values, whole, equal_nan=True), (source, chunk)
            assert np.array_equal(betas, beta[:, cols], equal_nan=True)


def test_reader_errors(tmp_path, beta_matrix):
    ids, samples, beta = beta_matrix
    frame = pd.DataFrame(beta, columns=samples)
    frame.insert(0, "cpg", ids)
    frame.to_parquet(tmp_path / "b.parquet", index=False)
    with pytest.raises(InputTableError, match="1 of the design's 3 samples"):
        next(read_methylation_chunks(tmp_path / "b.parquet", ["S01", "S02", "nobody"]))
    with pytest.raises(InputTableError, match="no CpG ID column"):
        next(read_methylation_chunks(tmp_path / "b.parquet", ["S01"], cpg_column="probe"))
    m_frame = frame.assign(S03=beta_to_m(beta[:, 3]))
    m_frame.to_parquet(tmp_path / "m.parquet", index=False)
    with pytest.raises(InputTableError, match="not beta values"):
        list(read_methylation_chunks(tmp_path / "m.parquet", samples, chunk_cpgs=50))
    with pytest.raises(InputTableError, match="does not exist"):
        next(read_methylation_chunks(tmp_path / "none.parquet", samples))


@pytest.mark.parametrize("scale", ["beta", "m"])
@pytest.mark.parametrize("return_beta", [False, True])
def test_parquet_chunks_converted_as_copied_equal_the_copy_converted(tmp_path, scale, return_beta):
    """A Parquet matrix's chunks are converted sample by sample as they are copied from
    Arrow: the same bits as the formulas written out in float64 here (betas clipped to
    [1e-6, 1 - 1e-6], M = log2(b / (1 - b)); betas of M-values 1 / (1 + 2^-M) as
    expit(M ln 2)), for float64, float32, integer and all-null columns, values at 0 and 1
    and within the clip of them, and missing values."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from scipy.special import expit

    from first1000.io.methylation import arrow_values

    rng = np.random.default_rng(12)
    n = 50
    values = rng.uniform(0.01, 0.99, n) if scale == "beta" else rng.normal(0, 3, n)
    if scale == "beta":
        values[:6] = [0.0, 1.0, 1e-7, 1 - 1e-7, 0.9999995, 5e-7]
    mask = np.zeros(n, bool)
    mask[[7, 31]] = True
    columns = {
        "cpg": pa.array([f"cg{k:04d}" for k in range(n)]),
        "S0": pa.array(values, mask=mask),
        "S1": pa.array(values.astype(np.float32)),
        "S2": pa.array((values > np.median(values)).astype(np.int64)),
        "S3": pa.nulls(n, type=pa.null()),
    }
    table = pa.table(columns)
    pq.write_table(table, tmp_path / "m.parquet", row_group_size=20)
    samples = ["S0", "S1", "S2", "S3"]
    got = list(read_methylation_chunks(tmp_path / "m.parquet", samples, chunk_cpgs=15, scale=scale,
                                       return_beta=return_beta))
    assert [len(c.cpgs) for c in got] == [15, 15, 15, 5]
    for k, chunk in enumerate(got):
        part = table.slice(15 * k, 15)
        x = np.empty((len(samples), part.num_rows))  # the values as float64
        for j, name in enumerate(samples):
            x[j] = arrow_values(part.column(name).combine_chunks())
        if scale == "beta":
            clipped = np.clip(x, 1e-6, 1 - 1e-6)
            yt, beta = np.log2(clipped / (1.0 - clipped)), x
        else:
            yt, beta = x, expit(x * np.log(2.0))
        np.testing.assert_array_equal(chunk.m_values, yt.T)
        assert np.array_equal(np.isnan(chunk.m_values), np.isnan(yt.T))
        finite = ~np.isnan(yt.T)
        assert (chunk.m_values[finite].view(np.uint64) == yt.T[finite].view(np.uint64)).all()
        if return_beta:
            np.testing.assert_array_equal(chunk.beta, beta.T)
        else:
            assert chunk.beta is None
        assert chunk.cpgs.tolist() == [f"cg{15 * k + i:04d}" for i in range(part.num_rows)]


def test_the_range_message_counts_the_values_outside_once(tmp_path):
    """A value outside [0, 1] far into a chunk (after blocks already turned into M-values,
    which lie outside [0, 1]) is counted alone, with the chunk's CpG rows."""
    from first1000.stats.ewas import _BLOCK

    rng = np.random.default_rng(3)
    n_samples = 50
    n_cpgs = 3 * _BLOCK // n_samples  # a chunk of three conversion blocks
    beta = rng.uniform(0.05, 0.95, (n_cpgs, n_samples))
    beta[-1, -1] = 1.25  # the last value of the chunk (its values are converted sample by sample)
    samples = [f"S{j:02d}" for j in range(n_samples)]
    with pytest.raises(InputTableError, match=rf"^1 value\(s\) in CpG rows 1-{n_cpgs} of the matrix lie outside"):
        list(read_methylation_chunks(beta, samples, chunk_cpgs=n_cpgs))
    # a Parquet file's chunks are converted sample by sample as they are copied: the same
    # count, over the samples not yet converted, and the chunk's rows in the file
    beta[n_cpgs - 5, 30] = -0.5
    frame = pd.DataFrame(beta, columns=samples)
    frame.insert(0, "cpg", [f"cg{k:06d}" for k in range(n_cpgs)])
    frame.to_parquet(tmp_path / "b.parquet", index=False, row_group_size=1000)
    with pytest.raises(InputTableError, match=rf"^2 value\(s\) in CpG rows 6001-{n_cpgs} of b.parquet lie outside"):
        list(read_methylation_chunks(tmp_path / "b.parquet", samples, chunk_cpgs=2000, return_beta=True))


def test_end_to_end_from_parquet_equals_in_memory(tmp_path, sim):
    design, y = sim
    beta = m_to_beta(y)
    ids = [f"cg{i:04d}" for i in range(len(beta))]
    order = list(design.index[::-1]) + ["extra"]
    frame = pd.DataFrame(np.column_stack([beta[:, ::-1], np.full(len(beta), 0.5)]),
                         columns=order)  # fmt: skip
    frame.insert(0, "cpg", ids)
    pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), tmp_path / "b.parquet",
                   row_group_size=40)  # fmt: skip
    from_file = ewas(tmp_path / "b.parquet", design, ["exposure"], chunk_cpgs=25)
    in_memory = ewas(beta, design, ["exposure"], npy_cpgs=ids)
    assert_tables_identical(from_file.table, in_memory.table)
    summary = from_file.summary.iloc[0]
    assert summary["n_cpgs"] == 300 and summary["n_tested"] == 300
    assert summary["df_prior"] == from_file.prior.df_prior


def test_ewas_reports_reader_errors_from_its_reader_thread(tmp_path, sim):
    design, y = sim
    frame = pd.DataFrame(m_to_beta(y), columns=list(design.index))
    frame.iloc[250, 3] = 1.5  # not a beta value, in the last chunk
    frame.insert(0, "cpg", [f"cg{i}" for i in range(len(frame))])
    frame.to_parquet(tmp_path / "b.parquet", index=False)
    with pytest.raises(InputTableError, match=r"1 value\(s\) in CpG rows 241-280"):
        ewas(tmp_path / "b.parquet", design, "exposure", chunk_cpgs=40)


def test_tile_sizes_do_not_change_any_number(sim, monkeypatch):
    """Inner tiles (complete and missing-value paths) are an implementation detail."""
    import first1000.stats.ewas as engine

    design, y = sim
    terms = ["exposure", "smoking"]
    reference = ewas_fit(y, design, terms, beta=m_to_beta(y))
    monkeypatch.setattr(engine, "_TILE", 7)
    monkeypatch.setattr(engine, "_TILE_MISSING_VALUES", 5 * 60 * 7)  # 5 CpGs per tile
    assert_tables_identical(reference, ewas_fit(y, design, terms, beta=m_to_beta(y)))


def test_blas_products_are_columnwise_and_equal_the_sequential_sums():
    """The complete-data fit's products (_cross_products: BLAS, blocks of one fixed shape)
    give each CpG bits that depend on its own values only, wherever it sits in a tile of any
    width, and the sequential sums' numbers to rounding; on the pinned BLAS the check that
    allows them holds for the designs the workflow fits, so the fast path is the one used."""
    import first1000.stats.ewas as engine

    rng = np.random.default_rng(11)
    for n, c in [(60, 7), (470, 19), (1001, 4)]:
        assert engine._products_columnwise(n, c)
        w = np.ascontiguousarray(rng.standard_normal((n, c)))
        y = rng.standard_normal((n, 300))
        whole = engine._cross_products(w, y)
        np.testing.assert_allclose(whole, engine._cross_sums(w, y), rtol=1e-12, atol=1e-12 * np.abs(whole).max())
        for width, at in [(1, 0), (7, 3), (129, 128), (300, 299), (413, 5)]:
            tile = rng.standard_normal((n, width))
            tile[:, at] = y[:, 17]
            assert np.array_equal(engine._cross_products(w, tile)[:, at], whole[:, 17]), (n, width, at)


def test_the_fit_does_not_depend_on_the_blas_threads_outside_it(sim):
    """The products run with one BLAS thread whatever the caller allows (two threads give
    other bits for the same product), and the caller's setting is restored. In a worker
    thread where OpenBLAS ignores the limit (0.3.31: one set by the main thread wins), the
    fit takes the sequential sums: the same numbers to rounding, never two-thread products."""
    import threading

    from threadpoolctl import threadpool_info, threadpool_limits

    import first1000.stats.ewas as engine

    def blas_threads():
        return {i["num_threads"] for i in threadpool_info() if i["user_api"] == "blas"}

    design, y = sim
    with threadpool_limits(1, "blas"):
        one = ewas_fit(y, design, ["exposure"], beta=m_to_beta(y))
    with threadpool_limits(2, "blas"):
        two = ewas_fit(y, design, ["exposure"], beta=m_to_beta(y))
        assert blas_threads() == {2}
        assert_tables_identical(one, two)
        got = {}
        worker = threading.Thread(target=lambda: got.update(fit=ewas_fit(y, design, ["exposure"], beta=m_to_beta(y))))
        worker.start()
        worker.join()
    for col in ["coef", "se", "t", "p", "sigma2"]:
        np.testing.assert_allclose(got["fit"][col], one[col], rtol=1e-10, err_msg=col)
    rng = np.random.default_rng(0)
    w, block = np.ascontiguousarray(rng.standard_normal((470, 19))), rng.standard_normal((470, 300))
    with threadpool_limits(1, "blas"):
        alone = engine._cross_products(w, block)
    with threadpool_limits(2, "blas"):
        worker = threading.Thread(target=lambda: got.update(products=engine._cross_products(w, block)))
        worker.start()
        worker.join()
    # one-thread products where the limit holds, else the sequential sums (OpenBLAS 0.3.31)
    assert np.array_equal(got["products"], alone) or np.array_equal(got["products"], engine._cross_sums(w, block))


def test_a_blas_whose_products_depend_on_the_block_falls_back_to_the_sequential_sums(sim, monkeypatch):
    """Where the check fails (another BLAS), every sum over samples is the sequential one:
    the fit then equals the fast path's to rounding."""
    import first1000.stats.ewas as engine

    design, y = sim
    fast = ewas_fit(y, design, ["exposure", "smoking"], beta=m_to_beta(y))
    monkeypatch.setattr(engine, "_products_columnwise", lambda n, c: False)
    products = []
    monkeypatch.setattr(engine, "_product_block", lambda w, b: products.append(1) or np.matmul(w.T, b))
    slow = ewas_fit(y, design, ["exposure", "smoking"], beta=m_to_beta(y))
    assert not products
    for col in ["coef", "se", "t", "p", "sigma2", "coef_beta", "se_beta"]:
        np.testing.assert_allclose(slow[col], fast[col], rtol=1e-10, err_msg=col)
    assert not np.array_equal(slow["sigma2"], fast["sigma2"])  # the two paths really differ


def test_read_matrix_rows_equals_a_filtered_read_parquet(tmp_path):
    """The clock's reader (first1000.io.methylation.read_matrix_rows) reads a few CpGs of a
    wide matrix in column blocks: the same frame as pandas' filtered read, across row
    groups, with wanted CpGs absent from the file and a row group without any."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from first1000.io.methylation import read_matrix_rows

    rng = np.random.default_rng(3)
    cpgs = [f"cg{k:08d}" for k in range(250)]
    values = rng.random((250, 37)).astype(np.float32)
    values[rng.random(values.shape) < 0.05] = np.nan
    table = pa.table({"cpg": cpgs, **{f"p{j:03d}": values[:, j] for j in range(37)}})
    path = tmp_path / "m.parquet"
    pq.write_table(table, path, row_group_size=60)
    wanted = [cpgs[k] for k in (3, 59, 60, 61, 200, 249)] + ["cg_absent"]
    got = read_matrix_rows(path, wanted, block_columns=5)
    ref = pd.read_parquet(path, filters=[("cpg", "in", wanted)])
    pd.testing.assert_frame_equal(got, ref)
    assert list(got.cpg) == [cpgs[k] for k in (3, 59, 60, 61, 200, 249)]
    assert read_matrix_rows(path, ["cg_absent"]).empty


# --------------------------------------------------------------------------- absorbed plate (FWL)
def _plated(n=700, m=240, per_plate=20, seed=2):
    rng = np.random.default_rng(seed)
    plate = np.array([f"pl{k // per_plate:03d}" for k in rng.permutation(n)], dtype=object)
    codes = pd.factorize(plate, sort=True)[0]
    g = codes.max() + 1
    x = rng.normal(size=n) + 0.3 * rng.normal(size=g)[codes]  # the exposure differs between plates
    age, sex = rng.normal(30, 4, n), rng.integers(0, 2, n).astype(float)
    beta = 1 / (1 + np.exp(-(rng.normal(size=(m, n)) * 0.4 + 0.5 * rng.normal(size=(m, g))[:, codes])))
    beta[:6] = 1 / (1 + np.exp(-(np.log(beta[:6] / (1 - beta[:6])) + 0.3 * x)))  # planted CpGs
    beta[rng.random((m, n)) < 0.01] = np.nan
    beta[10] = np.where(codes == 3, np.nan, beta[10])  # one CpG: a whole plate missing
    ids = [f"s{i}" for i in range(n)]
    dummies = pd.get_dummies(pd.Series(plate), drop_first=True).astype(float).to_numpy()
    full = pd.DataFrame(np.column_stack([np.ones(n), x, age, sex, dummies]), index=ids,
                        columns=["Intercept", "x", "age", "sex"] + [f"p{j}" for j in range(dummies.shape[1])])
    return beta, full, pd.Series(plate, index=ids)


def test_an_absorbed_plate_gives_the_dummy_designs_fit():
    """The plate absorbed by demeaning equals the plate as dummy columns (limma's design):
    complete CpGs, CpGs with missing values and PACE outliers, a CpG missing a whole plate
    (whose dummy is aliased: df one higher), and the beta-scale fit."""
    from first1000.stats.ewas import beta_to_m, ewas_fit

    beta, full, plate = _plated()
    small = full[["Intercept", "x", "age", "sex"]]
    kw = dict(beta=beta, remove_outliers=True)
    ref = ewas_fit(beta_to_m(beta), full, ["x"], **kw)
    got = ewas_fit(beta_to_m(beta), small, ["x"], absorb=plate, **kw)
    assert (got.n == ref.n).all() and (got.df_residual == ref.df_residual).all()
    assert (got.status == ref.status).all() and (got.status == "ok").all()
    assert got.df_residual[10] == got.n[10] - 3 - (plate.nunique() - 1)  # 3 columns + the observed plates
    for col in ("sigma2", "coef", "stdev_unscaled", "se", "t", "p", "coef_beta", "se_beta"):
        np.testing.assert_allclose(got[col], ref[col], rtol=1e-9, atol=1e-13, err_msg=col)
    assert (got.p[:6] < 1e-4).all()
    # each CpG depends on its own values only: any split gives the same bytes
    half = ewas_fit(beta_to_m(beta[100:]), small, ["x"], absorb=plate, beta=beta[100:], remove_outliers=True)
    pd.testing.assert_frame_equal(half.drop(columns="cpg").reset_index(drop=True),
                                  got.iloc[100:].drop(columns="cpg").reset_index(drop=True), check_exact=True)


def test_overwrite_gives_the_same_fit_and_leaves_the_callers_values_alone_without_it():
    """``overwrite=True`` (an EWAS shard's chunk buffers) may demean and NaN the arrays in
    place: the same table, bit for bit, as a fit on copies; without it the arrays are kept."""
    from first1000.stats.ewas import beta_to_m, ewas_fit

    beta, full, plate = _plated(m=60)
    complete = np.where(np.isfinite(beta), beta, 0.5)  # every CpG complete: the all-columns path
    planted = complete.copy()
    planted[20] = 0.5 + 0.01 * np.random.default_rng(8).standard_normal(planted.shape[1])
    planted[20, 7] = 0.9  # an outlier (far beyond Q3 + 3 IQR), set to NaN in place
    small = full[["Intercept", "x", "age", "sex"]]
    for values, outliers, in_place in ((complete, False, True), (planted, True, True), (beta, True, False)):
        # samples x CpGs buffers, as a shard's chunks are laid out (passed transposed)
        m, b = np.ascontiguousarray(beta_to_m(values).T), np.ascontiguousarray(values.T)
        kept_m, kept_b = m.copy(), b.copy()
        ref = ewas_fit(m.T, small, ["x"], beta=b.T, absorb=plate, remove_outliers=outliers)
        assert np.array_equal(m, kept_m, equal_nan=True) and np.array_equal(b, kept_b, equal_nan=True)
        got = ewas_fit(m.T, small, ["x"], beta=b.T, absorb=plate, remove_outliers=outliers, overwrite=True)
        pd.testing.assert_frame_equal(got, ref, check_exact=True)
        assert np.array_equal(m, kept_m, equal_nan=True) != in_place  # the fit used the buffers
        if values is planted:
            assert got.n_outliers.iloc[20] == 1 and got.n.iloc[20] == 699  # the planted outlier, dropped
    assert got.n_outliers.sum() == 0 and ref.n.min() < 700  # the last: missing values, no outliers


def test_per_level_sums_equal_each_lanes_own_sum():
    """AbsorbedFactor.sums, laid out a few columns at a time, gives each column's per-level sums:
    equal to a group-by, and bit for bit those of each column's lane summed whole (one
    ``add.reduceat`` over the column's samples sorted by level, the formula before #19's
    blocks), so a CpG's numbers never depend on the other CpGs of the call; 1-D, 2-D of every
    width around the block, 3-D (the per-pattern designs), booleans (the counts), a
    non-contiguous view."""
    from first1000.stats.ewas import _SUM_LANES, AbsorbedFactor

    rng = np.random.default_rng(4)
    n = 500
    labels = np.array([f"pl{k:02d}" for k in rng.integers(0, 23, n)], dtype=object)
    groups = AbsorbedFactor(labels)
    codes = pd.factorize(pd.Series(labels), sort=True)[0]

    def lanes_whole(values):  # every column's lane laid out at once, summed per level
        lanes = np.ascontiguousarray(np.moveaxis(values, 0, -1)[..., groups.order], dtype=np.float64)
        return np.moveaxis(np.add.reduceat(lanes, groups.starts, axis=-1), -1, 0)

    for m in (1, _SUM_LANES - 1, _SUM_LANES, _SUM_LANES + 1, 3 * _SUM_LANES + 5):
        values = rng.normal(size=(n, m)) * 10.0 ** rng.integers(-3, 4, size=(n, m))
        got = groups.sums(values)
        assert got.shape == (groups.n_levels, m)
        np.testing.assert_allclose(got, pd.DataFrame(values).groupby(codes).sum().to_numpy(), rtol=1e-12, atol=1e-9)
        assert np.array_equal(got, lanes_whole(values))
        for j in (0, m - 1):
            assert np.array_equal(got[:, j], groups.sums(values[:, j]))
    cube = rng.normal(size=(n, 7, 5))
    assert np.array_equal(groups.sums(cube), lanes_whole(cube))
    assert np.array_equal(groups.sums(cube)[:, 3, 2], groups.sums(cube[:, 3, 2]))
    mask = rng.random((n, 40)) < 0.7
    np.testing.assert_array_equal(groups.counts(mask), pd.DataFrame(mask).groupby(codes).sum().to_numpy())
    wide = rng.normal(size=(n, 60))
    assert np.array_equal(groups.sums(wide[:, ::3]), groups.sums(np.ascontiguousarray(wide[:, ::3])))

    # demean, block of rows by block: the whole-array formulas' bits; in place; masked
    # entries exactly 0; the per-pattern designs' broadcast (n x 1 x p values, n x k x 1 mask)
    means = groups.sums(wide) / np.bincount(codes)[:, None]
    expected = wide - means[codes]
    assert np.array_equal(groups.demean(wide), expected)
    own = wide.copy()
    assert groups.demean(own, inplace=True) is own and np.array_equal(own, expected)
    seen = rng.random(wide.shape) < 0.8
    masked = np.where(seen, wide, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        mean_seen = groups.sums(masked) / groups.counts(seen)
    got = groups.demean(wide, seen)
    assert np.array_equal(got, np.where(seen, masked - mean_seen[codes], 0.0))
    assert np.array_equal(groups.demean(wide, seen, groups.counts(seen)), got)  # counts given, as _store_missing does
    assert np.array_equal(groups.demean(wide, seen.astype(np.int8)), got)  # a 0/1 mask as a boolean one
    assert not np.signbit(got[~seen]).any()
    x = rng.normal(size=(n, 4))
    patterns = rng.random((n, 6)) < 0.9
    designs = groups.demean(x[:, None, :], patterns[:, :, None])
    assert designs.shape == (n, 6, 4)
    for k in (0, 5):
        assert np.array_equal(designs[:, k], groups.demean(x, np.repeat(patterns[:, k, None], 4, axis=1)))


def test_a_covariate_constant_within_every_plate_is_refused():
    from first1000.errors import ModelError
    from first1000.stats.ewas import beta_to_m, ewas_fit

    beta, full, plate = _plated(m=20)
    design = full[["Intercept", "x", "age"]].assign(batch_size=pd.factorize(plate, sort=True)[0] % 3)
    with pytest.raises(ModelError, match="batch_size.*constant within every level"):
        ewas_fit(beta_to_m(beta), design, ["x"], absorb=plate)


def test_ewas_model_absorbs_a_many_level_plate_only():
    from first1000.analysis.epigenome import ewas_design, ewas_model

    rng = np.random.default_rng(0)
    people = pd.DataFrame({"pseudo_id": [f"s{i}" for i in range(400)], "cohort": "c",
                           "epds": rng.normal(size=400), "age": rng.normal(size=400),
                           "plate": [f"p{k // 10}" for k in range(400)], "sex": rng.choice(["F", "M"], 400)})
    design, absorb = ewas_model(people, "c", "epds", ["age", "sex", "plate"], list(people.pseudo_id))
    assert list(design.columns) == ["Intercept", "epds", "age", "sex[M]"] and absorb.nunique() == 40
    assert (absorb.index == design.index).all()
    dummies = ewas_design(people, "c", "epds", ["age", "sex", "plate"], list(people.pseudo_id))
    assert dummies.shape[1] == 4 + 39
    few = people.assign(plate=[f"p{k // 100}" for k in range(400)])
    design, absorb = ewas_model(few, "c", "epds", ["age", "sex", "plate"], list(few.pseudo_id))
    assert absorb is None and design.shape[1] == 4 + 3


# --------------------------------------------------------------------------- downdating (few missing)
def _few_missing(n=400, m=120, seed=5):
    """CpGs missing 1-20 samples each (PACE outliers, detection-p failures) and a plate."""
    rng = np.random.default_rng(seed)
    design = make_design(n, rng)
    y = make_m_values(design, m, rng, planted=range(min(m, 4)), effect=1.0)
    for i in range(m):
        y[i, rng.choice(n, rng.integers(1, 21), replace=False)] = np.nan
    plate = pd.Series([f"pl{k % 37:02d}" for k in rng.permutation(n)], index=design.index)
    return design, y, plate


@pytest.mark.parametrize("absorbed", [False, True])
def test_downdated_fits_equal_each_cpgs_own_qr(monkeypatch, absorbed):
    """CpGs missing a few samples are fitted from the full design's QR (a Schur-complement
    update, _store_downdated); with the update switched off every CpG gets the QR of its
    own reduced design, as R's lm.fit: the two agree to rounding, on the M and beta scales,
    with and without an absorbed plate."""
    import first1000.stats.ewas as engine

    design, y, plate = _few_missing()
    kw = dict(beta=m_to_beta(y), remove_outliers=True)
    if absorbed:
        args = (y, design.drop(columns="intercept"), ["exposure", "sex"])
        kw["absorb"] = plate
    else:
        args = (y, design, ["exposure", "sex"])
    fast = ewas_fit(*args, **kw)
    monkeypatch.setattr(engine, "_downdate_limit", lambda n, p: 0)
    exact = ewas_fit(*args, **kw)
    assert (fast.status == "ok").all() and (fast.n < 400).all()
    for col in ("n", "df_residual", "n_outliers"):
        assert (fast[col] == exact[col]).all(), col
    for col in ("sigma2", "coef", "stdev_unscaled", "se", "t", "p", "coef_beta", "se_beta"):
        np.testing.assert_allclose(fast[col], exact[col], rtol=1e-10, atol=1e-14, err_msg=col)
    assert not fast.equals(exact)  # the two paths did run


def test_downdated_fit_equals_statsmodels_on_the_observed_samples():
    design, y, _ = _few_missing(m=6)
    fit = ewas_fit(y, design, ["exposure", "ga"])
    for i in range(6):
        keep = np.isfinite(y[i])
        ols = sm.OLS(y[i, keep], design.to_numpy()[keep]).fit()
        rows = fit.iloc[2 * i : 2 * i + 2]
        assert rows.df_residual.iloc[0] == keep.sum() - design.shape[1]
        np.testing.assert_allclose(rows.coef, ols.params[[1, 3]], rtol=1e-10)
        np.testing.assert_allclose(rows.se, ols.bse[[1, 3]], rtol=1e-10)
        np.testing.assert_allclose(rows.sigma2.iloc[0], ols.scale, rtol=1e-10)


def test_a_missing_sample_that_carries_a_covariate_takes_the_exact_path():
    """The only smoker missing for a CpG: the smoking column is aliased on its observed
    samples (the update's system is singular), so that CpG is fitted as lm.fit does it:
    smoking not estimable, the exposure from the design without it."""
    design, y, _ = _few_missing(m=3)
    design = design.assign(smoking=0.0)
    design.iloc[17, design.columns.get_loc("smoking")] = 1.0
    y[1, 17] = np.nan
    fit = ewas_fit(y, design, ["exposure", "smoking"])
    assert fit.status.tolist() == ["ok", "ok", "ok", "not_estimable", "ok", "ok"]
    keep = np.isfinite(y[1])
    ols = sm.OLS(y[1, keep], design.drop(columns="smoking").to_numpy()[keep]).fit()
    np.testing.assert_allclose(fit.coef.iloc[2], ols.params[1], rtol=1e-10)
    assert fit.df_residual.iloc[2] == keep.sum() - (design.shape[1] - 1)


def test_the_fit_grows_linearly_in_the_samples():
    """Work, not time: the sums over samples, counted (never timed) at 400 and 4,000
    samples, touch 10x the values in about as many numpy calls (blocks of samples), not
    the 100x a per-sample loop over ever narrower tiles of CpGs would take."""
    import first1000.stats.ewas as engine

    real = engine._sample_sums
    work = {}
    for n in (400, 4000):
        design, y, _ = _few_missing(n=n, m=300, seed=1)
        calls = []
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(engine, "_sample_sums", lambda a: calls.append(a.size) or real(a))
            ewas_fit(y, design, ["exposure"], beta=m_to_beta(y))
        work[n] = (len(calls), sum(calls))
    assert work[400][0] > 0
    assert 9 * work[400][1] <= work[4000][1] <= 11 * work[400][1]  # values summed: linear
    assert work[4000][0] <= 10 * work[400][0]  # numpy calls: at most linear


def test_an_absorbed_factor_of_the_wrong_length_is_refused():
    from first1000.errors import ModelError
    from first1000.stats.ewas import ewas_fit

    rng = np.random.default_rng(0)
    design = pd.DataFrame({"Intercept": 1.0, "x": rng.normal(size=40)}, index=[f"s{i}" for i in range(40)])
    with pytest.raises(ModelError, match="39 labels for 40 samples"):
        ewas_fit(rng.normal(size=(5, 40)), design, ["x"], absorb=np.arange(39) % 30)


def test_scratch_arrays_are_reused_and_laid_out_as_fresh_ones():
    """The fit's work arrays (#19: fresh n x tile arrays faulted in new pages for every tile)
    are handed out again under their name, C-contiguous as a fresh array is, grown when a
    larger one is asked for, and distinct between names."""
    from first1000.stats.ewas import _Scratch

    scratch = _Scratch()
    first = scratch.array("tile", (50, 8))
    again = scratch.array("tile", (50, 5))  # a smaller tile (the last one of a chunk)
    assert again.flags.c_contiguous and again.shape == (50, 5)
    assert np.shares_memory(first, again) and first.ctypes.data == again.ctypes.data
    other = scratch.array("gemm", (50, 8))
    assert not np.shares_memory(first, other)
    larger = scratch.array("tile", (60, 8))
    assert larger.shape == (60, 8) and larger.flags.c_contiguous
    assert scratch.array("tile", (50, 8)).ctypes.data == larger.ctypes.data  # kept at its largest
