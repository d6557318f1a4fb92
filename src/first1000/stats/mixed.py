"""Linear mixed models for repeated measures (a child measured at several ages).

The model of one cohort is

    y_ij = x_ij' beta + z_ij' b_i + e_ij,   b_i ~ N(0, sigma^2 Psi),   e_ij ~ N(0, sigma^2)

for child i at occasion j, with z_ij = (1) (random intercept) or (1, age_ij) (random
intercept and slope on age; Psi an unstructured 2 x 2 covariance), fitted by restricted
maximum likelihood (REML), as statsmodels' ``MixedLM`` (and R's ``lme4::lmer``) fit it.

Why not ``MixedLM`` itself: its likelihood loops over the children in Python, 77 s per
model for 30,000 children seen 2.5 times on average against 2.1 s here
(``benchmarks/longitudinal.py``), so a national cohort's models would take hours. Here every child enters through a few
sums (Z_i'Z_i, Z_i'X_i, Z_i'y_i), and the profiled REML criterion of the relative
covariance factor L (Psi = L L') is, with M_i = I + L' Z_i'Z_i L,

    f(L) = sum_i log|M_i| + log|X'V^-1 X| + (N - p) log(r),
    X'V^-1 X = X'X - sum_i X_i'Z_i L M_i^-1 L' Z_i'X_i   (likewise X'V^-1 y, y'V^-1 y),
    beta = (X'V^-1 X)^-1 X'V^-1 y,   r = y'V^-1 y - beta' X'V^-1 y,   sigma^2 = r / (N - p)

(V = I + Z Psi Z' per child, the determinant lemma and Woodbury's identity), evaluated
for all children at once with closed-form 1 x 1 / 2 x 2 algebra and minimised over the
1 or 3 free entries of L (L-BFGS-B from L = I; other starts if that does not converge).
Cov(beta) = sigma^2 (X'V^-1 X)^-1 (lme4's ``vcov``; ``MixedLM`` inverts the observed
information of all parameters instead, which differs by under 1 % in the tests) and Wald
z-tests.
``tests/stats/test_mixed.py`` checks the fits against ``MixedLM``.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, special

from first1000.errors import ModelError


def _group_sums(codes: np.ndarray, n_groups: int, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Per-group sums of the row-wise outer products a_r b_r' (n x k, n x m) -> (G, k, m)."""
    out = np.empty((n_groups, a.shape[1], b.shape[1]))
    for i in range(a.shape[1]):
        for j in range(b.shape[1]):
            out[:, i, j] = np.bincount(codes, weights=a[:, i] * b[:, j], minlength=n_groups)
    return out


class _Sums:
    def __init__(self, y, X, Z, codes, n_groups):
        self.n, self.p = X.shape
        self.q = Z.shape[1]
        self.ztz = _group_sums(codes, n_groups, Z, Z)  # (G, q, q)
        self.ztx = _group_sums(codes, n_groups, Z, X)  # (G, q, p)
        self.zty = _group_sums(codes, n_groups, Z, y[:, None])[:, :, 0]  # (G, q)
        self.xtx = X.T @ X
        self.xty = X.T @ y
        self.yty = float(y @ y)


def _factor(theta: np.ndarray, q: int) -> np.ndarray:
    lower = np.zeros((q, q))
    lower[np.tril_indices(q)] = theta
    return lower


def _parts(theta, s: _Sums):
    """log|M| summed, X'V^-1X, X'V^-1y, y'V^-1y for relative factor L(theta)."""
    if s.q == 1:
        l00 = theta[0]
        m = 1.0 + l00 * l00 * s.ztz[:, 0, 0]
        U = l00 * s.ztx[:, 0, :]  # (G, p)
        u = l00 * s.zty[:, 0]
        mu = U / m[:, None]
        return (np.sum(np.log(m)), s.xtx - U.T @ mu, s.xty - mu.T @ u, s.yty - np.sum(u * u / m))
    # q == 2, L = [[l00, 0], [l10, l11]]: A = L' Z'Z L and M = I + A per child, in closed form
    l00, l10, l11 = theta
    a, b, c = s.ztz[:, 0, 0], s.ztz[:, 0, 1], s.ztz[:, 1, 1]
    m00 = 1.0 + l00 * l00 * a + 2 * l00 * l10 * b + l10 * l10 * c
    m01 = l11 * (l00 * b + l10 * c)
    m11 = 1.0 + l11 * l11 * c
    det = m00 * m11 - m01 * m01
    i00, i01, i11 = m11 / det, -m01 / det, m00 / det
    U0 = l00 * s.ztx[:, 0, :] + l10 * s.ztx[:, 1, :]
    U1 = l11 * s.ztx[:, 1, :]
    u0 = l00 * s.zty[:, 0] + l10 * s.zty[:, 1]
    u1 = l11 * s.zty[:, 1]
    mu0 = i00[:, None] * U0 + i01[:, None] * U1
    mu1 = i01[:, None] * U0 + i11[:, None] * U1
    xvx = s.xtx - (U0.T @ mu0 + U1.T @ mu1)
    xvy = s.xty - (mu0.T @ u0 + mu1.T @ u1)
    yvy = s.yty - np.sum(u0 * (i00 * u0 + i01 * u1) + u1 * (i01 * u0 + i11 * u1))
    return np.sum(np.log(det)), xvx, xvy, yvy


def _criterion(theta, s: _Sums, reml: bool) -> float:
    logdet, xvx, xvy, yvy = _parts(theta, s)
    sign, logdet_x = np.linalg.slogdet(xvx)
    if sign <= 0 or not np.isfinite(logdet):
        return np.inf
    beta = np.linalg.solve(xvx, xvy)
    r = yvy - beta @ xvy
    if not r > 0:
        return np.inf
    if reml:
        return float(logdet + logdet_x + (s.n - s.p) * np.log(r))
    return float(logdet + s.n * np.log(r))


def fit_lmm(y, X, groups, Z, *, names=None, reml: bool = True, alpha: float = 0.05) -> dict:
    """Fit a linear mixed model with one random-effects design per child (1 or 2 columns).

    Parameters
    ----------
    y : (n,) response; X : (n, p) fixed-effects design with its intercept; groups : (n,)
    the child of each row; Z : (n, q) random-effects design, q = 1 (intercept) or 2
    (intercept and age). Rows must be complete.

    Returns
    -------
    dict with ``params``, ``bse``, ``ci_low``, ``ci_high``, ``p`` (Wald z, arrays over the
    columns of X), ``cov_fe`` (p x p), ``sigma2`` (residual variance), ``cov_re`` (q x q,
    sigma^2 Psi), ``n_obs``, ``n_groups``, ``criterion`` (-2 REML log-likelihood up to a
    constant) and ``converged``.
    """
    y = np.asarray(y, dtype=float)
    X = np.asarray(X, dtype=float)
    Z = np.asarray(Z, dtype=float)
    if Z.ndim == 1:
        Z = Z[:, None]
    if Z.shape[1] not in (1, 2):
        raise ModelError("random effects: an intercept, or an intercept and a slope")
    n, p = X.shape
    if not (np.isfinite(y).all() and np.isfinite(X).all() and np.isfinite(Z).all()):
        raise ModelError("the mixed model's data must be complete (drop incomplete rows first)")
    codes, uniques = _codes(groups)
    n_groups = len(uniques)
    if n - p < 1 or n_groups < 2:
        # the counts are not said: the row's status would show a count below privacy.min_cell_size
        raise ModelError(f"too few observations or children for {p} fixed effects (needs more than {p} "
                         "observations and at least 2 children)")
    if np.linalg.matrix_rank(X) < p:
        raise ModelError("the fixed-effects design is rank deficient (a covariate constant or collinear)")
    sums = _Sums(y, X, Z, codes, n_groups)
    q = Z.shape[1]
    k = q * (q + 1) // 2
    best, found = None, []
    for scale in (1.0, 0.3, 3.0):  # further starts only if the first does not report convergence
        start = np.zeros(k)
        start[[0, 2] if q == 2 else [0]] = scale
        with np.errstate(invalid="ignore", over="ignore"):
            res = optimize.minimize(_criterion, start, args=(sums, reml), method="L-BFGS-B",
                                    options={"ftol": 1e-15, "gtol": 1e-10, "maxiter": 500})
        found.append(res.fun)
        if best is None or res.fun < best.fun:
            best = res
        if res.success:
            break
    # A line search that stops at the optimum (finite-difference noise) is not a failure when
    # every start ends at the same criterion.
    converged = bool(np.isfinite(best.fun)) and (best.success or np.ptp(found) <= 1e-8 * max(1.0, abs(best.fun)))
    theta = best.x
    _, xvx, xvy, yvy = _parts(theta, sums)
    beta = np.linalg.solve(xvx, xvy)
    r = yvy - beta @ xvy
    sigma2 = r / (n - p) if reml else r / n
    cov = sigma2 * np.linalg.inv(xvx)
    se = np.sqrt(np.diag(cov))
    zcrit = special.ndtri(1 - alpha / 2)
    z = beta / se
    L = _factor(theta, q)
    return {
        "params": beta, "bse": se, "ci_low": beta - zcrit * se, "ci_high": beta + zcrit * se,
        "p": 2 * special.ndtr(-np.abs(z)), "cov_fe": cov, "sigma2": float(sigma2),
        "cov_re": sigma2 * (L @ L.T), "n_obs": n, "n_groups": n_groups, "criterion": float(best.fun),
        "converged": converged, "names": list(names) if names is not None else None,
    }


def _codes(groups):
    values = np.asarray(groups)
    uniques, codes = np.unique(values.astype(str) if values.dtype == object else values, return_inverse=True)
    return codes.ravel(), uniques
