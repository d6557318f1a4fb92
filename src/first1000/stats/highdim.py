"""High-dimensional mediation: which of many candidate mediators (the CpGs of an
epigenome-wide matrix, a metabolome) carry an exposure's effect on an outcome.

The HIMA procedure (Zhang H, Zheng Y, Zhang Z, et al. Estimating and testing
high-dimensional mediation effects in epigenetic studies. *Bioinformatics*
2016;32:3150-3154; R package HIMA, ``hima_classic``), for an exposure x, candidates
M_1..M_p, an outcome y and covariates C (n participants):

1. **Screening** (sure independence screening; Fan & Lv 2008): each candidate's outcome
   model y ~ M_j + x + C by least squares; the ``top`` candidates with the smallest p of
   M_j are kept (default ceil(n / ln n), as hdmed's ``mediate_hima``, at most
   :data:`TOP_MAX` = 1,000 so that the cost stays linear in large cohorts; HIMA's
   ``hima_classic`` keeps 2n / ln n), all of them at once by the
   Frisch–Waugh–Lovell residuals of y and of every M_j on (1, x, C): one pass over the
   matrix, in blocks of candidates.
2. **Penalised outcome model**: y ~ x + C + M_screened with an L1 (lasso) penalty on the
   mediators only (x and C are partialled out first, so they are not penalised), the
   penalty chosen by BIC (``sklearn.linear_model.LassoLarsIC``'s LARS path and criterion,
   computed from the Gram matrix of the screened candidates: memory n x top, no copy);
   HIMA's default is MCP, its ``penalty = "lasso"`` option this one.
3. **Both paths** of each candidate the lasso kept: a_j from M_j ~ x + C and b_j from the
   joint outcome model y ~ x + C + M_selected (ordinary least squares, t-tests), the
   mediation effect a_j b_j and the joint-significance p = max(p_a, p_b) (MacKinnon et al.
   2002: a mediator needs both paths), which is conservative under the composite null
   (a = 0 or b = 0).
4. **Multiple testing** over the screened candidates: Benjamini–Hochberg q of the joint p
   (candidates screened but not kept by the lasso count with p = 1) and a Bonferroni
   p = min(1, top x p) (HIMA multiplies by the number the penalised model kept instead: ours
   is the more conservative).

**An absorbed factor** (``absorb``: the array's plate, one per ~96 samples, hundreds in a
national cohort): its levels enter every model by demeaning x, the covariates, y and each
candidate within them (Frisch–Waugh–Lovell) instead of as dummy columns of C, with the
levels counted in every df: the same numbers, at a cost linear in the participants (the
dummies made each step n x levels^2; #19).

**Latent factors** (optional; the hdmax2 adjustment: Jumentier B, Barot C-C, Estavoyer M,
et al. High-dimensional mediation analysis: a new method applied to maternal smoking,
placental DNA methylation, and birth outcomes. *Environ Health Perspect*
2023;131:047011): unmeasured confounders of the candidates (cell mixture, batch, ancestry)
are estimated as K latent factors by the ridge latent factor mixed model LFMM2 (Caye K,
Jumentier B, Lepeule J, François O. LFMM 2: fast and accurate inference of gene-environment
associations in genome-wide studies. *Mol Biol Evol* 2019;36:852-860; what hdmax2 calls
through ``LEA::lfmm2``) of the candidates on the exposure and covariates
(:func:`latent_factors`), and added to the covariates of every step above.

``tests/stats/test_highdim.py`` checks in simulation (200 data sets, 10,000 candidates of
which 8 true mediators and 40 that affect only one path) that the false discovery
proportion averages at most 0.05 plus its Monte Carlo error, and reports the power.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy import special

from first1000.errors import ModelError
from first1000.stats.multitest import bh_fdr

#: Candidates per block of the screening pass (n x block float64 temporaries).
_BLOCK = 2048
#: Values (n x width) of one sub-block of the screening pass: its temporaries stay ~64 MB
#: whatever the number of participants.
_SUB_VALUES = 2 ** 23
#: The most candidates the screening keeps by default: HIMA's ceil(n / ln n) passes 1,000 at
#: about 9,100 participants, and the penalised model's cost grows with n x top^2.
TOP_MAX = 1000


def _lasso_bic(gram: np.ndarray, xy: np.ndarray, yy: float, n: int) -> np.ndarray:
    """Indices of the candidates a lasso keeps, the penalty chosen by BIC, from sufficient
    statistics (``gram`` = X'X, ``xy`` = X'y, ``yy`` = y'y of centred data): the LARS
    lasso path (``sklearn.linear_model.lars_path_gram``) and LassoLarsIC's criterion,
    n ln(2 pi s2) + RSS / s2 + ln(n) df, with s2 the OLS residual variance (n - p df)."""
    from sklearn.linear_model import lars_path_gram

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        _, _, coefs = lars_path_gram(xy, gram, n_samples=n, method="lasso", max_iter=500, alpha_min=0.0)
    rss = yy - 2 * coefs.T @ xy + np.einsum("ik,ik->k", coefs, gram @ coefs)
    df = (np.abs(coefs) > np.finfo(float).eps).sum(axis=0)
    beta = np.linalg.lstsq(gram, xy, rcond=None)[0]
    noise = max(yy - beta @ xy, np.finfo(float).tiny) / (n - gram.shape[0])
    criterion = n * np.log(2 * np.pi * noise) + rss / noise + math.log(n) * df
    best = coefs[:, int(np.argmin(criterion))]
    return np.flatnonzero(best != 0)


def _residualise(q: np.ndarray, values: np.ndarray) -> np.ndarray:
    """values minus their projection on the columns of the orthonormal q."""
    return values - q @ (q.T @ values)


def _t_p(t: np.ndarray, df: int) -> np.ndarray:
    return 2 * special.stdtr(df, -np.abs(t))


def _ols(X: np.ndarray, y: np.ndarray, absorbed: int = 0):
    """Coefficients, SEs and p of y ~ X (X with its intercept, full rank; or, with
    ``absorbed`` levels of a factor absorbed by demeaning, X and y demeaned within them)."""
    n, k = X.shape
    k += absorbed
    q, r = np.linalg.qr(X)
    coef = np.linalg.solve(r, q.T @ y)
    resid = y - X @ coef
    df = n - k
    sigma2 = resid @ resid / df
    r_inv = np.linalg.inv(r)
    se = np.sqrt(sigma2 * np.sum(r_inv * r_inv, axis=1))
    return coef, se, _t_p(coef / se, df)


def _absorbed(absorb, n: int):
    """The levels of a factor absorbed by demeaning (one label per participant), or None."""
    if absorb is None:
        return None
    from first1000.stats.ewas import AbsorbedFactor

    return AbsorbedFactor(absorb, n, "participants")


def _blocks(M, names):
    """(names, n x b block) pairs of an array (in blocks of _BLOCK) or of an iterable of them."""
    if isinstance(M, np.ndarray) or hasattr(M, "__array__") and not hasattr(M, "__next__"):
        M = np.asarray(M, dtype=float)
        names = np.arange(M.shape[1]) if names is None else np.asarray(list(names), dtype=object)
        for start in range(0, M.shape[1], _BLOCK):
            yield names[start : start + _BLOCK], M[:, start : start + _BLOCK]
        return
    for block_names, block in M:
        yield np.asarray(list(block_names), dtype=object), np.asarray(block, dtype=float)


#: LFMM2's default ridge penalty (``LEA::lfmm2(lambda = 1e-5)``, as hdmax2 calls it).
LFMM_LAMBDA = 1e-5


#: Up to this many participants the latent factors come from the exact n x n matrix (one
#: pass costing n^2 p; memory about 4 n^2 x 8 bytes: 128 MB at 2,000); beyond, from
#: subspace iteration (n (k + 5) per pass).
GRAM_MAX_N = 2000


def latent_factors(x, covariates, M, k: int, *, lam: float = LFMM_LAMBDA, tol: float = 1e-10,
                   max_iter: int = 100, seed: int = 0, absorb=None) -> np.ndarray:
    """K latent factors of the candidates M (n x p) given X = [x, covariates], by LFMM2's
    ridge solution (Caye et al. 2019, Theorem 1; ``LEA::lfmm2``), n x k.

    With X and M centred, X = Q_d diag(s) R' (thin SVD) and D = diag(sqrt(lam / (lam +
    s^2))) on X's column space and 1 on its complement, the latent matrix is
    W = Q D^-1 svd_k(D Q' M) and the factors U = Q D^-1 L_k S_k, where L_k, S_k are
    the k leading left singular vectors and values of D Q' M. With P = Q D Q' = I - Q_d
    diag(1 - d) Q_d', the left singular vectors of P M are Q L_k, so U = P^-1 (Q L_k) S_k
    needs neither the n x n Q nor the n x p matrix in memory: the k leading singular
    pairs of P M are the leading eigenpairs of P M M' P, accumulated over ``M``'s blocks in
    one pass (exact; up to :data:`GRAM_MAX_N` participants), or, for larger cohorts, from
    subspace iteration, one pass per iteration (k + 5 vectors, memory n x (k + 5); Ritz
    values converged to ``tol`` relative to the largest, at most ``max_iter`` passes).

    ``M``: an array, or a callable that returns a fresh iterable of (names, n x b block)
    pairs (it is read several times). ``absorb``: labels of a factor with many levels (the
    array's plate), one per participant, whose space is removed exactly by demeaning X and
    M within its levels, instead of entering X as dummy columns that LFMM2's ridge
    penalises like the other columns; the cost no longer grows with the number of levels
    (#19). The factors then lie in the levels' complement; demeaned within the levels (the
    part a model holding the levels uses), the dummies' factors agree with them to ~4e-6 of
    their largest value in the test (40 plates of ~37; up to ~1e-4 in other data), and
    HIMA's estimates with either to ~5e-7 relative there.
    """
    x = np.asarray(x, dtype=float)
    n = x.size
    C = np.zeros((n, 0)) if covariates is None else np.asarray(covariates, dtype=float).reshape(n, -1)
    factor = _absorbed(absorb, n)
    X = np.column_stack([x, C])
    X = X - X.mean(axis=0) if factor is None else factor.demean(X)
    X = X[:, np.ptp(X, axis=0) > 0]
    levels = 0 if factor is None else factor.n_levels - 1  # centred dummies' rank

    def centre(block):
        return block - block.mean(axis=0) if factor is None else factor.demean(block)

    q_d, sv, _ = np.linalg.svd(X, full_matrices=False)
    keep = sv > sv.max() * 1e-12 if sv.size else np.zeros(0, bool)
    q_d, sv = q_d[:, keep], sv[keep]
    d = np.sqrt(lam / (lam + sv ** 2))
    k = int(k)
    width = min(n, k + 5)
    if k < 1 or k >= n - X.shape[1] - levels:
        raise ModelError(f"latent factors: k = {k} must be at least 1 and below the participants minus the design")

    def passes():
        return M() if callable(M) else _blocks(M, None)

    def apply(v):  # P v
        return v - q_d @ ((1 - d)[:, None] * (q_d.T @ v))

    def gram(z):  # P M M' P z, M centred per candidate, in one pass
        pz = apply(z)
        acc = np.zeros_like(z)
        seen = 0
        for _, block in passes():
            if block.shape[0] != n or not np.isfinite(block).all():
                raise ModelError("latent factors: every candidate needs a value for every participant")
            centred = centre(block)
            acc += centred @ (centred.T @ pz)
            seen += block.shape[1]
        if seen <= k:
            raise ModelError(f"latent factors: {seen} candidates are too few for k = {k}")
        return apply(acc)

    if n <= GRAM_MAX_N:  # exact: P (sum of the blocks' Y Y') P in one pass, n x n
        acc = np.zeros((n, n))
        seen = 0
        for _, block in passes():
            if block.shape[0] != n or not np.isfinite(block).all():
                raise ModelError("latent factors: every candidate needs a value for every participant")
            centred = centre(block)
            acc += centred @ centred.T
            seen += block.shape[1]
        if seen <= k:
            raise ModelError(f"latent factors: {seen} candidates are too few for k = {k}")
        values, vectors = np.linalg.eigh(apply(apply(acc).T))
        order = np.argsort(values)[::-1][:k]
        values, z, vectors = values[order], vectors[:, order], np.eye(k)
    else:  # subspace iteration, one pass per iteration, memory n x (k + 5)
        z, _ = np.linalg.qr(np.random.default_rng(seed).standard_normal((n, width)))
        previous = None
        for _ in range(max_iter):
            w = gram(z)
            values, vectors = np.linalg.eigh(z.T @ w)  # Rayleigh-Ritz on span(z)
            order = np.argsort(values)[::-1]
            values, vectors = values[order], vectors[:, order]
            if previous is not None and np.all(np.abs(values[:k] - previous) <= tol * np.abs(values[0])):
                break  # z and vectors belong together
            previous = values[:k]
            z, _ = np.linalg.qr(w)
        else:
            raise ModelError(f"latent factors: the {k} leading singular values of the candidates did not settle "
                             f"in {max_iter} passes over the matrix (no clear latent structure); use fewer "
                             "latent factors or none")
    left = z @ vectors[:, :k]  # the k leading left singular vectors of P M
    scaled = left * np.sqrt(np.clip(values[:k], 0, None))
    return scaled - q_d @ ((1 - 1 / d)[:, None] * (q_d.T @ scaled))  # P^-1 L_k S_k


def hima(x, M, y, covariates=None, *, top: int | None = None, names=None, absorb=None) -> dict:
    """High-dimensional mediation of x -> M -> y (see the module doc).

    Parameters
    ----------
    x : (n,) exposure; M : (n, p) candidate mediators (complete), or an iterable of
    (names, n x b block) pairs for a matrix read in chunks (memory: one block and the
    ``top`` screened columns); y : (n,) continuous outcome; covariates : (n, c) or None;
    top : candidates kept by the screening (default ceil(n / ln n), at most TOP_MAX; at most
    n minus the design's columns (an absorbed factor's levels included) minus 2, so the
    joint outcome model can be fitted); names : the
    candidates' names of an array M (default 0..p-1); absorb : labels of a factor with many
    levels (the array's plate), one per participant, absorbed by demeaning x, C, y and every
    candidate within its levels (Frisch–Waugh–Lovell) instead of entering C as dummy
    columns: the same estimates, SEs and p (the levels count in every df) at a cost that
    does not grow with the number of levels (the dummies made each step n x (levels)^2:
    HIMA at 100,000 participants and 459 plates was 12.7x its time at 10,000; #19).

    Returns
    -------
    dict with ``table`` (a pandas DataFrame, one row per screened candidate, best first:
    ``mediator``, ``a``, ``a_se``, ``p_a``, ``b``, ``b_se``, ``p_b``, ``ab``, ``p``, ``q``,
    ``p_bonferroni``, ``selected``, ``screen_p``), ``n``, ``p`` (candidates), ``top`` and
    ``n_selected``.
    """
    import pandas as pd

    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    n = x.size
    C = np.zeros((n, 0)) if covariates is None else np.asarray(covariates, dtype=float).reshape(n, -1)
    if not (np.isfinite(x).all() and np.isfinite(y).all() and np.isfinite(C).all()) or y.size != n:
        raise ModelError("high-dimensional mediation needs complete data (drop incomplete participants first)")
    factor = _absorbed(absorb, n)
    if factor is None:
        base = np.column_stack([np.ones(n), x, C])
        levels, at_x = 0, 1  # parameters beside base's columns; x's column in base
    else:  # the levels' intercepts replace the intercept
        base = factor.demean(np.column_stack([x, C]))
        y = factor.demean(y)
        levels, at_x = factor.n_levels, 0
    params = base.shape[1] + levels  # the model's parameters, as with dummy columns
    if np.linalg.matrix_rank(base) < base.shape[1] or n - params - 1 < 2:
        raise ModelError("the exposure and covariates are collinear, or there are too few participants")
    q_base, _ = np.linalg.qr(base)
    y_res = _residualise(q_base, y)
    yy = y_res @ y_res
    df = n - params - 1
    want = min(int(math.ceil(n / math.log(n))), TOP_MAX) if top is None else int(top)
    want = max(1, min(want, n - params - 2))
    # 1. screening: the t of M_j in y ~ M_j + x + C from the residuals, one pass over
    # sub-blocks of at most _SUB_VALUES values; the best `want` columns so far stay in
    # `kept` (column-major, centred), replaced in place: memory n x want plus one sub-block
    kept = np.empty((n, want), order="F")
    kept_names = np.empty(want, dtype=object)
    kept_t = np.empty(want)
    kept_at = np.empty(want, dtype=np.int64)  # order of appearance: ties keep the earlier
    filled = 0
    p = 0
    width = max(64, _SUB_VALUES // n)
    for block_names, whole in _blocks(M, names):
        if whole.shape[0] != n or not np.isfinite(whole).all():
            raise ModelError("every candidate mediator needs a value for every participant of the model")
        for start in range(0, whole.shape[1], width):
            block = whole[:, start:start + width]
            if factor is not None:
                block = factor.demean(block)
            sub_names = block_names[start:start + width]
            b = block.shape[1]
            res = _residualise(q_base, block)
            mm = np.einsum("ij,ij->j", res, res)
            my = res.T @ y_res
            with np.errstate(divide="ignore", invalid="ignore"):
                coef = my / mm
                t = np.nan_to_num(coef / np.sqrt((yy - coef * my) / df / mm), nan=0.0)
            all_t = np.concatenate([kept_t[:filled], t])
            all_at = np.concatenate([kept_at[:filled], np.arange(p, p + b)])
            winners = np.lexsort((all_at, -np.abs(all_t)))[:want]
            old = np.sort(winners[winners < filled])
            new = winners[winners >= filled] - filled
            slots = np.concatenate([np.setdiff1d(np.arange(filled), old), np.arange(filled, winners.size)])
            if new.size:
                kept[:, slots] = block[:, new] - block[:, new].mean(axis=0)
                kept_names[slots], kept_t[slots], kept_at[slots] = sub_names[new], t[new], p + new
            filled = winners.size
            p += b
    top = filled
    if top == 0:
        raise ModelError("no candidate mediator with a value for every participant of the model")
    order = np.lexsort((kept_at[:top], -np.abs(kept_t[:top])))  # best first, as screened
    kept_names, kept_t = kept_names[:top][order], kept_t[:top][order]
    K = kept[:, :top]
    screen_p = _t_p(kept_t, df)
    # 2. lasso (LARS) on the screened candidates, x and C partialled out (not penalised),
    # each scaled to unit SD, the penalty by BIC: sklearn's LassoLarsIC, from the Gram
    # matrix of the residualised candidates (K'K - (Q'K)'(Q'K)), so that no n x top copy
    # is made
    proj = q_base.T @ K
    gram = (K.T @ K - proj.T @ proj)[np.ix_(order, order)]
    xy = (K.T @ y_res)[order]
    scale = np.sqrt(np.clip(np.diag(gram), 0, None) / n)
    scale[scale == 0] = 1.0
    gram = gram / np.outer(scale, scale)
    xy = xy / scale
    kept_lasso = _lasso_bic(gram, xy, yy, n)
    kept_cols = K[:, order[kept_lasso]]
    # 3. a and b paths of the candidates the lasso kept
    a, a_se, p_a, b, b_se, p_b = (np.full(top, np.nan) for _ in range(6))
    kept = kept_lasso
    if kept.size:
        Mk = kept_cols
        qd, rd = np.linalg.qr(base)
        coef = np.linalg.solve(rd, qd.T @ Mk)  # M_j ~ 1 + x + C for every kept j at once
        resid = Mk - base @ coef
        df_a = n - params
        r_inv = np.linalg.inv(rd)
        se_x = np.sqrt((resid * resid).sum(axis=0) / df_a * np.sum(r_inv[at_x] ** 2))
        a[kept], a_se[kept] = coef[at_x], se_x
        p_a[kept] = _t_p(coef[at_x] / se_x, df_a)
        if n - params - kept.size >= 2:
            k0 = base.shape[1]
            coef_b, se_b, pb = _ols(np.column_stack([base, Mk]), y, levels)
            b[kept], b_se[kept], p_b[kept] = coef_b[k0:], se_b[k0:], pb[k0:]
    joint = np.where(np.isfinite(p_a) & np.isfinite(p_b), np.maximum(p_a, p_b), 1.0)
    table = pd.DataFrame({
        "mediator": kept_names, "a": a, "a_se": a_se, "p_a": p_a, "b": b, "b_se": b_se, "p_b": p_b, "ab": a * b,
        "p": joint, "q": bh_fdr(joint), "p_bonferroni": np.minimum(1.0, joint * top),
        "selected": np.isin(np.arange(top), kept), "screen_p": screen_p,
    })
    table = table.sort_values(["p", "screen_p"], kind="stable").reset_index(drop=True)
    return {"table": table, "n": n, "p": p, "top": top, "n_selected": int(kept.size)}
