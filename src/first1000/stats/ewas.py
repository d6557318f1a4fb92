"""Epigenome-wide association (EWAS) engine: limma-equivalent linear models on M-values.

The reference of the field is R limma (``lmFit`` + ``eBayes``) on M-values, as used by
meffil/ewaff and the PACE consortium analysis plans. This module gives the same numbers
(where limma defines them) in bounded memory and without a per-CpG loop:

1. **Fit** (:func:`ewas_fit`, stage a). The design X (n samples x p columns: intercept,
   exposure(s), numeric dummy-coded covariates) is decomposed once, X = QR, and a whole
   chunk of CpGs is fitted with products of that decomposition. CpGs with missing values
   are fitted exactly on their observed samples (as limma's per-gene ``lm.fit``): those
   missing a few samples by updating the full decomposition (an s x s solve for s missing
   samples), the others grouped by missingness pattern, each pattern's reduced design
   decomposed once, vectorised across CpGs (also across CpGs of different patterns).
2. **Prior** (:func:`fit_prior`, stage b). limma's ``squeezeVar``/``fitFDist``: the prior
   degrees of freedom d0 and prior variance s0^2 from the residual variances and degrees
   of freedom of *all* CpGs, by trigamma moment matching (Smyth 2004); optionally limma
   3.61+'s ``fitFDistUnequalDF1``, its default when the df differ (``method="auto"``).
3. **Moderate** (:func:`moderate`, stage c). Posterior variances, moderated t and p per
   chunk given the prior. Because stage b only needs (s^2, df) of every CpG, an EWAS can
   be sharded: fit shards independently, gather s^2/df, estimate the prior once, moderate
   each shard. One shard or fifty give bitwise identical numbers (see *Determinism*).
4. **Summaries** (:func:`multiple_testing`, :func:`genomic_inflation`,
   :func:`ewas_summary`): BH-FDR, Bonferroni, the 450K and EPIC array-wide thresholds, and
   the genomic inflation factor lambda.

:func:`ewas_from_chunks` runs the whole engine over a stream of CpG chunks, which
:func:`first1000.io.methylation.read_methylation_chunks` reads from a CpG x sample matrix
(Parquet, TSV or ``.npy``) in bounded memory; :func:`first1000.analysis.epigenome.ewas`
runs both end to end from a file (or an in-memory matrix). This module reads no file.

Determinism
-----------
Every per-CpG number depends only on that CpG's values and the design. Sums over samples
add the samples in order (numpy reductions over the sample axis of blocks of samples,
vectorised across CpGs; see ``_sequential_sums``), except the products of the complete-data
fit (a CpG's effects Q'y, ~95% of its arithmetic), which are BLAS products of one fixed
shape: n samples x ``_GEMM_COLUMNS`` CpGs, the last block of a tile padded with zero
columns, with one BLAS thread. A BLAS product's summation order can depend on the block
shape and the thread count, never (in OpenBLAS, for blocks of 64 columns or multiples)
on which column of a fixed-shape block a CpG sits in; ``_products_columnwise`` checks this
once per design shape on the BLAS in use and falls back to the sequential sums if it does
not hold. The small per-CpG solves of the missing-value paths call LAPACK once per
matrix. So the result of a CpG does not change with the chunk size, the shard boundaries,
the inner tile sizes or which other CpGs share its missingness pattern: one pass and any
sharding give bitwise identical tables. The design decompositions (tiny QRs) and the
products use BLAS and LAPACK, so machines whose BLAS selects a different CPU kernel
(``OPENBLAS_CORETYPE``) can differ in the last bits; run all shards of one EWAS on
the same kind of machine if bitwise identity matters.

Memory
------
The engine holds one chunk (``chunk_cpgs`` x n values, plus a few copies of it) and, per
CpG, a handful of numbers. Peak memory is therefore O(chunk_cpgs * n + n_cpgs), not
O(n_cpgs * n).

References
----------
Smyth GK (2004). Linear models and empirical Bayes methods for assessing differential
expression in microarray experiments. *Stat Appl Genet Mol Biol* 3:Article 3.
Ritchie ME, Phipson B, Wu D, et al. (2015). limma powers differential expression analyses
for RNA-sequencing and microarray studies. *Nucleic Acids Res* 43:e47.
Du P, Zhang X, Huang CC, et al. (2010). Comparison of Beta-value and M-value methods for
quantifying methylation levels by microarray analysis. *BMC Bioinformatics* 11:587.
Felix JF, Joubert BR, Baccarelli AA, et al. (2018). Cohort profile: Pregnancy And
Childhood Epigenetics (PACE) Consortium. *Int J Epidemiol* 47:22-23u.
"""

from __future__ import annotations

import functools
import math
import os
import warnings
from collections.abc import Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import nullcontext
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy import special

from first1000.errors import InputTableError, ModelError
from first1000.stats.blas import single_threaded
from first1000.stats.multitest import bh_fdr

# Array-wide significance thresholds: Saffari et al. (2018) for the 450K array,
# Mansell et al. (2019) for the EPIC array.
THRESHOLD_450K = 2.4e-7
THRESHOLD_EPIC = 9e-8

# Median of the chi-square distribution with 1 df, qchisq(0.5, 1) = 0.454936... (0.4549).
CHI2_1_MEDIAN = float(special.chdtri(1.0, 0.5))

# Beta values are clipped to [BETA_CLIP, 1 - BETA_CLIP] before M = log2(beta / (1 - beta)).
BETA_CLIP = 1e-6

# R's lm.fit (LINPACK dqrdc2) tolerance: a design column whose norm after orthogonalisation
# against the preceding columns is below this fraction of its own norm is aliased.
ALIAS_TOL = 1e-7

FIT_COLUMNS = [
    "cpg", "term", "n", "n_outliers", "df_residual", "sigma2", "coef", "stdev_unscaled",
    "se", "t", "p", "status",
]  # fmt: skip
BETA_COLUMNS = ["coef_beta", "se_beta"]
MODERATED_COLUMNS = ["s2_post", "se_moderated", "t_moderated", "df_total", "p_moderated"]
ADJUST_COLUMNS = ["fdr", "bonferroni", "sig_450k", "sig_epic"]
STATUSES = ("ok", "too_few_samples", "not_estimable")
SCALES = ("beta", "m")
PRIOR_METHODS = ("trigamma", "unequal_df", "auto")

# CpGs per tile of the inner sums: a tile of CpG columns is gathered once into a contiguous
# n x tile array (at least _TILE_MIN CpGs, so each sample's row is read in long runs;
# at most _TILE; about _TILE_VALUES / n in between).
_TILE = 4096
_TILE_MIN = 128
# An n x tile gather holds about this many values (8 MB).
_TILE_VALUES = 2**20
# Values of a block of the sums over samples (2 MB: stays in cache between the products
# that fill it and the reduction that sums it). At 2**16 a design of 18 columns fitted two
# samples per block, and Python's per-block overhead made an EWAS shard 1.45x slower (#19);
# the sums are the same bits whatever the block (see _sequential_sums).
_SUM_VALUES = 2**18
# CpGs per BLAS product of the complete-data fit (see _cross_products): every product has
# this one shape, so a CpG's effects never depend on the tile or chunk it is fitted in.
_GEMM_COLUMNS = 128
# Values of the per-CpG designs held by one tile of the missing-value path (128 MB).
_TILE_MISSING_VALUES = 2**24
# Values per step of the element-wise beta -> M conversion (1 MB: stays in cache).
_BLOCK = 2**17
#: Every column of a fit's results (see _Engine._store_complete).
_ALL = slice(None)
# Columns laid out at a time by the per-level sums of an absorbed factor (AbsorbedFactor.sums):
# each sample's run of 16 values is two cache lines (16: 5.7 and 8.7 ns per value at
# 4,400 x 1,000 and 44,000 x 762; 64: 6.4 and 10.7 ns; one gather of every column: 44 ns).
_SUM_LANES = 16
_STATUS_OK, _STATUS_FEW, _STATUS_NOT_ESTIMABLE = 0, 1, 2
# Threads for the outlier rule's partial sorts (the only multi-threaded step of the fit).
_THREADS = max(1, min(2, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1))


# --------------------------------------------------------------------------------------
# Design handling
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Decomposition:
    """QR decomposition of one (possibly reduced) design, with the pieces the fit needs."""

    n: int  # samples
    rank: int
    position: np.ndarray  # for each design column: its index among the kept columns, or -1
    weights: np.ndarray  # (n, w) C-contiguous: [Q | u] (u only if 1 is not in span(X))
    r_inv: np.ndarray  # (rank, rank) R^-1
    stdev_unscaled: np.ndarray  # (rank,) sqrt(diag((X'X)^-1)) of the kept columns
    const_coef: np.ndarray  # (rank,) coefficients of the constant vector 1 on X
    u_norm2: float  # ||(I - P) 1||^2, 0 when 1 lies in the column space


def _aligned_copy(a: np.ndarray) -> np.ndarray:
    """C-contiguous float64 copy starting on a 64-byte boundary (identical LAPACK inputs)."""
    a = np.asarray(a, dtype=np.float64)
    buf = np.empty(a.size + 8, dtype=np.float64)
    offset = (-buf.ctypes.data % 64) // 8
    out = buf[offset : offset + a.size].reshape(a.shape)
    out[...] = a
    return out


def _sample_sums(a: np.ndarray) -> np.ndarray:
    """Sums over the first axis (samples) of ``a`` (n x ...), added in sample order.

    numpy reduces a C-contiguous array over its first axis by adding whole rows one after
    the other, so every entry of the result is the sequential sum of its own column,
    whatever the other columns are (the same bits as a loop of rank-1 updates). A single
    column would be summed pairwise instead (its values are contiguous), so it is padded
    to two.
    """
    shape = a.shape[1:]
    flat = np.ascontiguousarray(a, dtype=np.float64).reshape(a.shape[0], -1)
    if flat.shape[1] == 1:
        flat = np.concatenate([flat, np.zeros_like(flat)], axis=1)
        return np.add.reduce(flat, axis=0)[:1].reshape(shape)
    return np.add.reduce(flat, axis=0).reshape(shape)


def _tile_width(n: int) -> int:
    """CpGs per tile for n samples (see _TILE)."""
    return max(1, min(_TILE, max(_TILE_MIN, _TILE_VALUES // max(1, n))))


def _sequential_sums(n: int, shape: tuple, fill) -> np.ndarray:
    """Sum over samples k = 0..n-1 of terms of the given shape, added in sample order.

    ``fill(k0, k1, out)`` writes the terms of samples k0..k1-1 into ``out`` (k1 - k0 x
    shape). Samples are taken in blocks of _SUM_VALUES values; each block is summed after
    the running total, which sits in the block's first row, so every entry is the plain
    sequential sum of its own terms (bitwise what a loop of rank-1 updates gives), whatever
    the block size and the other entries.
    """
    shape = tuple(shape)
    rows = max(1, min(n, _SUM_VALUES // max(1, math.prod(shape))))
    buf = np.empty((rows + 1,) + shape)
    total = np.zeros(shape)
    for k0 in range(0, n, rows):
        k1 = min(n, k0 + rows)
        block = buf[: k1 - k0 + 1]
        block[0] = total
        fill(k0, k1, block[1:])
        total = _sample_sums(block)
    return total


def _column_sums(y: np.ndarray) -> np.ndarray:
    """Sequential sums over the rows of y (n x t)."""
    return _sequential_sums(y.shape[0], y.shape[1:], lambda k0, k1, out: np.copyto(out, y[k0:k1]))


def _squared_sums(y: np.ndarray) -> np.ndarray:
    """Sequential sums of squares over the rows of y (n x t)."""
    return _sequential_sums(y.shape[0], y.shape[1:], lambda k0, k1, out: np.multiply(y[k0:k1], y[k0:k1], out=out))


def _cross_sums(w: np.ndarray, y: np.ndarray) -> np.ndarray:
    """Sequential sums over samples of w[k] (x) y[k]: (c, t) for w (n x c) and y (n x t),
    or w (n x c x t) per CpG."""
    if w.ndim == 2:
        def fill(k0, k1, out):
            np.multiply(w[k0:k1, :, None], y[k0:k1, None, :], out=out)
    else:
        def fill(k0, k1, out):
            np.multiply(w[k0:k1], y[k0:k1, None, :], out=out)
    return _sequential_sums(y.shape[0], (w.shape[1], y.shape[1]), fill)

def _product_block(w: np.ndarray, y: np.ndarray) -> np.ndarray:
    """w' y for w (n x c) and one block y (n x _GEMM_COLUMNS), C-contiguous both (BLAS)."""
    return np.matmul(w.T, y)


@functools.lru_cache(maxsize=64)
def _products_columnwise(n: int, c: int) -> bool:
    """Whether the BLAS in use, with one thread, gives every column of w' Y (w: n x c, Y:
    n x _GEMM_COLUMNS) bits that depend only on that column of Y: the same when the columns
    of Y are permuted and when the other columns change. OpenBLAS 0.3.31 (Haswell kernels)
    passes for every shape tried (n 13 to 20,000, c 3 to 31, blocks of 64 to 2,048
    columns); it fails for blocks whose width is not a multiple of its kernel's unrolling
    (2,231 columns), which is why the blocks have one fixed width. Checked once per shape
    on random numbers (3 products of the real size), with one BLAS thread
    (:func:`first1000.stats.blas.single_threaded`)."""
    rng = np.random.default_rng(20261203)
    w = rng.standard_normal((n, c))
    y = rng.standard_normal((n, _GEMM_COLUMNS))
    perm = rng.permutation(_GEMM_COLUMNS)
    with single_threaded() as controlled:
        if not controlled:  # not cached: _cross_products asks only where the limit holds
            raise RuntimeError("the BLAS thread limit does not hold here")
        ref = _product_block(w, y)[:, perm]
        y = np.ascontiguousarray(y[:, perm])
        moved = _product_block(w, y)
        y[:, ::2] = rng.standard_normal((n, y[:, ::2].shape[1]))
        others = _product_block(w, y)
    return bool(np.array_equal(moved, ref) and np.array_equal(others[:, 1::2], ref[:, 1::2]))


def _cross_products(w: np.ndarray, y: np.ndarray, scratch=None) -> np.ndarray:
    """w' y (c x t) for w (n x c, C-contiguous) and y (n x t): the sums over samples of
    w[k] (x) y[k], as BLAS products of blocks of _GEMM_COLUMNS columns of y (the last one
    padded with zero columns) with one BLAS thread, so a column's result depends on that
    column alone (:func:`_products_columnwise`; 40x faster than :func:`_cross_sums`, which
    is used instead on a BLAS where this does not hold). ``scratch``: see
    :class:`_Scratch`."""
    w = np.ascontiguousarray(w)
    n, c = w.shape
    t = y.shape[1]
    g = _GEMM_COLUMNS
    with single_threaded() as controlled:
        if not (controlled and _products_columnwise(n, c)):
            return _cross_sums(w, y)
        out = np.empty((c, t))
        block = (scratch or _Scratch()).array("gemm", (n, g))
        for start in range(0, t, g):
            width = min(g, t - start)
            block[:, :width] = y[:, start : start + width]
            if width < g:
                block[:, width:] = 0.0
            out[:, start : start + width] = _product_block(w, block)[:, :width]
    return out


class _Scratch:
    """Work arrays re-used by one fit (one per name, grown when a larger one is asked for).

    An n x tile array allocated afresh for every tile and every BLAS block faulted in new
    pages each time: 0.85-1.0 million page faults in a 100,000-participant EWAS shard and
    177,000 in a 450,000 x 500 one, which on this virtual machine cost more than the arithmetic
    (#19). Every array handed out is C-contiguous, as a fresh one is, so no number changes.
    Not shared between threads."""

    def __init__(self):
        self._flat: dict[str, np.ndarray] = {}

    def array(self, name: str, shape: tuple) -> np.ndarray:
        """A float64 array of ``shape`` (its values are left over from earlier use)."""
        size = math.prod(shape)
        flat = self._flat.get(name)
        if flat is None or flat.size < size:
            flat = self._flat[name] = np.empty(size)
        return flat[:size].reshape(shape)


def _kept_columns(x: np.ndarray) -> list[int]:
    """Non-aliased columns, in order, as R's ``lm.fit`` keeps them (tolerance 1e-7).

    A column is aliased when its norm after orthogonalisation against the kept columns
    before it falls below ``ALIAS_TOL`` times its own norm (LINPACK ``dqrdc2``'s limited
    pivoting, which moves such columns to the end; their coefficients are NA in R).
    """
    n, p = x.shape
    norms = np.sqrt(np.sum(x * x, axis=0))
    if n >= p and p > 0:
        r = np.linalg.qr(_aligned_copy(x), mode="r")
        if np.all(np.abs(np.diag(r)) > ALIAS_TOL * norms):
            return list(range(p))
    kept: list[int] = []
    for j in range(p):
        if norms[j] == 0 or len(kept) >= n:
            continue
        r = np.linalg.qr(_aligned_copy(x[:, kept + [j]]), mode="r")
        if abs(r[-1, -1]) > ALIAS_TOL * norms[j]:
            kept.append(j)
    return kept


def _upper_inverse(r: np.ndarray) -> np.ndarray:
    """R^-1 of an upper-triangular matrix by back substitution (tiny; no threaded BLAS)."""
    k = r.shape[0]
    inv = np.zeros((k, k))
    for i in range(k - 1, -1, -1):
        row = -np.sum(r[i, i + 1 :, None] * inv[i + 1 :, :], axis=0)
        row[i] += 1.0
        inv[i] = row / r[i, i]
    return inv


def _decompose(x: np.ndarray) -> _Decomposition:
    """Decompose a design: X_kept = QR; R^-1; the constant vector's projection."""
    n, p = x.shape
    kept = _kept_columns(x)
    position = np.full(p, -1, dtype=np.int64)
    position[kept] = np.arange(len(kept))
    rank = len(kept)
    if rank == 0:  # every observed design column is zero: RSS = ||y||^2 via u = 1
        return _Decomposition(
            n, 0, position, np.ones((n, 1)), np.zeros((0, 0)), np.zeros(0), np.zeros(0), float(n)
        )
    q, r = np.linalg.qr(_aligned_copy(x[:, kept]))
    r_inv = _upper_inverse(r)
    ones = np.ones(n)
    h = q.T @ ones  # Q'1
    u = ones - q @ h  # (I - P)1
    u_norm2 = float(u @ u)
    if u_norm2 <= 1e-16 * n:  # the constant lies in span(X): the intercept (or dummies)
        weights, u_norm2 = q, 0.0
    else:
        weights = np.column_stack([q, u])
    return _Decomposition(
        n=n,
        rank=rank,
        position=position,
        weights=np.ascontiguousarray(weights),
        r_inv=np.ascontiguousarray(r_inv),
        stdev_unscaled=np.sqrt(np.sum(r_inv * r_inv, axis=1)),
        const_coef=r_inv @ h,
        u_norm2=u_norm2,
    )


class AbsorbedFactor:
    """The levels of an absorbed factor (e.g. the array's plate), one code per sample.

    A factor with many levels (one plate per ~96 samples: thousands in a national cohort)
    enters the model by demeaning within its levels instead of as dummy columns
    (Frisch–Waugh–Lovell): the coefficients and residuals of the other columns are those of
    the dummy model, whose residual df is n - rank - (levels observed). A level's sums run
    over its samples in one fixed way (each CpG's values laid out contiguously, samples
    sorted by level, ``numpy.add.reduceat``), so a CpG's numbers depend only on its own
    values, never on the other CpGs of the call, as everywhere in the engine.
    """

    def __init__(self, labels, n: int | None = None, unit: str = "samples"):
        """``n``: the rows the labels must number (``unit`` names them in the message)."""
        codes, levels = pd.factorize(pd.Series(np.asarray(labels, dtype=object)), sort=True)
        if (codes < 0).any():
            raise ModelError(f"the absorbed factor has missing values; drop those {unit} first")
        if n is not None and codes.size != n:
            raise ModelError(f"the absorbed factor has {codes.size} labels for {n} {unit}")
        self.codes = codes.astype(np.int64)
        self.n_levels = len(levels)
        self.order = np.argsort(self.codes, kind="stable")
        self.starts = np.searchsorted(self.codes[self.order], np.arange(self.n_levels))

    def sums(self, values: np.ndarray) -> np.ndarray:
        """Per-level sums of the rows of ``values`` (n x ...): (levels x ...).

        The lanes (one per column of ``values``, its samples sorted by level) are laid out
        _SUM_LANES at a time: gathering every column's samples at once read ``values`` a
        value per cache line, 44 ns per value at any size against ~6 ns in blocks (#19; the
        sums, lane by lane, are the same bits)."""
        flat = values.reshape(values.shape[0], -1)
        out = np.empty((self.n_levels, flat.shape[1]))
        lanes = np.empty((min(_SUM_LANES, flat.shape[1]), flat.shape[0]))
        for j in range(0, flat.shape[1], _SUM_LANES):
            w = min(_SUM_LANES, flat.shape[1] - j)
            lanes[:w] = flat[self.order, j : j + w].T
            out[:, j : j + w] = np.add.reduceat(lanes[:w], self.starts, axis=-1).T
        return out.reshape((self.n_levels,) + values.shape[1:])

    def counts(self, observed: np.ndarray) -> np.ndarray:
        """Observed entries per level: (levels x ...) for an (n x ...) mask (cast to float
        lane by lane in :meth:`sums`, not as a whole: no array of the mask's size)."""
        return self.sums(np.asarray(observed, dtype=bool))

    def demean(self, values: np.ndarray, observed: np.ndarray | None = None,
               counts: np.ndarray | None = None, inplace: bool = False) -> np.ndarray:
        """``values`` (n x ...) minus their mean within each level, over the ``observed``
        entries (a mask broadcasting to ``values``; the others become 0). ``counts``: the
        mask's :meth:`counts`, when the caller has them already. ``inplace`` (no mask):
        ``values``, a float64 array of the caller's own, is overwritten and returned.

        The means are subtracted a block of rows at a time, into one output array: the
        whole-array ``values - means[codes]`` took two more arrays of the values' size,
        whose fresh pages cost more than the arithmetic (1.0 s against 0.45 s for a
        44,000 x 762 chunk; #19). The same bits."""
        if observed is None:
            counts = np.bincount(self.codes, minlength=self.n_levels).astype(np.float64)
            means = self.sums(values) / counts.reshape((-1,) + (1,) * (values.ndim - 1))
            out = values if inplace else np.empty_like(values, dtype=np.float64, subok=False)  # its layout
        else:
            out = np.where(observed, values, 0.0)
            with np.errstate(invalid="ignore", divide="ignore"):
                means = self.sums(out) / (self.counts(observed) if counts is None else counts)
            values = out
            observed = np.broadcast_to(np.asarray(observed, dtype=bool), out.shape)  # a view
        rows = max(1, _BLOCK // max(1, out[0].size))
        with np.errstate(invalid="ignore"):
            for start in range(0, out.shape[0], rows):
                block = slice(start, start + rows)
                np.subtract(values[block], means[self.codes[block]], out=out[block])
                if observed is not None:
                    np.copyto(out[block], 0.0, where=~observed[block])
        return out



def design_arrays(design, terms) -> tuple[np.ndarray, list[str], list[int], list[str] | None]:
    """Validate the design; return X, column names, requested term indices, sample ids."""
    if isinstance(design, pd.DataFrame):
        names = [str(c) for c in design.columns]
        samples = [str(s) for s in design.index]
        if len(set(samples)) != len(samples):
            raise ModelError("the design's index (sample IDs) has duplicates")
        non_numeric = [
            str(c)
            for c in design.columns
            if not (
                pd.api.types.is_numeric_dtype(design[c]) or pd.api.types.is_bool_dtype(design[c])
            )
        ]
        if non_numeric:
            raise ModelError(
                f"design column(s) {', '.join(map(repr, non_numeric))} are not numeric; "
                "dummy-code categorical covariates first"
            )
        x = design.to_numpy(dtype=np.float64)
    else:
        x = np.asarray(design, dtype=np.float64)
        if x.ndim != 2:
            raise ModelError(f"design must be 2-D (samples x columns), got {x.ndim}-D")
        names = [f"x{j}" for j in range(x.shape[1])]
        samples = None
    if len(set(names)) != len(names):
        raise ModelError("design column names must be unique")
    n, p = x.shape
    if p == 0 or n == 0:
        raise ModelError("the design has no rows or no columns")
    if not np.isfinite(x).all():
        bad = [names[j] for j in range(p) if not np.isfinite(x[:, j]).all()]
        raise ModelError(
            f"design column(s) {', '.join(map(repr, bad))} contain missing or infinite "
            "values; drop those samples (complete cases) before the EWAS"
        )
    if isinstance(terms, (str, int, np.integer)):
        terms = [terms]
    if terms is None or len(terms) == 0:
        raise ModelError("name at least one design column in terms (e.g. the exposure)")
    idx = []
    for term in terms:
        if isinstance(term, (int, np.integer)) and not isinstance(term, bool):
            if not 0 <= term < p:
                raise ModelError(f"term index {term} outside the design's {p} columns")
            idx.append(int(term))
        elif str(term) in names:
            idx.append(names.index(str(term)))
        else:
            raise ModelError(f"term {term!r} is not a design column; columns: {', '.join(names)}")
    if len(set(idx)) != len(idx):
        raise ModelError("terms must not repeat")
    if n - p < 1:
        raise ModelError(f"the design has {n} samples for {p} columns: no residual df")
    kept = _kept_columns(x)
    if len(kept) < p:
        aliased = [names[j] for j in range(p) if j not in kept]
        raise ModelError(
            f"the design is rank deficient: column(s) {', '.join(map(repr, aliased))} are "
            "linear combinations of the columns before them; drop them"
        )
    return x, names, idx, samples


# --------------------------------------------------------------------------------------
# Outliers and scales
# --------------------------------------------------------------------------------------


def beta_to_m(beta) -> np.ndarray:
    """M-values from beta values: M = log2(beta / (1 - beta)), beta clipped to [1e-6, 1-1e-6].

    Parameters
    ----------
    beta : array-like of float
        Methylation proportions in [0, 1]; NaN marks a missing value and stays NaN.

    Returns
    -------
    numpy.ndarray of float64
        M-values, same shape.

    Notes
    -----
    M = log2(beta / (1 - beta)) (Du et al., BMC Bioinformatics 11:587, 2010), computed in
    float64. Clipping to [1e-6, 1 - 1e-6] keeps beta = 0 or 1 finite (|M| <= 19.93).

    Raises
    ------
    InputTableError
        If a non-missing value lies outside [0, 1] (the data are not beta values).
    """
    b = np.array(beta, dtype=np.float64, order="C")
    _convert_inplace(b, "beta", None, "")
    return b


def m_to_beta(m) -> np.ndarray:
    """Beta values from M-values: beta = 2^M / (1 + 2^M) = 1 / (1 + 2^-M)."""
    m = np.asarray(m, dtype=np.float64)
    return special.expit(m * math.log(2.0))


def _count_outside(values: np.ndarray) -> int:
    """How many of ``values`` lie outside [0, 1] (NaN is not counted)."""
    with np.errstate(invalid="ignore"):
        return int(np.count_nonzero((values < 0) | (values > 1)))


def _range_error(bad: int, where: str) -> InputTableError:
    return InputTableError(f"{bad} value(s){where} lie outside [0, 1], so they are not beta values; "
                           "if the matrix holds M-values pass scale='m'")


def _convert_row(values: np.ndarray, out: np.ndarray, beta_out: np.ndarray | None, scale: str,
                 tmp: np.ndarray) -> bool:
    """Float64 ``values`` converted into ``out`` (``values`` itself: in place, as
    :func:`_convert_inplace` does block by block; another array: ``values`` left unchanged,
    e.g. an Arrow buffer, so the EWAS reader copies a Parquet chunk's samples and converts
    them in one pass instead of two, #19). ``scale="beta"``: the betas copied to ``beta_out``
    if given, then clipped and log2(beta / (1 - beta)); ``scale="m"``: the values copied and
    their betas written to ``beta_out`` if given. Element-wise only, so the same bits
    whatever the block. ``tmp``: at least as long as ``values``. Returns False, and writes
    nothing, when a value lies outside [0, 1] (scale "beta")."""
    if values.dtype != np.float64:  # NumPy would clip and multiply in the narrower type
        raise TypeError(f"_convert_row needs float64 values, got {values.dtype}")
    t = tmp[: values.size]
    if scale == "beta":
        if values.size and (np.fmin.reduce(values) < 0 or np.fmax.reduce(values) > 1):
            return False
        if beta_out is not None:
            beta_out[...] = values
        np.clip(values, BETA_CLIP, 1.0 - BETA_CLIP, out=out)
        np.subtract(1.0, out, out=t)
        np.divide(out, t, out=out)
        np.log2(out, out=out)
    else:
        if out is not values:
            out[...] = values
        if beta_out is not None:
            np.multiply(values, math.log(2.0), out=t)
            special.expit(t, out=beta_out)
    return True


def _convert_inplace(values: np.ndarray, scale: str, beta_out: np.ndarray | None, where: str):
    """Turn a C-contiguous block into M-values in place, block by block (no large temporaries).

    ``scale="beta"``: check the range, copy the betas to ``beta_out`` if given, then clip and
    take log2(beta / (1 - beta)). ``scale="m"``: leave the values and write their betas to
    ``beta_out`` if given. Element-wise only, so the chunking never changes a value.
    """
    flat = values.reshape(-1)
    bflat = None if beta_out is None else beta_out.reshape(-1)
    tmp = np.empty(min(_BLOCK, flat.size))
    for start in range(0, flat.size, _BLOCK):
        blk = flat[start : start + _BLOCK]
        if not _convert_row(blk, blk, None if bflat is None else bflat[start : start + blk.size], scale, tmp):
            # the blocks before are already M-values (and were in range)
            raise _range_error(_count_outside(flat[start:]), where)


def _type7(sorted_rows: np.ndarray, counts: np.ndarray, prob: float) -> np.ndarray:
    """R quantile type 7 per row of row-sorted data with ``counts`` valid leading values."""
    pos = (counts - 1) * prob
    lo = np.floor(pos).astype(np.int64)
    hi = np.ceil(pos).astype(np.int64)
    rows = np.arange(sorted_rows.shape[0])
    return _blend7(sorted_rows[rows, lo], sorted_rows[rows, hi], pos - lo)


def _order_statistics(part: np.ndarray, ranks: list[int]) -> dict[int, np.ndarray]:
    """Each row's values of the given 0-based ``ranks`` (sorted, distinct), NaN-free rows
    of ``part`` (2-D, reordered in place): a partition at one rank at a time, each on the
    values above the previous rank, and a rank right after a partitioned one as the minimum
    of the values above it. NumPy partitions at one rank with a vectorised selection but at
    several ranks with its generic one: 450,000 x 494 quartiles 15.9 -> 4.5 ns per value (#19).
    The values are those of a full sort, but of a row holding both 0.0 and -0.0, which of
    the two comes out may differ from a sort's (they compare equal: the same outliers)."""
    found: dict[int, np.ndarray] = {}
    start = 0
    for k in ranks:
        if k == start and k - 1 in found:  # right after a partitioned rank: the minimum above it
            found[k] = part[:, start:].min(axis=1)
            continue
        above = part[:, start:]
        above.partition(k - start, axis=1)
        found[k] = part[:, k].copy()
        start = k + 1
    return found


def _blend7(x_lo: np.ndarray, x_hi: np.ndarray, h: np.ndarray) -> np.ndarray:
    """R's type 7 quantile from the order statistics around it (``h``: the fraction)."""
    # R: qs <- (1 - h) * x[lo] + h * x[hi] where index > lo and x[hi] != x[lo]
    out = x_lo.copy()
    mix = (h > 0) & (x_hi != x_lo)
    out[mix] = (1 - h[mix]) * x_lo[mix] + h[mix] * x_hi[mix]
    return out


def _iqr_bounds_block(values: np.ndarray, k: float) -> tuple[np.ndarray, np.ndarray]:
    """Q1 - k*IQR and Q3 + k*IQR per row of a C-contiguous block it may reorder in place."""
    m, n = values.shape
    finite = np.isfinite(values)
    counts = finite.sum(axis=1)
    q1 = np.full(m, np.nan)
    q3 = np.full(m, np.nan)
    complete = counts == n
    if complete.any() and n > 0:
        kth = sorted({int(np.floor((n - 1) * q)) for q in (0.25, 0.75)}
                     | {int(np.ceil((n - 1) * q)) for q in (0.25, 0.75)})  # fmt: skip
        found = _order_statistics(values if complete.all() else values[complete], kth)
        for q, out in ((0.25, q1), (0.75, q3)):
            pos = (n - 1) * q
            lo, hi = int(np.floor(pos)), int(np.ceil(pos))
            out[complete] = _blend7(found[lo], found[hi], np.full(len(found[lo]), pos - lo))
    partial = ~complete & (counts > 0)
    if partial.any():
        rows = np.where(finite[partial], values[partial], np.inf)
        rows.sort(axis=1)
        c = counts[partial]
        q1[partial] = _type7(rows, c, 0.25)
        q3[partial] = _type7(rows, c, 0.75)
    iqr = q3 - q1
    return q1 - k * iqr, q3 + k * iqr


def _iqr_bounds(values: np.ndarray, k: float) -> tuple[np.ndarray, np.ndarray]:
    """Per-row Q1 - k*IQR and Q3 + k*IQR over the finite values of each row (m x n).

    Rows are handled in blocks of at most 2^20 values or one row (copied, then partially sorted in
    place) on up to 2 threads: NumPy's partition releases the GIL. Each row's bounds depend
    only on that row. (Blocks of 2,048 rows were one 268 MB block, one thread, for a chunk of
    776 CpGs x 43,200 samples: 11.3 -> 6.4 ns per value, #19.)
    """
    m, n = values.shape
    lower = np.empty(m)
    upper = np.empty(m)
    step = max(1, min(2048, (1 << 20) // max(n, 1)))

    def run(r0: int) -> None:
        block = np.array(values[r0 : r0 + step], dtype=np.float64, order="C")
        lower[r0 : r0 + step], upper[r0 : r0 + step] = _iqr_bounds_block(block, k)

    starts = range(0, m, step)
    if m > step and _THREADS > 1:
        with ThreadPoolExecutor(max_workers=_THREADS) as pool:
            list(pool.map(run, starts))
    else:
        for r0 in starts:
            run(r0)
    return lower, upper


def iqr_outliers(values, k: float = 3.0) -> np.ndarray:
    """Per-CpG outlier mask: values below Q1 - k*IQR or above Q3 + k*IQR.

    Parameters
    ----------
    values : array-like, shape (n_cpgs, n_samples)
        Methylation values (PACE plans apply the rule to beta values). NaN = missing.
    k : float, default 3
        IQR multiplier (3 in the PACE analysis plans: Tukey's "far out" values).

    Returns
    -------
    numpy.ndarray of bool, shape (n_cpgs, n_samples)
        True where a value is an outlier of its CpG; missing values are never outliers.

    Notes
    -----
    Q1 and Q3 are R's default (type 7) quantiles of the CpG's non-missing values,
    Q = (1 - h) x_(lo) + h x_(hi) with h the fractional part of 1 + (n - 1) q
    (Hyndman & Fan, Am Stat 50:361-365, 1996), and IQR = Q3 - Q1, exactly as the PACE
    ``removeOutliers`` function (``matrixStats::rowQuantiles``/``rowIQRs``, then
    ``probes < Q1 - 3*IQR`` and ``probes > Q3 + 3*IQR`` set to NA). The rule is applied
    once (not iterated); values on a bound are kept.
    """
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2:
        raise ModelError("values must be a 2-D CpG x sample matrix")
    if not (np.isfinite(k) and k >= 0):
        raise ModelError(f"k must be a non-negative number, got {k!r}")
    lower, upper = _iqr_bounds(values, float(k))
    with np.errstate(invalid="ignore"):
        return (values < lower[:, None]) | (values > upper[:, None])


# --------------------------------------------------------------------------------------
# Stage a: least-squares fit of a chunk
# --------------------------------------------------------------------------------------


def _fit_columns(
    yt: np.ndarray,
    dec: _Decomposition,
    want: np.ndarray,
    cols: np.ndarray | None = None,
    scratch: _Scratch | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (len(want) x m) and RSS (m) for the CpG columns of yt (n x m).

    ``cols`` selects columns of yt (gathered tile by tile, so no chunk-sized copy is made);
    ``scratch``: the caller's work arrays (:class:`_Scratch`).

    Maths (per CpG y, with ybar its mean and y_c = y - ybar 1; X = QR; u = (I - P)1):
      effects     e   = Q' y_c                      (sums over samples below are sequential,
      coefficient b   = R^-1 e + ybar R^-1 Q'1       see _sample_sums, or fixed-shape BLAS
      RSS             = ||y_c||^2 - ||e||^2          products, see _cross_products, so the
                        + 2 ybar u'y_c + ybar^2 ||u||^2   result of a CpG never depends on
                                                     the other CpGs of the call)
    Centring first keeps RSS = ||y_c||^2 - ||e||^2 free of cancellation by the mean
    (relative error ~ eps / (1 - R^2) instead of eps * ybar^2 / sigma^2).
    """
    n = yt.shape[0]
    m = yt.shape[1] if cols is None else cols.size
    rank = dec.rank
    w = dec.weights
    nw = w.shape[1]
    coef = np.empty((len(want), m))
    rss = np.empty(m)
    width = _tile_width(n)
    tmp1 = np.empty(min(width, m))
    scratch = scratch or _Scratch()
    for start in range(0, m, width):
        t = min(width, m - start)
        y = scratch.array("tile", (n, t))  # the centring below overwrites it
        if cols is None:
            np.copyto(y, yt[:, start : start + t])
        else:
            np.take(yt, cols[start : start + t], axis=1, out=y, mode="clip")  # valid indices
        ybar = _column_sums(y) / n
        yc = np.subtract(y, ybar, out=y)
        eff = _cross_products(w, yc, scratch)  # (nw, t)
        ss = _squared_sums(yc)
        tmp1 = tmp1[:t]
        explained = np.zeros(t)
        for j in range(rank):
            np.multiply(eff[j], eff[j], out=tmp1)
            np.add(explained, tmp1, out=explained)
        res = ss - explained
        if nw > rank:  # the constant is not in span(X): add its residual part back
            res += 2.0 * ybar * eff[rank] + ybar * ybar * dec.u_norm2
        np.maximum(res, 0.0, out=res)
        rss[start : start + t] = res
        for i, j in enumerate(want):
            c = np.zeros(t)
            for col in range(j, rank):  # R^-1 is upper triangular
                np.multiply(dec.r_inv[j, col], eff[col], out=tmp1)
                np.add(c, tmp1, out=c)
            np.multiply(ybar, dec.const_coef[j], out=tmp1)
            np.add(c, tmp1, out=c)
            coef[i, start : start + t] = c
    return coef, rss


@dataclass(frozen=True)
class _Padded:
    """A reduced design's decomposition laid out on the full sample and column grid.

    Rows of missing samples and columns of aliased design columns are zero, so the
    sequential sums over samples and columns add exact zeros and give the same numbers as
    the compact decomposition, while CpGs with different patterns share one array layout.
    """

    n: int  # observed samples
    rank: int
    weights: np.ndarray  # (n_full, p + 1): Q in design-column positions, then u
    r_inv: np.ndarray  # (p, p) R^-1 in design-column positions
    const_coef: np.ndarray  # (p,)
    stdev_unscaled: np.ndarray  # (p,) NaN for aliased columns
    u_norm2: float


def _pad(dec: _Decomposition, observed: np.ndarray) -> _Padded:
    n_full = observed.size
    p = dec.position.size
    kept = np.flatnonzero(dec.position >= 0)
    rows = np.flatnonzero(observed)
    w = np.zeros((n_full, p + 1))
    w[np.ix_(rows, kept)] = dec.weights[:, : dec.rank]
    if dec.weights.shape[1] > dec.rank:
        w[rows, p] = dec.weights[:, dec.rank]
    r_inv = np.zeros((p, p))
    r_inv[np.ix_(kept, kept)] = dec.r_inv
    const = np.zeros(p)
    const[kept] = dec.const_coef
    su = np.full(p, np.nan)
    su[kept] = dec.stdev_unscaled
    return _Padded(dec.n, dec.rank, w, r_inv, const, su, dec.u_norm2)


def _decompose_batch(
    x: np.ndarray, observed: np.ndarray, full: _Decomposition
) -> dict[str, np.ndarray]:
    """Padded decompositions of many reduced designs at once (patterns x samples mask).

    The reduced design of a pattern is X with the rows of its missing samples set to 0:
    zero rows change neither X'X nor the column space restricted to the observed samples,
    so one batched Householder QR (``numpy.linalg.qr`` on the stack) gives every pattern's
    R and a Q whose missing rows are (set to) zero. Patterns that are rank deficient
    (R_jj <= 1e-7 ||X_j||) or have n_obs <= p are redone one by one with
    :func:`_decompose` (R's ``lm.fit`` aliasing). Every quantity of a pattern depends only
    on that pattern (loops over samples and columns are sequential), not on the batch.

    If the constant vector lies in the span of the full design (an intercept, or dummies
    summing to 1), X c = 1 gives X_obs c = 1_obs for every pattern: the constant's
    coefficients are the full design's c and u = (I - P)1_obs = 0, so neither is computed.

    ``x`` is the design (n, p), or one design per pattern (g, n, p).

    Returns arrays over patterns: ``weights`` (g, n, p + 1), ``r_inv`` (g, p, p),
    ``const`` (g, p), ``su`` (g, p; NaN for aliased columns), ``u2``, ``n_obs``, ``rank``.
    """
    g, n = observed.shape
    p = x.shape[-1]
    obs = observed.astype(np.float64)
    n_obs = observed.sum(axis=1)
    norms2 = np.zeros((g, p))
    if x.ndim == 2:
        xp = x[None, :, :] * obs[:, :, None]  # (g, n, p), exact zeros on missing rows
        xsq = x * x
        for k in range(n):
            norms2 += obs[:, k, None] * xsq[k]
    else:  # a design per pattern (demeaned within an absorbed factor's levels)
        xp = x * obs[:, :, None]
        for k in range(n):
            norms2 += xp[:, k, :] * xp[:, k, :]
    q, r = np.linalg.qr(xp)
    del xp
    diag = np.abs(np.diagonal(r, axis1=1, axis2=2))
    good = (n_obs > p) & np.all(diag > ALIAS_TOL * np.sqrt(norms2), axis=1)
    weights = np.zeros((g, n, p + 1))
    weights[:, :, :p] = q
    del q
    weights[:, :, :p] *= obs[:, :, None]
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        r_inv = np.zeros((g, p, p))
        for i in range(p - 1, -1, -1):
            row = np.zeros((g, p))
            row[:, i] = 1.0
            for col in range(i + 1, p):
                row -= r[:, i, col, None] * r_inv[:, col, :]
            r_inv[:, i, :] = row / r[:, i, i, None]
        su2 = np.zeros((g, p))
        for col in range(p):
            su2 += r_inv[:, :, col] * r_inv[:, :, col]
        if full.u_norm2 == 0.0 and x.ndim == 2:
            const = np.repeat(full.const_coef[None, :], g, axis=0)
            u2 = np.zeros(g)
        else:
            h = np.zeros((g, p))
            for k in range(n):
                h += weights[:, k, :p] * obs[:, k, None]
            u = obs.copy()
            for j in range(p):
                u -= weights[:, :, j] * h[:, j, None]
            u *= obs
            u2 = np.zeros(g)
            for k in range(n):
                u2 += u[:, k] * u[:, k]
            in_span = u2 <= 1e-16 * n_obs
            u[in_span] = 0.0
            u2[in_span] = 0.0
            weights[:, :, p] = u
            const = np.zeros((g, p))
            for col in range(p):
                const += r_inv[:, :, col] * h[:, col, None]
    out = {
        "weights": weights,
        "r_inv": r_inv,
        "const": const,
        "su": np.sqrt(su2),
        "u2": u2,
        "n_obs": n_obs.astype(np.int64),
        "rank": np.full(g, p, dtype=np.int64),
    }
    for i in np.flatnonzero(~good):
        single = _pad(_decompose((x if x.ndim == 2 else x[i])[observed[i]]), observed[i])
        out["weights"][i] = single.weights
        out["r_inv"][i] = single.r_inv
        out["const"][i] = single.const_coef
        out["su"][i] = single.stdev_unscaled
        out["u2"][i] = single.u_norm2
        out["rank"][i] = single.rank
    return out


def _fit_varying(
    y0: np.ndarray,
    observed: np.ndarray,
    n_obs: np.ndarray,
    weights: np.ndarray,
    r_inv_rows: np.ndarray,
    const: np.ndarray,
    u_norm2: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """:func:`_fit_columns` with a design per CpG (CpGs with missing values).

    y0 (n x t) has its missing values set to 0; weights (n, p + 1, t), r_inv_rows
    (k, p, t) and const (k, t) are the padded per-CpG decompositions (see :class:`_Padded`).
    Same formulas as :func:`_fit_columns`, each CpG on its observed samples; every number
    of a CpG depends only on its own values and its pattern's decomposition.
    """
    n, t = y0.shape
    nw = weights.shape[1]
    p = nw - 1
    ybar = _column_sums(y0) / n_obs
    yc = np.where(observed, y0 - ybar, 0.0)
    eff = _cross_sums(weights, yc)  # (nw, t)
    ss = _squared_sums(yc)
    tmp1 = np.empty(t)
    explained = np.zeros(t)
    for j in range(p):
        np.multiply(eff[j], eff[j], out=tmp1)
        np.add(explained, tmp1, out=explained)
    rss = ss - explained
    rss += 2.0 * ybar * eff[p] + ybar * ybar * u_norm2
    np.maximum(rss, 0.0, out=rss)
    coef = np.empty((r_inv_rows.shape[0], t))
    for i in range(r_inv_rows.shape[0]):
        c = np.zeros(t)
        for col in range(p):
            np.multiply(r_inv_rows[i, col], eff[col], out=tmp1)
            np.add(c, tmp1, out=c)
        np.multiply(ybar, const[i], out=tmp1)
        np.add(c, tmp1, out=c)
        coef[i] = c
    return coef, rss


def _downdate_limit(n: int, p: int) -> int:
    """Most missing samples a CpG may have to be fitted by downdating (an s x s solve,
    ~s^3 / 3 flops) rather than by a QR of its own n x p reduced design (~2 n p^2 flops),
    and never more than a quarter of the samples."""
    return min(n // 4, max(16, int(2 * (n * p * p) ** (1 / 3))))


# A downdated system K (eigenvalues in (0, 1]) is used when every Cholesky pivot exceeds
# this: its solve then loses at most ~4 digits of the 16; nearer to singular, the CpG takes
# the exact path, which drops aliased columns as R's lm.fit does.
_DOWNDATE_PIVOT = 1e-4


def _well_conditioned(kmat: np.ndarray) -> np.ndarray:
    """Which matrices of a stack (b, s, s) have a Cholesky factor with all pivots^2 above
    _DOWNDATE_PIVOT (each matrix decided on its own)."""
    try:
        chol = np.linalg.cholesky(kmat)
    except np.linalg.LinAlgError:  # one of them is not positive definite: decide one by one
        if len(kmat) == 1:
            return np.array([False])
        return np.concatenate([_well_conditioned(k[None]) for k in kmat])
    pivots = np.diagonal(chol, axis1=1, axis2=2)
    return np.all(pivots * pivots > _DOWNDATE_PIVOT, axis=1)


class _Engine:
    """Holds the design and its decomposition; fits chunks."""

    def __init__(self, x: np.ndarray, names: list[str], term_idx: list[int], groups=None):
        self.terms = [names[j] for j in term_idx]
        self.groups = None if groups is None else AbsorbedFactor(groups, x.shape[0])
        if self.groups is not None:
            x, names, term_idx = self._absorb(x, names, term_idx)
        self.x = x
        self.names = names
        self.term_idx = np.asarray(term_idx, dtype=np.int64)
        self.full = _decompose(x if self.groups is None else self.groups.demean(x))
        self._scratch = _Scratch()
        n, p = x.shape
        self._tile_missing = max(1, _TILE_MISSING_VALUES // (n * (p + 1)))
        # CpGs missing a few samples are fitted by updating the full design's decomposition
        # (_store_downdated): possible when that design has full rank and the constant is
        # absorbed or in its span; worth it while the s x s system of a CpG missing s
        # samples costs less than a QR of its n x p reduced design.
        self._downdate = self.full.rank == p and (self.groups is not None or self.full.u_norm2 == 0.0)
        self._max_missing = _downdate_limit(n, p)
        if self._downdate:
            self._q = np.ascontiguousarray(self.full.weights[:, :p])
            if self.groups is not None:
                self._level_size = np.bincount(self.groups.codes, minlength=self.groups.n_levels)

    def _absorb(self, x: np.ndarray, names: list[str], term_idx: list[int]):
        """The design without the columns the factor's levels absorb (the intercept, a
        constant); the other columns must not be constant within every level."""
        demeaned = self.groups.demean(x)
        norms = np.sqrt(np.sum(x * x, axis=0))
        left = np.sqrt(np.sum(demeaned * demeaned, axis=0))
        constant = np.flatnonzero(np.ptp(x, axis=0) == 0)
        keep = [j for j in range(x.shape[1]) if j not in constant]
        absorbed = [names[j] for j in keep if not left[j] > ALIAS_TOL * norms[j]]
        if absorbed:
            raise ModelError(f"design column(s) {', '.join(map(repr, absorbed))} are constant within every level "
                             "of the absorbed factor (e.g. the plate): they are not estimable; drop them")
        constant_terms = [names[j] for j in term_idx if j in constant]
        if constant_terms:
            raise ModelError(f"term(s) {', '.join(map(repr, constant_terms))} are constant: no effect to estimate")
        position = {j: i for i, j in enumerate(keep)}
        return x[:, keep], [names[j] for j in keep], [position[j] for j in term_idx]

    def fit(
        self,
        yt: np.ndarray,
        beta_t: np.ndarray | None = None,
        remove_outliers: bool = False,
        outlier_k: float = 3.0,
        outliers_on_beta: bool = True,
        inplace: bool = False,
    ) -> dict[str, np.ndarray]:
        """Fit the CpG columns of yt (n x m M-values; beta_t optional, same shape).

        Outliers (if removed) are detected on beta_t when given and ``outliers_on_beta``,
        else on yt, and set to NaN in both; in copies unless ``inplace``. With ``inplace``
        and an absorbed factor, a chunk whose CpGs are all complete is also demeaned in
        place: yt and beta_t are the caller's to overwrite.
        """
        yt = np.ascontiguousarray(yt, dtype=np.float64)
        if beta_t is not None:
            beta_t = np.ascontiguousarray(beta_t, dtype=np.float64)
        n, m = yt.shape
        kt = len(self.term_idx)
        n_outliers = np.zeros(m, dtype=np.int64)
        if remove_outliers:
            source = beta_t if (beta_t is not None and outliers_on_beta) else yt
            lower, upper = _iqr_bounds(source.T, outlier_k)
            with np.errstate(invalid="ignore"):
                out = (source < lower) | (source > upper)
            n_outliers = out.sum(axis=0).astype(np.int64)
            if n_outliers.any():
                yt = yt if inplace else yt.copy()
                yt[out] = np.nan
                if beta_t is not None:
                    beta_t = beta_t if inplace else beta_t.copy()
                    beta_t[out] = np.nan
        # A CpG has a missing (non-finite) value exactly when its column sum is not finite
        # (barring overflow, which only sends a CpG down the exact missing-value path).
        with np.errstate(invalid="ignore", over="ignore"):
            colsum = np.add.reduce(yt, axis=0)
            if beta_t is not None:
                colsum += np.add.reduce(beta_t, axis=0)
        incomplete = ~np.isfinite(colsum)

        res = {
            "coef": np.full((m, kt), np.nan),
            "stdev_unscaled": np.full((m, kt), np.nan),
            "sigma2": np.full(m, np.nan),
            "df_residual": np.zeros(m, dtype=np.int64),
            "n": np.zeros(m, dtype=np.int64),
            "n_outliers": n_outliers,
            "status": np.zeros((m, kt), dtype=np.int8),
        }
        if beta_t is not None:
            res["coef_beta"] = np.full((m, kt), np.nan)
            res["se_beta"] = np.full((m, kt), np.nan)

        complete_cols = np.flatnonzero(~incomplete)
        if complete_cols.size:
            # in place: the caller's buffers (``inplace``), not read again when every CpG is complete
            self._store_complete(res, complete_cols, yt, beta_t, complete_cols.size == m, inplace)

        inc_cols = np.flatnonzero(incomplete)
        if self._downdate and inc_cols.size:
            inc_cols = self._fit_downdated(res, inc_cols, yt, beta_t)
        for start in range(0, inc_cols.size, self._tile_missing):
            cols = inc_cols[start : start + self._tile_missing]
            missing = ~np.isfinite(yt[:, cols])
            if beta_t is not None:
                missing |= ~np.isfinite(beta_t[:, cols])
            self._store_missing(res, cols, yt, beta_t, missing)
        return res

    def _fit_downdated(self, res, cols, yt, beta_t) -> np.ndarray:
        """Fit the CpGs of ``cols`` that miss at most ``_max_missing`` samples by updating the
        full design's decomposition (see :meth:`_store_downdated`); returns the others
        (more missing samples, a whole level of the absorbed factor missing, or a reduced
        design too close to rank deficiency), which take the exact per-pattern path."""
        n, p = self.x.shape
        width = _tile_width(n)
        rest = []
        for start in range(0, cols.size, width):
            tile = cols[start : start + width]
            # copies of the tile's columns (in re-used arrays), which the fit overwrites
            y = np.take(yt, tile, axis=1, out=self._scratch.array("y", (n, tile.size)), mode="clip")
            b = None if beta_t is None else np.take(
                beta_t, tile, axis=1, out=self._scratch.array("beta", (n, tile.size)), mode="clip")
            missing = ~np.isfinite(y)
            if b is not None:
                missing |= ~np.isfinite(b)
            s = missing.sum(axis=0)
            eligible = s <= self._max_missing
            if self.groups is not None:  # every level keeps an observed sample
                eligible &= (self.groups.counts(~missing) > 0).all(axis=0)
                eligible &= n - s - p - self.groups.n_levels >= 1
            else:
                eligible &= n - s - p >= 1
            done = np.zeros(tile.size, dtype=bool)
            if eligible.all():
                done[:] = self._store_downdated(res, tile, y, b, missing)
            elif eligible.any():
                done[eligible] = self._store_downdated(
                    res, tile[eligible], y[:, eligible], None if b is None else b[:, eligible], missing[:, eligible])
            rest.append(tile[~done])
        return np.concatenate(rest) if rest else cols[:0]

    def _store_downdated(self, res, cols, y, beta, missing) -> np.ndarray:
        """CpGs missing a few samples each, from the full design's QR (no QR of their own).

        ``y``, ``beta`` (n x len(cols)) hold the CpGs' values, ``missing`` their mask; both
        arrays are the caller's copies, overwritten here.

        A CpG missing the samples S (s of them) is fitted on its observed samples exactly
        as the full-sample model with one extra indicator column per missing sample (each
        indicator absorbs its sample, whose value is set to 0). With the full design
        X = QR (X demeaned within the absorbed factor's levels when there is one, and the
        CpG's values z demeaned likewise), a = Q'z, Q_S the rows of Q of the missing
        samples, C = E_S'E_S of the (demeaned) indicators (I, or I minus the same-level
        pattern / level size when a factor is absorbed), K = C - Q_S Q_S' (s x s) and
        r = z_S - Q_S a, block elimination gives
            phi = K^-1 r,   theta = a - Q_S' phi,   b = R^-1 theta (+ ybar times the
            constant's coefficients),   RSS = ||z||^2 - ||a||^2 - r' phi,
            ((X_obs'X_obs)^-1)_jj = ||rho_j||^2 + v_j' K^-1 v_j  (rho_j = row j of R^-1,
            v_j = Q_S rho_j),
        i.e. the reduced design's least-squares fit (Schur complement / Woodbury), at a
        cost of O(s^3 + s p) per CpG instead of a QR of its n x p reduced design. A K whose
        Cholesky pivots fall below 1e-4 (a missing sample carrying a whole direction of
        the design: nearly aliased) is left to the exact path. Each CpG's numbers are
        computed from its own values only (sums in a fixed order, LAPACK per matrix).
        Returns which CpGs were fitted.
        """
        n, p = self.x.shape
        q = self._q
        full = self.full
        want = full.position[self.term_idx]
        rho = full.r_inv[want]  # (k, p)
        su_full2 = full.stdev_unscaled[want] ** 2
        kt = len(want)
        t = cols.size
        observed = ~missing
        n_obs = observed.sum(axis=0)
        s = n - n_obs

        def project(values):  # in place: the missing values set to 0, then centred
            np.copyto(values, 0.0, where=missing)
            if self.groups is not None:
                z, ybar = self.groups.demean(values, inplace=True), None
            else:
                ybar = _column_sums(values) / n_obs
                z = np.subtract(values, ybar, out=values)
                np.copyto(z, 0.0, where=missing)
            return z, _cross_products(q, z, self._scratch), _squared_sums(z), ybar

        scales = [project(y)]
        if beta is not None:
            scales.append(project(beta))
        fitted = np.zeros(t, dtype=bool)
        out = [(np.full((kt, t), np.nan), np.full(t, np.nan)) for _ in scales]
        su = np.full((t, kt), np.nan)
        for size in np.unique(s):
            members = np.flatnonzero(s == size)
            b = members.size
            rows = np.nonzero(missing[:, members].T)[1].reshape(b, size)  # missing samples, in order
            qs = q[rows]  # (b, s, p)
            if self.groups is not None:
                codes = self.groups.codes[rows]
                kmat = np.eye(size) - (codes[:, :, None] == codes[:, None, :]) / self._level_size[codes][:, :, None]
            else:
                kmat = np.repeat(np.eye(size)[None], b, axis=0)
            for j in range(p):
                kmat -= qs[:, :, j, None] * qs[:, None, :, j]
            rhs = np.empty((b, size, len(scales) + kt))
            for i, (z, a, _, _) in enumerate(scales):
                r = z[rows, members[:, None]]
                for j in range(p):
                    r -= qs[:, :, j] * a[j, members][:, None]
                rhs[:, :, i] = r
            for i in range(kt):
                v = np.zeros((b, size))
                for j in range(p):
                    v += qs[:, :, j] * rho[i, j]
                rhs[:, :, len(scales) + i] = v
            ok = _well_conditioned(kmat)
            if not ok.any():
                continue
            members, kmat, rhs, qs = members[ok], kmat[ok], rhs[ok], qs[ok]
            sol = np.linalg.solve(kmat, rhs)  # LAPACK per matrix: each CpG on its own
            fitted[members] = True
            for i, (z, a, ss, ybar) in enumerate(scales):
                r, phi = rhs[:, :, i], sol[:, :, i]
                explained = np.zeros(members.size)
                for j in range(p):
                    explained += a[j, members] * a[j, members]
                extra = np.add.reduce(r * phi, axis=1)  # per row: depends on that CpG only
                rss = np.maximum(ss[members] - explained - extra, 0.0)
                theta = a[:, members].T - np.add.reduce(qs * phi[:, :, None], axis=1)  # (b, p)
                coef = np.zeros((kt, members.size))
                for k in range(kt):
                    for j in range(p):
                        coef[k] += rho[k, j] * theta[:, j]
                    if ybar is not None:
                        coef[k] += ybar[members] * full.const_coef[want[k]]
                out[i][0][:, members] = coef
                out[i][1][members] = rss
            for k in range(kt):
                v, w = rhs[:, :, len(scales) + k], sol[:, :, len(scales) + k]
                su[members, k] = np.sqrt(su_full2[k] + np.add.reduce(v * w, axis=1))
        cols, n_obs = cols[fitted], n_obs[fitted]
        df = n_obs - p - (self.groups.n_levels if self.groups is not None else 0)
        res["n"][cols] = n_obs
        res["df_residual"][cols] = df
        res["sigma2"][cols] = out[0][1][fitted] / df
        res["coef"][cols] = out[0][0][:, fitted].T
        res["stdev_unscaled"][cols] = su[fitted]
        if beta is not None:
            res["coef_beta"][cols] = out[1][0][:, fitted].T
            res["se_beta"][cols] = np.sqrt(out[1][1][fitted] / df)[:, None] * su[fitted]
        return fitted

    def _store_complete(self, res, cols, yt, beta_t, all_columns: bool, overwrite: bool = False) -> None:
        """``overwrite``: with ``all_columns``, ``yt`` and ``beta_t`` may be demeaned in place."""
        dec = self.full
        df = dec.n - dec.rank
        want = dec.position[self.term_idx]  # all estimable: the design has full rank
        sel = None if all_columns else cols
        if self.groups is not None:  # FWL: each CpG demeaned within the factor's levels
            df -= self.groups.n_levels

            def own(values):  # the CpGs' values, in an array this fit may overwrite
                return values if all_columns and overwrite else np.take(values, cols, axis=1)

            yt = self.groups.demean(own(yt), inplace=True)
            beta_t = None if beta_t is None else self.groups.demean(own(beta_t), inplace=True)
            sel = None
            if df < 1:
                res["n"][cols] = dec.n
                res["status"][cols] = _STATUS_FEW
                return
        res["n"][cols] = dec.n
        res["df_residual"][cols] = df
        pick = _ALL
        if sel is not None and 2 * sel.size >= yt.shape[1]:
            # most CpGs complete: fit every column in place rather than gather the complete
            # ones tile by tile (a strided copy, ~8% of a shard with PACE outliers, #19); a
            # column's numbers depend on that column alone, so the incomplete ones' (NaN,
            # fitted again below) leave the others' bits alone
            sel, pick = None, cols
        def quiet():  # the incomplete columns' NaN and infinities, when every column is fitted
            return np.errstate(invalid="ignore", over="ignore") if pick is not _ALL else nullcontext()

        with quiet():
            coef, rss = _fit_columns(yt, dec, want, sel, self._scratch)
        coef, rss = coef[:, pick], rss[pick]
        res["sigma2"][cols] = rss / df
        su = dec.stdev_unscaled[want]
        res["coef"][cols] = coef.T
        res["stdev_unscaled"][cols] = su
        if beta_t is not None:
            with quiet():
                coef_b, rss_b = _fit_columns(beta_t, dec, want, sel, self._scratch)
            coef_b, rss_b = coef_b[:, pick], rss_b[pick]
            res["coef_beta"][cols] = coef_b.T
            res["se_beta"][cols] = np.sqrt(rss_b / df)[:, None] * su[None, :]

    def _store_missing(self, res, cols, yt, beta_t, missing) -> None:
        """CpGs with missing values: each with its reduced design, vectorised across CpGs."""
        packed = np.packbits(missing.T, axis=1)
        _, first, inverse = np.unique(packed, axis=0, return_index=True, return_inverse=True)
        inverse = inverse.ravel()
        # One decomposition per pattern of the tile, all patterns in one batch.
        patterns = ~missing[:, first].T
        if self.groups is None:
            dec = _decompose_batch(self.x, patterns, self.full)
            n_obs = dec["n_obs"][inverse]
            df = n_obs - dec["rank"][inverse]
        else:  # each pattern's design demeaned within the levels over its observed samples
            per_level = self.groups.counts(patterns.T)  # (levels, patterns)
            designs = self.groups.demean(self.x[:, None, :], patterns.T[:, :, None], per_level[:, :, None])
            designs = np.ascontiguousarray(designs.transpose(1, 0, 2))  # (patterns, n, p)
            dec = _decompose_batch(designs, patterns, self.full)
            n_obs = dec["n_obs"][inverse]
            df = n_obs - dec["rank"][inverse] - (per_level > 0).sum(axis=0)[inverse]
        res["n"][cols] = n_obs
        few = df < 1
        res["status"][cols[few]] = _STATUS_FEW
        fit = ~few
        if not fit.any():
            return
        cols, inverse, df, n_obs = cols[fit], inverse[fit], df[fit], n_obs[fit]
        observed = ~missing[:, fit]
        # Per-CpG copies laid out for the sample loop: (n, p + 1, t), (k, p, t), (k, t).
        weights = dec["weights"].transpose(1, 2, 0)[:, :, inverse]
        r_inv_rows = dec["r_inv"][:, self.term_idx, :].transpose(1, 2, 0)[:, :, inverse]
        const = dec["const"][:, self.term_idx].T[:, inverse]
        u_norm2 = dec["u2"][inverse]
        su = dec["su"][:, self.term_idx][inverse]  # (t, k)
        estimable = np.isfinite(su)

        res["df_residual"][cols] = df
        if self.groups is not None:  # the levels' counts are those of the CpGs' patterns
            per_cpg = self.groups.counts(observed)
            y0 = self.groups.demean(yt[:, cols], observed, per_cpg)
        else:
            y0 = np.where(observed, yt[:, cols], 0.0)
        coef, rss = _fit_varying(y0, observed, n_obs, weights, r_inv_rows, const, u_norm2)
        res["sigma2"][cols] = rss / df
        coef = np.where(estimable, coef.T, np.nan)
        res["coef"][cols] = coef
        res["stdev_unscaled"][cols] = su
        status = res["status"][cols]
        status[~estimable] = _STATUS_NOT_ESTIMABLE
        res["status"][cols] = status
        if beta_t is not None:
            b0 = (self.groups.demean(beta_t[:, cols], observed, per_cpg) if self.groups is not None
                  else np.where(observed, beta_t[:, cols], 0.0))
            coef_b, rss_b = _fit_varying(b0, observed, n_obs, weights, r_inv_rows, const, u_norm2)
            res["coef_beta"][cols] = np.where(estimable, coef_b.T, np.nan)
            res["se_beta"][cols] = np.sqrt(rss_b / df)[:, None] * su


def _ordinary(res: dict[str, np.ndarray]) -> None:
    """Ordinary (unmoderated) SE, t and p from a fit, in place."""
    with np.errstate(invalid="ignore", divide="ignore"):
        se = res["stdev_unscaled"] * np.sqrt(res["sigma2"])[:, None]
        t = res["coef"] / se
        df = np.where(res["df_residual"] > 0, res["df_residual"], np.nan).astype(float)
        p = 2.0 * special.stdtr(df[:, None], -np.abs(t))
    res["se"], res["t"], res["p"] = se, t, p


def _as_yt(values, n_design: int) -> np.ndarray:
    """A CpG x sample matrix as a sample-major (n x m) C-contiguous float64 array."""
    y = np.asarray(values, dtype=np.float64)
    if y.ndim == 1:
        y = y[None, :]
    if y.ndim != 2:
        raise ModelError(f"the methylation block must be 2-D (CpGs x samples), got {y.ndim}-D")
    if y.shape[1] != n_design:
        raise ModelError(
            f"the methylation block has {y.shape[1]} sample columns but the design has "
            f"{n_design} rows"
        )
    return np.ascontiguousarray(y.T)


def _block_from_frame(frame: pd.DataFrame, samples: list[str] | None) -> tuple[np.ndarray, list]:
    if samples is None:
        return frame.to_numpy(dtype=np.float64), list(frame.index)
    cols = [str(c) for c in frame.columns]
    lookup = {c: i for i, c in enumerate(cols)}
    absent = [s for s in samples if s not in lookup]
    if absent:
        raise ModelError(
            f"{len(absent)} of the design's {len(samples)} samples are not columns of the "
            "methylation table; subset the design to the measured samples"
        )
    values = frame.to_numpy(dtype=np.float64)[:, [lookup[s] for s in samples]]
    return values, list(frame.index)


def _fit_table(res: dict[str, np.ndarray], cpgs, terms: list[str]) -> pd.DataFrame:
    """The long (CpG x term, CpG-major) table of a fit dictionary."""
    m = res["sigma2"].shape[0]
    kt = len(terms)
    per_cpg = lambda a: np.repeat(np.asarray(a), kt)  # noqa: E731
    cols = {
        "cpg": per_cpg(cpgs),
        "term": pd.Categorical(np.tile(np.asarray(terms, dtype=object), m), categories=terms),
        "n": per_cpg(res["n"]),
        "n_outliers": per_cpg(res["n_outliers"]),
        "df_residual": per_cpg(res["df_residual"]),
        "sigma2": per_cpg(res["sigma2"]),
    }
    for name in ("coef", "stdev_unscaled", "se", "t", "p"):
        cols[name] = res[name].ravel()
    if "coef_beta" in res:
        for name in BETA_COLUMNS:
            cols[name] = res[name].ravel()
    for name in MODERATED_COLUMNS + ADJUST_COLUMNS:
        if name in res:
            cols[name] = res[name].ravel()
    cols["status"] = pd.Categorical.from_codes(res["status"].ravel(), categories=STATUSES)
    return pd.DataFrame(cols)


def _absorb_labels(absorb, design):
    """The absorbed factor's labels in design row order (a Series is aligned on the
    design's index when the design is a DataFrame)."""
    if absorb is None:
        return None
    if isinstance(absorb, pd.Series) and isinstance(design, pd.DataFrame):
        if not absorb.index.equals(design.index):
            absorb = absorb.reindex(design.index)
    return np.asarray(absorb, dtype=object)


def ewas_fit(
    values,
    design,
    terms,
    *,
    cpgs: Sequence | None = None,
    beta=None,
    remove_outliers: bool = False,
    outlier_k: float = 3.0,
    absorb=None,
    overwrite: bool = False,
) -> pd.DataFrame:
    """Least-squares fit of every CpG of a block (stage a of the EWAS engine).

    Parameters
    ----------
    values : array-like or pandas.DataFrame, shape (n_cpgs, n_samples)
        M-values of a chunk of CpGs. NaN (or +-inf) marks a missing value, e.g. a
        detection-p failure. A DataFrame is indexed by CpG ID with sample columns; they are
        reordered to the design's index. An array's columns must already be in design
        order.
    design : pandas.DataFrame or array-like, shape (n_samples, p)
        Numeric design: intercept, exposure(s) and dummy-coded covariates, complete (no
        missing values) and of full column rank. A DataFrame's index holds the sample IDs
        and its column names name the coefficients.
    terms : str, int or sequence of them
        The coefficients to report (design column names, or indices for an array design).
    cpgs : sequence, optional
        CpG IDs of the rows (default: the DataFrame index, else 0..n_cpgs-1).
    beta : array-like, optional, same shape as ``values``
        Beta values of the same CpGs; if given the same model is also fitted on the beta
        scale (``coef_beta``, ``se_beta``: the effect as a methylation proportion, which
        PACE reports) with the same missing values, and outliers are detected on them.
    remove_outliers : bool, default False
        Set values beyond Q1 - k*IQR / Q3 + k*IQR of their CpG to missing before fitting
        (see :func:`iqr_outliers`; PACE plans use k = 3 on beta values).
    outlier_k : float, default 3
        The IQR multiplier of the outlier rule.
    absorb : array-like, optional, one label per design row
        A factor with many levels (the array's plate or batch) absorbed by demeaning
        within its levels instead of dummy columns in ``design`` (Frisch–Waugh–Lovell):
        the same coefficients, SEs and residual variances as the design with one dummy
        per level, at a cost that does not grow with the number of levels. ``design``
        then holds the other columns; its intercept (or any constant column) is absorbed
        too, and df = n - rank - (levels with an observed sample).
    overwrite : bool, default False
        ``values`` and ``beta`` may be overwritten (outliers set to NaN, values demeaned):
        buffers the caller re-fills, as an EWAS shard's chunks. Saves copies of the chunk
        when they are float64 sample-major arrays passed transposed (``yt.T``, as a shard
        holds them; a CpG-major array is copied into that layout anyway); the numbers are
        the same.

    Returns
    -------
    pandas.DataFrame
        One row per CpG and term (CpG-major, terms in the order given), columns
        ``cpg, term, n, n_outliers, df_residual, sigma2, coef, stdev_unscaled, se, t, p,
        [coef_beta, se_beta,] status``. ``n`` is the number of samples used,
        ``stdev_unscaled`` = sqrt(((X'X)^-1)_jj) of the CpG's design, ``se`` =
        stdev_unscaled * sigma, ``t`` = coef / se and ``p`` its two-sided p-value on
        ``df_residual`` = n - rank df (ordinary OLS, unmoderated). ``status`` is ``ok``,
        ``too_few_samples`` (n - rank < 1: every number NaN) or ``not_estimable`` (the term
        is aliased in the CpG's reduced design, e.g. a dummy whose level has no observed
        sample: its coef/SE NaN, as R's ``lm.fit`` gives NA).

    Notes
    -----
    *Complete CpGs.* With X = QR (Householder QR of the design, once), for a CpG y:
    coefficients b = R^-1 Q'y, residual variance s^2 = RSS / (n - p),
    RSS = ||y||^2 - ||Q'y||^2 (computed after centring y, see the module notes),
    SE_j = s sqrt(((X'X)^-1)_jj) with (X'X)^-1 = R^-1 R^-T. For a chunk Y (CpGs x samples)
    this is B = Y Q R^-T, evaluated for all CpGs at once (Smyth 2004, section 2; limma's
    ``lmFit`` via ``lm.series``).

    *Missing values.* limma fits a CpG with missing values by ``lm.fit`` on its observed
    samples; so does this engine, in one of two exact ways. A CpG missing few samples
    (s of them: PACE outliers, detection-p failures; up to ~2 (n p^2)^(1/3) and a quarter
    of the samples) is fitted from the full design's QR by a Schur-complement update: one
    s x s solve, no decomposition of its own (see ``_Engine._store_downdated``); with an
    absorbed factor every level must keep an observed sample. The other CpGs are grouped
    by identical missingness pattern; each pattern's reduced design X_obs = QR is
    decomposed once (all patterns of a tile in one batched QR), and the CpGs are fitted
    with their pattern's decomposition, vectorised across CpGs. The two agree to rounding
    (~1e-13 relative; tested). If X_obs is rank deficient (a covariate constant on the
    observed samples; the update detects it as a near-singular s x s system and hands the
    CpG to the QR path) its aliased columns are dropped as R's ``lm.fit`` does (tolerance
    1e-7), their coefficients are NaN (``not_estimable``) and df = n_obs - rank. CpGs with
    n_obs - rank < 1 get NaN throughout and status ``too_few_samples``; the driver counts
    them (limma would keep such a CpG with df = 0 and moderate it with the prior variance
    alone; this engine reports it as not tested). Cost per CpG grows linearly with the
    samples (sums over samples run over blocks of samples, never one Python step per
    sample).

    Determinism: each CpG's numbers depend only on its own values and the design, so
    fitting any partition of the CpGs gives bitwise identical rows.
    """
    x, names, term_idx, samples = design_arrays(design, terms)
    if not (np.isfinite(outlier_k) and outlier_k >= 0):
        raise ModelError(f"outlier_k must be a non-negative number, got {outlier_k!r}")
    if isinstance(values, pd.DataFrame):
        block, index = _block_from_frame(values, samples)
        cpgs = index if cpgs is None else cpgs
        if isinstance(beta, pd.DataFrame):
            beta, _ = _block_from_frame(beta, samples)
    else:
        block = values
    yt = _as_yt(block, x.shape[0])
    beta_t = None
    if beta is not None:
        beta_t = _as_yt(beta, x.shape[0])
        if beta_t.shape != yt.shape:
            raise ModelError("beta must have the same shape as values")
    m = yt.shape[1]
    cpgs = np.arange(m) if cpgs is None else np.asarray(list(cpgs), dtype=object)
    if len(cpgs) != m:
        raise ModelError(f"{len(cpgs)} CpG IDs for {m} rows")
    engine = _Engine(x, names, term_idx, _absorb_labels(absorb, design))
    res = engine.fit(yt, beta_t, remove_outliers=remove_outliers, outlier_k=outlier_k, inplace=overwrite)
    _ordinary(res)
    return _fit_table(res, cpgs, engine.terms)


# --------------------------------------------------------------------------------------
# Stage b: limma's prior (squeezeVar / fitFDist)
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EbayesPrior:
    """Hyperparameters of limma's empirical Bayes moderation.

    Attributes
    ----------
    df_prior : float
        Prior degrees of freedom d0 (``fit$df.prior``); ``inf`` when the residual
        variances vary no more than sampling error explains.
    s2_prior : float
        Prior variance s0^2 (``fit$s2.prior``).
    df_pooled : float
        Sum of all CpGs' residual df; caps the total df as limma's ``eBayes`` does.
    n_cpgs : int
        Number of CpGs whose variance entered the estimate.
    method : str
        ``trigamma`` (limma's ``fitFDist``) or ``unequal_df`` (``fitFDistUnequalDF1``).
    status : str
        ``ok``; ``zero variances offset``; ``most variances zero`` (limma warns:
        "eBayes unreliable"); ``single CpG`` (no moderation, d0 = 0) or
        ``not estimable`` (no usable variance: NaN).
    """

    df_prior: float
    s2_prior: float
    df_pooled: float
    n_cpgs: int
    status: str = "ok"
    method: str = "trigamma"

    def to_dict(self) -> dict:
        """Plain dict (JSON-ready; ``inf`` as the float infinity)."""
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping) -> EbayesPrior:
        """Inverse of :meth:`to_dict`."""
        return cls(
            df_prior=float(data["df_prior"]),
            s2_prior=float(data["s2_prior"]),
            df_pooled=float(data["df_pooled"]),
            n_cpgs=int(data["n_cpgs"]),
            status=str(data.get("status", "ok")),
            method=str(data.get("method", "trigamma")),
        )


def trigamma_inverse(x) -> np.ndarray:
    """Solve trigamma(y) = x for y > 0, as limma's ``trigammaInverse``.

    Parameters
    ----------
    x : array-like of float

    Returns
    -------
    numpy.ndarray
        y with trigamma(y) = x; NaN for x < 0 or NaN.

    Notes
    -----
    Newton's method on 1/trigamma(y), which is convex, nearly linear and > y - 1/2, so
    from y0 = 1/2 + 1/x the iteration y <- y + trigamma(y) (1 - trigamma(y)/x) /
    psigamma(y, 2) converges monotonically; stop when max(-dif/y) < 1e-8 (at most 50
    steps). Out of range: x > 1e7 gives 1/sqrt(x), x < 1e-6 gives 1/x (limma's
    asymptotes). Smyth (2004), section 6.2; limma source ``fitFDist.R``.
    """
    x = np.asarray(x, dtype=np.float64)
    y = np.full(x.shape, np.nan)
    big = x > 1e7
    small = (x < 1e-6) & (x >= 0)
    mid = (x >= 1e-6) & (x <= 1e7)
    y[big] = 1.0 / np.sqrt(x[big])
    y[small] = 1.0 / x[small]
    if mid.any():
        xm = x[mid]
        ym = 0.5 + 1.0 / xm
        for _ in range(51):
            tri = special.polygamma(1, ym)
            dif = tri * (1.0 - tri / xm) / special.polygamma(2, ym)
            ym = ym + dif
            if np.max(-dif / ym) < 1e-8:
                break
        else:
            warnings.warn("trigamma_inverse: iteration limit exceeded", RuntimeWarning)
        y[mid] = ym
    return y


def _brent_fmin(f, ax: float, bx: float, tol: float) -> float:
    """Minimiser of f on [ax, bx]: R's ``optimize`` (``Brent_fmin`` in R's optimize.c).

    Brent (1973), Algorithms for Minimization without Derivatives, ch. 5 (golden section
    with parabolic interpolation), transcribed step by step from R's C code so that the
    iterates, and hence the result at R's tolerance, are R's.
    """
    c = (3.0 - math.sqrt(5.0)) * 0.5
    eps = math.sqrt(np.finfo(float).eps)
    a, b = ax, bx
    v = w = x = a + c * (b - a)
    d = e = 0.0
    fx = fv = fw = f(x)
    tol3 = tol / 3.0
    while True:
        xm = (a + b) * 0.5
        tol1 = eps * abs(x) + tol3
        t2 = tol1 * 2.0
        if abs(x - xm) <= t2 - (b - a) * 0.5:
            return x
        p = q = r = 0.0
        if abs(e) > tol1:  # fit a parabola
            r = (x - w) * (fx - fv)
            q = (x - v) * (fx - fw)
            p = (x - v) * q - (x - w) * r
            q = (q - r) * 2.0
            if q > 0.0:
                p = -p
            else:
                q = -q
            r = e
            e = d
        if abs(p) >= abs(q * 0.5 * r) or p <= q * (a - x) or p >= q * (b - x):
            e = (b - x) if x < xm else (a - x)  # golden-section step
            d = c * e
        else:  # parabolic-interpolation step
            d = p / q
            u = x + d
            if u - a < t2 or b - u < t2:
                d = tol1 if x < xm else -tol1
        if abs(d) >= tol1:
            u = x + d
        elif d > 0.0:
            u = x + tol1
        else:
            u = x - tol1
        fu = f(u)
        if fu <= fx:
            if u < x:
                b = x
            else:
                a = x
            v, w, x = w, x, u
            fv, fw, fx = fw, fx, fu
        else:
            if u < x:
                a = u
            else:
                b = u
            if fu <= fw or w == x:
                v, fv = w, fw
                w, fw = u, fu
            elif fu <= fv or v == x or v == w:
                v, fv = u, fu


def _logmdigamma(x):
    return np.log(x) - special.digamma(x)


def _prior_unequal_df(s2: np.ndarray, df: np.ndarray, df_pooled: float) -> EbayesPrior:
    """limma's ``fitFDistUnequalDF1`` (covariate NULL, robust FALSE, no prior weights).

    e_g = log s_g^2 + log(d_g/2) - digamma(d_g/2) is averaged with weights
    1/trigamma(d_g/2) (emean); then d2 = d0/2 maximises the scaled-F log-likelihood
    sum_g [-(d1 + d2) log1p(d1 s_g^2 / (d2 s0^2)) - d1 log(d2 s0^2) + lgamma(d1 + d2)
    - lgamma(d2)] (d1 = d_g/2) with s0^2 = exp(emean - log(d2) + digamma(d2)), over
    par = d2 / (1 + d2) in [1/2, 0.9998] with R's ``optimize`` (tolerance eps^0.25), so
    d0 lies in [2, 9998]. As limma: df = 0 and NA variances get weight 0; variances are
    floored at 1e-12 * the median of the positive ones; fewer than 2 positive variances
    give NaN. (Smyth & Chen, limma 3.61, 2024; limma source ``fitFDistUnequalDF1.R``.)
    """
    x = np.where(df == 0, 0.0, s2)  # squeezeVar: var[df == 0] <- 0
    d = np.array(df, dtype=np.float64)
    weights = np.ones(x.size)
    na = np.isnan(x) | np.isnan(d)
    weights[na] = 0.0
    x = np.where(na, 0.0, x)
    d = np.where(na, 1.0, d)
    small = d < 0.01
    weights[small] = 0.0
    d[small] = 1.0
    informative = (x > 0) & (weights != 0)
    n_inf = int(informative.sum())
    if n_inf < 2:
        return EbayesPrior(math.nan, math.nan, df_pooled, n_inf, "not estimable", "unequal_df")
    med = float(np.median(x[informative]))
    xpos = np.maximum(x, 1e-12 * med)
    d1 = d / 2
    e = np.log(xpos) + _logmdigamma(d1)
    w = weights / special.polygamma(1, d1)
    emean = float(np.sum(w * e) / np.sum(w))
    d1x = d1 * xpos
    use = weights != 0
    d1u, d1xu, wu = d1[use], d1x[use], weights[use]

    def minus_twice_loglik(par: float) -> float:
        d2 = par / (1 - par)
        d2s20 = d2 * math.exp(emean - float(_logmdigamma(d2)))
        ll = (
            -(d1u + d2) * np.log1p(d1xu / d2s20)
            - d1u * math.log(d2s20)
            + special.gammaln(d1u + d2)
            - special.gammaln(d2)
        )
        return -2.0 * float(np.sum(wu * ll))

    par = _brent_fmin(minus_twice_loglik, 0.5, 0.9998, np.finfo(float).eps ** 0.25)
    d2 = par / (1 - par)
    s20 = math.exp(emean - float(_logmdigamma(d2)))
    return EbayesPrior(2 * d2, s20, df_pooled, int(use.sum()), "ok", "unequal_df")


def fit_prior(s2, df, method: str = "trigamma") -> EbayesPrior:
    """Estimate limma's prior d0 and s0^2 from all CpGs' residual variances (stage b).

    Parameters
    ----------
    s2 : array-like of float
        Residual variances sigma^2 of *all* CpGs (NaN for CpGs without a fit).
    df : array-like of float
        Their residual degrees of freedom (0 for CpGs without a fit).
    method : {"trigamma", "unequal_df", "auto"}, default "trigamma"
        ``trigamma``: limma's ``fitFDist`` moment estimator (below; ``eBayes(legacy =
        TRUE)``). ``unequal_df``: limma's ``fitFDistUnequalDF1`` maximum likelihood
        estimator (see :func:`_prior_unequal_df`). ``auto``: what ``eBayes()`` does by
        default since limma 3.61 (Bioconductor 3.20): ``trigamma`` if all positive df
        are equal, else ``unequal_df``.

    Returns
    -------
    EbayesPrior
        ``df_prior`` d0, ``s2_prior`` s0^2, ``df_pooled`` = sum(df) and the count used.

    Notes
    -----
    limma ``squeezeVar(var, df)`` with ``covariate = NULL, robust = FALSE`` via
    ``fitFDist`` (Smyth 2004, section 6.2). s_g^2 ~ s0^2 F(d_g, d0), so with
    e_g = log s_g^2 - digamma(d_g/2) + log(d_g/2) (Smyth 2004, eq. 4.1):

    * E[e_g] = log s0^2 - digamma(d0/2) + log(d0/2) and
      Var[e_g] = trigamma(d_g/2) + trigamma(d0/2);
    * moment matching: ebar = mean(e_g), and
      trigamma(d0/2) = sum((e_g - ebar)^2)/(G - 1) - mean(trigamma(d_g/2)), solved with
      :func:`trigamma_inverse`; s0^2 = exp(ebar + digamma(d0/2) - log(d0/2));
    * if the right-hand side is <= 0: d0 = inf and s0^2 = exp(ebar).

    Unequal d_g (CpGs with missing values) enter through the per-CpG digamma/trigamma
    terms, as in ``fitFDist``. As limma: only CpGs with finite s^2 >= 0 and df > 0 are used;
    s^2 is floored at 1e-5 * median(s^2) (a median of 0 is replaced by 1); one CpG gives
    d0 = 0 (no moderation).

    Since limma 3.61 (Bioconductor 3.20) ``squeezeVar(legacy = NULL)`` switches to a new
    estimator (``fitFDistUnequalDF1``) when the df differ between genes; the default here
    is the trigamma method, i.e. ``eBayes(fit, legacy = TRUE)``, which is also limma's
    default whenever all CpGs have the same df (no missing values). Use ``method="auto"``
    to follow current limma's default with missing values.
    """
    s2 = np.asarray(s2, dtype=np.float64).ravel()
    df = np.asarray(df, dtype=np.float64).ravel()
    if s2.shape != df.shape:
        raise ModelError(f"s2 and df differ in length ({s2.size} vs {df.size})")
    if s2.size == 0:
        raise ModelError("fit_prior needs the variances of at least one CpG")
    if method not in PRIOR_METHODS:
        raise ModelError(f"method must be one of {PRIOR_METHODS}, got {method!r}")
    df_pooled = float(np.nansum(df))
    if method == "auto":
        positive = df[df > 0]
        equal = positive.size > 0 and positive.min() == positive.max()
        method = "trigamma" if equal else "unequal_df"
    if method == "unequal_df":
        return _prior_unequal_df(s2, df, df_pooled)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(s2) & np.isfinite(df) & (s2 > -1e-15) & (df > 1e-15)
    x = s2[ok]
    d = df[ok]
    n = x.size
    if n == 0:
        return EbayesPrior(math.nan, math.nan, df_pooled, 0, "not estimable")
    if n == 1:
        return EbayesPrior(0.0, float(x[0]), df_pooled, 1, "single CpG")
    status = "ok"
    x = np.maximum(x, 0.0)
    med = float(np.median(x))
    if med == 0:
        status = "most variances zero"
        med = 1.0
    elif np.any(x == 0):
        status = "zero variances offset"
    x = np.maximum(x, 1e-5 * med)
    e = np.log(x) - special.digamma(d / 2) + np.log(d / 2)
    emean = float(np.mean(e))
    evar = float(np.sum((e - emean) ** 2)) / (n - 1)
    evar -= float(np.mean(special.polygamma(1, d / 2)))
    if evar > 0:
        d0 = 2.0 * float(trigamma_inverse(evar))
        s20 = math.exp(emean + float(special.digamma(d0 / 2)) - math.log(d0 / 2))
    else:
        d0 = math.inf
        s20 = math.exp(emean)
    return EbayesPrior(d0, s20, df_pooled, int(n), status)


# --------------------------------------------------------------------------------------
# Stage c: moderation
# --------------------------------------------------------------------------------------


def _as_prior(prior) -> EbayesPrior:
    if isinstance(prior, EbayesPrior):
        return prior
    if isinstance(prior, Mapping):
        return EbayesPrior.from_dict(prior)
    raise ModelError(f"prior must be an EbayesPrior or a mapping, got {type(prior).__name__}")


def _moderate_arrays(coef, stdev_unscaled, s2, df, prior: EbayesPrior) -> dict[str, np.ndarray]:
    """limma eBayes' moderated statistics. coef/stdev_unscaled: (m, k); s2, df: (m,)."""
    d0, s0, df_pooled = prior.df_prior, prior.s2_prior, prior.df_pooled
    df = np.asarray(df, dtype=np.float64)
    s2 = np.asarray(s2, dtype=np.float64)
    fitted = df > 0
    with np.errstate(invalid="ignore", divide="ignore"):
        if math.isinf(d0):
            s2_post = np.where(fitted, s0, np.nan)
        else:
            s2_post = (df * s2 + d0 * s0) / (df + d0)
        s2_post = np.where(fitted, s2_post, np.nan)
        df_total = np.where(fitted, np.minimum(df + d0, df_pooled), np.nan)
        t = coef / stdev_unscaled / np.sqrt(s2_post)[:, None]
        p = 2.0 * special.stdtr(df_total[:, None], -np.abs(t))
        se = stdev_unscaled * np.sqrt(s2_post)[:, None]
    k = coef.shape[1]
    return {
        "s2_post": np.repeat(s2_post[:, None], k, axis=1),
        "se_moderated": se,
        "t_moderated": t,
        "df_total": np.repeat(df_total[:, None], k, axis=1),
        "p_moderated": p,
    }


def moderate(fit: pd.DataFrame, prior) -> pd.DataFrame:
    """limma's moderated t-statistics of a fitted chunk given the prior (stage c).

    Parameters
    ----------
    fit : pandas.DataFrame
        Output of :func:`ewas_fit` (any chunk or shard, or their concatenation).
    prior : EbayesPrior or mapping
        From :func:`fit_prior` on *all* CpGs (or its :meth:`EbayesPrior.to_dict`).

    Returns
    -------
    pandas.DataFrame
        ``fit`` with the columns ``s2_post, se_moderated, t_moderated, df_total,
        p_moderated`` added (NaN where the CpG has no fit).

    Notes
    -----
    limma ``eBayes`` (Smyth 2004, eqs. 2-3 and section 3):

    * posterior variance s~^2 = (d0 s0^2 + d s^2) / (d0 + d); s~^2 = s0^2 if d0 = inf;
    * moderated t = coef / stdev_unscaled / s~ (``se_moderated`` = stdev_unscaled * s~);
    * df_total = min(d + d0, df_pooled) (limma caps at the pooled residual df, which is
      also the df used when d0 = inf);
    * p = 2 P(T_{df_total} > |t|).
    """
    prior = _as_prior(prior)
    needed = ["coef", "stdev_unscaled", "sigma2", "df_residual"]
    missing = [c for c in needed if c not in fit.columns]
    if missing:
        raise ModelError(f"fit lacks column(s) {', '.join(missing)}; pass ewas_fit output")
    coef = fit["coef"].to_numpy(dtype=np.float64)[:, None]
    su = fit["stdev_unscaled"].to_numpy(dtype=np.float64)[:, None]
    out = _moderate_arrays(
        coef,
        su,
        fit["sigma2"].to_numpy(dtype=np.float64),
        fit["df_residual"].to_numpy(dtype=np.float64),
        prior,
    )
    result = fit.copy()
    for name in MODERATED_COLUMNS:
        result[name] = out[name][:, 0]
    return result


# --------------------------------------------------------------------------------------
# Summaries
# --------------------------------------------------------------------------------------


def genomic_inflation(p) -> float:
    """Genomic inflation factor lambda = median(z^2) / median(chi2_1).

    Parameters
    ----------
    p : array-like of float
        Two-sided p-values (NaN ignored).

    Returns
    -------
    float
        lambda (NaN without p-values).

    Notes
    -----
    z^2 = qchisq(p, 1, lower.tail = FALSE) (``scipy.stats.chi2.isf(p, 1)``) and
    lambda = median(z^2) / 0.454936 (= qchisq(0.5, 1), often rounded to 0.4549)
    (Devlin & Roeder, Biometrics 55:997-1004, 1999). About 1 for null results; EWAS
    discussions of lambda: van Iterson et al., Genome Biol 18:19, 2017.
    """
    p = np.asarray(p, dtype=np.float64).ravel()
    p = p[np.isfinite(p)]
    if p.size == 0:
        return math.nan
    z2 = special.ndtri(p / 2) ** 2  # = chi2.isf(p, 1), ~20x faster
    return float(np.median(z2) / CHI2_1_MEDIAN)


def _adjust_arrays(p: np.ndarray) -> dict[str, np.ndarray]:
    """BH-FDR, Bonferroni and threshold flags of one term's p-values."""
    m = int(np.count_nonzero(np.isfinite(p)))
    with np.errstate(invalid="ignore"):
        return {
            "fdr": bh_fdr(p),
            "bonferroni": np.minimum(p * m, 1.0),
            "sig_450k": p < THRESHOLD_450K,
            "sig_epic": p < THRESHOLD_EPIC,
        }


def multiple_testing(table: pd.DataFrame, p: str = "p_moderated") -> pd.DataFrame:
    """Add BH-FDR, Bonferroni and array-threshold flags to an EWAS table, per term.

    Parameters
    ----------
    table : pandas.DataFrame
        All CpGs of the EWAS (``term`` and the p-value column).
    p : str, default ``"p_moderated"``
        The p-value column.

    Returns
    -------
    pandas.DataFrame
        ``table`` plus ``fdr`` (Benjamini-Hochberg q), ``bonferroni`` (min(1, m p)),
        ``sig_450k`` (p < 2.4e-7) and ``sig_epic`` (p < 9e-8); m counts the term's
        non-missing p-values.

    Notes
    -----
    BH: Benjamini & Hochberg (J R Stat Soc B 57:289-300, 1995), see
    :func:`first1000.stats.multitest.bh_fdr`. Thresholds: Saffari et al. (Genet Epidemiol
    42:20-33, 2018) for the 450K array; Mansell et al. (BMC Genomics 20:366, 2019) for
    EPIC. Each term is a separate EWAS with its own m.
    """
    if p not in table.columns or "term" not in table.columns:
        raise ModelError(f"table needs the columns 'term' and {p!r}")
    out = table.copy()
    pv = table[p].to_numpy(dtype=np.float64)
    cols = {name: np.full(len(table), np.nan) for name in ADJUST_COLUMNS[:2]}
    cols.update({name: np.zeros(len(table), dtype=bool) for name in ADJUST_COLUMNS[2:]})
    terms = table["term"].to_numpy(dtype=object)
    for term in pd.unique(terms):
        sel = terms == term
        adj = _adjust_arrays(pv[sel])
        for name in ADJUST_COLUMNS:
            cols[name][sel] = adj[name]
    for name in ADJUST_COLUMNS:
        out[name] = cols[name]
    return out


def ewas_summary(table: pd.DataFrame, prior: EbayesPrior | None = None) -> pd.DataFrame:
    """One row per term: CpGs tested, lambda, and hits at FDR 5%, Bonferroni and thresholds.

    Parameters
    ----------
    table : pandas.DataFrame
        An EWAS table with ``p_moderated`` and the :func:`multiple_testing` columns.
    prior : EbayesPrior, optional
        Adds ``df_prior`` and ``s2_prior``.

    Returns
    -------
    pandas.DataFrame
        Columns ``term, n_cpgs, n_tested, lambda, n_fdr_05, n_bonferroni_05, n_sig_450k,
        n_sig_epic, n_too_few_samples, n_not_estimable[, df_prior, s2_prior]``.
    """
    if "fdr" not in table.columns:
        table = multiple_testing(table)
    rows = []
    terms = table["term"].to_numpy(dtype=object)
    status = table["status"].to_numpy(dtype=object)
    for term in pd.unique(terms):
        sel = terms == term
        pv = table["p_moderated"].to_numpy(dtype=np.float64)[sel]
        row = {
            "term": term,
            "n_cpgs": int(sel.sum()),
            "n_tested": int(np.isfinite(pv).sum()),
            "lambda": genomic_inflation(pv),
            "n_fdr_05": int(np.sum(table["fdr"].to_numpy(dtype=np.float64)[sel] < 0.05)),
            "n_bonferroni_05": int(
                np.sum(table["bonferroni"].to_numpy(dtype=np.float64)[sel] < 0.05)
            ),
            "n_sig_450k": int(table["sig_450k"].to_numpy(dtype=bool)[sel].sum()),
            "n_sig_epic": int(table["sig_epic"].to_numpy(dtype=bool)[sel].sum()),
            "n_too_few_samples": int(np.sum(status[sel] == "too_few_samples")),
            "n_not_estimable": int(np.sum(status[sel] == "not_estimable")),
        }
        if prior is not None:
            row["df_prior"] = prior.df_prior
            row["s2_prior"] = prior.s2_prior
        rows.append(row)
    return pd.DataFrame(rows)


# --------------------------------------------------------------------------------------
# The engine over a stream of chunks
# --------------------------------------------------------------------------------------


@dataclass
class EwasResult:
    """Result of :func:`ewas_from_chunks` (and :func:`first1000.analysis.epigenome.ewas`).

    Attributes
    ----------
    table : pandas.DataFrame
        One row per CpG and term (see :func:`ewas_fit`, :func:`moderate`,
        :func:`multiple_testing` for the columns).
    prior : EbayesPrior
        limma's d0 and s0^2.
    summary : pandas.DataFrame
        :func:`ewas_summary` (lambda, hits, reason counts per term).
    reasons : dict
        Counts: ``cpgs``, ``cpgs_with_missing``, ``too_few_samples``, ``not_estimable``
        (CpG-term pairs), ``outliers_removed`` (values).
    """

    table: pd.DataFrame
    prior: EbayesPrior
    summary: pd.DataFrame
    reasons: dict


def ewas_from_chunks(
    chunks: Iterable[tuple[np.ndarray, np.ndarray, np.ndarray | None]],
    x: np.ndarray,
    names: list[str],
    term_idx: list[int],
    *,
    remove_outliers: bool = False,
    outlier_k: float = 3.0,
    outliers_on_beta: bool = True,
    beta_difference: bool = False,
    prior_method: str = "trigamma",
    release=None,
    absorb=None,
) -> EwasResult:
    """The engine over CpG chunks: fit each, gather, limma eBayes, summaries.

    ``chunks`` yields ``(cpgs, yt, beta_t)``: the chunk's CpG IDs and its M-values (and
    beta values, or None) sample-major (n x m), as :mod:`first1000.io.methylation` reads
    them, which the fit may overwrite (outliers set to NaN, values demeaned within the
    absorbed factor's levels); ``x``, ``names``, ``term_idx`` from :func:`design_arrays`.
    ``release(array)`` gives a chunk's buffers back to the reader once fitted; ``absorb``:
    labels of a factor absorbed by demeaning (see :func:`ewas_fit`), in design row order. See
    :func:`first1000.analysis.epigenome.ewas` for the options.
    """
    if not (np.isfinite(outlier_k) and outlier_k >= 0):
        raise ModelError(f"outlier_k must be a non-negative number, got {outlier_k!r}")
    if prior_method not in PRIOR_METHODS:
        raise ModelError(f"prior_method must be one of {PRIOR_METHODS}, got {prior_method!r}")
    engine = _Engine(x, names, term_idx, _absorb_labels(absorb, None))
    parts: list[dict[str, np.ndarray]] = []
    ids: list[np.ndarray] = []
    for cpgs, yt, beta_t in chunks:
        # PACE: outliers are defined on the stored (beta) values; M inherits their NaNs.
        res = engine.fit(
            yt,
            beta_t,
            remove_outliers=remove_outliers,
            outlier_k=outlier_k,
            outliers_on_beta=outliers_on_beta,
            inplace=True,  # the chunk buffers belong to this loop
        )
        if release is not None:
            release(yt)
            release(beta_t)
        del yt, beta_t
        if not beta_difference:
            res.pop("coef_beta", None)
            res.pop("se_beta", None)
        parts.append(res)
        ids.append(cpgs)
    if not parts:
        raise InputTableError("the methylation matrix has no CpG rows")
    res = {key: np.concatenate([part[key] for part in parts]) for key in parts[0]}
    cpgs = np.concatenate(ids)
    del parts, ids
    _ordinary(res)
    prior = fit_prior(res["sigma2"], res["df_residual"], method=prior_method)
    res.update(_moderate_arrays(res["coef"], res["stdev_unscaled"], res["sigma2"],
                                res["df_residual"], prior))  # fmt: skip
    kt = len(engine.terms)
    adj = {name: np.empty(res["coef"].shape, dtype=float) for name in ADJUST_COLUMNS[:2]}
    adj.update({name: np.empty(res["coef"].shape, dtype=bool) for name in ADJUST_COLUMNS[2:]})
    for j in range(kt):
        a = _adjust_arrays(res["p_moderated"][:, j])
        for name in ADJUST_COLUMNS:
            adj[name][:, j] = a[name]
    res.update(adj)
    table = _fit_table(res, cpgs, engine.terms)
    summary = ewas_summary(table, prior)
    status = res["status"]
    reasons = {
        "cpgs": int(status.shape[0]),
        "cpgs_with_missing": int(np.sum(res["n"] < x.shape[0])),
        "too_few_samples": int(np.sum(status[:, 0] == _STATUS_FEW)),
        "not_estimable": int(np.sum(status == _STATUS_NOT_ESTIMABLE)),
        "outliers_removed": int(res["n_outliers"].sum()),
    }
    return EwasResult(table=table, prior=prior, summary=summary, reasons=reasons)


__all__ = [
    "ADJUST_COLUMNS",
    "BETA_CLIP",
    "CHI2_1_MEDIAN",
    "EbayesPrior",
    "EwasResult",
    "FIT_COLUMNS",
    "MODERATED_COLUMNS",
    "PRIOR_METHODS",
    "THRESHOLD_450K",
    "THRESHOLD_EPIC",
    "beta_to_m",
    "design_arrays",
    "ewas_fit",
    "ewas_from_chunks",
    "ewas_summary",
    "fit_prior",
    "genomic_inflation",
    "iqr_outliers",
    "m_to_beta",
    "moderate",
    "multiple_testing",
    "trigamma_inverse",
]
