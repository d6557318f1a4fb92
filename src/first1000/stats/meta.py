"""Meta-analysis of per-cohort summary statistics (fixed effect and random effects).

Consortia such as PACE and LifeCycle analyse each cohort separately and combine the
cohorts' estimates and standard errors. :func:`meta_analyse` does that for many markers
(CpGs, metabolites, exposures ...) at once: one row per marker and cohort in, one row per
marker out. All sums are taken per marker with :func:`numpy.bincount`, and the iterative
estimators (REML, the Q-profile interval of tau²) iterate all markers together, so 850,000
CpGs x a few cohorts take seconds, not hours.

Conventions follow R's metafor (Viechtbauer 2010) for the estimators and METAL (Willer,
Li & Abecasis 2010) for the direction string; each formula below names its source.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats

from first1000.errors import ModelError

METHODS = ("FE", "DL", "REML")

#: Result columns after the ``by`` columns, in this order.
RESULT_COLUMNS = [
    "k",
    "n_dropped",
    "n_skipped",
    "method",
    "estimate",
    "se",
    "ci_low",
    "ci_high",
    "statistic",
    "df",
    "p",
    "tau2",
    "tau2_ci_low",
    "tau2_ci_high",
    "I2",
    "H2",
    "Q",
    "Q_df",
    "Q_p",
    "pi_low",
    "pi_high",
    "fe_estimate",
    "fe_se",
    "direction",
    "status",
]

# Iterations stop when a step changes tau² by less than _RTOL times (tau² + the typical
# within-study variance): a relative criterion, because effect sizes of CpGs (1e-3) and of
# log risk ratios (1e-1) differ by orders of magnitude and an absolute one would not fit both.
_RTOL = 1e-12
_MAXITER = 500


# --- small helpers -----------------------------------------------------------------------


def log_risk_ratio(tpos, tneg, cpos, cneg, add: float = 0.5):
    """Log risk ratio and its sampling variance from 2x2 tables, as metafor ``escalc("RR")``.

    Parameters
    ----------
    tpos, tneg : array-like of float
        Events and non-events in the treated (exposed) group, one value per study.
    cpos, cneg : array-like of float
        Events and non-events in the control (unexposed) group.
    add : float, default 0.5
        Continuity correction added to all four cells of a study that has a zero cell
        (metafor's ``add=1/2, to="only0"``); studies without a zero cell are left as they are.

    Returns
    -------
    yi, vi : numpy.ndarray of float
        Log risk ratios and their large-sample variances.

    Notes
    -----
    With a = tpos, c = cpos, n1 = tpos + tneg, n2 = cpos + cneg:
    yi = log((a / n1) / (c / n2)) and vi = 1/a - 1/n1 + 1/c - 1/n2 (the delta method;
    metafor's ``vtype="LS"``; Viechtbauer 2010, J. Stat. Softw. 36(3), section 3.1).
    Studies with zero events in both groups are kept (metafor's default ``drop00=FALSE``).

    Examples
    --------
    The first trial of metafor's ``dat.bcg`` (Aronson 1948):

    >>> yi, vi = log_risk_ratio([4], [119], [11], [128])
    >>> print(f"{yi[0]:.4f} {vi[0]:.4f}")
    -0.8893 0.3256
    """
    a, b, c, d = (np.asarray(x, dtype=float) for x in (tpos, tneg, cpos, cneg))
    zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    shift = np.where(zero, add, 0.0)
    a, b, c, d = a + shift, b + shift, c + shift, d + shift
    n1, n2 = a + b, c + d
    yi = np.log(a / n1) - np.log(c / n2)
    vi = 1.0 / a - 1.0 / n1 + 1.0 / c - 1.0 / n2
    return yi, vi


def _check_table(table, columns) -> None:
    if not isinstance(table, pd.DataFrame):
        raise ModelError(f"expected a pandas DataFrame, got {type(table).__name__}")
    missing = [c for c in columns if c not in table.columns]
    if missing:
        raise ModelError(
            f"column(s) {', '.join(repr(c) for c in missing)} not in the table; "
            f"available columns: {', '.join(map(str, table.columns))}"
        )


def _numeric(table: pd.DataFrame, column: str) -> np.ndarray:
    try:
        return table[column].to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as err:
        raise ModelError(
            f"column '{column}' must be numeric (dtype {table[column].dtype}); "
            "convert it before the meta-analysis"
        ) from err


def _group_codes(table: pd.DataFrame, by: list[str]) -> tuple[np.ndarray, int, np.ndarray]:
    """Group number of every row (groups in order of first appearance) and each group's first row."""
    n = len(table)
    if not by:
        codes = np.zeros(n, dtype=np.intp)
    elif len(by) == 1:
        codes, _ = pd.factorize(table[by[0]], sort=False, use_na_sentinel=False)
    else:
        codes = table.groupby(by, sort=False, dropna=False, observed=True).ngroup().to_numpy()
    codes = np.asarray(codes, dtype=np.intp)
    n_groups = int(codes.max()) + 1 if n else 0
    _, first = np.unique(codes, return_index=True)
    return codes, n_groups, first


class _Sums:
    """Per-group sums over the rows of the groups still iterating (shrinks as they converge)."""

    def __init__(self, y, v, codes, groups):
        self.y, self.v, self.codes, self.groups = y, v, codes, groups

    def keep(self, mask: np.ndarray) -> _Sums:
        """Restrict to the groups where ``mask`` (over ``self.groups``) is True."""
        renumber = np.cumsum(mask) - 1
        rows = mask[self.codes]
        return _Sums(self.y[rows], self.v[rows], renumber[self.codes[rows]], self.groups[mask])

    def sum(self, values) -> np.ndarray:
        return np.bincount(self.codes, weights=values, minlength=self.groups.size)

    def weighted(self, tau2: np.ndarray):
        """Weights 1/(v + tau²), their sums of powers 1..3, weighted mean and residuals."""
        w = 1.0 / (self.v + tau2[self.codes])
        sw, sw2, sw3 = self.sum(w), self.sum(w * w), self.sum(w * w * w)
        mu = self.sum(w * self.y) / sw
        r = self.y - mu[self.codes]
        return w, sw, sw2, sw3, mu, r


# --- estimators of tau² -------------------------------------------------------------------


def _restricted_loglik(sums: _Sums, tau2: np.ndarray) -> np.ndarray:
    """REML log-likelihood of the intercept-only model, up to a constant.

    l(tau²) = -1/2 [sum log(v + tau²) + log sum w + sum w (y - mu)²], w = 1/(v + tau²)
    (Viechtbauer 2005, eq. 8; metafor's ``ll.REML`` less its constant terms).
    """
    w, sw, _, _, _, r = sums.weighted(tau2)
    return -0.5 * (sums.sum(np.log(sums.v + tau2[sums.codes])) + np.log(sw) + sums.sum(w * r * r))


def _reml_tau2(sums: _Sums, start: np.ndarray, scale: np.ndarray):
    """REML tau² by Fisher scoring, polished by Newton steps, all groups at once.

    Returns tau² and a converged flag per group. The scoring update is metafor's
    (``rma.uni``, method "REML"): with P = W - W 1 (1'W1)^-1 1'W and W = diag(1/(v + tau²)),
    tau² <- tau² + (y'PPy - tr P) / tr(PP) (Viechtbauer 2005, J. Educ. Behav. Stat. 30:261,
    eq. 14: the score over the expected information). For an intercept-only model
    Py = w (y - mu), so y'PPy = sum w²(y - mu)², tr P = sum w - sum w²/sum w and
    tr(PP) = sum w² - 2 sum w³/sum w + (sum w²/sum w)². A step below zero stops at zero
    (projected scoring), so an estimate on the boundary is exactly 0.

    Where the likelihood is flat, scoring converges only linearly (slowly), so once a
    group's scoring step falls below 1e-4 of the scale, Newton steps with the observed
    information take over where that is positive:
    -l''(tau²) = sum w³ r² - (sum w² r)² / sum w - tr(PP)/2 with r = y - mu (derived from l
    below; dmu/dtau² = -sum w² r / sum w). The REML likelihood of few studies can have a
    local maximum inside (0, inf) besides the one on the boundary; the stationary point
    reached is kept only if its restricted likelihood beats that of tau² = 0.
    """
    tau2 = start.copy()
    converged = np.zeros(tau2.size, dtype=bool)
    near = np.zeros(tau2.size, dtype=bool)
    active = np.arange(tau2.size)
    full = sums
    for _ in range(_MAXITER):
        if active.size == 0:
            break
        t = tau2[active]
        w, sw, sw2, sw3, _, r = sums.weighted(t)
        trp = sw - sw2 / sw
        trpp = sw2 - 2.0 * sw3 / sw + (sw2 / sw) ** 2
        score = 0.5 * (sums.sum(w * w * r * r) - trp)
        fisher = score / (0.5 * trpp)
        observed = sums.sum(w**3 * r * r) - sums.sum(w * w * r) ** 2 / sw - 0.5 * trpp
        newton = near[active] & (observed > 0)
        step = np.where(newton, score / np.where(newton, observed, 1.0), fisher)
        new = np.maximum(t + step, 0.0)
        size = _RTOL * (new + scale[active])
        near[active] |= np.abs(fisher) <= 1e8 * size
        done = np.abs(new - t) <= size
        tau2[active] = new
        converged[active[done]] = True
        if done.any():
            sums = sums.keep(~done)
            active = active[~done]
    inside = converged & (tau2 > 0)
    if inside.any():
        part = full.keep(inside)
        zero = _restricted_loglik(part, np.zeros(part.groups.size))
        at_boundary = zero > _restricted_loglik(part, tau2[inside])
        tau2[np.flatnonzero(inside)[at_boundary]] = 0.0
    return tau2, converged


def _q_profile_root(sums: _Sums, start: np.ndarray, target: np.ndarray, scale: np.ndarray):
    """Solve Q(tau²) = target per group by Newton's method, starting left of the root.

    Q(tau²) = sum w (y - mu)² with w = 1/(v + tau²) is the generalised Q statistic. It is
    decreasing and convex in tau² (the partial minimum over mu of the jointly convex
    (y - mu)²/(v + tau²)), with dQ/dtau² = -sum w² (y - mu)² (the term in dmu/dtau² vanishes
    because mu minimises Q). Newton's iterates from a point left of the root of a convex
    decreasing function increase monotonically to the root, so no bracketing is needed.
    """
    tau2 = start.copy()
    converged = np.zeros(tau2.size, dtype=bool)
    active = np.arange(tau2.size)
    for _ in range(_MAXITER):
        if active.size == 0:
            break
        t = tau2[active]
        w, _, _, _, _, r = sums.weighted(t)
        q = sums.sum(w * r * r)
        slope = sums.sum(w * w * r * r)
        new = np.maximum(t + (q - target[active]) / slope, 0.0)
        done = np.abs(new - t) <= _RTOL * (new + scale[active])
        tau2[active] = new
        converged[active[done]] = True
        if done.any():
            sums = sums.keep(~done)
            active = active[~done]
    return tau2, converged


def _q_profile_ci(sums: _Sums, q0, df, scale, alpha):
    """Q-profile confidence interval of tau² (Viechtbauer 2007, Stat. Med. 26:37-52).

    The bounds solve Q(tau²_low) = chi²_{k-1; 1-alpha/2} and Q(tau²_high) = chi²_{k-1; alpha/2}
    (upper quantiles), as metafor's ``confint.rma.uni`` (``type="QP"``); a bound whose
    equation has no root in [0, inf) because Q(0) is already below its quantile is 0.
    """
    n = q0.size
    low, high = np.zeros(n), np.zeros(n)
    ok = np.ones(n, dtype=bool)
    crit_low = stats.chi2.isf(alpha / 2, df)  # larger quantile: gives the lower bound
    crit_high = stats.chi2.isf(1 - alpha / 2, df)
    need = q0 > crit_low
    if need.any():
        root, conv = _q_profile_root(
            sums.keep(need), np.zeros(int(need.sum())), crit_low[need], scale[need]
        )
        low[need], ok[need] = root, conv
    need = q0 > crit_high
    if need.any():
        # Q(low) equals the larger quantile (or low = 0 with Q(0) below it): left of the root.
        root, conv = _q_profile_root(sums.keep(need), low[need], crit_high[need], scale[need])
        high[need], ok[need] = root, ok[need] & conv
    return low, high, ok


# --- the public function --------------------------------------------------------------------


def meta_analyse(
    table: pd.DataFrame,
    *,
    estimate: str = "estimate",
    se: str = "se",
    by: Sequence[str] | str | None = ("marker",),
    study: str = "cohort",
    method: str = "REML",
    knapp_hartung: bool = False,
    alpha: float = 0.05,
    status: str = "status",
    study_order: Sequence | None = None,
) -> pd.DataFrame:
    """Inverse-variance meta-analysis of study estimates, for every group of ``by`` at once.

    Parameters
    ----------
    table : pandas.DataFrame
        Long table of study results: one row per study (cohort) and group (marker).
    estimate, se : str
        Columns with each study's estimate and its standard error.
    by : str or sequence of str or None, default ("marker",)
        Columns that define one meta-analysis (e.g. marker, or exposure and outcome).
        ``None`` or ``()``: the whole table is one meta-analysis.
    study : str, default "cohort"
        Column naming the study. Each study may appear at most once per group.
    method : {"REML", "DL", "FE"}, default "REML"
        Between-study variance estimator: restricted maximum likelihood, DerSimonian–Laird,
        or none (fixed effect, tau² = 0).
    knapp_hartung : bool, default False
        Knapp–Hartung (Hartung–Knapp–Sidik–Jonkman) standard error with t_{k-1} tests and
        intervals instead of the normal ones.
    alpha : float, default 0.05
        Two-sided level of all intervals (confidence, tau², prediction).
    status : str, default "status"
        Optional column with the status of each study's model (as returned by
        :func:`first1000.stats.fit_association`). Rows whose status is not exactly ``"ok"``
        are skipped. Ignored when the column is absent.
    study_order : sequence, optional
        Study order of the ``direction`` string. Default: order of first appearance in
        ``table`` (METAL's order: the order in which the files were processed).

    Returns
    -------
    pandas.DataFrame
        One row per group, in order of first appearance, with the ``by`` columns followed by
        :data:`RESULT_COLUMNS`:

        ``k`` studies combined; ``n_dropped`` rows dropped because the estimate or SE is
        missing or not finite or the SE is <= 0; ``n_skipped`` rows skipped for a status
        other than "ok"; ``method``; ``estimate``, ``se``, ``ci_low``, ``ci_high``,
        ``statistic`` (z, or t under Knapp–Hartung), ``df`` (of the t distribution; NaN for
        z), ``p`` (two-sided); ``tau2`` and its Q-profile interval ``tau2_ci_low``,
        ``tau2_ci_high`` (NaN for "FE" and for k = 1); ``I2`` (%), ``H2``; Cochran's ``Q``,
        ``Q_df`` = k - 1 and ``Q_p``; the prediction interval ``pi_low``, ``pi_high``;
        ``fe_estimate``, ``fe_se`` (the fixed-effect result, whatever ``method``);
        ``direction`` (one character per study in ``study_order``: ``+``, ``-``, ``0`` for
        an estimate of exactly 0, ``?`` for a study without a usable row); ``status``
        ("ok", or why numbers are NaN).

    Notes
    -----
    For studies i = 1..k with estimates y_i and variances v_i = se_i²:

    * Fixed effect (inverse variance): w_i = 1/v_i, mu = sum w_i y_i / sum w_i,
      SE = (sum w_i)^(-1/2); Cochran's Q = sum w_i (y_i - mu)², Q_p = P(chi²_{k-1} > Q)
      (Cochran 1954; METAL's ``SCHEME STDERR`` and ``ANALYZE HETEROGENEITY``).
    * DerSimonian–Laird: tau² = max(0, (Q - (k-1)) / (sum w - sum w² / sum w))
      (DerSimonian & Laird 1986, Control. Clin. Trials 7:177).
    * REML: Fisher scoring from the DL value, converged to a relative change of 1e-12
      (metafor stops at an absolute change of 1e-5); estimates on the boundary are exactly 0.
    * Random effects: w_i = 1/(v_i + tau²), mu and SE as above with these weights; z-tests and
      normal intervals. Knapp–Hartung: SE² = sum w_i (y_i - mu)² / ((k-1) sum w_i) with
      t_{k-1} (Knapp & Hartung 2003, Stat. Med. 22:2693; not truncated at the unadjusted
      SE, as metafor's default).
    * I² and H² (Higgins & Thompson 2002, Stat. Med. 21:1539), as metafor: with the typical
      within-study variance s² = (k-1) / (sum w - sum w² / sum w) (w = 1/v),
      I² = 100 tau² / (tau² + s²) and H² = (tau² + s²) / s² for DL and REML (for DL this is
      the usual 100 (Q - (k-1)) / Q); for FE, I² = max(0, 100 (Q - (k-1)) / Q) and
      H² = Q / (k-1), the formulas of metafor's FE model and METAL's HetISq.
    * tau² interval: Q-profile (Viechtbauer 2007, Stat. Med. 26:37), as metafor's
      ``confint``; the roots are found exactly, where metafor's ``uniroot`` stops at a
      tolerance of about 1e-4.
    * Prediction interval: mu ± z_{1-alpha/2} sqrt(SE² + tau²), metafor's ``predict.rma``
      default (normal quantile); under Knapp–Hartung t_{k-1} and the adjusted SE, as metafor
      with ``test="knha"``. Higgins, Thompson & Spiegelhalter (2009, JRSS A 172:137) propose
      t_{k-2} instead, which is wider for few studies. For "FE" the interval equals the CI.
    * A single study: estimate and SE are the study's, tau² = 0, Q = 0, Q_df = 0, Q_p = 1,
      I² = 0 and H² = 1 exactly (METAL prints HetDf 0, HetISq 0.0, HetPVal 1); the tau²
      interval is NaN, and with Knapp–Hartung all inference is NaN (t_0 does not exist).

    Raises
    ------
    ModelError
        For misuse: not a DataFrame, a missing or non-numeric column, an unknown method,
        alpha outside (0, 1), a missing study label, a study listed twice in one group, or a
        study missing from ``study_order``.

    References
    ----------
    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package.
    J. Stat. Softw. 36(3). Willer CJ, Li Y, Abecasis GR (2010). METAL: fast and efficient
    meta-analysis of genomewide association scans. Bioinformatics 26:2190.

    Examples
    --------
    >>> import pandas as pd
    >>> from first1000.stats.meta import meta_analyse
    >>> table = pd.DataFrame({
    ...     "marker": ["cg01", "cg01", "cg01", "cg02", "cg02"],
    ...     "cohort": ["ALSPAC", "GenR", "MoBa", "ALSPAC", "MoBa"],
    ...     "estimate": [0.10, 0.35, 0.18, -0.05, 0.0],
    ...     "se": [0.05, 0.08, 0.06, 0.04, 0.05]})
    >>> res = meta_analyse(table, method="REML")
    >>> res[["marker", "k", "estimate", "se", "tau2", "I2", "Q", "direction"]].round(4)
      marker  k  estimate      se    tau2       I2       Q direction
    0   cg01  3    0.1903  0.0655  0.0087  71.9357  7.1283       +++
    1   cg02  2   -0.0305  0.0312  0.0000   0.0000  0.6098       -?0
    >>> fe = meta_analyse(table, method="FE")
    >>> fe[["marker", "estimate", "se", "p", "I2", "Q_p"]].round(4)
      marker  estimate      se       p       I2     Q_p
    0   cg01    0.1586  0.0352  0.0000  71.9428  0.0283
    1   cg02   -0.0305  0.0312  0.3286   0.0000  0.4349
    """
    by_cols = [] if by is None else [by] if isinstance(by, str) else list(by)
    method = str(method).upper()
    if method not in METHODS:
        raise ModelError(f"unknown meta-analysis method {method!r}; choose one of {METHODS}")
    if not 0 < alpha < 1:
        raise ModelError(f"alpha must lie in (0, 1); got {alpha!r}")
    _check_table(table, [estimate, se, study, *by_cols])

    n = len(table)
    y_all = _numeric(table, estimate)
    se_all = _numeric(table, se)
    codes_all, n_groups, first = _group_codes(table, by_cols)

    # Studies: fixed order for the direction string.
    labels = table[study]
    if labels.isna().any():
        raise ModelError(
            f"study column '{study}' has {int(labels.isna().sum())} missing label(s); "
            "every row needs its study"
        )
    if study_order is None:
        study_codes, study_names = pd.factorize(labels, sort=False)
    else:
        study_names = pd.Index(list(study_order))
        study_codes = study_names.get_indexer(labels)
        if (study_codes < 0).any():
            absent = pd.unique(labels[study_codes < 0])
            raise ModelError(
                f"{len(absent)} study label(s) are not in study_order, e.g. {absent[0]!r}"
            )
    n_studies = len(study_names)

    # Rows that take part: status "ok" (when there is a status column), then valid numbers.
    if status in table.columns:
        status_ok = (table[status] == "ok").fillna(False).to_numpy(dtype=bool)
    else:
        status_ok = np.ones(n, dtype=bool)
    pair = codes_all[status_ok].astype(np.int64) * max(n_studies, 1) + study_codes[status_ok]
    if pair.size and np.unique(pair).size < pair.size:
        raise ModelError(
            f"{pair.size - np.unique(pair).size} row(s) repeat a study within one group of "
            f"{by_cols or 'the table'}; give each study at most one row per group"
        )
    valid_numbers = np.isfinite(y_all) & np.isfinite(se_all) & (se_all > 0)
    use = status_ok & valid_numbers
    n_skipped = np.bincount(codes_all[~status_ok], minlength=n_groups)
    n_dropped = np.bincount(codes_all[status_ok & ~valid_numbers], minlength=n_groups)

    y, v, codes = y_all[use], se_all[use] ** 2, codes_all[use]
    out = _combine(y, v, codes, n_groups, method, knapp_hartung, alpha)

    # Direction string (METAL): '+', '-', '0' (estimate exactly 0) or '?' per study.
    chars = np.full((n_groups, n_studies), ord("?"), dtype=np.uint8)
    sign = np.where(y > 0, ord("+"), np.where(y < 0, ord("-"), ord("0"))).astype(np.uint8)
    chars[codes, study_codes[use]] = sign
    if n_studies:
        direction = chars.view(f"S{n_studies}").ravel().astype(str)
    else:
        direction = np.full(n_groups, "", dtype=object)

    keys = table[by_cols].iloc[first].reset_index(drop=True)
    result = pd.DataFrame(
        {
            "k": out["k"],
            "n_dropped": n_dropped,
            "n_skipped": n_skipped,
            "method": method,
            **{c: out[c] for c in RESULT_COLUMNS[4:-2]},
            "direction": direction,
            "status": out["status"],
        }
    )
    return pd.concat([keys, result], axis=1)[[*by_cols, *RESULT_COLUMNS]]


def _combine(y, v, codes, n_groups, method, knapp_hartung, alpha) -> dict:
    """All numbers of :func:`meta_analyse` from the valid rows, as arrays over groups."""
    groups = np.arange(n_groups)
    sums = _Sums(y, v, codes, groups)
    k = np.bincount(codes, minlength=n_groups)
    has = k >= 1
    multi = k >= 2
    df = np.maximum(k - 1, 0)
    status = np.where(has, "ok", "no study with a usable estimate and SE").astype(object)

    with np.errstate(divide="ignore", invalid="ignore"):
        # Fixed effect and Cochran's Q.
        _, sw, sw2, _, fe_mu, r = sums.weighted(np.zeros(n_groups))
        fe_se = np.sqrt(1.0 / sw)
        q = np.where(multi, sums.sum(r * r / v), 0.0)
        # sum w - sum w²/sum w; s2 = typical within-study variance (metafor's vt).
        c = sw - sw2 / sw
        s2 = np.where(multi, df / c, np.nan)
        scale = np.where(multi, s2, 0.0)

        tau2 = np.zeros(n_groups)
        if method in ("DL", "REML"):
            tau2 = np.where(multi, np.maximum(0.0, (q - df) / c), 0.0)
        if method == "REML" and multi.any():
            fit, conv = _reml_tau2(sums.keep(multi), tau2[multi], scale[multi])
            tau2[multi] = fit
            bad = np.flatnonzero(multi)[~conv]
            tau2[bad] = np.nan
            status[bad] = f"REML did not converge in {_MAXITER} iterations"

        # Random-effects (or FE when tau² = 0) estimate.
        t_fill = np.nan_to_num(tau2)
        w, sw_re, _, _, mu, r = sums.weighted(t_fill)
        se_est = np.sqrt(1.0 / sw_re)
        test_df = np.full(n_groups, np.nan)
        if knapp_hartung:
            s2w = sums.sum(w * r * r) / df
            se_est = np.where(multi, np.sqrt(s2w / sw_re), np.nan)
            test_df = np.where(multi, df, np.nan).astype(float)
            crit = stats.t.isf(alpha / 2, test_df)
            status[has & ~multi] = "a single study: Knapp-Hartung inference needs k >= 2"
        else:
            crit = np.full(n_groups, stats.norm.isf(alpha / 2))
        bad_tau = np.isnan(tau2)
        mu[bad_tau] = np.nan
        se_est[bad_tau] = np.nan
        statistic = mu / se_est
        if knapp_hartung:
            p = 2.0 * stats.t.sf(np.abs(statistic), test_df)
        else:
            p = 2.0 * stats.norm.sf(np.abs(statistic))

        # Heterogeneity summaries.
        q_p = np.where(multi, stats.chi2.sf(q, np.maximum(df, 1)), 1.0)
        if method == "FE":
            i2 = np.where(multi & (q > df), 100.0 * (q - df) / q, 0.0)
            h2 = np.where(multi, q / df, 1.0)
        else:
            i2 = np.where(multi, 100.0 * tau2 / (tau2 + s2), 0.0)
            h2 = np.where(multi, (tau2 + s2) / s2, 1.0)

        # Q-profile interval of tau² (random-effects methods, k >= 2).
        tau2_low = np.full(n_groups, np.nan)
        tau2_high = np.full(n_groups, np.nan)
        if method != "FE" and multi.any():
            low, high, ok = _q_profile_ci(
                sums.keep(multi), q[multi], df[multi], scale[multi], alpha
            )
            low[~ok], high[~ok] = np.nan, np.nan
            tau2_low[multi], tau2_high[multi] = low, high

        half_pi = crit * np.sqrt(se_est**2 + t_fill)
        half_ci = crit * se_est

    out = {
        "k": k,
        "estimate": mu,
        "se": se_est,
        "ci_low": mu - half_ci,
        "ci_high": mu + half_ci,
        "statistic": statistic,
        "df": test_df,
        "p": p,
        "tau2": tau2,
        "tau2_ci_low": tau2_low,
        "tau2_ci_high": tau2_high,
        "I2": i2,
        "H2": h2,
        "Q": q,
        "Q_df": df,
        "Q_p": q_p,
        "pi_low": mu - half_pi,
        "pi_high": mu + half_pi,
        "fe_estimate": fe_mu,
        "fe_se": fe_se,
        "status": status,
    }
    # Groups without a usable study: every number NaN (k, Q_df stay 0).
    for name, values in out.items():
        if name not in ("k", "Q_df", "status") and values.dtype.kind == "f":
            values[~has] = np.nan
    return out
