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


def test_batched_firth_resamples_equal_fits_on_the_duplicated_rows_and_r():
    from pathlib import Path

    import pandas as pd

    from first1000.stats.bootstrap import batched_firth

    here = Path(__file__).resolve().parents[1] / "data" / "reference" / "firth"
    data = pd.read_csv(here / "separated.csv")
    ref = pd.read_csv(here / "firth_reference.csv", skipinitialspace=True)
    X = np.column_stack([np.ones(len(data)), data.x, data.z])
    y = data.y.to_numpy(float)
    counts = resample_counts(len(data), 40, analysis_rng(3))
    counts[0] = data.w.to_numpy()  # R's weighted fit (brglm2, prior weights w)
    coef = batched_firth(X, y, counts)
    np.testing.assert_allclose(coef[0], ref[ref.dataset == "separated_weighted"].estimate, atol=1e-6)
    # every resample separates (z = 1 rows are all events) yet every Firth fit is finite
    assert np.isfinite(coef).all()
    for b in (1, 17, 39):
        rows = np.repeat(np.arange(len(data)), counts[b])
        one = batched_firth(X[rows], y[rows], np.ones((1, len(rows))))
        np.testing.assert_allclose(coef[b], one[0], atol=1e-8)
