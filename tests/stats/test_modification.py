"""Tests of first1000.stats.modification (effect modification / interaction).

Reference values: statsmodels formula fits of the same models, hand computation from the
covariance matrix, separate stratified fits, and simulations with planted interactions.
"""

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf
from scipy import stats
from scipy.special import expit

from first1000.errors import ModelError
from first1000.stats.modification import (
    STRATUM_COLUMNS,
    TERM_COLUMNS,
    TEST_COLUMNS,
    effect_modification,
    linear_combination,
)
from first1000.stats.regression import fit_association

B, G = 0.4, 0.3  # exposure effect at modifier 0 and exposure x modifier interaction
EFFECT = {"low": 0.2, "mid": 0.5, "high": 0.8}  # stratum-specific exposure effects


def _continuous(seed: int, n: int, g: float = G) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x, z, c = rng.normal(size=(3, n))
    sex = rng.choice(["F", "M"], size=n)
    y = 1 + B * x + g * x * z + 0.2 * z + 0.1 * c + 0.3 * (sex == "M") + rng.normal(size=n)
    return pd.DataFrame({"y": y, "x": x, "z": z, "c": c, "sex": sex})


def _categorical(seed: int, n: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x, c = rng.normal(size=(2, n))
    group = rng.choice(list(EFFECT), size=n)
    slope = np.array([EFFECT[v] for v in group])
    y = 1 + slope * x + 0.2 * c + 0.5 * (group == "high") + rng.normal(size=n) * (
        1 + 0.5 * (group == "low"))  # fmt: skip
    eta = -0.3 + 0.8 * slope * x + 0.3 * c
    yb = (rng.random(n) < expit(eta)).astype(int)
    return pd.DataFrame({"y": y, "yb": yb, "x": x, "c": c, "group": group})


def test_planted_continuous_interaction_recovered():
    df = _continuous(1, 3000)
    res = effect_modification(df, "y", "x", "z", ["c", "sex"])
    assert list(res.terms.columns) == TERM_COLUMNS
    assert list(res.strata.columns) == STRATUM_COLUMNS
    assert list(res.tests.columns) == TEST_COLUMNS
    terms = res.terms.set_index("term")
    assert list(terms.index) == ["x", "z", "x:z"]
    assert terms.loc["x:z", "ci_low"] < G < terms.loc["x:z", "ci_high"]
    assert terms.loc["x", "ci_low"] < B < terms.loc["x", "ci_high"]
    # Stratum effects at the quartiles of z: B + G * q.
    q = np.percentile(df.z, [25, 50, 75])
    assert list(res.strata.level) == ["p25", "p50", "p75"]
    np.testing.assert_allclose(res.strata.value, q)
    for row, zq in zip(res.strata.itertuples(), q):
        assert abs(row.estimate - (B + G * zq)) < 3 * row.se
        assert row.ci_high - row.ci_low == pytest.approx(2 * stats.t.isf(0.025, 3000 - 7) * row.se)
    assert (res.strata.n == 3000).all() and (res.strata.method == "interaction").all()
    wald = res.tests.set_index("test").loc["interaction_wald"]
    assert wald.p < 1e-10 and wald.df == 1
    # For one interaction term the Wald F is the squared t of that term.
    t = terms.loc["x:z", "estimate"] / terms.loc["x:z", "se"]
    assert wald.statistic == pytest.approx(t**2, rel=1e-10)


def test_terms_and_tests_match_statsmodels_formula():
    df = _categorical(2, 900)
    res = effect_modification(df, "y", "x", "group", ["c"])
    ref = smf.ols("y ~ x * C(group, Treatment('high')) + c", data=df).fit()
    # Levels sort alphabetically: high (reference), low, mid.
    terms = res.terms.set_index("term")
    assert list(terms.index) == ["x", "group[low]", "group[mid]", "x:group[low]", "x:group[mid]"]
    for ours, theirs in [("x", "x"), ("group[low]", "C(group, Treatment('high'))[T.low]"),
                         ("x:group[mid]", "x:C(group, Treatment('high'))[T.mid]")]:  # fmt: skip
        assert terms.loc[ours, "estimate"] == pytest.approx(ref.params[theirs], rel=1e-9)
        assert terms.loc[ours, "se"] == pytest.approx(ref.bse[theirs], rel=1e-9)
        assert terms.loc[ours, "p"] == pytest.approx(ref.pvalues[theirs], rel=1e-6)
    tests = res.tests.set_index("test")
    reduced = smf.ols("y ~ x + C(group) + c", data=df).fit()
    f_stat, f_p, f_df = ref.compare_f_test(reduced)
    assert tests.loc["interaction_wald", "statistic"] == pytest.approx(f_stat, rel=1e-8)
    assert tests.loc["interaction_wald", "p"] == pytest.approx(f_p, rel=1e-6)
    assert tests.loc["interaction_wald", "df"] == f_df == 2
    assert tests.loc["interaction_wald", "df_denom"] == ref.df_resid
    lr, lr_p, lr_df = ref.compare_lr_test(reduced)
    assert tests.loc["interaction_lr", "statistic"] == pytest.approx(lr, rel=1e-8)
    assert tests.loc["interaction_lr", "p"] == pytest.approx(lr_p, rel=1e-6)
    # Planted heterogeneity (0.2 / 0.5 / 0.8) is detected by every test.
    assert (tests.p < 1e-4).all()


def test_linear_combination_se_equals_hand_computation():
    df = _continuous(3, 500)
    res = effect_modification(df, "y", "x", "z", ["c"], at={"low": -1.0, "high": 2.0})
    ref = smf.ols("y ~ x * z + c", data=df).fit()
    V = ref.cov_params()
    for row in res.strata.itertuples():
        v = row.value
        est = ref.params["x"] + v * ref.params["x:z"]
        var = V.loc["x", "x"] + v**2 * V.loc["x:z", "x:z"] + 2 * v * V.loc["x", "x:z"]
        assert row.estimate == pytest.approx(est, rel=1e-10)
        assert row.se == pytest.approx(np.sqrt(var), rel=1e-10)
        crit = stats.t.isf(0.025, ref.df_resid)
        assert row.ci_low == pytest.approx(est - crit * np.sqrt(var), rel=1e-9)
        assert row.p == pytest.approx(2 * stats.t.sf(abs(est) / np.sqrt(var), ref.df_resid),
                                      rel=1e-6)  # fmt: skip
    assert list(res.strata.level) == ["low", "high"]
    # The helper itself, on a 2-parameter toy problem.
    got = linear_combination([1.0, 2.0], [[0.04, 0.01], [0.01, 0.09]], [1.0, 3.0])
    assert got["estimate"] == pytest.approx(7.0)
    assert got["se"] == pytest.approx(np.sqrt(0.04 + 9 * 0.09 + 2 * 3 * 0.01))
    assert got["ci_high"] == pytest.approx(7.0 + stats.norm.isf(0.025) * got["se"])


def test_modifier_values_by_sd():
    df = _continuous(4, 400)
    res = effect_modification(df, "y", "x", "z", at="sd")
    m, s = df.z.mean(), df.z.std()
    assert list(res.strata.level) == ["mean-1sd", "mean", "mean+1sd"]
    np.testing.assert_allclose(res.strata.value, [m - s, m, m + s])


def test_null_interaction_not_significant_in_most_seeds():
    """No interaction planted: the test rejects at 5% in about 5% of data sets (size)."""
    p_wald, p_q = [], []
    for seed in range(100):
        df = _continuous(100 + seed, 200, g=0.0)
        tests = effect_modification(df, "y", "x", "z", ["c"]).tests.set_index("test")
        p_wald.append(tests.loc["interaction_wald", "p"])
        df["tertile"] = pd.qcut(df.z, 3, labels=["t1", "t2", "t3"]).astype(str)
        tests = effect_modification(df, "y", "x", "tertile", ["c"]).tests.set_index("test")
        p_q.append(tests.loc["cochran_q", "p"])
    for p in (p_wald, p_q):
        rejected = np.mean(np.array(p) < 0.05)
        assert rejected <= 0.10  # non-significant in >= 90% of seeds
        assert rejected >= 0.01  # ... and not a test that never rejects


def test_categorical_fully_interacted_equals_stratified_fits_linear():
    df = _categorical(5, 1200)
    res = effect_modification(df, "y", "x", "group", ["c"], interact_covariates=True)
    strata = res.strata
    strat = strata[strata.method == "stratified"].set_index("level")
    inter = strata[strata.method == "interaction"].set_index("level")
    assert list(strat.index) == ["high", "low", "mid"]
    # Point estimates identical; SEs differ only by sigma_stratum / sigma_pooled.
    rss, dfs = {}, {}
    for level in strat.index:
        sub = df[df.group == level]
        fit = smf.ols("y ~ x + c", data=sub).fit()
        rss[level], dfs[level] = fit.ssr, fit.df_resid
        assert strat.loc[level, "estimate"] == pytest.approx(fit.params["x"], rel=1e-10)
        assert inter.loc[level, "estimate"] == pytest.approx(fit.params["x"], rel=1e-9)
        assert inter.loc[level, "n"] == strat.loc[level, "n"] == len(sub)
    sigma2_pooled = sum(rss.values()) / sum(dfs.values())
    for level in strat.index:
        ratio = np.sqrt((rss[level] / dfs[level]) / sigma2_pooled)
        assert strat.loc[level, "se"] == pytest.approx(inter.loc[level, "se"] * ratio, rel=1e-9)
    # Truth recovered.
    for level, effect in EFFECT.items():
        assert strat.loc[level, "ci_low"] < effect < strat.loc[level, "ci_high"]


def test_categorical_fully_interacted_equals_stratified_fits_logistic():
    df = _categorical(6, 2000)
    res = effect_modification(df, "yb", "x", "group", ["c"], family="binomial",
                              interact_covariates=True)  # fmt: skip
    strat = res.strata[res.strata.method == "stratified"].set_index("level")
    inter = res.strata[res.strata.method == "interaction"].set_index("level")
    for level in strat.index:
        ref = fit_association(df[df.group == level], "yb", "x", ["c"], family="binomial")
        for col in ("estimate", "se", "ci_low", "ci_high", "p"):
            assert strat.loc[level, col] == pytest.approx(ref[col], rel=1e-10)
            assert inter.loc[level, col] == pytest.approx(ref[col], rel=1e-5)
    tests = res.tests.set_index("test")
    # The likelihood factorises over strata, so Cochran's Q of the stratified log ORs equals
    # the joint Wald chi-square of the interaction terms.
    assert tests.loc["cochran_q", "statistic"] == pytest.approx(
        tests.loc["interaction_wald", "statistic"], rel=1e-5)  # fmt: skip
    assert tests.loc["interaction_wald", "df"] == tests.loc["cochran_q", "df"] == 2
    assert np.isnan(tests.loc["interaction_wald", "df_denom"])
    assert (res.terms.model == "logistic").all()


def test_cochran_q_hand_computation():
    df = _categorical(7, 600)
    res = effect_modification(df, "y", "x", "group", ["c"])
    strat = res.strata[res.strata.method == "stratified"]
    w = 1 / strat.se.to_numpy() ** 2
    y = strat.estimate.to_numpy()
    q = np.sum(w * (y - np.sum(w * y) / np.sum(w)) ** 2)
    row = res.tests.set_index("test").loc["cochran_q"]
    assert row.statistic == pytest.approx(q, rel=1e-10)
    assert row.p == pytest.approx(stats.chi2.sf(q, 2), rel=1e-8)
    assert row.i2 == pytest.approx(max(0.0, 100 * (q - 2) / q), rel=1e-8)


def test_numeric_binary_modifier_is_categorical():
    df = _continuous(8, 500)
    df["girl"] = (df.sex == "F").astype(int)
    res = effect_modification(df, "y", "x", "girl", ["c"])
    assert list(res.terms.term) == ["x", "girl[1]", "x:girl[1]"]
    assert set(res.strata.method) == {"stratified", "interaction"}
    assert list(res.strata.level.unique()) == [0, 1]
    assert "cochran_q" in set(res.tests.test)
    # Forced continuous: same interaction model, effects at the declared values.
    cont = effect_modification(df, "y", "x", "girl", ["c"], categorical=False, at=[0, 1])
    np.testing.assert_allclose(
        cont.strata.estimate, res.strata[res.strata.method == "interaction"].estimate, rtol=1e-10
    )


def test_data_problems_give_status():
    df = _categorical(9, 200)
    one = effect_modification(df.assign(group="low"), "y", "x", "group", ["c"])
    assert one.terms.status.str.contains("1 level").all()
    assert one.terms[["estimate", "se", "p"]].isna().all().all()
    # An empty stratum of a covariate level makes the fully interacted design collinear.
    df2 = df.assign(site=np.where(df.group == "low", "A", np.where(df.index % 2, "A", "B")))
    res = effect_modification(df2, "y", "x", "group", ["site"], interact_covariates=True)
    assert res.terms.status.str.contains("collinear").all()
    strat = res.strata[res.strata.method == "stratified"].set_index("level")
    # Stratified fits still run: each codes its covariates from the rows of its stratum, so
    # site (constant "A" among "low") simply drops out there.
    assert (strat.status == "ok").all()
    bad = effect_modification(df.assign(yb=2), "yb", "x", "group", family="binomial")
    assert bad.tests.status.str.contains("0/1|Q needs").all()


@pytest.mark.parametrize(
    "kwargs",
    [{"family": "poisson"}, {"modifier": "nope"}, {"modifier": "x"}, {"at": "tertiles"},
     {"at": ["a"]}, {"alpha": 1.5}, {"modifier": "group", "categorical": False}],
)  # fmt: skip
def test_misuse_raises(kwargs):
    df = _categorical(10, 100).assign(z=np.linspace(0, 1, 100))
    args = {"modifier": "z", **kwargs}
    with pytest.raises(ModelError):
        effect_modification(df, "y", "x", covariates=["c"], **args)


def test_two_level_exposure_and_complete_cases():
    df = _categorical(11, 400)
    df["smoker"] = np.where(df.x > 0, "yes", "no")
    df.loc[[1, 5, 9], "c"] = np.nan
    df.loc[[2, 6], "group"] = None
    res = effect_modification(df, "y", "smoker", "group", ["c"])
    assert (res.terms.n == 395).all()
    assert list(res.terms.term[:1]) == ["smoker[yes]"]
    assert res.terms.term.iloc[-1] == "smoker[yes]:group[mid]"
    ref = smf.ols("y ~ C(smoker) * C(group) + c", data=df.dropna()).fit()
    assert res.terms.estimate.iloc[-1] == pytest.approx(
        ref.params["C(smoker)[T.yes]:C(group)[T.mid]"], rel=1e-9)  # fmt: skip
