"""Tests of first1000.stats.causal (counterfactual mediation) and its bootstrap additions.

References: numbers published by pingouin 0.7.0, R ``mediation`` 4.5.1 (JOBS II, framing),
the SAS mediation macro as used by regmedint (pbc), medflex (UPBdata) and VanderWeele & Ding
(E-values) on the files in tests/data/reference (see its README); statsmodels and
scipy called live; explicit loops over resampled rows; large-sample truths of planted
simulations.
"""

from pathlib import Path

import numpy as np
import pandas as pd
import pingouin as pg
import pytest
import statsmodels.api as sm
from scipy import integrate, stats
from scipy.special import expit

from first1000.errors import ModelError
from first1000.stats.bootstrap import (
    analysis_rng,
    batched_glm,
    bca_ci,
    jackknife_counts,
    percentile_ci,
    resample_counts,
)
from first1000.stats.causal import (
    COLUMNS,
    causal_mediation,
    e_value,
    mediation_paths,
    mediation_sensitivity,
)
from first1000.stats.mediation import mediation_linear
from first1000.stats.multitest import bh_fdr

REFERENCE = Path(__file__).resolve().parents[1] / "data" / "reference"
JOBS_COVS = ["econ_hard", "sex", "age"]
FRAMING_COVS = ["age", "educ", "gender", "income"]


@pytest.fixture(scope="module")
def pingouin_data():
    return pd.read_csv(REFERENCE / "pingouin_mediation.csv")


@pytest.fixture(scope="module")
def jobs():
    return pd.read_csv(REFERENCE / "jobs.csv")


@pytest.fixture(scope="module")
def framing():
    return pd.read_csv(REFERENCE / "framing.csv")


@pytest.fixture(scope="module")
def pbc():
    return pd.read_csv(REFERENCE / "pbc_cc.csv")


def _table(frame, scale=None, mediator=None):
    rows = frame
    if scale is not None:
        rows = rows[rows["scale"] == scale]
    if mediator is not None:
        rows = rows[rows["mediator"] == mediator]
    return rows.set_index("effect")


# --- linear models: identical to product of coefficients, pingouin, mediation_linear ---


def test_linear_gformula_equals_product_of_coefficients(jobs):
    res = causal_mediation(jobs, "treat", "job_seek", "depress2", covariates=JOBS_COVS,
                           inference="none")  # fmt: skip
    assert list(res.columns) == COLUMNS
    e = _table(res)
    assert list(e.index) == ["cde", "pnde", "tnde", "pnie", "tnie", "te", "pm"]
    assert (res["contrast"] == "binary").all() and (res["a0"] == 0).all() and (res["a1"] == 1).all()
    # explicit OLS fits
    X = sm.add_constant(jobs[["treat", *JOBS_COVS]])
    a = sm.OLS(jobs["job_seek"], X).fit().params["treat"]
    fit_y = sm.OLS(jobs["depress2"], X.assign(job_seek=jobs["job_seek"])).fit()
    b, c_prime = fit_y.params["job_seek"], fit_y.params["treat"]
    c = sm.OLS(jobs["depress2"], X).fit().params["treat"]
    for eff in ("pnie", "tnie"):
        assert e.loc[eff, "estimate"] == pytest.approx(a * b, abs=1e-10)
    for eff in ("pnde", "tnde", "cde"):
        assert e.loc[eff, "estimate"] == pytest.approx(c_prime, abs=1e-10)
    assert e.loc["te", "estimate"] == pytest.approx(c, abs=1e-10)
    # published R mediation numbers
    assert e.loc["tnie", "estimate"] == pytest.approx(-0.01574465, abs=1e-7)
    assert e.loc["pnde", "estimate"] == pytest.approx(-0.0402647, abs=1e-7)
    assert e.loc["te", "estimate"] == pytest.approx(-0.0560093, abs=1e-7)
    assert (res["status"] == "ok").all() and (res["n"] == 899).all()


def test_pingouin_bootstrap_reproduced(pingouin_data):
    res = causal_mediation(pingouin_data, "X", "M", "Y", contrast=(0, 1), n_boot=500, seed=42,
                           resampler="pingouin", ci_method="bias_corrected")  # fmt: skip
    e = _table(res)
    assert e.loc["tnie", "estimate"] == pytest.approx(0.356522, abs=1e-6)
    assert e.loc["tnie", "ci_low"] == pytest.approx(0.219818, abs=1e-6)
    assert e.loc["tnie", "ci_high"] == pytest.approx(0.537654, abs=1e-6)
    assert e.loc["tnie", "se"] == pytest.approx(0.083313, abs=1e-6)
    assert e.loc["te", "estimate"] == pytest.approx(0.396126, abs=1e-6)
    assert e.loc["pnde", "estimate"] == pytest.approx(0.039604, abs=1e-6)
    ref = pg.mediation_analysis(data=pingouin_data, x="X", m="M", y="Y", seed=42, n_boot=500)
    ind = ref.set_index("path").loc["Indirect"]
    assert e.loc["tnie", "ci_low"] == pytest.approx(ind["CI2.5"], abs=1e-10)
    assert e.loc["tnie", "ci_high"] == pytest.approx(ind["CI97.5"], abs=1e-10)
    assert e.loc["tnie", "p"] == pytest.approx(ind["pval"], abs=1e-12)
    assert e.loc["tnie", "n_boot"] == 500 and e.loc["tnie", "ci_method"] == "bias_corrected"


def test_same_numbers_as_mediation_linear(pingouin_data):
    kw = dict(covariates=["W1", "W2"], n_boot=400, seed=11, keys=("k",))
    ours = _table(causal_mediation(pingouin_data, "X", "M", "Y", contrast=(0, 1), **kw))
    theirs, _ = mediation_linear(pingouin_data, "X", "M", "Y", **kw)
    theirs = theirs.set_index("effect")
    for mine, other in (("tnie", "indirect"), ("pnde", "direct"), ("te", "total")):
        for col in ("estimate", "se", "ci_low", "ci_high"):
            assert ours.loc[mine, col] == pytest.approx(theirs.loc[other, col], abs=1e-10), col
    # mediation_linear's p of direct/total is the OLS t-test; both use the bootstrap p here
    assert ours.loc["tnie", "p"] == theirs.loc["indirect", "p"]


# --- framing (R mediation, probit outcome): deterministic integration ---------------


def test_framing_probit_matches_exact_r_mediation(framing):
    res = causal_mediation(framing, "treat", "emo", "cong_mesg", covariates=FRAMING_COVS,
                           outcome_family="binomial", outcome_link="probit",
                           inference="none")  # fmt: skip
    e = _table(res, "risk_difference")
    assert e.loc["pnie", "estimate"] == pytest.approx(0.084118, abs=1e-6)  # ACME(control)
    assert e.loc["tnie", "estimate"] == pytest.approx(0.085149, abs=1e-6)  # ACME(treated)
    assert e.loc["pnde", "estimate"] == pytest.approx(0.011562, abs=1e-6)  # ADE(control)
    assert e.loc["tnde", "estimate"] == pytest.approx(0.012593, abs=1e-6)  # ADE(treated)
    assert e.loc["te", "estimate"] == pytest.approx(0.096711, abs=1e-6)
    average_pm = (e.loc["pnie", "estimate"] + e.loc["tnie", "estimate"]) / 2 / e.loc["te",
                                                                                   "estimate"]
    assert average_pm == pytest.approx(0.875117, abs=1e-6)
    assert e.loc["pm", "estimate"] == pytest.approx(0.085149 / 0.096711, abs=1e-5)
    # ratio scales are functions of the same counterfactual risks
    rr, orr = _table(res, "risk_ratio"), _table(res, "odds_ratio")
    assert rr.loc["te", "estimate"] == pytest.approx(
        rr.loc["pnde", "estimate"] * rr.loc["tnie", "estimate"], rel=1e-12
    )
    assert orr.loc["te", "estimate"] == pytest.approx(
        orr.loc["pnde", "estimate"] * orr.loc["tnie", "estimate"], rel=1e-12
    )


def _brute_force_means(data, mediator_family, a0, a1):
    """E[Y(x, M(x*))] by scipy quad / explicit sums, one participant at a time."""
    X = sm.add_constant(data[["x", "c"]]).to_numpy()
    if mediator_family == "gaussian":
        fm = sm.OLS(data["m"], X).fit()
        sigma = np.sqrt(fm.mse_resid)
    elif mediator_family == "binomial":
        fm = sm.Logit(data["m"], X).fit(disp=0, tol=1e-12)
    else:
        fm = sm.Poisson(data["m"], X).fit(disp=0, tol=1e-12)
    Xy = np.column_stack([X[:, :2], data["m"], data["x"] * data["m"], X[:, 2:]])
    ty = np.asarray(sm.Logit(data["y"], Xy).fit(disp=0, tol=1e-12).params)
    beta = np.asarray(fm.params)
    out = {}
    for x, xs in ((a1, a1), (a0, a0), (a1, a0), (a0, a1)):
        vals = []
        for ci in data["c"]:
            nu = beta[0] + beta[1] * xs + beta[2] * ci

            def h(m, x=x, ci=ci):
                return expit(ty[0] + ty[1] * x + ty[2] * m + ty[3] * x * m + ty[4] * ci)

            if mediator_family == "gaussian":
                f = lambda m: h(m) * stats.norm.pdf(m, nu, sigma)  # noqa: E731
                vals.append(integrate.quad(f, nu - 12 * sigma, nu + 12 * sigma,
                                           epsabs=1e-13, epsrel=1e-13, limit=200)[0])  # fmt: skip
            elif mediator_family == "binomial":
                p = expit(nu)
                vals.append(p * h(1.0) + (1 - p) * h(0.0))
            else:
                k = np.arange(200)
                vals.append(np.sum(stats.poisson.pmf(k, np.exp(nu)) * h(k)))
        out[(x, xs)] = np.mean(vals)
    return out


# gaussian: the adaptive-quadrature reference takes ~20 s
@pytest.mark.parametrize("family", [pytest.param("gaussian", marks=pytest.mark.slow), "binomial", "poisson"])
def test_gformula_integration_equals_brute_force(family):
    rng = np.random.default_rng({"gaussian": 1, "binomial": 2, "poisson": 3}[family])
    n = 150
    c = rng.normal(size=n)
    x = rng.normal(size=n)
    if family == "gaussian":
        m = 0.6 * x + 0.3 * c + 1.5 * rng.normal(size=n)  # sd 1.5: quadrature must work
    elif family == "binomial":
        m = (rng.random(n) < expit(0.8 * x + 0.3 * c)).astype(float)
    else:
        m = rng.poisson(np.exp(0.5 + 0.4 * x + 0.2 * c)).astype(float)
    y = (rng.random(n) < expit(-0.3 + 0.4 * x + 0.7 * m + 0.3 * x * m + 0.3 * c)).astype(float)
    data = pd.DataFrame({"x": x, "m": m, "y": y, "c": c})
    a0, a1 = -0.5, 1.0
    res = causal_mediation(data, "x", "m", "y", covariates=["c"], mediator_family=family,
                           outcome_family="binomial", interaction=True, contrast=(a0, a1),
                           inference="none")  # fmt: skip
    truth = _brute_force_means(data, family, a0, a1)
    e = _table(res, "risk_difference")
    assert e.loc["pnde", "estimate"] == pytest.approx(truth[(a1, a0)] - truth[(a0, a0)], abs=1e-8)
    assert e.loc["tnie", "estimate"] == pytest.approx(truth[(a1, a1)] - truth[(a1, a0)], abs=1e-8)
    assert e.loc["pnie", "estimate"] == pytest.approx(truth[(a0, a1)] - truth[(a0, a0)], abs=1e-8)
    assert e.loc["te", "estimate"] == pytest.approx(truth[(a1, a1)] - truth[(a0, a0)], abs=1e-8)
    rr = _table(res, "risk_ratio")
    assert rr.loc["tnie", "estimate"] == pytest.approx(truth[(a1, a1)] / truth[(a1, a0)],
                                                       rel=1e-7)  # fmt: skip


# --- pbc: VanderWeele closed form (SAS mediation macro / regmedint) -----------------


def test_pbc_closed_form_matches_sas_macro(pbc):
    kw = dict(covariates=["age", "male", "stage"], outcome_family="binomial", interaction=True,
              contrast=(1.1, 2.3), cde_at=1.4, method="closed_form", inference="delta")  # fmt: skip
    res = causal_mediation(pbc, "trt", "bili", "spiders",
                           covariate_values={"age": 50, "male": 1, "stage": 2}, **kw)  # fmt: skip
    e = _table(res, "odds_ratio")
    expected = {"cde": 0.76805, "pnde": 0.70837, "pnie": 1.08607, "tnde": 0.68275,
                "tnie": 1.04680, "te": 0.74152}  # fmt: skip
    for effect, value in expected.items():
        assert e.loc[effect, "estimate"] == pytest.approx(value, abs=6e-6), effect
    assert e.loc["tnie", "ci_low"] == pytest.approx(0.94062, abs=1e-5)
    assert e.loc["tnie", "ci_high"] == pytest.approx(1.16496, abs=1e-5)
    assert e.loc["cde", "ci_low"] == pytest.approx(0.35238, rel=3e-5)
    assert e.loc["cde", "ci_high"] == pytest.approx(1.67404, rel=3e-5)
    assert e.loc["pnie", "ci_low"] == pytest.approx(0.92101, abs=1e-5)
    assert e.loc["pnie", "ci_high"] == pytest.approx(1.28072, abs=1e-5)
    # PNDE/TNDE/TE also involve sigma^2; the macro's CIs differ in the 4th digit
    assert e.loc["pnde", "ci_low"] == pytest.approx(0.34433, rel=2e-3)
    assert e.loc["pnde", "ci_high"] == pytest.approx(1.45728, rel=2e-3)
    assert (res["estimand"] == "conditional").all() and (res["method"] == "closed_form").all()
    assert e.loc["cde", "m_cde"] == 1.4 and (res["a0"] == 1.1).all() and (res["a1"] == 2.3).all()
    # the macro's "marginal" effects: covariates at their sample means
    marginal = _table(causal_mediation(pbc, "trt", "bili", "spiders", covariate_values="mean",
                                       **kw), "odds_ratio")  # fmt: skip
    assert marginal.loc["pnde", "estimate"] == pytest.approx(0.64523, abs=6e-6)
    assert marginal.loc["te", "estimate"] == pytest.approx(0.67542, abs=6e-6)
    assert marginal.loc["tnde", "estimate"] == pytest.approx(0.62189, abs=6e-6)


def test_pbc_closed_form_bootstrap_runs(pbc):
    res = causal_mediation(pbc, "trt", "bili", "spiders", covariates=["age", "male", "stage"],
                           outcome_family="binomial", interaction=True, contrast=(1.1, 2.3),
                           cde_at=1.4, method="closed_form", n_boot=200, seed=4,
                           covariate_values={"age": 50, "male": 1, "stage": 2})  # fmt: skip
    e = _table(res, "odds_ratio")
    assert e.loc["tnie", "estimate"] == pytest.approx(1.04680, abs=6e-6)
    assert e.loc["tnie", "ci_low"] < 1.0468 < e.loc["tnie", "ci_high"]
    # 4 of the 200 resamples have (quasi-)separation in the outcome model (few men, none
    # with spiders): their logistic fits do not converge and are dropped, not reported
    assert e.loc["tnie", "n_boot"] == 196


def test_upb_natural_effects_close_to_medflex():
    # medflex's natural-effect model gives *conditional* log ORs (weighting estimator);
    # the g-formula gives *marginal* ones. Not the same estimand: only a sanity check.
    upb = pd.read_csv(REFERENCE / "UPBdata.csv")
    res = causal_mediation(upb, "attbin", "negaff", "UPB", covariates=["gender", "educ", "age"],
                           outcome_family="binomial", inference="none")  # fmt: skip
    e = _table(res, "odds_ratio")
    assert abs(np.log(e.loc["pnde", "estimate"]) - 0.395924) < 0.5 * 0.217608
    assert abs(np.log(e.loc["tnie", "estimate"]) - 0.351969) < 0.5 * 0.089385


# --- planted effects: binary outcome with interaction ---------------------------------


def _planted(n, rng):
    c = rng.normal(size=n)
    s = (rng.random(n) < 0.5).astype(float)
    x = 0.3 * c + rng.normal(size=n)
    m = 0.5 * x + 0.3 * c + 0.2 * s + rng.normal(size=n)
    eta = -1.0 + 0.3 * x + 0.5 * m + 0.25 * x * m + 0.2 * c - 0.3 * s
    y = (rng.random(n) < expit(eta)).astype(float)
    return pd.DataFrame({"x": x, "m": m, "y": y, "c": c, "sex": np.where(s == 1, "M", "F")})


def _planted_truth(a0, a1, n=2_000_000):
    """Counterfactual risks by simulating the true model (independent of the engine)."""
    rng = np.random.default_rng(99)
    c = rng.normal(size=n)
    s = (rng.random(n) < 0.5).astype(float)
    e = rng.normal(size=n)
    risk = {}
    for x, xs in ((a1, a1), (a0, a0), (a1, a0), (a0, a1)):
        m = 0.5 * xs + 0.3 * c + 0.2 * s + e
        risk[(x, xs)] = expit(-1.0 + 0.3 * x + 0.5 * m + 0.25 * x * m + 0.2 * c - 0.3 * s).mean()
    return risk


def test_planted_binary_outcome_with_interaction_covered():
    data = _planted(3000, np.random.default_rng(2024))
    a0, a1 = 0.0, 1.0
    res = causal_mediation(data, "x", "m", "y", covariates=["c", "sex"],
                           outcome_family="binomial", interaction=True, contrast=(a0, a1),
                           n_boot=400, seed=8, keys=("planted",))  # fmt: skip
    r = _planted_truth(a0, a1)
    odds = lambda p: p / (1 - p)  # noqa: E731
    truth = {
        "risk_difference": {"pnde": r[(a1, a0)] - r[(a0, a0)], "tnie": r[(a1, a1)] - r[(a1, a0)],
                            "te": r[(a1, a1)] - r[(a0, a0)]},
        "risk_ratio": {"pnde": r[(a1, a0)] / r[(a0, a0)], "tnie": r[(a1, a1)] / r[(a1, a0)],
                       "te": r[(a1, a1)] / r[(a0, a0)]},
        "odds_ratio": {"pnde": odds(r[(a1, a0)]) / odds(r[(a0, a0)]),
                       "tnie": odds(r[(a1, a1)]) / odds(r[(a1, a0)]),
                       "te": odds(r[(a1, a1)]) / odds(r[(a0, a0)])},
    }  # fmt: skip
    for scale, effects in truth.items():
        e = _table(res, scale)
        for effect, value in effects.items():
            assert e.loc[effect, "ci_low"] < value < e.loc[effect, "ci_high"], (scale, effect)
            est, se = e.loc[effect, "estimate"], e.loc[effect, "se"]
            if scale != "risk_difference":
                est, value = np.log(est), np.log(value)  # se is on the log scale
            assert abs(est - value) < 3 * se, (scale, effect)
    assert (res["n_boot"] == 400).all() and (res["status"] == "ok").all()


@pytest.mark.slow  # ~5 s: n explicit jackknife refits
def test_bca_matches_explicit_loop_and_differs_from_percentile():
    data = _planted(60, np.random.default_rng(5))
    kw = dict(covariates=["c"], outcome_family="binomial", interaction=True, contrast=(0.0, 1.0),
              cde_at=0.0)  # fmt: skip
    n_boot, seed = 40, 17
    res = causal_mediation(data, "x", "m", "y", n_boot=n_boot, seed=seed, ci_method="bca", **kw)
    pct = causal_mediation(data, "x", "m", "y", n_boot=n_boot, seed=seed, **kw)
    counts = resample_counts(len(data), n_boot, analysis_rng(seed))

    def estimate(frame):
        out = causal_mediation(frame.reset_index(drop=True), "x", "m", "y", inference="none", **kw)
        return _table(out, "risk_difference").loc["tnie", "estimate"]

    full = estimate(data)
    boot = np.array([estimate(data.iloc[np.repeat(np.arange(len(data)), counts[b])])
                     for b in range(n_boot)])  # fmt: skip
    jack = np.array([estimate(data.drop(index=i)) for i in range(len(data))])
    lo, hi = bca_ci(boot, full, jack)
    e = _table(res, "risk_difference").loc["tnie"]
    assert e["ci_low"] == pytest.approx(lo, abs=1e-8)
    assert e["ci_high"] == pytest.approx(hi, abs=1e-8)
    assert e["se"] == pytest.approx(np.std(boot, ddof=1), abs=1e-8)
    p = _table(pct, "risk_difference").loc["tnie"]
    assert (p["ci_low"], p["ci_high"]) == pytest.approx(percentile_ci(boot), abs=1e-8)
    assert abs(p["ci_low"] - e["ci_low"]) > 1e-6 or abs(p["ci_high"] - e["ci_high"]) > 1e-6


def test_bca_ci_equals_scipy_bootstrap():
    rng = np.random.default_rng(3)
    x = rng.exponential(size=40)
    B, seed = 2000, 12
    counts = resample_counts(len(x), B, analysis_rng(seed))  # = default_rng(seed).integers
    boot = counts @ x / len(x)
    jack = jackknife_counts(len(x)) @ x / (len(x) - 1)
    ours = bca_ci(boot, x.mean(), jack, alpha=0.05)
    ref = stats.bootstrap((x,), np.mean, n_resamples=B, method="BCa",
                          rng=np.random.default_rng(seed)).confidence_interval  # fmt: skip
    assert ours == pytest.approx((ref.low, ref.high), abs=1e-12)
    assert ours != pytest.approx(percentile_ci(boot), abs=1e-4)  # skewed: acceleration matters


# --- batched GLM ------------------------------------------------------------------------


@pytest.mark.parametrize("family,link", [("binomial", "logit"), ("binomial", "probit"),
                                         ("poisson", "log")])  # fmt: skip
def test_batched_glm_equals_statsmodels_on_resampled_rows(family, link):
    rng = np.random.default_rng(7)
    n = 200
    X = np.column_stack([np.ones(n), rng.normal(size=(n, 2)) * [1, 8], rng.random(n) < 0.3])
    eta = X @ [-0.3, 0.6, 0.05, 0.5]
    y = (rng.random(n) < expit(eta)).astype(float) if family == "binomial" else \
        rng.poisson(np.exp(eta)).astype(float)  # fmt: skip
    sm_family = sm.families.Binomial(sm.families.links.Probit()) if link == "probit" else (
        sm.families.Binomial() if family == "binomial" else sm.families.Poisson())  # fmt: skip
    full = batched_glm(X, y, np.ones((1, n)), family, link)[0]
    ref = sm.GLM(y, X, family=sm_family).fit(tol=1e-13).params
    np.testing.assert_allclose(full, ref, atol=1e-8)
    counts = resample_counts(n, 25, analysis_rng(1))
    got = batched_glm(X, y, counts, family, link, start=full, chunk_size=6)
    for b in range(25):
        rows = np.repeat(np.arange(n), counts[b])
        expected = sm.GLM(y[rows], X[rows], family=sm_family).fit(tol=1e-13).params
        np.testing.assert_allclose(got[b], expected, atol=1e-7)


def test_batched_glm_separated_resample_is_nan():
    x = np.array([-2.0, -1.0, -0.5, 0.5, 1.0, 2.0, -0.2, 0.3])
    y = np.array([0, 0, 0, 1, 1, 1, 1, 0], dtype=float)  # rows 6, 7 break the separation
    X = np.column_stack([np.ones(8), x])
    counts = np.array([[1, 1, 1, 1, 1, 1, 1, 1], [2, 1, 1, 1, 1, 2, 0, 0]])
    got = batched_glm(X, y, counts)
    assert np.isfinite(got[0]).all() and np.isnan(got[1]).all()


# --- several mediators, count/binary mediators, other outcome families ---------------


def _three_mediators(n=400, seed=5):
    rng = np.random.default_rng(seed)
    c = rng.normal(size=n)
    x = rng.normal(size=n) + 0.3 * c
    m1 = 0.5 * x + 0.2 * c + rng.normal(size=n)
    m2 = (rng.random(n) < expit(0.7 * x)).astype(float)
    y = 0.3 * x + 0.4 * m1 + 0.5 * m2 + 0.2 * c + rng.normal(size=n)
    return pd.DataFrame({"x": x, "m1": m1, "m2": m2, "y": y, "c": c})


def test_parallel_mediators_linear_joint_equals_sum():
    data = _three_mediators()
    res = causal_mediation(data, "x", ["m1", "m2"], "y", covariates=["c"], contrast=(0, 1),
                           mediator_family={"m1": "gaussian", "m2": "binomial"},
                           n_boot=100, seed=1)  # fmt: skip
    assert set(res["mediator"]) == {"m1", "m2", "m1+m2"}
    joint = _table(res, mediator="m1+m2")
    assert list(joint.index) == ["joint_cde", "joint_pnde", "joint_tnde", "joint_pnie",
                                 "joint_tnie", "te", "joint_pm"]  # fmt: skip
    # linear outcome without interaction: te = nde + nie and the joint indirect effect is
    # b1 * a1 + b2 * (E[P(M2=1 | x=1, c)] - E[P(M2=1 | x=0, c)])
    X = sm.add_constant(data[["x", "c"]])
    a1 = sm.OLS(data["m1"], X).fit().params["x"]
    lg = sm.Logit(data["m2"], X).fit(disp=0, tol=1e-12)
    dp = (lg.predict(X.assign(x=1.0)) - lg.predict(X.assign(x=0.0))).mean()
    fy = sm.OLS(data["y"], X.assign(m1=data["m1"], m2=data["m2"])).fit().params
    assert joint.loc["joint_tnie", "estimate"] == pytest.approx(fy["m1"] * a1 + fy["m2"] * dp,
                                                                abs=1e-8)  # fmt: skip
    assert joint.loc["te", "estimate"] == pytest.approx(
        joint.loc["joint_pnde", "estimate"] + joint.loc["joint_tnie", "estimate"], abs=1e-12
    )
    assert (res["n_boot"] == 100).all()


def test_poisson_outcome_and_mediator_closed_forms():
    rng = np.random.default_rng(9)
    n = 500
    c = rng.normal(size=n)
    x = rng.normal(size=n)
    m = rng.poisson(np.exp(0.3 + 0.4 * x + 0.1 * c)).astype(float)
    y = rng.poisson(np.exp(-0.2 + 0.2 * x + 0.15 * m + 0.05 * x * m + 0.1 * c)).astype(float)
    data = pd.DataFrame({"x": x, "m": m, "y": y, "c": c})
    res = causal_mediation(data, "x", "m", "y", covariates=["c"], mediator_family="poisson",
                           outcome_family="poisson", interaction=True, contrast=(0, 1),
                           inference="none")  # fmt: skip
    assert set(res["scale"]) == {"difference", "rate_ratio"}
    X = sm.add_constant(data[["x", "c"]])
    bm = sm.Poisson(data["m"], X).fit(disp=0, tol=1e-12).params
    ty = np.asarray(sm.Poisson(data["y"], np.column_stack([X["const"], x, m, x * m, c])).fit(
        disp=0, tol=1e-12).params)  # fmt: skip

    def mean(xv, xs):  # E[exp(t m)] for m ~ Poisson(lam) is exp(lam (e^t - 1))
        lam = np.exp(bm["const"] + bm["x"] * xs + bm["c"] * c)
        g = ty[2] + ty[3] * xv
        return np.mean(np.exp(ty[0] + ty[1] * xv + ty[4] * c + lam * np.expm1(g)))

    rr = _table(res, "rate_ratio")
    assert rr.loc["tnie", "estimate"] == pytest.approx(mean(1, 1) / mean(1, 0), rel=1e-7)
    assert rr.loc["pnde", "estimate"] == pytest.approx(mean(1, 0) / mean(0, 0), rel=1e-7)


def test_conditional_estimand_and_covariate_sets(jobs):
    # mediator and outcome models with different covariates; conditional on declared values
    res = causal_mediation(jobs, "treat", "job_seek", "depress2",
                           mediator_covariates=["econ_hard"], outcome_covariates=JOBS_COVS,
                           estimand="conditional", covariate_values={"econ_hard": 3, "sex": 1,
                                                                     "age": 40},
                           inference="none")  # fmt: skip
    X1 = sm.add_constant(jobs[["treat", "econ_hard"]])
    a = sm.OLS(jobs["job_seek"], X1).fit().params["treat"]
    fy = sm.OLS(jobs["depress2"], sm.add_constant(jobs[["treat", "job_seek", *JOBS_COVS]])).fit()
    e = _table(res)
    assert e.loc["tnie", "estimate"] == pytest.approx(a * fy.params["job_seek"], abs=1e-10)
    assert e.loc["pnde", "estimate"] == pytest.approx(fy.params["treat"], abs=1e-10)
    assert (res["estimand"] == "conditional").all()


def test_contrasts_sd_iqr_written_to_rows(pingouin_data):
    x = pingouin_data["X"]
    for contrast, (a0, a1) in (("sd", (x.mean(), x.mean() + x.std())),
                               ("iqr", tuple(np.percentile(x, [25, 75]))),
                               ((2.0, 5.0), (2.0, 5.0))):  # fmt: skip
        res = causal_mediation(pingouin_data, "X", "M", "Y", contrast=contrast, inference="none")
        assert res["a0"].iloc[0] == pytest.approx(a0) and res["a1"].iloc[0] == pytest.approx(a1)
        e = _table(res)
        unit = _table(causal_mediation(pingouin_data, "X", "M", "Y", contrast=(0, 1),
                                       inference="none"))  # fmt: skip
        assert e.loc["tnie", "estimate"] == pytest.approx(unit.loc["tnie", "estimate"] * (a1 - a0))
    assert res["contrast"].iloc[0] == "values"


def test_quasi_bayes_reproducible_and_reasonable(jobs):
    kw = dict(covariates=JOBS_COVS, inference="quasi_bayes", n_boot=2000, seed=2014)
    first = causal_mediation(jobs, "treat", "job_seek", "depress2", **kw)
    second = causal_mediation(jobs, "treat", "job_seek", "depress2", **kw)
    pd.testing.assert_frame_equal(first, second)
    e = _table(first).loc["tnie"]
    # R mediate(boot=TRUE) CI [-0.0411754, 0.0074476]; quasi-Bayes is close
    assert e["ci_low"] == pytest.approx(-0.0411754, abs=0.006)
    assert e["ci_high"] == pytest.approx(0.0074476, abs=0.006)
    assert e["ci_method"] == "percentile" and e["inference"] == "quasi_bayes"


# --- sensitivity -------------------------------------------------------------------------


def test_imai_sensitivity_jobs(jobs):
    curve, summary = mediation_sensitivity(jobs, "treat", "job_seek", "depress2",
                                           covariates=JOBS_COVS, n_boot=300, seed=1)  # fmt: skip
    s = summary.set_index("effect")
    assert s.loc["nie", "rho_at_zero"] == pytest.approx(-0.273, abs=5e-4)
    # R reports the product at its grid value rho = -0.273
    ratio = s.loc["nie", "r2_tilde_product"] / s.loc["nie", "r2_star_product"]
    assert 0.273**2 == pytest.approx(0.074529, abs=1e-6)
    assert 0.074529 * ratio == pytest.approx(0.064808, abs=2e-6)
    assert s.loc["nie", "r2_star_product"] == pytest.approx(0.074529, abs=3e-4)
    acme = curve[curve["effect"] == "nie"].set_index("rho")
    assert acme.loc[0.0, "estimate"] == pytest.approx(-0.01574465, abs=1e-8)
    assert s.loc["nie", "estimate"] == pytest.approx(-0.01574465, abs=1e-8)
    i = np.searchsorted(acme.index, s.loc["nie", "rho_at_zero"])
    assert np.sign(acme["estimate"].iloc[i - 1]) != np.sign(acme["estimate"].iloc[i])
    assert (acme["ci_low"] <= acme["estimate"]).all()
    assert (acme["estimate"] <= acme["ci_high"]).all()
    # E-values from the standardised difference
    sd = jobs["depress2"].std()
    assert s.loc["nie", "e_value_point"] == pytest.approx(
        e_value(-0.01574465, scale="difference", sd=sd)[0], rel=1e-6
    )
    assert s.loc["nie", "e_value_ci"] == 1.0  # the CI includes 0


def test_e_values_published():
    assert e_value(10.73, 8.02, 14.36) == pytest.approx((20.948, 15.523), abs=1e-3)
    assert e_value(0.80, 0.71, 0.91) == pytest.approx((1.809, 1.429), abs=1e-3)
    assert e_value(3.9, 1.8, 8.7, scale="odds_ratio", rare_outcome=True) == pytest.approx(
        (7.263, 3.000), abs=1e-3
    )
    assert e_value(1.5, 0.9, 2.5)[1] == 1.0
    common = e_value(3.9, 1.8, 8.7, scale="odds_ratio", rare_outcome=False)
    assert common[0] == pytest.approx(e_value(np.sqrt(3.9))[0])
    d = e_value(0.5, 0.2, 0.8, scale="difference", sd=1.0)
    assert d[0] == pytest.approx(e_value(np.exp(0.91 * 0.5))[0])
    with pytest.raises(ModelError):
        e_value(0.5, scale="difference")


# --- many paths ------------------------------------------------------------------------


def test_mediation_paths_fdr_and_independent_seeds():
    data = _three_mediators()
    paths = [("x", "m1", "y"), ("x", "m2", "y"), ("c", "m1", "y")]
    table = mediation_paths(data, paths, n_boot=150, seed=3, keys=("study",))
    target = table[(table["effect"] == "tnie") & (table["scale"] == "difference")]
    assert len(target) == 3
    np.testing.assert_allclose(target["q"], bh_fdr(target["p"].to_numpy()))
    assert table.loc[table["effect"] != "tnie", "q"].isna().all()
    # dropping a path does not change another path's numbers
    fewer = mediation_paths(data, paths[:1], n_boot=150, seed=3, keys=("study",))
    cols = ["estimate", "se", "ci_low", "ci_high", "p"]
    np.testing.assert_array_equal(fewer[cols].to_numpy(), table.iloc[: len(fewer)][cols].to_numpy())


# --- determinism, data problems and misuse -------------------------------------------------


def test_same_seed_same_numbers_keys_change_them(pingouin_data):
    kw = dict(outcome_family="binomial", interaction=True, n_boot=200, seed=5)
    run = lambda k: causal_mediation(pingouin_data, "X", "M", "Ybin", keys=k, **kw)  # noqa: E731
    first, second, other = run(("a",)), run(("a",)), run(("b",))
    pd.testing.assert_frame_equal(first, second)
    assert not np.allclose(first["ci_low"], other["ci_low"])


def test_data_problems_give_status(pingouin_data):
    res = causal_mediation(pingouin_data.assign(M=1.0), "X", "M", "Y", n_boot=20)
    assert res["status"].str.contains("mediator 'M' has zero variance").all()
    assert res[["estimate", "se", "ci_low", "ci_high", "p"]].isna().all().all()
    res = causal_mediation(pingouin_data, "X", "M", "Y", outcome_family="binomial", n_boot=20)
    assert res["status"].str.contains("must be coded 0/1").all()
    assert set(res["scale"]) == {"risk_difference", "risk_ratio", "odds_ratio"}
    res = causal_mediation(pingouin_data.iloc[:4], "X", "M", "Y", covariates=["W1", "W2"],
                           n_boot=20)  # fmt: skip
    assert res["status"].str.contains("too few complete rows").all()
    separated = pingouin_data.assign(Ysep=(pingouin_data["M"] > pingouin_data["M"].median()
                                           ).astype(float))  # fmt: skip
    res = causal_mediation(separated, "X", "M", "Ysep", outcome_family="binomial", n_boot=20)
    assert res["status"].str.contains("separation").all()
    assert res["estimate"].isna().all()


def test_misuse_raises(pingouin_data):
    with pytest.raises(ModelError):
        causal_mediation(pingouin_data, "X", "M", "nope")
    with pytest.raises(ModelError):
        causal_mediation(pingouin_data, "X", "M", "Y", ci_method="studentized")
    with pytest.raises(ModelError):
        causal_mediation(pingouin_data, "X", "M", "Y", inference="delta")
    with pytest.raises(ModelError):
        causal_mediation(pingouin_data, "X", "M", "Y", covariates=["M"])
    with pytest.raises(ModelError):
        causal_mediation(pingouin_data, "X", "M", "Y", estimand="conditional")
    with pytest.raises(ModelError):
        causal_mediation(pingouin_data, "X", "M", "Y", contrast=(1, 1))
    with pytest.raises(ModelError):
        causal_mediation(pingouin_data, "X", "Mbin", "Ybin", mediator_family="binomial",
                         outcome_family="binomial", method="closed_form",
                         covariate_values="mean")  # fmt: skip
    with pytest.raises(ModelError):
        causal_mediation(pingouin_data, "X", "M", "Y", outcome_family="gaussian",
                         outcome_link="probit")  # fmt: skip


# --- issue #16: a mediation table that says what it did --------------------------------


def _separating_cohort(n=150, seed=8):
    """Binary outcome; covariate z = 1 in rows 0-7, all events except row 0, so every
    resample without row 0 (or whose z = 1 rows are all row 0) is separated."""
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    z = np.zeros(n)
    z[:8] = 1
    m = 0.5 * x + rng.normal(size=n)
    y = (rng.random(n) < expit(-0.5 + 0.6 * m + 0.3 * x)).astype(float)
    y[:8] = 1
    y[0] = 0
    return pd.DataFrame({"x": x, "m": m, "y": y, "z": z})


def test_dropped_resamples_are_counted_and_flagged_and_firth_keeps_them():
    from first1000.stats.causal import DROPPED_STATUS, FIRTH_HINT

    data = _separating_cohort()
    opts = dict(covariates=["z"], outcome_family="binomial", n_boot=200, seed=4, keys=("k",))
    res = causal_mediation(data, "x", "m", "y", **opts)
    # Hand count on the same resamples: separated when row 0 (z = 1, y = 0) is not drawn,
    # or when every drawn z = 1 row is row 0.
    counts = resample_counts(len(data), 200, analysis_rng(4, "k"))
    separated = (counts[:, 0] == 0) | (counts[:, :8].sum(axis=1) == counts[:, 0])
    dropped = int(separated.sum())
    assert dropped == 65
    assert (res.n_boot_dropped == dropped).all() and (res.n_boot == 200 - dropped).all()
    expected = DROPPED_STATUS.format(dropped=dropped, total=200, share=100 * dropped / 200,
                                     kept=200 - dropped) + FIRTH_HINT
    assert (res.status == expected).all()
    assert expected.startswith("warning: 65 of 200 bootstrap resamples (32.5%)")
    assert np.isfinite(res.estimate).all() and not res.firth.any()
    # below the threshold: ok
    lax = causal_mediation(data, "x", "m", "y", max_dropped=0.5, **opts)
    assert (lax.status == "ok").all() and (lax.n_boot_dropped == dropped).all()
    # Firth: separated resamples are fitted; only one without any z = 1 row (singular
    # design: the z dummy is constant) would still be dropped, and there is none here.
    pen = causal_mediation(data, "x", "m", "y", firth=True, **opts)
    singular = int((counts[:, :8].sum(axis=1) == 0).sum())
    assert singular == 0 and (pen.n_boot_dropped == 0).all() and (pen.n_boot == 200).all()
    assert (pen.status == "ok").all() and pen.firth.all()
    # the Firth outcome model of the full data is R-checked firth_logit
    from first1000.stats.regression import firth_logit

    X = np.column_stack([np.ones(len(data)), data.x, data.m, data.z])
    coef = firth_logit(X, data.y.to_numpy(float))["coef"]
    mu = lambda a, mm: expit(coef[0] + coef[1] * a + coef[2] * mm + coef[3] * data.z)  # noqa: E731
    # cde at m = mean(m): marginal risk difference for x = a1 vs a0 (contrast "sd")
    sd_x = data.x.std(ddof=1)
    a0, a1 = data.x.mean(), data.x.mean() + sd_x
    cde = np.mean(mu(a1, data.m.mean()) - mu(a0, data.m.mean()))
    row = pen[(pen.effect == "cde") & (pen.scale == "risk_difference")].iloc[0]
    assert row.estimate == pytest.approx(cde, rel=1e-8)
    with pytest.raises(ModelError, match="probit"):
        causal_mediation(data, "x", "m", "y", outcome_link="probit", firth=True, **opts)


def _pm_data(n=300, seed=21, direct=0.2):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=n)
    m = 0.5 * x + rng.normal(size=n)
    y = 0.4 * m + direct * x + rng.normal(size=n)
    return pd.DataFrame({"x": x, "m": m, "y": y})


def _explicit_replicates(data, counts):
    """a, b, c' and c of OLS fits on the explicitly resampled rows (a loop, numpy lstsq)."""
    out = []
    for w in counts:
        d = data.iloc[np.repeat(np.arange(len(data)), w)]
        one = np.ones(len(d))
        a = np.linalg.lstsq(np.column_stack([one, d.x]), d.m, rcond=None)[0][1]
        cp, b = np.linalg.lstsq(np.column_stack([one, d.x, d.m]), d.y, rcond=None)[0][1:]
        c = np.linalg.lstsq(np.column_stack([one, d.x]), d.y, rcond=None)[0][1]
        out.append((a, b, cp, c))
    return np.array(out)


def test_pm_uses_the_percentile_interval_of_explicit_replicates():
    data = _pm_data()
    res = causal_mediation(data, "x", "m", "y", contrast=(0, 1), n_boot=150, seed=2, keys=("p",),
                           ci_method="bias_corrected")
    e = _table(res)
    reps = _explicit_replicates(data, resample_counts(len(data), 150, analysis_rng(2, "p")))
    pm = reps[:, 0] * reps[:, 1] / reps[:, 3]
    fit_m = sm.OLS(data.m, sm.add_constant(data[["x"]])).fit()
    fit_y = sm.OLS(data.y, sm.add_constant(data[["x", "m"]])).fit()
    fit_c = sm.OLS(data.y, sm.add_constant(data[["x"]])).fit()
    assert e.loc["pm", "estimate"] == pytest.approx(fit_m.params["x"] * fit_y.params["m"] / fit_c.params["x"],
                                                    rel=1e-10)
    assert (e.loc["pm", "ci_low"], e.loc["pm", "ci_high"]) == pytest.approx(
        tuple(np.percentile(pm, [2.5, 97.5])), rel=1e-9)
    assert e.loc["pm", "ci_method"] == "percentile" and e.loc["tnie", "ci_method"] == "bias_corrected"
    assert e.loc["pm", "status"] == "ok"
    # and mediation_linear does the same
    lin, _ = mediation_linear(data, "x", "m", "y", n_boot=150, seed=2, keys=("p",), ci_method="bias_corrected")
    lin = lin.set_index("effect")
    assert (lin.loc["proportion_mediated", "ci_low"], lin.loc["proportion_mediated", "ci_high"]) == \
        pytest.approx(tuple(np.percentile(pm, [2.5, 97.5])), rel=1e-9)
    assert lin.loc["proportion_mediated", "ci_method"] == "percentile"


def test_pm_is_suppressed_when_the_total_effect_ci_includes_zero_or_te_is_small():
    from first1000.stats.causal import PM_STATUS_CI, PM_STATUS_SMALL

    # direct -0.2 cancels the indirect 0.5 * 0.4: the total effect is about 0
    data = _pm_data(direct=-0.2)
    res = causal_mediation(data, "x", "m", "y", contrast=(0, 1), n_boot=150, seed=2, keys=("p",))
    e = _table(res)
    reps = _explicit_replicates(data, resample_counts(len(data), 150, analysis_rng(2, "p")))
    te_lo, te_hi = np.percentile(reps[:, 3], [2.5, 97.5])
    assert te_lo < 0 < te_hi
    assert (e.loc["te", "ci_low"], e.loc["te", "ci_high"]) == pytest.approx((te_lo, te_hi), rel=1e-9)
    assert e.loc["pm", ["estimate", "se", "ci_low", "ci_high", "p"]].isna().all()
    assert e.loc["pm", "status"] == PM_STATUS_CI.format(level="95%")
    assert e.loc["pm", "status"] == ("pm not reported: the 95% CI of the total effect includes the null, "
                                     "so a proportion of it is not interpretable")
    assert (e.drop(index="pm").status == "ok").all() and np.isfinite(e.loc["tnie", "estimate"])
    # a clear total effect, but below a declared threshold
    clear = _pm_data(direct=0.2)
    te = sm.OLS(clear.y, sm.add_constant(clear[["x"]])).fit().params["x"]
    small = _table(causal_mediation(clear, "x", "m", "y", contrast=(0, 1), n_boot=150, seed=2,
                                    pm_min_total_effect=te + 0.01))
    assert np.isnan(small.loc["pm", "estimate"])
    assert small.loc["pm", "status"] == PM_STATUS_SMALL.format(te=te, threshold=te + 0.01)
    # mediation_linear: the same rule
    lin, _ = mediation_linear(data, "x", "m", "y", n_boot=150, seed=2, keys=("p",))
    lin = lin.set_index("effect")
    assert np.isnan(lin.loc["proportion_mediated", "estimate"])
    assert lin.loc["proportion_mediated", "status"] == PM_STATUS_CI.format(level="95%")
    # ratio scales: the CI of log(te) includes 0
    fam = _separating_cohort(seed=3).assign(y=lambda d: (np.random.default_rng(1).random(len(d)) < 0.4) * 1.0)
    rr = causal_mediation(fam, "x", "m", "y", outcome_family="binomial", n_boot=150, seed=1)
    for scale in ("risk_difference", "risk_ratio", "odds_ratio"):
        row = _table(rr, scale=scale)
        null = 1.0 if scale != "risk_difference" else 0.0
        spans = row.loc["te", "ci_low"] <= null <= row.loc["te", "ci_high"]
        assert spans and np.isnan(row.loc["pm", "estimate"])


def test_a_two_valued_exposure_is_binary_low_to_high_whatever_its_coding():
    rng = np.random.default_rng(4)
    n = 300
    x01 = rng.integers(0, 2, n).astype(float)
    m = 0.6 * x01 + rng.normal(size=n)
    y = 0.5 * m + 0.3 * x01 + rng.normal(size=n)
    data = pd.DataFrame({"x": x01 + 1, "m": m, "y": y})  # coded 1/2
    ref = _table(causal_mediation(data.assign(x=x01), "x", "m", "y", n_boot=100, seed=1))
    for contrast in (None, "sd", "iqr"):
        res = causal_mediation(data, "x", "m", "y", contrast=contrast, n_boot=100, seed=1)
        e = _table(res)
        assert (res.contrast == "binary (1 -> 2)").all() and (res.a0 == 1).all() and (res.a1 == 2).all()
        c = sm.OLS(data.y, sm.add_constant(data[["x"]])).fit().params["x"]  # per unit = 1 -> 2
        assert e.loc["te", "estimate"] == pytest.approx(c, rel=1e-10)
        np.testing.assert_allclose(e.estimate, ref.estimate, rtol=1e-10)
    assert (ref.contrast == "binary").all()
    # declared values are honoured
    res = causal_mediation(data, "x", "m", "y", contrast=(2, 1), n_boot=100, seed=1)
    assert res.contrast.iloc[0] == "values" and _table(res).loc["te", "estimate"] == pytest.approx(-c, rel=1e-10)
    # the sensitivity analysis and the sequential engine share the rule
    _, summary = mediation_sensitivity(data, "x", "m", "y", n_boot=50, seed=1)
    assert (summary.contrast == "binary (1 -> 2)").all() and (summary.a1 - summary.a0 == 1).all()


def test_incomplete_rows_are_counted_and_mixed_type_covariates_refused():
    from first1000.errors import InputTableError

    data = _pm_data(n=200)
    rng = np.random.default_rng(9)
    data["c"] = rng.normal(size=200)
    data.loc[rng.random(200) < 0.1, "c"] = np.nan
    data.loc[rng.random(200) < 0.05, "m"] = np.nan
    data["unused"] = np.nan
    res = causal_mediation(data, "x", "m", "y", covariates=["c"], n_boot=50, seed=1)
    missing = int(data[["x", "m", "y", "c"]].isna().any(axis=1).sum())
    assert missing > 0 and (res.n_missing == missing).all() and (res.n == 200 - missing).all()
    lin, _ = mediation_linear(data, "x", "m", "y", covariates=["c"], n_boot=50, seed=1)
    assert (lin.n_missing == missing).all()
    mixed = data.assign(parity=pd.Series(["0", 0, "1", 1] * 50, dtype=object))
    with pytest.raises(InputTableError, match="column 'parity' mixes numbers and text"):
        causal_mediation(mixed, "x", "m", "y", covariates=["c", "parity"], n_boot=50)
    with pytest.raises(InputTableError, match="'parity'"):
        mediation_linear(mixed, "x", "m", "y", covariates=["parity"], n_boot=50)


def test_the_table_is_byte_identical_for_the_same_seed():
    data = _separating_cohort()
    runs = [causal_mediation(data, "x", "m", "y", covariates=["z"], outcome_family="binomial", n_boot=100,
                             seed=5, firth=True, ci_method="bca").to_csv(sep="\t", index=False)
            for _ in range(2)]
    assert runs[0] == runs[1]
