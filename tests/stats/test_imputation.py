"""Tests of first1000.stats.imputation (multiple imputation and Rubin's rules).

Reference values: hand computation (exact fractions), statsmodels' ``MICE.combine`` on the
same per-imputation fits, numpy least squares redone by hand for single imputation steps,
R mice 3.15.0 on its ``nhanes`` data (tests/data/reference/mice_nhanes/, made once by
mice_nhanes.R; R is not needed here) and simulations with a known effect.
"""

from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
import statsmodels.api as sm
from scipy import stats
from scipy.special import expit
from statsmodels.imputation.mice import MICE

from first1000.errors import ModelError
from first1000.stats.imputation import (
    METHODS,
    _estimice,
    _norm_boot,
    _pmm,
    _pmm_donors,
    fit_association_mi,
    impute,
    pool_bootstrap,
    pool_rubin,
)
from first1000.stats.regression import fit_association

# --- pool_rubin ---------------------------------------------------------------------------


def test_pool_rubin_hand_computed_small_sample():
    # Q = 1, 2, 3; U = 1, 1, 1; n = 10, k = 1:
    # Qbar = 2, Ubar = 1, B = 1, T = 1 + 4/3 = 7/3, r = 4/3, lambda = 4/7,
    # nu_old = 2 / (4/7)^2 = 49/8, nu_com = 9, nu_obs = 10/12 * 9 * 3/7 = 45/14,
    # nu = (49/8)(45/14) / (49/8 + 45/14) = 2205/1046.
    got = pool_rubin([1.0, 2.0, 3.0], [1.0, 1.0, 1.0], n=10, k_params=1)
    df = 2205 / 1046
    assert got["estimate"] == pytest.approx(2.0)
    assert got["within"] == pytest.approx(1.0)
    assert got["between"] == pytest.approx(1.0)
    assert got["variance"] == pytest.approx(7 / 3)
    assert got["se"] == pytest.approx(np.sqrt(7 / 3))
    assert got["riv"] == pytest.approx(4 / 3)
    assert got["lambda"] == pytest.approx(4 / 7)
    assert got["df"] == pytest.approx(df, rel=1e-12)
    assert got["fmi"] == pytest.approx((4 / 3 + 2 / (df + 3)) / (4 / 3 + 1), rel=1e-12)
    crit = stats.t.isf(0.025, df)
    assert got["ci_low"] == pytest.approx(2 - crit * np.sqrt(7 / 3), rel=1e-12)
    assert got["ci_high"] == pytest.approx(2 + crit * np.sqrt(7 / 3), rel=1e-12)
    t_stat = 2 / np.sqrt(7 / 3)
    assert got["statistic"] == pytest.approx(t_stat)
    assert got["p"] == pytest.approx(2 * stats.t.sf(t_stat, df), rel=1e-12)
    assert got["m"] == 3


def test_pool_rubin_large_sample_df_is_rubin_1987():
    # n = inf: df = nu_old = (m - 1) / lambda^2 = 49/8 (Rubin 1987, eq. 3.1.6).
    got = pool_rubin([1.0, 2.0, 3.0], [1.0, 1.0, 1.0])
    assert got["df"] == pytest.approx(49 / 8, rel=1e-12)


def test_pool_rubin_mice_documented_example():
    # R mice ?pool.scalar example: Q = c(-1.5457, -1.428), U = c(0.9723^2, 1.041^2),
    # n = 25, k = 2; values computed by hand from mice's formulas.
    q = np.array([-1.5457, -1.428])
    u = np.array([0.9723, 1.041]) ** 2
    got = pool_rubin(q, u, n=25, k_params=2)
    b = (q[0] - q[1]) ** 2 / 2
    t = u.mean() + 1.5 * b
    lam = 1.5 * b / t
    nu_old = 1 / lam**2
    nu_obs = 24 / 26 * 23 * (1 - lam)
    df = nu_old * nu_obs / (nu_old + nu_obs)
    r = 1.5 * b / u.mean()
    assert got["estimate"] == pytest.approx(q.mean())
    assert got["variance"] == pytest.approx(t, rel=1e-12)
    assert got["df"] == pytest.approx(df, rel=1e-12)
    assert got["fmi"] == pytest.approx((r + 2 / (df + 3)) / (r + 1), rel=1e-12)
    assert 20 < got["df"] < 23  # little missing information: close to nu_obs


def test_pool_rubin_identical_imputations_floor_lambda_like_mice():
    got = pool_rubin([0.5, 0.5, 0.5], [0.04, 0.04, 0.04], n=100, k_params=3)
    assert got["between"] == 0 and got["lambda"] == 0 and got["riv"] == 0
    assert got["se"] == pytest.approx(0.2)
    # mice floors lambda at 1e-4: df is then (almost exactly) nu_obs = 97 * 98/100.
    assert got["df"] == pytest.approx(97 * 98 / 100, rel=1e-3)


def test_pool_rubin_matches_statsmodels_mice_combine():
    rng = np.random.default_rng(3)
    n, m = 150, 6
    X = sm.add_constant(rng.normal(size=(n, 2)))
    results = []
    for _ in range(m):  # stand-ins for fits on m imputed data sets
        y = X @ [1.0, 0.5, -0.2] + rng.normal(size=n)
        results.append(sm.OLS(y, X).fit())
    fake = SimpleNamespace(results_list=results, exog_names=["const", "a", "b"],
                           endog_names="y", model_class=sm.OLS)  # fmt: skip
    ref = MICE.combine(fake)
    for j in range(3):
        got = pool_rubin([r.params[j] for r in results], [r.bse[j] ** 2 for r in results],
                         n=n, k_params=3)  # fmt: skip
        assert got["estimate"] == pytest.approx(ref.params[j], rel=1e-12)
        assert got["se"] == pytest.approx(ref.bse[j], rel=1e-10)
        assert got["lambda"] == pytest.approx(ref.frac_miss_info[j], rel=1e-10)


@pytest.mark.parametrize(
    "q, u, kwargs",
    [([1.0], [1.0], {}), ([1.0, 2.0], [1.0], {}), ([1.0, np.nan], [1.0, 1.0], {}),
     ([1.0, 2.0], [1.0, -1.0], {}), ([1.0, 2.0], [1.0, 1.0], {"n": 2, "k_params": 2})],
)  # fmt: skip
def test_pool_rubin_misuse_raises(q, u, kwargs):
    with pytest.raises(ModelError):
        pool_rubin(q, u, **kwargs)


# --- pool_bootstrap -------------------------------------------------------------------------


def test_pool_bootstrap_stacks_replicates_and_averages_estimates():
    reps = [np.array([0.1, 0.2, 0.3, np.nan]), np.array([0.4, 0.5, 0.6])]
    got = pool_bootstrap(reps, estimates=[0.2, 0.5])
    stacked = np.array([0.1, 0.2, 0.3, 0.4, 0.5, 0.6])
    assert got["estimate"] == pytest.approx(0.35)
    assert got["ci_low"] == pytest.approx(np.percentile(stacked, 2.5))
    assert got["ci_high"] == pytest.approx(np.percentile(stacked, 97.5))
    assert got["se"] == pytest.approx(stacked.std(ddof=1))
    assert got["p"] == 0.0  # no replicate at or below 0
    assert got["m"] == 2 and got["n_boot"] == 6
    assert got["method"] == "MI Boot (pooled sample)"
    # Without per-imputation estimates the point estimate is the replicate mean.
    assert pool_bootstrap(reps)["estimate"] == pytest.approx(stacked.mean())
    with pytest.raises(ModelError):
        pool_bootstrap(reps, estimates=[0.1])


# --- impute ---------------------------------------------------------------------------------


@pytest.fixture
def incomplete():
    rng = np.random.default_rng(7)
    n = 200
    aux = rng.normal(size=n)
    x = 0.6 * aux + rng.normal(size=n)
    y = 0.5 * x + rng.normal(size=n)
    df = pd.DataFrame({
        "y": y, "x": x, "aux": aux,
        "smoker": (rng.random(n) < 0.3).astype(float),
        "parity": rng.choice(["0", "1", "2+"], size=n),
        "sex": pd.Categorical(rng.choice(["F", "M"], size=n)),
        "flag": rng.random(n) < 0.5,
        "id": np.arange(n),
    })  # fmt: skip
    df.loc[rng.random(n) < 0.3, "x"] = np.nan
    df.loc[rng.random(n) < 0.2, "aux"] = np.nan
    df.loc[rng.random(n) < 0.2, "smoker"] = np.nan
    df.loc[rng.random(n) < 0.2, "parity"] = None
    df.loc[rng.random(n) < 0.2, "sex"] = np.nan
    flag = df["flag"].astype(object)
    flag[rng.random(n) < 0.2] = None
    df["flag"] = flag
    return df


COLS = ["y", "x", "smoker", "parity", "sex", "flag"]


def test_impute_only_missing_cells_change(incomplete):
    imps = impute(incomplete, COLS, auxiliary=["aux"], m=3, seed=1, max_iter=5)
    assert len(imps) == 3
    for imp in imps:
        assert list(imp.columns) == list(incomplete.columns)
        assert imp.index.equals(incomplete.index)
        assert not imp[COLS].isna().any().any()
        for col in COLS:
            observed = incomplete[col].notna()
            kept = imp.loc[observed, col].to_numpy() == incomplete.loc[observed, col].to_numpy()
            assert kept.all()
        # Auxiliary variables are used but not returned imputed; other columns untouched.
        assert imp["aux"].isna().sum() == incomplete["aux"].isna().sum()
        pd.testing.assert_series_equal(imp["id"], incomplete["id"])
    # Imputations differ from each other.
    miss = incomplete["x"].isna()
    assert not np.allclose(imps[0].loc[miss, "x"], imps[1].loc[miss, "x"])


def test_impute_categorical_and_binary_stay_in_observed_levels(incomplete):
    imp = impute(incomplete, COLS, auxiliary=["aux"], m=1, seed=2, max_iter=5)[0]
    assert set(imp["smoker"]) <= {0.0, 1.0}
    assert set(imp["parity"]) <= {"0", "1", "2+"}
    assert isinstance(imp["sex"].dtype, pd.CategoricalDtype)
    assert set(imp["sex"]) <= {"F", "M"}
    assert imp["flag"].dtype == bool
    # All levels are used for the missing rows of a balanced-ish factor (not all reference).
    assert imp.loc[incomplete["parity"].isna(), "parity"].nunique() >= 2


def test_impute_deterministic_and_nested(incomplete):
    a = impute(incomplete, COLS, auxiliary=["aux"], m=3, seed=5, max_iter=3)
    b = impute(incomplete, COLS, auxiliary=["aux"], m=3, seed=5, max_iter=3)
    c = impute(incomplete, COLS, auxiliary=["aux"], m=2, seed=5, max_iter=3)
    d = impute(incomplete, COLS, auxiliary=["aux"], m=1, seed=6, max_iter=3)
    e = impute(incomplete, COLS, auxiliary=["aux"], m=1, seed=5, max_iter=3, keys=("other",))
    for x, y in zip(a, b):
        pd.testing.assert_frame_equal(x, y)
    for x, y in zip(a[:2], c):  # adding imputations never changes the first ones
        pd.testing.assert_frame_equal(x, y)
    assert not a[0]["x"].equals(d[0]["x"])
    assert not a[0]["x"].equals(e[0]["x"])
    # pmm draws other values; observed values are kept by both methods.
    f = impute(incomplete, COLS, auxiliary=["aux"], m=1, seed=5, max_iter=3, method="pmm")
    assert not a[0]["x"].equals(f[0]["x"])
    observed = incomplete["x"].notna()
    assert f[0].loc[observed, "x"].equals(incomplete.loc[observed, "x"])


@pytest.mark.parametrize("method", METHODS)
def test_impute_is_byte_deterministic(incomplete, method):
    def digest(imps):
        return [pd.util.hash_pandas_object(i, index=True).to_numpy().tobytes() for i in imps]

    a = impute(incomplete, COLS, auxiliary=["aux"], m=2, seed=9, max_iter=3, method=method)
    b = impute(incomplete, COLS, auxiliary=["aux"], m=2, seed=9, max_iter=3, method=method)
    assert digest(a) == digest(b)
    assert a[0].to_csv().encode() == b[0].to_csv().encode()


def test_pmm_imputes_observed_values_norm_boot_does_not(incomplete):
    observed = set(incomplete["x"].dropna())
    miss = incomplete["x"].isna()
    pmm = impute(incomplete, COLS, auxiliary=["aux"], m=2, seed=3, max_iter=3, method="pmm")
    boot = impute(incomplete, COLS, auxiliary=["aux"], m=2, seed=3, max_iter=3)  # default
    for imp in pmm:  # donors' raw values, bit for bit (not via the standardised scale)
        assert set(imp.loc[miss, "x"]) <= observed
    for imp in boot:
        assert not set(imp.loc[miss, "x"]) & observed


def test_impute_complete_data_returns_copies():
    df = pd.DataFrame({"a": [1.0, 2.0, 3.0], "b": [0.5, 0.1, 0.2]})
    imps = impute(df, ["a", "b"], m=2)
    assert len(imps) == 2 and all(i.equals(df) for i in imps)


@pytest.mark.parametrize(
    "kwargs",
    [{"columns": ["nope"]}, {"columns": []}, {"columns": ["x"], "auxiliary": ["x"]},
     {"columns": ["x"], "m": 0}, {"columns": ["x"], "max_iter": 0}, {"columns": ["x"], "seed": -1},
     {"columns": ["x", "empty"]}, {"columns": ["x"], "method": "norm"},
     {"columns": ["x"], "donors": 0}],
)  # fmt: skip
def test_impute_misuse_raises(kwargs):
    df = pd.DataFrame({"x": [1.0, np.nan, 3.0, 4.0], "empty": [np.nan] * 4})
    with pytest.raises(ModelError):
        impute(df, **kwargs)


# --- fit_association_mi ---------------------------------------------------------------------

BETA = 0.5


def _simulate(seed: int, n: int = 300, missing: float = 0.4):
    """Full data and data with x missing at random given the observed outcome y."""
    rng = np.random.default_rng(seed)
    c = rng.normal(size=n)
    a = rng.normal(size=n)
    x = 0.5 * c + 0.3 * a + rng.normal(size=n)
    y = 1 + BETA * x + 0.3 * c + rng.normal(size=n)
    full = pd.DataFrame({"y": y, "x": x, "c": c, "a": a})
    ys = (y - y.mean()) / y.std()
    # Intercept of the missingness model set so that about `missing` of x is missing.
    alpha0 = np.log(missing / (1 - missing))
    data = full.copy()
    data.loc[rng.random(n) < expit(alpha0 + 1.5 * ys), "x"] = np.nan
    return full, data


def test_fit_association_mi_keys_and_consistency():
    full, data = _simulate(1)
    got = fit_association_mi(data, "y", "x", ["c"], m=5, seed=1, auxiliary=["a"], max_iter=5)
    ref = fit_association(full, "y", "x", ["c"])
    assert set(ref) <= set(got)
    assert {"m", "fmi", "df", "riv", "lambda", "n_complete"} <= set(got)
    assert got["status"] == "ok" and got["model"] == "linear" and got["m"] == 5
    assert got["n"] == 300 and got["n_complete"] == int(data.x.notna().sum())
    assert 0 < got["fmi"] < 1 and 2 < got["df"] < 300 - 3
    assert got["ci_low"] < got["estimate"] < got["ci_high"]
    # Deterministic for a seed.
    again = fit_association_mi(data, "y", "x", ["c"], m=5, seed=1, auxiliary=["a"], max_iter=5)
    assert again == got


def test_fit_association_mi_without_missing_values_is_fit_association():
    full, _ = _simulate(2)
    got = fit_association_mi(full, "y", "x", ["c"], m=5)
    ref = fit_association(full, "y", "x", ["c"])
    assert {k: got[k] for k in ref} == ref
    assert got["m"] == 0 and got["fmi"] == 0 and got["df"] == 300 - 3


def test_fit_association_mi_logistic():
    rng = np.random.default_rng(4)
    n = 400
    x = rng.normal(size=n)
    yb = (rng.random(n) < expit(-0.3 + 0.7 * x)).astype(float)
    df = pd.DataFrame({"yb": yb, "x": x, "c": rng.normal(size=n)})
    df.loc[rng.random(n) < 0.25, "x"] = np.nan
    df.loc[rng.random(n) < 0.1, "yb"] = np.nan
    got = fit_association_mi(df, "yb", "x", ["c"], family="binomial", m=5, seed=3, max_iter=5)
    assert got["status"] == "ok" and got["model"] == "logistic"
    assert got["odds_ratio"] == pytest.approx(np.exp(got["estimate"]))
    assert got["ci_low"] < 0.7 < got["ci_high"]


def test_fit_association_mi_status_and_misuse():
    df = pd.DataFrame({"y": [1.0, 2.0, np.nan, 4.0], "x": [np.nan] * 4, "c": [1.0, 0, 1, 0]})
    got = fit_association_mi(df, "y", "x", ["c"], m=3)
    assert "no observed value" in got["status"] and np.isnan(got["estimate"])
    with pytest.raises(ModelError):
        fit_association_mi(df, "y", "x", ["x"])
    with pytest.raises(ModelError):
        fit_association_mi(df, "y", "x", family="poisson")


def test_mi_closer_to_full_data_than_complete_cases():
    """MAR given the outcome: complete cases are biased, MI is not (average over seeds)."""
    dev_cc, dev_mi = [], []
    for seed in range(10):
        full, data = _simulate(100 + seed)
        target = fit_association(full, "y", "x", ["c"])["estimate"]
        cc = fit_association(data, "y", "x", ["c"])["estimate"]
        mi = fit_association_mi(data, "y", "x", ["c"], m=10, seed=seed, auxiliary=["a"],
                                max_iter=5)["estimate"]  # fmt: skip
        dev_cc.append(cc - target)
        dev_mi.append(mi - target)
    dev_cc, dev_mi = np.array(dev_cc), np.array(dev_mi)
    # Systematic deviation (bias relative to the full data): large for CC, small for MI.
    assert np.mean(dev_cc) < -0.04
    assert abs(np.mean(dev_mi)) < 0.5 * abs(np.mean(dev_cc))
    # Mean absolute deviation too.
    assert np.mean(np.abs(dev_mi)) < np.mean(np.abs(dev_cc))


@pytest.mark.slow
@pytest.mark.parametrize("method, low, high", [("norm.boot", 0.88, 0.99), ("pmm", 0.70, 0.90)])
def test_mi_confidence_interval_coverage(method, low, high):
    """60 simulated data sets: how often the pooled 95% CI covers the true effect.

    norm.boot: 88-99%. pmm under-covers in this design (x missing mostly at high y, where
    donors are few, so imputations are pulled to the centre): R mice 3.15.0's pmm on the
    same 60 data sets (``mice(m = 10, maxit = 5, method = "pmm", seed = rep + 1)``,
    ``lm(y ~ x + c)``) covered 80% (mean estimate 0.476); here 70-90% is required.
    Fast version; ``benchmarks/imputation_coverage.py`` runs 200 replicates with m = 20.
    """
    covered = []
    for rep in range(60):
        _, data = _simulate(1000 + rep)
        got = fit_association_mi(data, "y", "x", ["c"], m=10, seed=rep, auxiliary=["a"],
                                 max_iter=5, method=method)  # fmt: skip
        covered.append(got["ci_low"] <= BETA <= got["ci_high"])
    coverage = np.mean(covered)
    assert low <= coverage <= high, coverage


@pytest.mark.parametrize("method", METHODS)
def test_impute_single_missing_value_uses_the_model_not_the_mean(method):
    # One x missing, in the row with by far the largest y (x ~ y): the imputation model
    # puts it at the top, not at the mean. norm.boot extrapolates; pmm takes the observed x
    # of one of the 5 cases with the largest predicted x, i.e. the largest y.
    rng = np.random.default_rng(12)
    y = np.append(rng.normal(size=99), 5.0)
    df = pd.DataFrame({"y": y, "x": y + 0.1 * rng.normal(size=100)})
    df.loc[99, "x"] = np.nan
    imps = impute(df, ["y", "x"], m=8, seed=0, max_iter=3, method=method)
    if method == "norm.boot":
        assert all(imp.loc[99, "x"] > 4 for imp in imps)
    else:
        top = set(df.x[:99][np.argsort(y[:99])[-5:]])
        assert all(imp.loc[99, "x"] in top for imp in imps)
        assert len({imp.loc[99, "x"] for imp in imps}) > 1  # drawn among the donors


# --- single steps of mice's methods, redone by hand --------------------------------------------


@pytest.fixture
def step_data():
    """A design with an intercept, a target y (7 of 40 missing) and its observed mask."""
    rng = np.random.default_rng(21)
    n = 40
    X = np.column_stack([np.ones(n), rng.normal(size=n), rng.uniform(size=n)])
    y = X @ [1.0, 2.0, -1.0] + rng.normal(scale=0.5, size=n)
    ry = np.ones(n, dtype=bool)
    ry[[2, 5, 11, 17, 23, 30, 38]] = False
    return X, y, ry


def test_estimice_is_least_squares_with_mice_fallbacks(step_data):
    X, y, ry = step_data
    coef, resid, v, keep, df = _estimice(X, y)
    ref, *_ = np.linalg.lstsq(X, y, rcond=None)
    np.testing.assert_allclose(coef, ref, rtol=1e-12)
    np.testing.assert_allclose(resid, y - X @ ref, atol=1e-12)
    np.testing.assert_allclose(v, np.linalg.inv(X.T @ X), rtol=1e-10)
    assert keep.all() and df == 40 - 3
    # A predictor constant on the fitted rows is left out with coefficient 0 (remove.lindep).
    Xc = np.column_stack([X, np.full(40, 3.0)])
    coef_c, *_ = _estimice(Xc, y)
    np.testing.assert_allclose(coef_c, [*ref, 0.0], rtol=1e-12)
    # Exact collinearity: mice's ridge, (X'X + 1e-5 diag(X'X))^-1 X'y.
    Xd = np.column_stack([X, 2 * X[:, 1]])
    coef_d, _, v_d, _, _ = _estimice(Xd, y)
    xtx = Xd.T @ Xd
    v_ref = np.linalg.inv(xtx + np.diag(1e-5 * np.diag(xtx)))
    np.testing.assert_allclose(v_d, v_ref, rtol=1e-10)
    np.testing.assert_allclose(coef_d, v_ref @ Xd.T @ y, rtol=1e-8)


def test_norm_boot_step_is_ols_on_the_bootstrap_rows(step_data):
    """mice.impute.norm.boot: beta* = OLS on a bootstrap sample of the observed rows,
    sigma* = sqrt(RSS* / (n1 - p - 1)), draws = X_mis beta* + sigma* z."""
    X, y, ry = step_data
    draws, detail = _norm_boot(np.random.default_rng(5), X, y, ry)
    rng = np.random.default_rng(5)  # the same stream, drawn by hand
    n1 = int(ry.sum())
    rows = rng.integers(0, n1, size=n1)
    np.testing.assert_array_equal(detail["rows"], rows)
    xo, yo = X[ry][rows], y[ry][rows]
    beta, *_ = np.linalg.lstsq(xo, yo, rcond=None)
    np.testing.assert_allclose(detail["coef"], beta, rtol=1e-10)
    rss = np.sum((yo - xo @ beta) ** 2)
    sigma = np.sqrt(rss / (n1 - 3 - 1))
    assert detail["sigma"] == pytest.approx(sigma, rel=1e-10)
    np.testing.assert_allclose(draws, X[~ry] @ beta + rng.standard_normal(7) * sigma, rtol=1e-10)


def test_pmm_step_matches_mice_by_hand(step_data):
    """mice.impute.pmm (matchtype 1): beta-hat = OLS on the observed rows; sigma* =
    sqrt(RSS / chi2_{n1-p}); beta* = beta-hat + chol((X'X)^-1) z sigma*; donors = the 5
    observed cases whose X beta-hat is nearest to the missing case's X beta*."""
    X, y, ry = step_data
    choice, detail = _pmm(np.random.default_rng(8), X, y, ry)
    rng = np.random.default_rng(8)
    xo, yo = X[ry], y[ry]
    beta, *_ = np.linalg.lstsq(xo, yo, rcond=None)
    rss = np.sum((yo - xo @ beta) ** 2)
    sigma_star = np.sqrt(rss / rng.chisquare(33 - 3))
    chol = np.linalg.cholesky(np.linalg.inv(xo.T @ xo))
    beta_star = beta + chol @ rng.standard_normal(3) * sigma_star
    np.testing.assert_allclose(detail["coef"], beta, rtol=1e-10)
    assert detail["sigma_star"] == pytest.approx(sigma_star, rel=1e-10)
    np.testing.assert_allclose(detail["beta_star"], beta_star, rtol=1e-10)
    # Donors: brute force over all observed cases.
    dist = np.abs((X[~ry] @ beta_star)[:, None] - (xo @ beta)[None, :])
    nearest = np.argsort(dist, axis=1)[:, :5]
    for got, ref in zip(detail["donors"], nearest):
        assert set(got) == set(ref)
    # The imputation is one of them, drawn at random.
    assert all(c in row for c, row in zip(choice, detail["donors"]))
    assert detail["donors"].shape == (7, 5)


def test_pmm_donors_nearest_ties_and_few_observed():
    rng = np.random.default_rng(0)
    obs, mis = rng.normal(size=200), rng.normal(scale=2, size=50)
    got = _pmm_donors(np.random.default_rng(1), obs, mis, 5)
    ref = np.argsort(np.abs(mis[:, None] - obs[None, :]), axis=1)[:, :5]
    np.testing.assert_array_equal(np.sort(got, axis=1), np.sort(ref, axis=1))
    # Nearest first.
    d = np.abs(mis[:, None] - obs[got])
    assert (np.diff(d, axis=1) >= 0).all()
    # Ties (here all predictions equal) are broken at random, as mice's matchindex shuffles.
    flat = np.zeros(30)
    picks = {tuple(_pmm_donors(np.random.default_rng(s), flat, np.zeros(1))[0]) for s in range(5)}
    assert len(picks) > 1
    # Fewer observed cases than donors: all of them.
    few = _pmm_donors(np.random.default_rng(2), np.array([1.0, 2.0, 3.0]), np.array([0.0, 9.0]), 5)
    assert few.shape == (2, 3) and set(few[0]) == set(few[1]) == {0, 1, 2}


# --- agreement with R mice on its nhanes data ----------------------------------------------------

MICE_DIR = Path(__file__).resolve().parents[1] / "data" / "reference" / "mice_nhanes"


def _mice_reference(method: str, model: str) -> pd.DataFrame:
    ref = pd.read_csv(MICE_DIR / "mice_nhanes_summary.csv")
    return ref[(ref.method == method) & (ref.model == model)].set_index("term")


def _pooled_lm(imps, response, predictors, groups, m):
    """Rubin-pooled OLS coefficients of ``groups`` runs of m imputations each (numpy fits)."""
    est, var = [], []
    for imp in imps:
        X = np.column_stack([np.ones(len(imp)), *(imp[p].to_numpy(float) for p in predictors)])
        y = imp[response].to_numpy(float)
        beta, *_ = np.linalg.lstsq(X, y, rcond=None)
        s2 = np.sum((y - X @ beta) ** 2) / (len(y) - X.shape[1])
        est.append(beta)
        var.append(np.diag(np.linalg.inv(X.T @ X)) * s2)
    est = np.reshape(est, (groups, m, -1))
    var = np.reshape(var, (groups, m, -1))
    out = {}
    for k, term in enumerate(["(Intercept)", *predictors]):
        pooled = [pool_rubin(est[g, :, k], var[g, :, k], n=len(y), k_params=X.shape[1])
                  for g in range(groups)]  # fmt: skip
        out[term] = {key: np.array([p[key] for p in pooled])
                     for key in ("estimate", "within", "between")}  # fmt: skip
    return out


@pytest.mark.slow
@pytest.mark.parametrize("method", METHODS)
def test_pooled_slopes_match_r_mice_on_nhanes(method):
    """Pooled slopes of ``lm(chl ~ age + bmi)`` and ``lm(bmi ~ age + chl)`` agree with R mice.

    Data: mice's ``nhanes`` (25 rows), variables age (complete), bmi and chl (9 and 10
    missing); hyp is left out because mice would impute it (0/1-like, numeric) by pmm and
    this module imputes a two-valued variable as binary. Reference: R 4.2.2, mice 3.15.0,
    ``mice(nhanes[, c("age", "bmi", "chl")], m = 20, maxit = 5, method = <method>,
    seed = s)`` for s = 1..500, each fit pooled by ``pool()``; the mean over the 500 runs of
    the pooled estimate, of Ubar and of B, with their Monte Carlo SEs (SD / sqrt(500)).
    Here: 500 runs of m = 20 imputations (``impute(..., max_iter=5, method=<method>)``),
    each pooled by :func:`pool_rubin`; their mean and Monte Carlo SE likewise.

    Comparison: for each slope, |mean here - mean mice| < 2 * sqrt(MCSE_here² +
    MCSE_mice²), i.e. within 2 Monte Carlo SEs of the difference. The between-imputation
    variance B (what makes imputations "proper") and the within variance Ubar agree
    within 3 such SEs (several of them are compared, so a slightly wider band). With
    seed 2024 the largest |z| of the slopes is 1.99 (norm.boot, bmi in chl ~ age + bmi),
    of B and Ubar 2.14; at this size a correct implementation still misses a 2-SE band
    for some of the 8 slopes with some seeds (pmm's chl slope in bmi ~ age + chl: z = 3.2
    with 200 runs and seed 2024; with 100 runs, seeds 1, 2, 7: |z| < 1.2, seed 3: -2.4;
    500 runs, seed 7: every |z| < 1.7), so a failure after a change of the random streams
    calls for a second seed before a bug hunt.
    """
    data = pd.read_csv(MICE_DIR / "nhanes.csv")[["age", "bmi", "chl"]]
    groups, m = 500, 20  # as many imputations as the mice reference
    imps = impute(data, ["age", "bmi", "chl"], m=groups * m, seed=2024, max_iter=5,
                  method=method)  # fmt: skip
    for response, predictors in (("chl", ["age", "bmi"]), ("bmi", ["age", "chl"])):
        ours = _pooled_lm(imps, response, predictors, groups, m)
        ref = _mice_reference(method, f"{response} ~ {' + '.join(predictors)}")
        for term in predictors:
            r = ref.loc[term]
            for key, col, width in (("estimate", "estimate", 2), ("between", "b", 3),
                                    ("within", "ubar", 3)):  # fmt: skip
                v = ours[term][key]
                mcse = np.hypot(v.std(ddof=1) / np.sqrt(groups), r[f"{col}_mcse"])
                got = (response, term, key, v.mean(), r[col], mcse)
                assert abs(v.mean() - r[col]) < width * mcse, got
