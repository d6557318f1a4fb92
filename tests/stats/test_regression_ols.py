"""The written-out OLS of the association models against statsmodels' ``OLS``, bit for bit.

``first1000.stats.regression._ols_inference`` repeats the arithmetic of
``statsmodels.regression.linear_model.OLS(y, X).fit()`` (pinv, classical covariance,
Student's t) so that the association jobs need not import statsmodels and scipy.stats
(#19). Every number must be the same double as statsmodels', not merely close: the
result tables are compared byte for byte across versions of the workflow.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from statsmodels.regression.linear_model import OLS

from first1000.stats.regression import _ols_inference, fit_association


def _statsmodels(X, y, alpha, df_resid=None):
    model = OLS(y, X)
    if df_resid is not None:
        model.df_resid = float(df_resid)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = model.fit()
        ci = res.conf_int(alpha=alpha)
        return res.params, res.bse, res.pvalues, ci[:, 0], ci[:, 1]


def _design(seed: int, n: int, p: int):
    rng = np.random.default_rng(seed)
    X = np.column_stack([np.ones(n), rng.normal(size=(n, p - 2)), rng.integers(0, 2, n)])
    beta = rng.normal(size=p) * rng.choice([0.0, 0.05, 1.0], size=p)
    y = X @ beta + rng.standard_t(5, size=n) * rng.uniform(0.1, 20)
    return X, y


CASES = [(seed, n, p) for seed, (n, p) in enumerate([(4, 3), (12, 3), (50, 5), (333, 7), (2_000, 12), (9_999, 4)])]


@pytest.mark.parametrize("alpha", [0.05, 0.1, 0.01])
@pytest.mark.parametrize(("seed", "n", "p"), CASES)
def test_the_same_doubles_as_statsmodels(seed, n, p, alpha):
    X, y = _design(seed, n, p)
    ours = _ols_inference(X, y, alpha)
    theirs = _statsmodels(X, y, alpha)
    for name, a, b in zip(("params", "bse", "p", "ci_low", "ci_high"), ours, theirs):
        np.testing.assert_array_equal(a, b, err_msg=name)


@pytest.mark.parametrize(("seed", "n", "p"), CASES[1:])
def test_residual_degrees_of_freedom_set_before_the_fit(seed, n, p):
    """The absorbed-factor case: X and y demeaned, df_resid = n minus every parameter."""
    X, y = _design(seed, n, p)
    X, y = X[:, 1:] - X[:, 1:].mean(axis=0), y - y.mean()
    df = n - p - 1
    ours = _ols_inference(X, y, 0.05, float(df))
    theirs = _statsmodels(X, y, 0.05, df)
    for name, a, b in zip(("params", "bse", "p", "ci_low", "ci_high"), ours, theirs):
        np.testing.assert_array_equal(a, b, err_msg=name)


def test_rank_deficient_and_perfect_fits_as_statsmodels():
    X, y = _design(3, 40, 4)
    X = np.column_stack([X, 2 * X[:, 1]])  # collinear column: pinv's minimum-norm solution
    for yy in (y, X[:, :4] @ np.array([1.0, 2.0, -1.0, 0.5])):  # noisy, and an exact fit (bse 0)
        ours = _ols_inference(X, yy, 0.05)
        theirs = _statsmodels(X, yy, 0.05)
        for name, a, b in zip(("params", "bse", "p", "ci_low", "ci_high"), ours, theirs):
            np.testing.assert_array_equal(a, b, err_msg=name)


def test_hand_computed_simple_regression():
    """y = a + b x: b = Sxy / Sxx, SE(b) = sqrt(s² / Sxx), t with n - 2 df (textbook)."""
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    y = np.array([2.1, 3.9, 6.2, 7.8, 10.1, 12.2])
    X = np.column_stack([np.ones_like(x), x])
    params, bse, p, low, high = _ols_inference(X, y, 0.05)
    sxx = ((x - x.mean()) ** 2).sum()
    b = ((x - x.mean()) * (y - y.mean())).sum() / sxx
    a = y.mean() - b * x.mean()
    s2 = ((y - a - b * x) ** 2).sum() / 4
    assert params[1] == pytest.approx(b, rel=1e-12)
    assert bse[1] == pytest.approx(np.sqrt(s2 / sxx), rel=1e-12)
    # t_{4, 0.975} = 2.7764451051977987 (R: qt(0.975, 4))
    assert high[1] - params[1] == pytest.approx(2.7764451051977987 * bse[1], rel=1e-12)
    assert p[1] < 1e-5


def test_fit_association_does_not_import_statsmodels_for_a_linear_model():
    """The point of the written-out OLS (#19): run in a fresh interpreter."""
    import subprocess
    import sys

    code = (
        "import sys, numpy as np, pandas as pd\n"
        "from first1000.stats.regression import fit_association\n"
        "rng = np.random.default_rng(0)\n"
        "d = pd.DataFrame({'x': rng.normal(size=50), 'c': rng.normal(size=50)})\n"
        "d['y'] = d.x + rng.normal(size=50)\n"
        "r = fit_association(d, 'y', 'x', ['c'])\n"
        "assert r['status'] == 'ok', r\n"
        "print(sorted(m for m in ('statsmodels', 'scipy.stats') if m in sys.modules))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_fit_association_linear_equals_statsmodels_on_a_table():
    rng = np.random.default_rng(7)
    import pandas as pd

    n = 500
    d = pd.DataFrame({"x": rng.normal(size=n), "c": rng.normal(size=n), "s": rng.integers(0, 2, n).astype(float)})
    d["y"] = 0.3 * d.x + 0.2 * d.c - 0.1 * d.s + rng.normal(size=n)
    r = fit_association(d, "y", "x", ["c", "s"])
    X = np.column_stack([np.ones(n), d.x, d.c, d.s])
    params, bse, p, low, high = _statsmodels(X, d.y.to_numpy(), 0.05)
    assert (r["estimate"], r["se"], r["p"], r["ci_low"], r["ci_high"]) == (params[1], bse[1], p[1], low[1], high[1])


def test_shapes_other_than_statsmodels_takes_them_are_refused():
    """statsmodels squeezes a one-column y and widens a 1-D X; this function refuses both."""
    X, y = _design(1, 20, 3)
    for bad_X, bad_y in ((X, y[:, None]), (X[:, 1], y), (X[:-1], y)):
        with pytest.raises(ValueError, match="X must be n x p"):
            _ols_inference(bad_X, bad_y, 0.05)
