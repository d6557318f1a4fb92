"""Case-resampling bootstrap: reproducible generators, resampling counts, batched OLS, intervals.

A bootstrap resample is stored as a vector of counts (how often each row was drawn), not as
a list of row indices: a weighted least-squares fit with those counts as weights equals the
ordinary fit on the explicitly resampled rows, and all resamples can then be fitted with a
few matrix products instead of a Python loop.
"""

from __future__ import annotations

import hashlib

import numpy as np
from scipy.special import ndtr
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


# --- additions for the counterfactual mediation engine (first1000.stats.causal) ---------

GLM_LINKS = {"binomial": ("logit", "probit"), "poisson": ("log",)}


def _glm_parts(eta: np.ndarray, family: str, link: str):
    """Mean mu, dmu/deta and variance V(mu) of a GLM at linear predictor eta (eta is reused)."""
    if link == "logit":
        np.clip(eta, -700.0, 700.0, out=eta)
        np.negative(eta, out=eta)
        np.exp(eta, out=eta)
        eta += 1.0
        mu = np.reciprocal(eta, out=eta)
        dmu = mu * (1.0 - mu)
        return mu, dmu, dmu
    if link == "probit":
        np.clip(eta, -37.0, 37.0, out=eta)
        mu = np.clip(ndtr(eta), 1e-300, 1 - 1e-16)
        dmu = np.exp(-0.5 * eta * eta) / np.sqrt(2 * np.pi)
        return mu, dmu, mu * (1.0 - mu)
    # poisson, log link
    np.clip(eta, -700.0, 700.0, out=eta)
    mu = np.exp(eta, out=eta)
    return mu, mu, mu


def jackknife_counts(n: int) -> np.ndarray:
    """Leave-one-out "resampling counts" for a vectorised jackknife.

    Parameters
    ----------
    n : int
        Number of rows.

    Returns
    -------
    numpy.ndarray of int32, shape (n, n)
        Row i is all ones except a 0 at position i: fitting with these counts as weights
        (e.g. :func:`batched_ols`, :func:`batched_glm`) gives the n leave-one-out fits in one
        batched computation (Efron & Tibshirani 1993, ch. 11).
    """
    _check_sizes(n, 1)
    return (1 - np.eye(n, dtype=np.int32)).astype(np.int32)


def _scaled_design(X, y, counts, name: str):
    """``X``, ``y``, ``counts`` as arrays (checked: X (n, p), y (n,), counts (B, n)), the
    column scale (root mean square; 1 for a zero column), the scaled ``Xs`` and its row
    outer products ``Z`` (n, p*p) of the batched information matrices."""
    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    counts = np.asarray(counts)
    if X.ndim != 2 or counts.ndim != 2 or counts.shape[1] != X.shape[0] or y.shape != (len(X),):
        raise ModelError(
            f"{name} needs X (n, p), y (n,) and counts (B, n); got {X.shape}, "
            f"{y.shape} and {counts.shape}"
        )
    n, p = X.shape
    scale = np.sqrt(np.mean(X**2, axis=0))
    scale[scale == 0] = 1.0
    Xs = X / scale
    return X, y, counts, scale, Xs, (Xs[:, :, None] * Xs[:, None, :]).reshape(n, p * p)


def batched_glm(
    X: np.ndarray,
    y: np.ndarray,
    counts: np.ndarray,
    family: str = "binomial",
    link: str | None = None,
    start: np.ndarray | None = None,
    max_iter: int = 50,
    tol: float = 1e-8,
    chunk_size: int | None = None,
) -> np.ndarray:
    """Logistic, probit or Poisson regression of every bootstrap resample, batched.

    Parameters
    ----------
    X : numpy.ndarray, shape (n, p)
        Design matrix of the full data (with intercept column if wanted). No NaN.
    y : numpy.ndarray, shape (n,)
        Response: 0/1 for ``family="binomial"``, non-negative counts for ``"poisson"``.
    counts : numpy.ndarray, shape (B, n)
        Resampling counts (case weights), e.g. from :func:`resample_counts`,
        :func:`jackknife_counts`, or ``np.ones((1, n))`` for the full-data fit.
    family : {"binomial", "poisson"}
    link : {"logit", "probit"} for binomial, "log" for poisson; default the canonical link.
    start : numpy.ndarray, shape (p,), optional
        Starting coefficients for every resample (the full-data estimate makes resamples
        converge in 3-5 steps). Default: the usual GLM start mu0 = (y + 0.5)/2 (binomial)
        or y + 0.1 (poisson).
    max_iter : int, default 50
        Fisher-scoring steps; a resample that has not converged by then is NaN.
    tol : float, default 1e-8
        Convergence when the largest step of the coefficients of the RMS-scaled columns
        is below ``tol`` (Newton converges quadratically, so the error left after that
        step is of order ``tol**2``).
    chunk_size : int, optional
        Resamples per step (default ``2**18 // n``: small blocks stay in cache, which
        matters more here than in :func:`batched_ols` because each Fisher step makes
        several elementwise passes).

    Returns
    -------
    numpy.ndarray, shape (B, p)
        Maximum-likelihood coefficients per resample. NaN rows: singular weighted
        information matrix (condition number above 1e6, e.g. a dummy absent from the
        resample) or no convergence within ``max_iter`` steps (typically separation, where
        the likelihood has no maximum and a coefficient diverges).

    Notes
    -----
    Fisher scoring (= Newton-Raphson for the canonical logit and log links; McCullagh &
    Nelder, *Generalized Linear Models*, 2nd ed., 1989, §2.5) for all resamples at once:
    with eta_b = X beta_b, mu_b = g^-1(eta_b), case weights w_b,

        I_b = X' diag(w_b mu'_b^2 / V(mu_b)) X,   u_b = X' (w_b mu'_b / V(mu_b) (y - mu_b)),
        beta_b <- beta_b + I_b^-1 u_b,

    where ``I_b`` is formed, as in :func:`batched_ols`, as one matrix product of the (B, n)
    weights with the (n, p*p) row outer products (an ``einsum('bn,ni,nj->bij')``). Only the
    resamples not yet converged are updated in each step. Weighted fits with integer case
    weights equal the fits on the explicitly resampled rows.
    """
    if family not in GLM_LINKS:
        raise ModelError(f"family must be one of {tuple(GLM_LINKS)}, got {family!r}")
    link = link or GLM_LINKS[family][0]
    if link not in GLM_LINKS[family]:
        raise ModelError(f"link {link!r} is not available for family {family!r}")
    X, y, counts, scale, Xs, Z = _scaled_design(X, y, counts, "batched_glm")
    n, p = X.shape
    n_boot = counts.shape[0]
    coef = np.full((n_boot, p), np.nan)
    step_rows = _chunk_rows(n, chunk_size) if chunk_size else max(1, 2**18 // max(n, 1))
    for start_row in range(0, n_boot, step_rows):
        stop = min(start_row + step_rows, n_boot)
        W = counts[start_row:stop].astype(float)
        m = stop - start_row
        if start is not None:
            beta = np.tile(np.asarray(start, dtype=float) * scale, (m, 1))
        else:
            mu0 = (y + 0.5) / 2 if family == "binomial" else y + 0.1
            if link == "logit":
                eta0 = np.log(mu0 / (1 - mu0))
            elif link == "probit":
                eta0 = norm.ppf(mu0)
            else:
                eta0 = np.log(mu0)
            _, dmu0, var0 = _glm_parts(eta0.copy(), family, link)
            w0 = W * (dmu0**2 / var0)
            gram = (w0 @ Z).reshape(m, p, p)
            rhs = (w0 * (eta0 + (y - mu0) / dmu0)) @ Xs
            beta = _solve_checked(gram, rhs[:, :, None])[:, :, 0]
        active = np.isfinite(beta).all(axis=1)
        done = np.zeros(m, dtype=bool)
        for _ in range(max_iter):
            idx = np.flatnonzero(active)
            if idx.size == 0:
                break
            b = beta[idx]
            eta = b @ Xs.T
            mu, dmu, var = _glm_parts(eta, family, link)
            Wa = W[idx]
            if link == "probit":
                ratio = dmu / np.maximum(var, 1e-300)
                info_w = Wa * dmu * ratio
                score_w = Wa * ratio * (y - mu)
            else:  # canonical link: dmu/deta = V(mu)
                info_w = Wa * dmu
                score_w = np.subtract(y, mu, out=mu)
                score_w *= Wa
            gram = (info_w @ Z).reshape(-1, p, p)
            step = _solve_checked(gram, (score_w @ Xs)[:, :, None])[:, :, 0]
            beta[idx] = b + step
            bad = ~np.isfinite(step).all(axis=1)
            conv = ~bad & (np.max(np.abs(step), axis=1, initial=0.0) < tol)
            done[idx[conv]] = True
            active[idx[conv | bad]] = False
        out = np.where(done[:, None], beta, np.nan)
        coef[start_row:stop] = out / scale
    return coef


def _solve_checked(gram: np.ndarray, rhs: np.ndarray) -> np.ndarray:
    """Batched solve; systems whose matrix is (near) singular give NaN."""
    out = np.full(rhs.shape, np.nan)
    finite = np.isfinite(gram).all(axis=(1, 2)) & np.isfinite(rhs).reshape(len(rhs), -1).all(1)
    if finite.any():
        eig = np.linalg.eigvalsh(gram[finite])
        ok = np.zeros(len(gram), dtype=bool)
        ok[finite] = eig[:, 0] > _SINGULAR_RCOND * eig[:, -1]
        if ok.any():
            out[ok] = np.linalg.solve(gram[ok], rhs[ok])
    return out


def bca_ci(samples, estimate: float, jackknife, alpha: float = 0.05) -> tuple[float, float]:
    """Bias-corrected and accelerated (BCa) bootstrap interval.

    Parameters
    ----------
    samples : array-like
        Bootstrap replicates theta*_b; NaN/inf are ignored.
    estimate : float
        Full-data estimate theta_hat.
    jackknife : array-like
        Leave-one-out estimates theta_(i), i = 1..n (NaN ignored), e.g. from fits with
        :func:`jackknife_counts`.
    alpha : float, default 0.05
        Two-sided level.

    Returns
    -------
    (low, high) : tuple of float

    Notes
    -----
    Efron, JASA 82:171-185 (1987); Efron & Tibshirani (1993), §14.3 and eq. 14.15:

    - z0 = Phi^-1(p0), p0 = (#{theta*_b < theta_hat} + #{theta*_b <= theta_hat}) / (2B)
      (ties count half, as ``scipy.stats.bootstrap``);
    - acceleration a = sum_i d_i^3 / (6 (sum_i d_i^2)^{3/2}), d_i = mean(theta_(.)) - theta_(i);
    - limits are the quantiles (linear interpolation, R type 7) at
      Phi(z0 + (z0 + z_q)/(1 - a (z0 + z_q))) for z_q = Phi^-1(alpha/2), Phi^-1(1 - alpha/2).

    With the same replicates this equals ``scipy.stats.bootstrap(method="BCa")``. With a = 0
    it is the bias-corrected interval (with ties counted half); the interval is invariant
    to monotone transformations (compute ratio measures on the log scale).
    """
    _check_alpha(alpha)
    values = _finite(samples)
    jack = _finite(jackknife)
    if values.size == 0 or jack.size < 2 or not np.isfinite(estimate):
        return (np.nan, np.nan)
    p0 = (np.sum(values < estimate) + np.sum(values <= estimate)) / (2 * values.size)
    z0 = norm.ppf(p0)
    d = jack.mean() - jack
    den = np.sum(d**2)
    accel = np.sum(d**3) / (6 * den**1.5) if den > 0 else 0.0
    qs = []
    for z in (norm.ppf(alpha / 2), norm.ppf(1 - alpha / 2)):
        qs.append(norm.cdf(z0 + (z0 + z) / (1 - accel * (z0 + z))))
    if not np.all(np.isfinite(qs)):
        return (np.nan, np.nan)
    low, high = np.percentile(values, [100 * qs[0], 100 * qs[1]])
    return (float(low), float(high))


def check_resampling_args(n_boot, seed, alpha) -> None:
    """Raise ModelError unless n_boot is a positive integer, seed a non-negative integer
    and 0 < alpha < 1 (the arguments every resampling analysis takes)."""
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 1:
        raise ModelError(f"n_boot must be a positive integer, got {n_boot!r}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise ModelError(f"seed must be a non-negative integer, got {seed!r}")
    if not 0 < alpha < 1:
        raise ModelError(f"alpha must be between 0 and 1, got {alpha!r}")


def _firth_state(beta, Xs, Z, y, W):
    """Penalised log-likelihood, modified score and inverse information of logistic models.

    ``beta`` (m, p) on the scaled columns ``Xs`` (n, p), ``Z`` the (n, p*p) row outer
    products, ``W`` (m, n) case weights. Returns (loglik*, score*, I^-1, ok, step) with NaN
    rows where the information is singular.
    """
    m, p = beta.shape
    eta = beta @ Xs.T
    mu = 1.0 / (1.0 + np.exp(-np.clip(eta, -700.0, 700.0)))
    wv = W * (mu * (1.0 - mu))
    info = (wv @ Z).reshape(m, p, p)
    inv = np.full((m, p, p), np.nan)
    ok = np.isfinite(info).all(axis=(1, 2))
    if ok.any():
        eig = np.linalg.eigvalsh(info[ok])
        good = eig[:, 0] > _SINGULAR_RCOND * eig[:, -1]
        idx = np.flatnonzero(ok)
        ok[idx[~good]] = False
        if good.any():
            inv[idx[good]] = np.linalg.inv(info[idx[good]])
    # hat values h_i = w_i v_i x_i' I^-1 x_i (a row drawn k times carries k copies' leverage)
    h = wv * np.einsum("np,bpq,nq->bn", Xs, inv, Xs, optimize=True)
    score = (W * (y - mu) + h * (0.5 - mu)) @ Xs
    sign, logdet = np.linalg.slogdet(np.where(ok[:, None, None], info, np.eye(p)))
    loglik = np.sum(W * (y * eta - np.logaddexp(0.0, eta)), axis=1) + 0.5 * logdet
    loglik[~ok | (sign <= 0)] = np.nan
    # Step matrix: the information of the augmented data (each row split into one with
    # response y and weight w + h/2 and one with response 1 - y and weight h/2), whose
    # score is U*: X' diag((w + h) v) X, the Jacobian of U* when h is held fixed.
    aug = ((wv + h * (mu * (1.0 - mu))) @ Z).reshape(m, p, p)
    step = np.full((m, p), np.nan)
    if ok.any():
        step[ok] = np.linalg.solve(aug[ok], score[ok][:, :, None])[:, :, 0]
    return loglik, score, inv, ok, step


def batched_firth(
    X: np.ndarray,
    y: np.ndarray,
    counts: np.ndarray,
    start: np.ndarray | None = None,
    max_iter: int = 100,
    tol: float = 1e-10,
    max_step: float = 5.0,
    max_halving: int = 30,
    chunk_size: int | None = None,
    return_cov: bool = False,
):
    """Firth-penalised logistic regression of every bootstrap resample, batched.

    Parameters
    ----------
    X : numpy.ndarray, shape (n, p)
        Design (with an intercept column if wanted). No NaN.
    y : numpy.ndarray, shape (n,)
        Response coded 0/1.
    counts : numpy.ndarray, shape (B, n)
        Case weights: resampling counts, or ``np.ones((1, n))`` for the full-data fit.
    start : numpy.ndarray, shape (p,), optional
        Starting coefficients for every resample (default 0).
    max_iter : int, default 100
        Modified-score iterations; a resample not converged by then is NaN.
    tol : float, default 1e-10
        Convergence when the largest step of the coefficients of the RMS-scaled columns is
        below ``tol`` and the largest modified score component below ``sqrt(tol)``.
    max_step : float, default 5
        Largest change of any (scaled) coefficient in one step (as ``logistf``'s
        ``maxstep``); the step is shrunk proportionally beyond it.
    max_halving : int, default 30
        Step halvings while the penalised log-likelihood decreases.
    chunk_size : int, optional
        Resamples per step (default ``2**18 // n``).
    return_cov : bool, default False
        Also return the inverse Fisher information at the estimate (B, p, p).

    Returns
    -------
    numpy.ndarray, shape (B, p)
        Penalised maximum-likelihood coefficients per resample; NaN rows where the
        information is singular (e.g. a dummy absent from the resample) or the iteration did
        not converge. With ``return_cov`` a tuple (coef, cov).

    Notes
    -----
    Firth, Biometrika 80:27–38 (1993); Heinze & Schemper, Stat. Med. 21:2409–2419 (2002).
    The log-likelihood is penalised by Jeffreys' prior, l*(beta) = l(beta) + ½ log|I(beta)|,
    I = X' diag(w mu (1 - mu)) X. Its maximum solves the modified score equations

        U*(beta) = X' (w (y - mu) + h (½ - mu)) = 0,   h_i = w_i mu_i (1 - mu_i) x_i' I^-1 x_i,

    (h the diagonal of the weighted hat matrix; R ``logistf``, and ``brglm2``'s ``AS_mean``,
    which for the logit link is Firth's method). They are solved by
    beta <- beta + J^-1 U*, J = X' diag((w + h) mu (1 - mu)) X, the information of the
    equivalent augmented data (each row also entered with response 1 - y and weight h/2,
    the other copy with weight w + h/2), with step halving while l* decreases. J is the
    Jacobian of U* for fixed h; stepping with I instead can oscillate when a parameter
    rests on a few rows (h near 1). The estimates are finite
    even under complete or quasi-complete separation. Integer case weights give the same
    fit as the explicitly duplicated rows (the hat value of a row drawn k times is the sum
    of its k copies'). Var(beta) = I(beta)^-1 at the estimate (as ``logistf`` and
    ``brglm2`` report).
    """
    X, y, counts, scale, Xs, Z = _scaled_design(X, y, counts, "batched_firth")
    n, p = X.shape
    n_boot = counts.shape[0]
    coef = np.full((n_boot, p), np.nan)
    cov = np.full((n_boot, p, p), np.nan) if return_cov else None
    step_rows = _chunk_rows(n, chunk_size) if chunk_size else max(1, 2**18 // max(n * p, 1))
    b0 = np.zeros(p) if start is None else np.asarray(start, dtype=float) * scale
    for first in range(0, n_boot, step_rows):
        stop = min(first + step_rows, n_boot)
        W = counts[first:stop].astype(float)
        m = stop - first
        beta = np.tile(b0, (m, 1))
        ll, score, inv, ok, nxt = _firth_state(beta, Xs, Z, y, W)
        active = ok & np.isfinite(ll)
        done = np.zeros(m, dtype=bool)
        for _ in range(max_iter):
            idx = np.flatnonzero(active)
            if idx.size == 0:
                break
            step = nxt[idx]
            big = np.max(np.abs(step), axis=1) / max_step
            step /= np.maximum(big, 1.0)[:, None]
            new = beta[idx] + step
            ll_new, sc_new, inv_new, ok_new, nxt_new = _firth_state(new, Xs, Z, y, W[idx])
            worse = ~ok_new | ~(ll_new >= ll[idx] - 1e-12 * np.abs(ll[idx]))
            for _ in range(max_halving):
                if not worse.any():
                    break
                j = np.flatnonzero(worse)
                step[j] /= 2.0
                new[j] = beta[idx[j]] + step[j]
                l2, s2, i2, o2, n2 = _firth_state(new[j], Xs, Z, y, W[idx[j]])
                ll_new[j], sc_new[j], inv_new[j], ok_new[j], nxt_new[j] = l2, s2, i2, o2, n2
                worse[j] = ~o2 | ~(l2 >= ll[idx[j]] - 1e-12 * np.abs(ll[idx[j]]))
            beta[idx] = new
            ll[idx], score[idx], inv[idx], nxt[idx] = ll_new, sc_new, inv_new, nxt_new
            bad = ~ok_new | ~np.isfinite(new).all(axis=1)
            conv = ~bad & (np.max(np.abs(step), axis=1) < tol) & (
                np.max(np.abs(sc_new), axis=1) < np.sqrt(tol)
            )
            done[idx[conv]] = True
            active[idx[conv | bad]] = False
        coef[first:stop] = np.where(done[:, None], beta / scale, np.nan)
        if return_cov:
            # Var(beta) = diag(1/scale) Var(beta_scaled) diag(1/scale)
            c = inv / scale[None, :, None] / scale[None, None, :]
            cov[first:stop] = np.where(done[:, None, None], c, np.nan)
    return (coef, cov) if return_cov else coef
