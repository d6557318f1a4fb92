"""Linear mixed models (first1000.stats.mixed.fit_lmm) against statsmodels' MixedLM written
independently here, and the planted trajectories of simulated children recovered."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest
import statsmodels.formula.api as smf

from first1000.errors import ModelError
from first1000.stats.mixed import fit_lmm


def children(n=600, seed=3, slope_sd=0.15, per_year=-0.25, unbalanced=True):
    """n children seen 1-4 times between 0.3 and 2 years; an exposure whose effect on the
    score grows by ``per_year`` per year of age; a random intercept and slope per child."""
    rng = np.random.default_rng(seed)
    visits = rng.integers(1, 5, n) if unbalanced else np.full(n, 3)
    child = np.repeat(np.arange(n), visits)
    age = rng.uniform(0.3, 2.0, child.size)
    x = rng.normal(size=n)
    cov = rng.normal(size=n)
    y = (0.2 + rng.normal(0, 0.8, n)[child] + rng.normal(0, slope_sd, n)[child] * age + 0.1 * cov[child]
         + per_year * x[child] * age + rng.normal(0, 0.35, child.size))
    return pd.DataFrame({"child": [f"c{i}" for i in child], "age": age, "x": x[child], "cov": cov[child], "y": y})


def _design(d):
    return np.column_stack([np.ones(len(d)), d.x, d.age, d.x * d.age, d["cov"]])


@pytest.mark.parametrize("slope", [False, True])
def test_equals_statsmodels_mixedlm(slope):
    d = children()
    z = np.column_stack([np.ones(len(d)), d.age]) if slope else np.ones((len(d), 1))
    ours = fit_lmm(d.y, _design(d), d.child, z)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = smf.mixedlm("y ~ x * age + cov", d, groups=d.child, re_formula="~age" if slope else "~1").fit(reml=True)
    order = ["Intercept", "x", "age", "x:age", "cov"]
    np.testing.assert_allclose(ours["params"], ref.fe_params[order], rtol=0, atol=2e-5)
    # statsmodels' SEs come from the observed information of all parameters; ours are
    # sigma^2 (X'V^-1 X)^-1 (lme4's): the same to well under 1 %
    np.testing.assert_allclose(ours["bse"], ref.bse_fe[order], rtol=0.01)
    np.testing.assert_allclose(ours["sigma2"], ref.scale, rtol=1e-3)
    np.testing.assert_allclose(ours["cov_re"], np.asarray(ref.cov_re), rtol=0.02, atol=1e-4)
    assert ours["n_groups"] == d.child.nunique() and ours["n_obs"] == len(d) and ours["converged"]


def test_reml_optimum_at_least_as_good_as_statsmodels():
    """At statsmodels' estimates our REML criterion is not lower than at ours."""
    from first1000.stats import mixed

    d = children(seed=9)
    z = np.column_stack([np.ones(len(d)), d.age])
    ours = fit_lmm(d.y, _design(d), d.child, z)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = smf.mixedlm("y ~ x * age + cov", d, groups=d.child, re_formula="~age").fit(reml=True)
    codes, uniques = mixed._codes(d.child.to_numpy())
    sums = mixed._Sums(d.y.to_numpy(), _design(d), z, codes, len(uniques))
    factor = np.linalg.cholesky(np.asarray(ref.cov_re) / ref.scale)
    assert ours["criterion"] <= mixed._criterion(factor[np.tril_indices(2)], sums, True) + 1e-6


def test_planted_widening_recovered_and_null_not():
    hits = []
    for seed in range(5):
        d = children(n=800, seed=seed)
        fit = fit_lmm(d.y, _design(d), d.child, np.column_stack([np.ones(len(d)), d.age]))
        assert fit["ci_low"][3] <= -0.25 <= fit["ci_high"][3]
        assert fit["ci_high"][3] < 0  # the widening gradient: CI excludes 0, negative
        null = children(n=800, seed=100 + seed, per_year=0.0)
        nfit = fit_lmm(null.y, _design(null), null.child, np.column_stack([np.ones(len(null)), null.age]))
        hits.append(nfit["p"][3] < 0.05)
    assert sum(hits) <= 1


def test_refuses_incomplete_or_degenerate_data():
    d = children(n=50)
    X = _design(d)
    with pytest.raises(ModelError, match="complete"):
        fit_lmm(np.where(np.arange(len(d)) == 0, np.nan, d.y), X, d.child, np.ones(len(d)))
    with pytest.raises(ModelError, match="rank"):
        fit_lmm(d.y, np.column_stack([X, X[:, 1]]), d.child, np.ones(len(d)))
    with pytest.raises(ModelError, match="random effects"):
        fit_lmm(d.y, X, d.child, np.ones((len(d), 3)))
