"""The aggregate tables a mechanism's descriptive figures draw, computed from participant
rows in an analysis job so that the figure jobs read result tables only.

* :func:`adjusted_fit_table`: per cohort, the biomarker against the exposure adjusted for
  the covariates, as exposure-quantile bins of at least ``min_cell`` participants (mean x;
  mean ± SE of the adjusted biomarker) and the model's prediction at the covariate means
  with its confidence band (``results/descriptives/{mechanism}_fits.tsv``, drawn by
  :func:`first1000.figures.mechanism.scatter_adjusted`);
* :func:`biomarker_correlations`: pairwise Spearman correlations of the mechanism's
  biomarkers (``results/descriptives/{mechanism}_correlations.tsv``, drawn by
  :func:`first1000.figures.mechanism.correlation_heatmap`).

Neither table holds a participant's value: bins and correlations of fewer than
``min_cell`` participants are not computed (the privacy rule, ``privacy.min_cell_size``).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import special

from first1000.errors import InputTableError, format_rows
from first1000.stats.regression import design_matrix

FIT_COLUMNS = ["cohort", "exposure", "biomarker", "covariates", "part", "x", "y", "se", "ci_low", "ci_high", "n",
               "status"]
#: Points of the fitted line between the outer bin means.
GRID_POINTS = 60


def _numeric(frame: pd.DataFrame, columns: Sequence[str], what: str) -> pd.DataFrame:
    frame = frame.copy()
    for col in columns:
        num = pd.to_numeric(frame[col], errors="coerce")
        bad = num.isna() & frame[col].notna()
        if bad.any():
            raise InputTableError(f"{what}: column {col!r} must be numeric; non-numeric values in "
                                  f"{format_rows((np.flatnonzero(bad.to_numpy()) + 1).tolist())}")
        frame[col] = num.astype(float)
    return frame


def adjusted_fit(frame: pd.DataFrame, exposure: str, biomarker: str, covariates: list[str], ci_level: float):
    """OLS of biomarker ~ exposure + covariates on complete cases, for one cohort.

    Returns x, the biomarker adjusted to the covariate means (partial residuals plus the
    prediction at the means), and a callable giving the prediction at covariate means
    with its confidence band; ``None`` for the callable when the model is not estimable.
    The line is the prediction at the covariate means (factors at their observed
    proportions; the association stage's factor coding,
    :func:`first1000.stats.regression.design_matrix`) with its pointwise confidence band
    (classical OLS, t with n − p df); the adjusted values scatter around it by exactly the
    model's residuals, and its slope is the adjusted estimate of the association table.
    """
    X, _ = design_matrix(frame, [exposure, *covariates])
    y = pd.to_numeric(frame[biomarker], errors="coerce").to_numpy(float)
    ok = np.isfinite(y) & np.isfinite(X).all(axis=1)
    X, y = X[ok], y[ok]
    n = len(y)
    if n == 0:
        return np.empty(0), np.empty(0), None
    # covariate columns constant in this cohort's complete cases carry no information
    keep = [0, 1] + [j for j in range(2, X.shape[1]) if np.ptp(X[:, j]) > 0]
    X = X[:, keep]
    x = X[:, 1]
    p = X.shape[1]
    if n - p < 1 or np.ptp(x) == 0 or np.linalg.matrix_rank(X) < p:
        return x, y, None
    beta, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ beta
    sigma2 = float(resid @ resid) / (n - p)
    cov = sigma2 * np.linalg.pinv(X.T @ X)
    means = X.mean(axis=0)
    adjusted = y - (X[:, 2:] - means[2:]) @ beta[2:]
    tq = float(special.stdtrit(n - p, 0.5 + ci_level / 2))  # the t quantile (scipy.stats.t.ppf's kernel)

    def predict(grid: np.ndarray):
        G = np.tile(means, (len(grid), 1))
        G[:, 1] = grid
        fit = G @ beta
        se = np.sqrt(np.einsum("ij,jk,ik->i", G, cov, G))
        return fit, fit - tq * se, fit + tq * se

    return x, adjusted, predict


def exposure_bins(x: np.ndarray, y: np.ndarray, n_bins: int, min_bin: int):
    """Exposure-quantile bins of at least ``min_bin`` people: (mean x, mean y, SE y, size).

    Rows are ordered by (x, y) values, never by input order, so the bins do not depend
    on how the table is sorted.
    """
    k = min(n_bins, len(x) // min_bin)
    if k < 1:
        return []
    order = np.lexsort((y, x))
    out = []
    for idx in np.array_split(order, k):
        yy = y[idx]
        out.append((float(x[idx].mean()), float(yy.mean()), float(yy.std(ddof=1) / math.sqrt(len(yy))), len(idx)))
    return out


def adjusted_fit_table(data: pd.DataFrame, exposure: str, biomarker: str, covariates: Sequence[str] = (), *,
                       cohort_col: str = "cohort", ci_level: float = 0.95, n_bins: int = 5,
                       min_cell: int = 5) -> pd.DataFrame:
    """The binned, covariate-adjusted biomarker and the fitted line, per cohort.

    One ``part = "cohort"`` row per cohort of ``data`` (``n`` complete cases; ``status``
    ``ok``, ``too_few`` below ``min_cell``, or ``not_estimable``), its ``part = "bin"``
    rows (up to ``n_bins`` exposure-quantile bins of at least ``min_cell`` participants:
    ``x`` mean exposure, ``y`` mean adjusted biomarker, ``se`` its SE, ``n`` bin size) and
    its ``part = "line"`` rows (the prediction ``y`` at :data:`GRID_POINTS` exposures from
    the lowest to the highest bin mean, with its ``ci_level`` band). Only the exposure,
    biomarker, covariate and cohort columns are read. See :func:`adjusted_fit`.
    """
    covariates = [c for c in covariates if c != cohort_col]
    if n_bins < 1:
        raise ValueError(f"n_bins must be at least 1, got {n_bins}")
    columns = list(dict.fromkeys([cohort_col, exposure, biomarker, *covariates]))
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise InputTableError(f"adjusted_fit_table: the analysis table lacks column(s) {', '.join(map(repr, missing))}")
    frame = _numeric(data.loc[:, columns], [exposure, biomarker], "adjusted_fit_table")
    base = dict(exposure=exposure, biomarker=biomarker, covariates="+".join(covariates))
    rows = []
    for cohort in sorted({str(c) for c in frame[cohort_col].dropna()}):
        sub = frame[frame[cohort_col].astype(str) == cohort]
        x, y, predict = adjusted_fit(sub, exposure, biomarker, covariates, ci_level)
        n = len(x)
        status = "too_few" if n < min_cell else "ok" if predict is not None else "not_estimable"
        rows.append(dict(base, cohort=cohort, part="cohort", n=n, status=status))
        if n < min_cell:
            continue
        bins = exposure_bins(x, y, n_bins, min_cell)
        rows += [dict(base, cohort=cohort, part="bin", x=bx, y=by, se=se, n=size) for bx, by, se, size in bins]
        span = (min(b[0] for b in bins), max(b[0] for b in bins))
        if predict is not None and span[1] > span[0]:
            grid = np.linspace(span[0], span[1], GRID_POINTS)
            fit, lo, hi = predict(grid)
            rows += [dict(base, cohort=cohort, part="line", x=g, y=f, ci_low=a, ci_high=b)
                     for g, f, a, b in zip(grid, fit, lo, hi)]
    return pd.DataFrame(rows, columns=FIT_COLUMNS)


def biomarker_correlations(data: pd.DataFrame, biomarkers: Sequence[str], min_n: int = 5, *,
                           by: str | None = None) -> pd.DataFrame:
    """Pairwise Spearman correlations of ``biomarkers``, one row per pair (and diagonal).

    Returns ``[by,] biomarker_1, biomarker_2, n, rho, suppressed`` for every pair
    i ≤ j in the order of ``biomarkers``: ``n`` is the number of participants with both
    values (pairwise complete cases, ranked within the pair), ``rho`` is NaN and
    ``suppressed`` True when ``n < min_n`` (the privacy ``min_cell_size``, 5). With
    ``by`` (e.g. "cohort") the correlations are computed within each group. Only the
    biomarker (and ``by``) columns are read.
    """
    if not isinstance(data, pd.DataFrame):
        raise InputTableError(f"biomarker_correlations needs a pandas DataFrame, got {type(data).__name__}")
    biomarkers = list(dict.fromkeys(biomarkers))
    if not biomarkers:
        raise ValueError("biomarker_correlations: give at least one biomarker")
    if int(min_n) != min_n or min_n < 3:
        raise ValueError(f"min_n must be an integer of at least 3, got {min_n!r}")
    columns = biomarkers + ([by] if by else [])
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise InputTableError(f"biomarker table lacks column(s) {', '.join(repr(c) for c in missing)}")
    df = _numeric(data.loc[:, columns].reset_index(drop=True), biomarkers, "biomarker table")
    groups = [(None, df)] if by is None else [(g, d) for g, d in df.groupby(by, sort=True)]
    rows = []
    for key, d in groups:
        values = d[biomarkers]
        present = values.notna().to_numpy(float)
        n = present.T @ present
        rho = values.corr(method="spearman", min_periods=1).to_numpy()
        for i, a in enumerate(biomarkers):
            for j in range(i, len(biomarkers)):
                nij = int(n[i, j])
                small = nij < min_n
                r = np.nan if small else float(rho[i, j])
                row = {by: key} if by else {}
                row.update(biomarker_1=a, biomarker_2=biomarkers[j], n=nij, rho=r, suppressed=small)
                rows.append(row)
    return pd.DataFrame(rows, columns=([by] if by else []) + ["biomarker_1", "biomarker_2", "n", "rho", "suppressed"])
