"""Tests of first1000.stats.bootstrap: intervals, p-values and resampling counts."""

import numpy as np
import pytest
from pingouin.regression import _bias_corrected_ci as pingouin_bias_corrected_ci
from scipy.stats import norm

from first1000.errors import ModelError
from first1000.stats.bootstrap import (
    analysis_rng,
    bias_corrected_ci,
    bootstrap_p,
    percentile_ci,
    resample_counts,
)


def test_percentile_ci_by_hand():
    # 0..100: the 2.5% and 97.5% quantiles (linear interpolation) are 2.5 and 97.5.
    samples = np.arange(101.0)
    assert percentile_ci(samples, 0.05) == pytest.approx((2.5, 97.5), abs=1e-12)
    # NaN replicates (singular resamples) are ignored.
    assert percentile_ci(np.append(samples, np.nan), 0.05) == pytest.approx((2.5, 97.5))
    assert np.isnan(percentile_ci([np.nan, np.nan])).all()


def test_bias_corrected_ci_matches_pingouin_and_formula():
    rng = np.random.default_rng(4)
    samples = rng.gamma(2.0, 1.0, size=999)  # skewed, so the bias correction matters
    estimate = 1.6
    got = bias_corrected_ci(samples, estimate, alpha=0.1)
    np.testing.assert_allclose(
        got, pingouin_bias_corrected_ci(samples, estimate, alpha=0.1), rtol=1e-14
    )
    z0 = norm.ppf(np.mean(samples < estimate))
    lo, hi = norm.cdf(2 * z0 + norm.ppf([0.05, 0.95]))
    np.testing.assert_allclose(got, np.quantile(samples, [lo, hi]), rtol=1e-12)
    # Half the replicates below the estimate: z0 = 0, so it is the percentile CI.
    even = samples[:998]
    np.testing.assert_allclose(
        bias_corrected_ci(even, np.median(even), 0.1), percentile_ci(even, 0.1), rtol=1e-12
    )


def test_bootstrap_p_by_hand():
    samples = np.array([-1.0, 0.5, 1.0, 2.0, 3.0, np.nan])  # 1 below 0, 4 above, B = 5
    assert bootstrap_p(samples) == pytest.approx(2 * 1 / 5)
    assert bootstrap_p([1.0, 2.0, 3.0]) == 0.0
    assert bootstrap_p([-1.0, 1.0, -2.0, 2.0]) == 1.0
    assert bootstrap_p([-1.0, 1.0, 2.0], estimate=0.0) == 1.0  # R mediation rule


def test_resample_counts_equal_single_draw_whatever_the_chunks():
    n, n_boot = 37, 23  # odd sizes: chunks split the stream at odd positions
    idx = analysis_rng(1, "x").integers(0, n, size=(n_boot, n))
    expected = np.stack([np.bincount(row, minlength=n) for row in idx])
    for chunk in (1, 5, 23, 100):
        got = resample_counts(n, n_boot, analysis_rng(1, "x"), chunk_size=chunk)
        np.testing.assert_array_equal(got, expected)
    assert (got.sum(axis=1) == n).all()


def test_bad_seed_or_key_raises():
    with pytest.raises(ModelError):
        analysis_rng(-1)
    with pytest.raises(ModelError):
        analysis_rng(1, 5)
    with pytest.raises(ModelError):
        percentile_ci([1.0, 2.0], alpha=1.5)
