"""Case-resampling bootstrap: reproducible generators, resampling counts, batched OLS, intervals.

A bootstrap resample is stored as a vector of counts (how often each row was drawn), not as
a list of row indices: a weighted least-squares fit with those counts as weights equals the
ordinary fit on the explicitly resampled rows, and all resamples can then be fitted with a
few matrix products instead of a Python loop.
"""

from __future__ import annotations

import hashlib

import numpy as np
from scipy.stats import norm

from first1000.errors import ModelError

# Rows of the B x n count matrix handled per step: about 4 million cells, i.e. ~32 MB as
# float64 whatever B is. Memory per chunk is O(chunk * n + chunk * p^2); nothing of size
# B x n x p is ever formed.
_CHUNK_CELLS = 2**22

# A weighted Gram matrix (of the RMS-scaled design) whose smallest eigenvalue is below this
# fraction of its largest is treated as singular: the design then has a condition number
# above 1e6, where the normal equations lose essentially all accuracy. Exactly singular
# resamples (a dummy level or a constant covariate absent/frozen in the resample) sit at
# ~1e-16 and are caught with a wide margin.
_SINGULAR_RCOND = 1e-12


def _key_words(keys) -> list[int]:
    words = []
    for key in keys:
        if not isinstance(key, str):
            raise ModelError(f"analysis keys must be strings, got {type(key).__name__}")
        digest = hashlib.sha256(key.encode("utf-8")).digest()
        words.append(int.from_bytes(digest[:4], "big"))
    return words


def analysis_rng(seed: int, *keys: str) -> np.random.Generator:
    """Random generator for one named analysis, independent of every other analysis.

    Parameters
    ----------
    seed : int
        Non-negative project seed.
    *keys : str
        Names that identify the analysis, e.g. ``("mediation", "ses", "hair_cortisol",
        "bayley_cognitive")``.

    Returns
    -------
    numpy.random.Generator
        ``np.random.Generator(np.random.PCG64(np.random.SeedSequence([seed, w1, w2, ...])))``
        where ``w_i = int.from_bytes(sha256(key_i.encode("utf-8")).digest()[:4], "big")``.

    Notes
    -----
    Each analysis gets its own stream derived from (seed, its names) only, so adding,
    removing or reordering analyses never changes another analysis's numbers. SHA-256 is
    used because Python's ``hash()`` of a string is salted per process. Without keys the
    generator equals ``np.random.default_rng(seed)``. SeedSequence: O'Neill, PCG report
    (2014) and the NumPy ``SeedSequence`` documentation.
    """
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ModelError(f"seed must be a non-negative integer, got {seed!r}")
    sequence = np.random.SeedSequence([int(seed), *_key_words(keys)])
    return np.random.Generator(np.random.PCG64(sequence))


def _chunk_rows(n: int, chunk_size: int | None) -> int:
    if chunk_size is None:
        return max(1, _CHUNK_CELLS // max(n, 1))
    if chunk_size < 1:
        raise ModelError(f"chunk_size must be >= 1, got {chunk_size}")
    return int(chunk_size)


def _counts_from_indices(idx: np.ndarray, n: int) -> np.ndarray:
    # Offset each resample's indices into its own block so one bincount counts all rows.
    b = idx.shape[0]
    offset = (np.arange(b, dtype=np.int64) * n)[:, None]
    counts = np.bincount((idx + offset).ravel(), minlength=b * n)
    return counts.reshape(b, n).astype(np.int32)


def _check_sizes(n: int, n_boot: int) -> None:
    if n < 1 or n_boot < 1:
        raise ModelError(f"need n >= 1 rows and n_boot >= 1 resamples, got {n}, {n_boot}")


def resample_counts(
    n: int, n_boot: int, rng: np.random.Generator, chunk_size: int | None = None
) -> np.ndarray:
    """Case-resampling counts of the nonparametric bootstrap.

    Parameters
    ----------
    n : int
        Number of rows (cases).
    n_boot : int
        Number of resamples B.
    rng : numpy.random.Generator
        Source of randomness, e.g. from :func:`analysis_rng`.
    chunk_size : int, optional
        Resamples drawn per step (default: about 4 million cells per step).

    Returns
    -------
    numpy.ndarray of int32, shape (n_boot, n)
        ``counts[b, i]`` = how often row i is in resample b; every row sums to n.

    Notes
    -----
    Resample b draws n row indices uniformly with replacement (Efron & Tibshirani, *An
    Introduction to the Bootstrap*, 1993, ch. 6): the counts equal the row-wise
    ``bincount`` of ``rng.integers(0, n, size=(n_boot, n))``. Drawing in chunks of rows
    consumes the generator's stream exactly like that single call (the tests check it).
    """
    _check_sizes(n, n_boot)
    step = _chunk_rows(n, chunk_size)
    counts = np.empty((n_boot, n), dtype=np.int32)
    for start in range(0, n_boot, step):
        stop = min(start + step, n_boot)
        idx = rng.integers(0, n, size=(stop - start, n))
        counts[start:stop] = _counts_from_indices(idx, n)
    return counts


def pingouin_resample_counts(n: int, n_boot: int, seed: int) -> np.ndarray:
    """Resampling counts identical to those of ``pingouin.mediation_analysis`` (0.7.0).

    Parameters
    ----------
    n : int
        Number of complete rows.
    n_boot : int
        Number of resamples.
    seed : int
        The ``seed`` given to pingouin.

    Returns
    -------
    numpy.ndarray of int32, shape (n_boot, n)

    Notes
    -----
    pingouin 0.7.0 (``regression.py``, ``mediation_analysis``) draws
    ``rng = np.random.RandomState(seed)`` and
    ``idx = rng.choice(np.arange(n), replace=True, size=(n_boot, n))`` in one call; row b
    is the resample of bootstrap iteration b. (One call of that size gives the same indices
    as n_boot successive calls of size n: RandomState draws them one after another.)
    """
    _check_sizes(n, n_boot)
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ModelError(f"seed must be a non-negative integer, got {seed!r}")
    rng = np.random.RandomState(int(seed))
    idx = rng.choice(np.arange(n), replace=True, size=(n_boot, n))
    return _counts_from_indices(idx, n)


def batched_ols(
    X: np.ndarray, y: np.ndarray, counts: np.ndarray, chunk_size: int | None = None
) -> np.ndarray:
    """OLS coefficients of every bootstrap resample in one batched computation.

    Parameters
    ----------
    X : numpy.ndarray, shape (n, p)
        Design matrix of the full data (with intercept column if wanted). No NaN.
    y : numpy.ndarray, shape (n,) or (n, k)
        Response(s); k responses share the same design and resamples.
    counts : numpy.ndarray, shape (B, n)
        Resampling counts, e.g. from :func:`resample_counts`.
    chunk_size : int, optional
        Resamples processed per step. Default: ``2**22 // n`` (about 32 MB of float64
        weights per step, e.g. 2097 resamples for n = 2000).

    Returns
    -------
    numpy.ndarray, shape (B, p) or (B, p, k)
        Coefficients per resample. Rows whose weighted design is singular (or has a
        condition number above 1e6) are NaN; count them with
        ``np.isnan(coef).any(axis=1)``.

    Notes
    -----
    For resample b with counts w_b, the OLS fit on the resampled rows solves the weighted
    normal equations (X' W_b X) beta_b = X' W_b y, W_b = diag(w_b) (a row drawn twice
    contributes twice). All Gram matrices ``G = einsum('bn,ni,nj->bij', W, X, X)`` are
    computed as one matrix product ``W @ Z`` with ``Z[n, i*p+j] = X[n,i] X[n,j]`` (same
    contraction, BLAS speed), then solved with batched ``np.linalg.solve``. Columns are
    first scaled to unit root-mean-square to keep the Gram matrices well conditioned.
    Normal equations: Golub & Van Loan, *Matrix Computations*, 4th ed., §5.3.
    """
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    counts = np.asarray(counts)
    if X.ndim != 2 or counts.ndim != 2 or counts.shape[1] != X.shape[0]:
        raise ModelError(
            f"batched_ols needs X (n, p) and counts (B, n); got {X.shape} and {counts.shape}"
        )
    one_response = y.ndim == 1
    Y = y[:, None] if one_response else y
    if Y.shape[0] != X.shape[0]:
        raise ModelError(f"y has {Y.shape[0]} rows but X has {X.shape[0]}")
    n, p = X.shape
    k = Y.shape[1]
    scale = np.sqrt(np.mean(X**2, axis=0))
    scale[scale == 0] = 1.0  # an all-zero column stays zero and is caught as singular
    Xs = X / scale
    Z = (Xs[:, :, None] * Xs[:, None, :]).reshape(n, p * p)
    XY = (Xs[:, :, None] * Y[:, None, :]).reshape(n, p * k)

    n_boot = counts.shape[0]
    coef = np.full((n_boot, p, k), np.nan)
    step = _chunk_rows(n, chunk_size)
    for start in range(0, n_boot, step):
        stop = min(start + step, n_boot)
        W = counts[start:stop].astype(float)
        gram = (W @ Z).reshape(-1, p, p)
        rhs = (W @ XY).reshape(-1, p, k)
        eig = np.linalg.eigvalsh(gram)
        ok = eig[:, 0] > _SINGULAR_RCOND * eig[:, -1]
        if ok.any():
            coef[start:stop][ok] = np.linalg.solve(gram[ok], rhs[ok])
    coef /= scale[None, :, None]  # back from the scaled columns: beta_i = gamma_i / scale_i
    return coef[:, :, 0] if one_response else coef


def _finite(samples) -> np.ndarray:
    samples = np.asarray(samples, dtype=float).ravel()
    return samples[np.isfinite(samples)]


def _check_alpha(alpha: float) -> None:
    if not 0 < alpha < 1:
        raise ModelError(f"alpha must be between 0 and 1, got {alpha!r}")


def percentile_ci(samples, alpha: float = 0.05) -> tuple[float, float]:
    """Percentile bootstrap confidence interval.

    Parameters
    ----------
    samples : array-like
        Bootstrap replicates; NaN/inf (failed resamples) are ignored.
    alpha : float, default 0.05
        Two-sided level: the interval covers 1 - alpha.

    Returns
    -------
    (low, high) : tuple of float
        The alpha/2 and 1 - alpha/2 quantiles of the replicates (NaN if none is finite).

    Notes
    -----
    Efron & Tibshirani (1993), §13.3. Quantiles interpolate linearly between order
    statistics (``numpy.percentile`` default = R ``quantile(type=7)``, which R
    ``mediation`` uses).
    """
    _check_alpha(alpha)
    values = _finite(samples)
    if values.size == 0:
        return (np.nan, np.nan)
    low, high = np.percentile(values, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return (float(low), float(high))


def bias_corrected_ci(samples, estimate: float, alpha: float = 0.05) -> tuple[float, float]:
    """Bias-corrected percentile bootstrap interval, exactly as pingouin computes it.

    Parameters
    ----------
    samples : array-like
        Bootstrap replicates; NaN/inf are ignored.
    estimate : float
        Full-data point estimate.
    alpha : float, default 0.05
        Two-sided level.

    Returns
    -------
    (low, high) : tuple of float

    Notes
    -----
    z0 = Phi^-1(share of replicates < estimate); the interval is the quantiles at
    Phi(2 z0 + z_{alpha/2}) and Phi(2 z0 + z_{1-alpha/2}) (Efron, JASA 82:171–185, 1987,
    BC method; BCa without the acceleration). This is pingouin 0.7.0's
    ``_bias_corrected_ci`` (ties with the estimate are not counted as half, unlike
    MATLAB ``bootci``). If every replicate lies on one side of the estimate, z0 is
    infinite and both limits collapse to the smallest or largest replicate, as in pingouin.
    """
    _check_alpha(alpha)
    values = _finite(samples)
    if values.size == 0 or not np.isfinite(estimate):
        return (np.nan, np.nan)
    z0 = norm.ppf(np.mean(values < estimate))
    q_low = norm.cdf(2 * z0 + norm.ppf(alpha / 2)) * 100
    q_high = norm.cdf(2 * z0 + norm.ppf(1 - alpha / 2)) * 100
    ci = np.percentile(values, [q_low, q_high])
    return (float(np.min(ci)), float(np.max(ci)))


def bootstrap_p(samples, estimate: float | None = None) -> float:
    """Two-sided bootstrap p-value of "effect = 0", as R ``mediation`` computes it.

    Parameters
    ----------
    samples : array-like
        Bootstrap replicates; NaN/inf are ignored (and not counted in B).
    estimate : float, optional
        Full-data estimate; if exactly 0 the p-value is 1 (R ``mediation`` rule).

    Returns
    -------
    float
        p = min(1, 2 · min(#{replicates > 0}, #{replicates < 0}) / B).

    Notes
    -----
    R package ``mediation`` 4.5 (Tingley et al., J. Stat. Softw. 59(5), 2014), internal
    ``pval()``; pingouin's ``_pval_from_bootci`` is the same. Its resolution is 2/B and
    p = 0 means no replicate fell on the other side of 0 (report "p < 2/B"). The
    bootstrap distribution is not centred on the null, so this p is approximate (Hayes &
    Rockwood, Behav. Res. Ther. 98:39–57, 2017).
    """
    values = _finite(samples)
    if values.size == 0 or (estimate is not None and not np.isfinite(estimate)):
        return np.nan
    if estimate is not None and estimate == 0:
        return 1.0
    p = 2 * min(np.sum(values > 0), np.sum(values < 0)) / values.size
    return float(min(p, 1.0))
