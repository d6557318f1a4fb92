"""Tests of first1000.stats.sequential (two sequential mediators M1 -> M2).

References: closed-form path-specific effects of linear models (VanderWeele & Vansteelandt,
Epidemiol. Methods 2:95–115, 2014), statsmodels fits called live, scipy ``dblquad`` over
(m1, m2), brute-force Monte Carlo, explicit loops over resampled rows, and large-sample
truths of planted simulations.
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import integrate
from scipy.special import expit

from first1000.errors import ModelError
from first1000.stats.bootstrap import analysis_rng, resample_counts
from first1000.stats.causal import COLUMNS
from first1000.stats.sequential import (
    SEQ_EFFECTS,
    SeqParams,
    sequential_counterfactual_means,
    sequential_mediation,
)

# planted path coefficients: M1 = A1 x; M2 = D x + E m1; Y = CP x + B1 m1 + B2 m2 (+ c terms)
A1, D, E, CP, B1, B2 = 0.5, 0.4, 0.6, 0.3, 0.5, 0.7


def _simulate(n, seed, binary=False, interaction=False):
    rng = np.random.default_rng(seed)
    c = rng.normal(size=n)
    g = rng.choice(["a", "b", "c"], size=n)
    gb = (g == "b").astype(float) - 0.5 * (g == "c")
    x = rng.normal(size=n)
    m1 = 0.2 + A1 * x + 0.3 * c + 0.2 * gb + rng.normal(size=n)
    m2 = -0.1 + D * x + E * m1 + 0.2 * c - 0.3 * gb + 0.8 * rng.normal(size=n)
    if binary:
        t = 0.25 if interaction else 0.0
        eta = -0.5 + CP * x + 0.4 * m1 + 0.5 * m2 + t * x * m1 - t * x * m2 + 0.2 * c
        y = (rng.random(n) < expit(eta)).astype(float)
    else:
        y = 1.0 + CP * x + B1 * m1 + B2 * m2 + 0.1 * c + 0.4 * gb + rng.normal(size=n)
    return pd.DataFrame({"x": x, "m1": m1, "m2": m2, "y": y, "c": c, "g": g})


def _table(frame, scale=None):
    rows = frame if scale is None else frame[frame["scale"] == scale]
    return rows.set_index("effect")


def _ols(y, *cols):
    return sm.OLS(y, sm.add_constant(np.column_stack(cols))).fit()


@pytest.fixture(scope="module")
def linear():
    return _simulate(600, 11)


@pytest.fixture(scope="module")
def binary():
    return _simulate(300, 12, binary=True)


# --- linear outcome: closed forms -------------------------------------------------------


def test_linear_closed_forms_exact(linear):
    a0, a1 = -0.3, 1.2
    delta = a1 - a0
    res = sequential_mediation(linear, "x", "m1", "m2", "y", covariates=["c", "g"],
                               contrast=(a0, a1), inference="none")  # fmt: skip
    assert list(res.columns) == COLUMNS
    assert (res["mediator"] == "m1>m2").all() and (res["status"] == "ok").all()
    assert list(res["effect"]) == list(SEQ_EFFECTS)
    e = _table(res)["estimate"]
    gd = pd.get_dummies(linear["g"], drop_first=True, dtype=float).to_numpy()
    x, c, m1, m2, y = (linear[k].to_numpy() for k in ("x", "c", "m1", "m2", "y"))
    fa = _ols(m1, x, c, gd).params  # [const, x, c, g...]
    fm2 = _ols(m2, x, m1, c, gd).params  # [const, x, m1, ...]
    fy = _ols(y, x, m1, m2, c, gd).params  # [const, x, m1, m2, ...]
    a, d, ee = fa[1], fm2[1], fm2[2]
    cp, b1, b2 = fy[1], fy[2], fy[3]
    assert e["nde"] == pytest.approx(cp * delta, abs=1e-10)
    assert e["nie_m2_only"] == pytest.approx(b2 * d * delta, abs=1e-10)
    assert e["nie_m1"] == pytest.approx((a * b1 + a * ee * b2) * delta, abs=1e-10)
    assert e["nie_joint"] == pytest.approx((b2 * d + a * b1 + a * ee * b2) * delta, abs=1e-10)
    # the total effect is the exposure coefficient of Y ~ X + C (OLS omitted-variable algebra)
    total = _ols(y, x, c, gd).params[1]
    assert e["te"] == pytest.approx(total * delta, abs=1e-10)
    assert e["pm_joint"] == pytest.approx(e["nie_joint"] / e["te"], rel=1e-12)


def test_linear_interaction_matches_hand_gformula(linear):
    """With X·M1, X·M2 the identity-link g-formula is the linear predictor at the means."""
    a0, a1 = 0.0, 1.0
    res = sequential_mediation(linear, "x", "m1", "m2", "y", covariates=["c"], interaction=True,
                               contrast=(a0, a1), inference="none")  # fmt: skip
    x, c, m1, m2, y = (linear[k].to_numpy() for k in ("x", "c", "m1", "m2", "y"))
    al = _ols(m1, x, c).params
    de = _ols(m2, x, m1, c).params
    th = _ols(y, x, m1, m2, x * m1, x * m2, c).params

    def q(a, ap, app):
        mu1 = al[0] + al[1] * ap + al[2] * c
        mu2 = de[0] + de[1] * app + de[2] * mu1 + de[3] * c
        return np.mean(th[0] + th[1] * a + (th[2] + th[4] * a) * mu1
                       + (th[3] + th[5] * a) * mu2 + th[6] * c)  # fmt: skip

    e = _table(res)["estimate"]
    assert e["nde"] == pytest.approx(q(a1, a0, a0) - q(a0, a0, a0), abs=1e-10)
    assert e["nie_m2_only"] == pytest.approx(q(a1, a0, a1) - q(a1, a0, a0), abs=1e-10)
    assert e["nie_m1"] == pytest.approx(q(a1, a1, a1) - q(a1, a0, a1), abs=1e-10)
    assert e["te"] == pytest.approx(q(a1, a1, a1) - q(a0, a0, a0), abs=1e-10)


def test_decomposition_sums_exactly(binary):
    res = sequential_mediation(binary, "x", "m1", "m2", "y", covariates=["c"], interaction=True,
                               outcome_family="binomial", n_boot=50)  # fmt: skip
    rd = _table(res, "risk_difference")["estimate"]
    assert rd["te"] == pytest.approx(rd["nde"] + rd["nie_m2_only"] + rd["nie_m1"], abs=1e-14)
    assert rd["nie_joint"] == pytest.approx(rd["nie_m2_only"] + rd["nie_m1"], abs=1e-14)
    for scale in ("risk_ratio", "odds_ratio"):
        r = _table(res, scale)["estimate"]
        assert r["te"] == pytest.approx(r["nde"] * r["nie_m2_only"] * r["nie_m1"], rel=1e-12)
        assert r["nie_joint"] == pytest.approx(r["nie_m2_only"] * r["nie_m1"], rel=1e-12)
        # ratio CIs are exponentiated log-scale intervals: always positive
        assert (res.loc[res["scale"] == scale, "ci_low"].iloc[:5] > 0).all()
    # pm on the risk-ratio scale nde (nie - 1)/(te - 1) equals the RD proportion
    rr = _table(res, "risk_ratio")["estimate"]
    assert rr["pm_joint"] == pytest.approx(rd["pm_joint"], rel=1e-10)


# --- planted effects: coverage --------------------------------------------------------


def test_planted_linear_effects_covered():
    data = _simulate(4000, 21)
    res = sequential_mediation(data, "x", "m1", "m2", "y", covariates=["c", "g"],
                               contrast=(0, 1), n_boot=400, seed=3)  # fmt: skip
    e = _table(res)
    truth = {"nde": CP, "nie_m2_only": B2 * D, "nie_m1": A1 * B1 + A1 * E * B2,
             "te": CP + B2 * D + A1 * B1 + A1 * E * B2}  # fmt: skip
    truth["nie_joint"] = truth["te"] - CP
    truth["pm_joint"] = truth["nie_joint"] / truth["te"]
    for effect, value in truth.items():
        assert e.loc[effect, "ci_low"] <= value <= e.loc[effect, "ci_high"], effect
        assert e.loc[effect, "p"] < 0.01
        assert e.loc[effect, "se"] < 0.05
    assert e["n_boot"].eq(400).all()


def test_planted_binary_effects_covered():
    """Logistic outcome with X·M1, X·M2; truth = population g-formula with the true models."""
    data = _simulate(5000, 23, binary=True, interaction=True)
    res = sequential_mediation(data, "x", "m1", "m2", "y", covariates=["c", "g"],
                               outcome_family="binomial", interaction=True, contrast=(0, 1),
                               n_boot=300, seed=4)  # fmt: skip
    # population g-formula of the data-generating models, by Monte Carlo over (C, G, M1, M2)
    rng = np.random.default_rng(99)
    N = 2_000_000
    c = rng.normal(size=N)
    gidx = rng.integers(0, 3, size=N)
    gb = (gidx == 1) - 0.5 * (gidx == 2)
    z1, z2 = rng.normal(size=N), rng.normal(size=N)

    def q(a, ap, app):
        m1 = 0.2 + A1 * ap + 0.3 * c + 0.2 * gb + z1
        m2 = -0.1 + D * app + E * m1 + 0.2 * c - 0.3 * gb + 0.8 * z2
        eta = -0.5 + CP * a + 0.4 * m1 + 0.5 * m2 + 0.25 * a * m1 - 0.25 * a * m2 + 0.2 * c
        return expit(eta).mean()

    Q = {k: q(*k) for k in [(1, 1, 1), (0, 0, 0), (1, 0, 0), (1, 0, 1)]}
    truth = {
        "te": Q[1, 1, 1] - Q[0, 0, 0], "nde": Q[1, 0, 0] - Q[0, 0, 0],
        "nie_m2_only": Q[1, 0, 1] - Q[1, 0, 0], "nie_m1": Q[1, 1, 1] - Q[1, 0, 1],
    }  # fmt: skip
    e = _table(res, "risk_difference")
    for effect, value in truth.items():
        assert e.loc[effect, "ci_low"] <= value <= e.loc[effect, "ci_high"], effect
        assert abs(e.loc[effect, "estimate"] - value) < 3 * e.loc[effect, "se"]


# --- binary outcome: integration -------------------------------------------------------


def _fits(data):
    x, c, m1, m2, y = (data[k].to_numpy() for k in ("x", "c", "m1", "m2", "y"))
    f1 = _ols(m1, x, c)
    f2 = _ols(m2, x, m1, c)
    fy = sm.Logit(y, sm.add_constant(np.column_stack([x, m1, m2, x * m1, x * m2, c]))).fit(
        disp=0, tol=1e-12
    )
    return f1, f2, fy


def test_binary_matches_monte_carlo(binary):
    a0, a1 = -0.5, 1.0
    res = sequential_mediation(binary, "x", "m1", "m2", "y", covariates=["c"], interaction=True,
                               outcome_family="binomial", contrast=(a0, a1),
                               inference="none")  # fmt: skip
    f1, f2, fy = _fits(binary)
    al, de, th = f1.params, f2.params, fy.params
    s1, s2 = np.sqrt(f1.mse_resid), np.sqrt(f2.mse_resid)
    c = binary["c"].to_numpy()[:, None]
    rng = np.random.default_rng(5)
    K = 10_000  # 3 million draws of (M1, M2), the same draws for every Q
    z1, z2 = rng.normal(size=(len(c), K)), rng.normal(size=(len(c), K))

    def q(a, ap, app):
        m1 = al[0] + al[1] * ap + al[2] * c + s1 * z1
        m2 = de[0] + de[1] * app + de[2] * m1 + de[3] * c + s2 * z2
        eta = th[0] + th[1] * a + th[2] * m1 + th[3] * m2 + th[4] * a * m1 + th[5] * a * m2
        return expit(eta + th[6] * c).mean()

    Q = {k: q(*k) for k in [(a1, a1, a1), (a0, a0, a0), (a1, a0, a0), (a1, a0, a1)]}
    e = _table(res, "risk_difference")["estimate"]
    assert e["te"] == pytest.approx(Q[a1, a1, a1] - Q[a0, a0, a0], abs=2e-3)
    assert e["nde"] == pytest.approx(Q[a1, a0, a0] - Q[a0, a0, a0], abs=2e-3)
    assert e["nie_m2_only"] == pytest.approx(Q[a1, a0, a1] - Q[a1, a0, a0], abs=2e-3)
    assert e["nie_m1"] == pytest.approx(Q[a1, a1, a1] - Q[a1, a0, a1], abs=2e-3)
    rr = _table(res, "risk_ratio")["estimate"]
    assert rr["te"] == pytest.approx(Q[a1, a1, a1] / Q[a0, a0, a0], rel=5e-3)
    odds = lambda p: p / (1 - p)  # noqa: E731
    orr = _table(res, "odds_ratio")["estimate"]
    assert orr["te"] == pytest.approx(odds(Q[a1, a1, a1]) / odds(Q[a0, a0, a0]), rel=5e-3)


def test_one_participant_matches_scipy_dblquad(binary):
    """Quadrature over the joint normal (M1, M2) equals adaptive 2-D integration."""
    f1, f2, fy = _fits(binary)
    al, de, th = f1.params, f2.params, fy.params
    s1, s2 = np.sqrt(f1.mse_resid), np.sqrt(f2.mse_resid)
    # make the mediators' part of eta wide (SD ~ 2) so that the rule has work to do
    th = th.copy()
    th[2:4] *= 3.0
    c0 = 1.3
    P = SeqParams(al[None], np.array([s1**2]), de[None], np.array([s2**2]), th[None])
    a0, a1 = 0.0, 1.0
    got = sequential_counterfactual_means(P, np.array([[1.0, c0]]), None, a0, a1, "logit",
                                          True, n_quad=128)[0]  # fmt: skip

    def q(a, ap, app):
        mu1 = al[0] + al[1] * ap + al[2] * c0

        def f(m2, m1):
            eta = (th[0] + th[1] * a + (th[2] + th[4] * a) * m1 + (th[3] + th[5] * a) * m2
                   + th[6] * c0)  # fmt: skip
            mu2 = de[0] + de[1] * app + de[2] * m1 + de[3] * c0
            z1, z2 = (m1 - mu1) / s1, (m2 - mu2) / s2
            return expit(eta) * np.exp(-0.5 * (z1 * z1 + z2 * z2)) / (2 * np.pi * s1 * s2)

        lo2 = lambda m1: de[0] + de[1] * app + de[2] * m1 + de[3] * c0 - 12 * s2  # noqa: E731
        hi2 = lambda m1: lo2(m1) + 24 * s2  # noqa: E731
        val, _ = integrate.dblquad(f, mu1 - 12 * s1, mu1 + 12 * s1, lo2, hi2,
                                   epsabs=1e-11, epsrel=1e-9)  # fmt: skip
        return val

    want = [q(a1, a1, a1), q(a0, a0, a0), q(a1, a0, a0), q(a1, a0, a1)]
    np.testing.assert_allclose(got, want, atol=1e-8)


# --- bootstrap -----------------------------------------------------------------------


@pytest.mark.parametrize("family", ["gaussian", "binomial"])
def test_bootstrap_equals_explicit_loop(linear, binary, family):
    """Batched refits + count-weighted g-formula = refitting on the resampled rows."""
    data = (linear.iloc[:200] if family == "gaussian" else binary).reset_index(drop=True)
    B, seed, keys = 30, 7, ("seq", "test")
    kw = dict(covariates=["c"], contrast=(0, 1), outcome_family=family, n_quad=64,
              interaction=family == "binomial")  # fmt: skip
    res = sequential_mediation(data, "x", "m1", "m2", "y", n_boot=B, seed=seed, keys=keys, **kw)
    scale = "difference" if family == "gaussian" else "risk_difference"
    counts = resample_counts(len(data), B, analysis_rng(seed, *keys))
    reps = {k: [] for k in ("nde", "nie_m2_only", "nie_m1", "te")}
    for b in range(B):
        rs = data.iloc[np.repeat(np.arange(len(data)), counts[b])]
        r = sequential_mediation(rs, "x", "m1", "m2", "y", inference="none", **kw)
        e = _table(r, scale)["estimate"]
        for k in reps:
            reps[k].append(e[k])
    e = _table(res, scale)
    for k, vals in reps.items():
        assert e.loc[k, "ci_low"] == pytest.approx(np.percentile(vals, 2.5), abs=1e-9)
        assert e.loc[k, "ci_high"] == pytest.approx(np.percentile(vals, 97.5), abs=1e-9)
        assert e.loc[k, "se"] == pytest.approx(np.std(vals, ddof=1), abs=1e-9)


def test_same_seed_same_numbers_keys_change_them(binary):
    kw = dict(covariates=["c"], outcome_family="binomial", n_boot=100, seed=5)
    run = lambda k: sequential_mediation(binary, "x", "m1", "m2", "y", keys=k, **kw)  # noqa: E731
    first, second, other = run(("a",)), run(("a",)), run(("b",))
    pd.testing.assert_frame_equal(first, second)
    assert not np.allclose(first["ci_low"], other["ci_low"])
    np.testing.assert_array_equal(first["estimate"], other["estimate"])


@pytest.mark.parametrize("ci_method", ["bias_corrected", "bca"])
def test_other_intervals_run(linear, ci_method):
    kw = dict(covariates=["c"], contrast=(0, 1), n_boot=200, seed=1)
    pct = sequential_mediation(linear, "x", "m1", "m2", "y", **kw)
    other = sequential_mediation(linear, "x", "m1", "m2", "y", ci_method=ci_method, **kw)
    assert (other["ci_method"] == ci_method).all()
    np.testing.assert_array_equal(pct["estimate"], other["estimate"])
    assert not np.allclose(pct["ci_low"], other["ci_low"])
    assert (other["ci_low"] <= other["estimate"]).all()
    assert (other["estimate"] <= other["ci_high"]).all()


# --- data problems and misuse ---------------------------------------------------------


def test_data_problems_give_status(linear, binary):
    res = sequential_mediation(linear.assign(m2=1.0), "x", "m1", "m2", "y", n_boot=20)
    assert res["status"].str.contains("mediator 'm2' has zero variance").all()
    assert res[["estimate", "se", "ci_low", "ci_high", "p"]].isna().all().all()
    res = sequential_mediation(linear, "x", "m1", "m2", "y", outcome_family="binomial",
                               n_boot=20)  # fmt: skip
    assert res["status"].str.contains("must be coded 0/1").all()
    assert set(res["scale"]) == {"risk_difference", "risk_ratio", "odds_ratio"}
    res = sequential_mediation(linear.iloc[:5], "x", "m1", "m2", "y", covariates=["c", "g"],
                               n_boot=20)  # fmt: skip
    assert res["status"].str.contains("too few complete rows").all()
    res = sequential_mediation(linear.assign(c2=2 * linear["c"]), "x", "m1", "m2", "y",
                               covariates=["c", "c2"], n_boot=20)  # fmt: skip
    assert res["status"].str.contains("collinear").all()
    sep = binary.assign(y=(binary["m2"] > binary["m2"].median()).astype(float))
    res = sequential_mediation(sep, "x", "m1", "m2", "y", outcome_family="binomial", n_boot=20)
    assert res["status"].str.contains("separation").all()
    assert res["estimate"].isna().all()
    res = sequential_mediation(linear.assign(m1=np.where(linear.index == 3, np.inf, 0.0)
                                             + linear["m1"]), "x", "m1", "m2", "y", n_boot=20)
    assert (res["status"] != "ok").all()
    # missing values: complete cases only
    holes = linear.copy()
    holes.loc[:9, "m2"] = np.nan
    res = sequential_mediation(holes, "x", "m1", "m2", "y", inference="none")
    assert (res["n"] == len(linear) - 10).all() and (res["status"] == "ok").all()


def test_misuse_raises(linear):
    with pytest.raises(ModelError):
        sequential_mediation(linear, "x", "m1", "m2", "nope")
    with pytest.raises(ModelError):
        sequential_mediation(linear, "x", "m1", "m1", "y")
    with pytest.raises(ModelError):
        sequential_mediation(linear, "x", "m1", "m2", "y", covariates=["m1"])
    with pytest.raises(ModelError):
        sequential_mediation(linear, "x", "m1", "m2", "y", ci_method="studentized")
    with pytest.raises(ModelError):
        sequential_mediation(linear, "x", "m1", "m2", "y", outcome_family="poisson")
    with pytest.raises(ModelError):
        sequential_mediation(linear, "x", "m1", "m2", "y", contrast=(1, 1))
    with pytest.raises(ModelError):
        sequential_mediation(linear, "x", "m1", "m2", "y", n_boot=0)
    with pytest.raises(ModelError):
        sequential_mediation(linear, "x", "m1", "m2", "y", alpha=1.5)
