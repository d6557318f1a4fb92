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
from scipy import special

from first1000.errors import ModelError
from first1000.stats.regression import _check_columns

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




def _numeric(table: pd.DataFrame, column: str) -> np.ndarray:
    try:
        return table[column].to_numpy(dtype=float, na_value=np.nan)
    except (TypeError, ValueError) as err:
        raise ModelError(
            f"column '{column}' must be numeric (dtype {table[column].dtype}); "
            "convert it before the meta-analysis"
        ) from err


def _group_codes(table: pd.DataFrame, by: list[str]) -> tuple[np.ndarray, int, np.ndarray]:
    """Group number of each row (groups numbered by first appearance) and each group's first row."""
    n = len(table)
    if not by:
        codes = np.zeros(n, dtype=np.intp)
    elif len(by) == 1:
        codes, _ = pd.factorize(table[by[0]], sort=False, use_na_sentinel=False)
    else:
        codes = table.groupby(by, sort=False, dropna=False, observed=True).ngroup().to_numpy()
    codes = np.asarray(codes, dtype=np.intp)
    n_groups = int(codes.max()) + 1 if n else 0
    # Codes number the groups in order of first appearance, so a group's first row is where
    # the running maximum of the codes goes up.
    running = np.maximum.accumulate(codes) if n else codes
    first = np.flatnonzero(np.r_[True, running[1:] > running[:-1]]) if n else codes
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

    def residuals(self, tau2: np.ndarray):
        """Weights w = 1/(v + tau²), their sum, the weighted mean mu and residuals y - mu."""
        w = 1.0 / (self.v + tau2[self.codes])
        sw = self.sum(w)
        mu = self.sum(w * self.y) / sw
        return w, sw, mu, self.y - mu[self.codes]

    def weighted(self, tau2: np.ndarray):
        """As :meth:`residuals`, plus the sums of w² and w³."""
        w, sw, mu, r = self.residuals(tau2)
        return w, sw, self.sum(w * w), self.sum(w * w * w), mu, r


# --- estimators of tau² -------------------------------------------------------------------


def _iterate(sums: _Sums, start: np.ndarray, scale: np.ndarray, step):
    """Iterate ``t <- step(sums, t, idx)`` for every group until it stops moving.

    A group has converged when a step changes t by at most _RTOL (t + scale). Converged groups
    are frozen, and dropped from the sums once half of the groups in them are frozen (so the
    arrays shrink without being copied at every iteration). ``idx`` maps the groups of the
    current ``sums`` to positions in ``start``. Returns t and a converged flag per group.
    """
    t = start.copy()
    converged = np.zeros(t.size, dtype=bool)
    idx = np.arange(t.size)
    live = np.ones(t.size, dtype=bool)
    for _ in range(_MAXITER):
        if not live.any():
            break
        current = t[idx]
        new = step(sums, current, idx)
        done = np.abs(new - current) <= _RTOL * (new + scale[idx])
        t[idx[live]] = new[live]
        converged[idx[live & done]] = True
        live &= ~done
        if live.sum() <= live.size // 2:
            sums, idx, live = sums.keep(live), idx[live], live[live]
    return t, converged


def _restricted_loglik(sums: _Sums, tau2: np.ndarray) -> np.ndarray:
    """REML log-likelihood of the intercept-only model, up to a constant.

    l(tau²) = -1/2 [sum log(v + tau²) + log sum w + sum w (y - mu)²], w = 1/(v + tau²)
    (Viechtbauer 2005, J. Educ. Behav. Stat. 30:261; metafor's ``ll.REML`` less its
    constant terms).
    """
    w, sw, _, r = sums.residuals(tau2)
    return -0.5 * (sums.sum(np.log(sums.v + tau2[sums.codes])) + np.log(sw) + sums.sum(w * r * r))


def _reml_derivatives(sums: _Sums, tau2: np.ndarray):
    """REML score, expected (Fisher) and observed information at tau², per group.

    With P = W - W 1 (1'W1)^-1 1'W, W = diag(w), w = 1/(v + tau²) and r = y - mu: Py = w r,
    so the score is dl/dtau² = (y'PPy - tr P) / 2 = (sum w²r² - sum w + sum w²/sum w) / 2 and
    the expected information is tr(PP) / 2 = (sum w² - 2 sum w³/sum w + (sum w²/sum w)²) / 2
    (Viechtbauer 2005, J. Educ. Behav. Stat. 30:261; their ratio is the Fisher-scoring step
    of metafor's ``rma.uni``). Differentiating the score once more
    (dmu/dtau² = -sum w²r / sum w) gives the observed information
    -d²l/dtau²² = sum w³r² - (sum w²r)² / sum w - tr(PP) / 2.
    """
    w, sw, sw2, sw3, _, r = sums.weighted(tau2)
    wr = w * r
    half_trpp = 0.5 * (sw2 - 2.0 * sw3 / sw + (sw2 / sw) ** 2)
    score = 0.5 * (sums.sum(wr * wr) - sw + sw2 / sw)
    observed = sums.sum(wr * wr * w) - sums.sum(wr * w) ** 2 / sw - half_trpp
    return score, half_trpp, observed


def _reml_tau2(sums: _Sums, start: np.ndarray, scale: np.ndarray):
    """REML tau², all groups at once, by safeguarded Newton/Fisher-scoring ascent.

    Each step is score / information on [0, inf): the observed information where it is
    positive (Newton: quadratic convergence), else the expected one (Fisher scoring, metafor's
    algorithm); the step is capped at 10 (tau² + scale) and halved until the restricted
    likelihood does not decrease, and a group moving down jumps to tau² = 0 when that is at
    least as likely. Plain Fisher scoring, as in metafor, can oscillate when the observed
    information far exceeds the expected one and crawls (sublinearly) towards a flat maximum
    on the boundary; both happen for a few in 10⁵ CpGs with three cohorts. The REML
    likelihood of few studies can also have a local maximum inside (0, inf) besides one at 0:
    the point reached is kept only if its restricted likelihood is at least that of tau² = 0,
    so the estimate is exactly 0 on the boundary.
    """

    def step(part: _Sums, t: np.ndarray, idx: np.ndarray) -> np.ndarray:
        score, expected, observed = _reml_derivatives(part, t)
        delta = score / np.where(observed > 0, observed, expected)
        cap = 10.0 * (t + scale[idx])
        delta = np.clip(delta, -cap, cap)
        new = np.maximum(t + delta, 0.0)
        before = _restricted_loglik(part, t)
        slack = 1e-12 * (1.0 + np.abs(before))
        after = _restricted_loglik(part, new)
        worse = after < before - slack
        for _ in range(60):
            if not worse.any():
                break
            delta[worse] *= 0.5
            new[worse] = np.maximum(t[worse] + delta[worse], 0.0)
            after[worse] = _restricted_loglik(part.keep(worse), new[worse])
            worse &= after < before - slack
        down = (delta < 0) & (new > 0)
        if down.any():
            at_zero = _restricted_loglik(part.keep(down), np.zeros(int(down.sum())))
            jump = np.flatnonzero(down)[at_zero >= after[down]]
            new[jump] = 0.0
        return new

    with np.errstate(divide="ignore", invalid="ignore"):
        tau2, converged = _iterate(sums, start, scale, step)
        inside = converged & (tau2 > 0)
        if inside.any():
            part = sums.keep(inside)
            at_zero = _restricted_loglik(part, np.zeros(part.groups.size))
            on_boundary = at_zero >= _restricted_loglik(part, tau2[inside])
            tau2[np.flatnonzero(inside)[on_boundary]] = 0.0
    return tau2, converged


def _q_profile_root(sums: _Sums, start: np.ndarray, target: np.ndarray, scale: np.ndarray):
    """Solve Q(tau²) = target per group by Newton's method, starting left of the root.

    Q(tau²) = sum w (y - mu)² with w = 1/(v + tau²) is the generalised Q statistic. It is
    decreasing and convex in tau² (the partial minimum over mu of the jointly convex
    (y - mu)²/(v + tau²)), with dQ/dtau² = -sum w² (y - mu)² (the term in dmu/dtau² vanishes
    because mu minimises Q). Newton's iterates from a point left of the root of a convex
    decreasing function increase monotonically to the root, so no bracketing is needed.
    """

    def step(part: _Sums, t: np.ndarray, idx: np.ndarray) -> np.ndarray:
        w, _, _, r = part.residuals(t)
        wr2 = w * r * r
        return np.maximum(t + (part.sum(wr2) - target[idx]) / part.sum(w * wr2), 0.0)

    with np.errstate(divide="ignore", invalid="ignore"):
        return _iterate(sums, start, scale, step)


def _per_df(quantile, df: np.ndarray) -> np.ndarray:
    """``quantile(df)`` for an integer array of degrees of freedom, computed once per value."""
    df = np.asarray(df, dtype=np.intp)
    if df.size == 0:
        return np.zeros(0)
    with np.errstate(invalid="ignore"):
        table = np.asarray(quantile(np.arange(int(df.max()) + 1)), dtype=float)
    return table[df]


def _q_profile_ci(sums: _Sums, q0, df, scale, alpha):
    """Q-profile confidence interval of tau² (Viechtbauer 2007, Stat. Med. 26:37-52).

    With Q(tau²) the generalised Q statistic (decreasing in tau²), the lower bound solves
    Q(tau²) = the 1 - alpha/2 quantile of chi²_{k-1} and the upper bound Q(tau²) = its
    alpha/2 quantile, as metafor's ``confint.rma.uni`` (``type="QP"``); a bound whose
    equation has no root in [0, inf) because Q(0) is already below that quantile is 0.
    """
    n = q0.size
    low, high = np.zeros(n), np.zeros(n)
    ok = np.ones(n, dtype=bool)
    crit_low = _per_df(lambda d: special.chdtri(d, alpha / 2), df)  # the larger quantile
    crit_high = _per_df(lambda d: special.chdtri(d, 1 - alpha / 2), df)
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
    * REML: maximises the restricted likelihood
      l(tau²) = -1/2 [sum log(v_i + tau²) + log sum w_i + sum w_i (y_i - mu)²] on [0, inf)
      (Viechtbauer 2005, J. Educ. Behav. Stat. 30:261) by Fisher scoring (metafor's
      algorithm) switched to Newton steps where the observed information is positive, with
      step halving, started at the DL value and converged to a relative change of 1e-12.
      metafor starts at the Hedges value and stops at an absolute change of 1e-5, which for
      CpG-sized effects (tau² ~ 1e-5) is barely one step; its plain scoring also fails to
      converge for a few in 10⁵ CpGs, which this safeguarded version handles. Estimates on
      the boundary are exactly 0; if the likelihood has an inner local maximum less likely
      than tau² = 0, the estimate is 0.
    * Random effects: w_i = 1/(v_i + tau²), mu and SE as above with these weights; z-tests and
      normal intervals. Knapp–Hartung: SE² = s²_w / sum w_i with
      s²_w = sum w_i (y_i - mu)² / (k-1) and t_{k-1} (Knapp & Hartung 2003, Stat. Med.
      22:2693); as metafor, s²_w is not truncated at 1, and is set to 1 when
      sum w_i (y_i - mu)² <= 2.2e-16 (identical estimates would otherwise give SE 0).
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
    0   cg01  3    0.1991  0.0702  0.0108  73.7117  7.0402       +++
    1   cg02  2   -0.0305  0.0312  0.0000   0.0000  0.6098       -?0
    >>> res[["marker", "tau2_ci_low", "tau2_ci_high", "pi_low", "pi_high"]].round(4)
      marker  tau2_ci_low  tau2_ci_high  pi_low  pi_high
    0   cg01          0.0        0.6389 -0.0465   0.4446
    1   cg02          0.0        1.2708 -0.0917   0.0307

    GenR has no cg02 row (``?``) and MoBa's cg02 estimate is exactly 0 (``0``). The
    fixed-effect analysis (METAL's ``SCHEME STDERR``):

    >>> fe = meta_analyse(table, method="FE")
    >>> fe[["marker", "estimate", "se", "p", "I2", "Q_p"]].round(4)
      marker  estimate      se      p       I2     Q_p
    0   cg01    0.1735  0.0346  0.000  71.5916  0.0296
    1   cg02   -0.0305  0.0312  0.329   0.0000  0.4349
    """
    by_cols = [] if by is None else [by] if isinstance(by, str) else list(by)
    method = str(method).upper()
    if method not in METHODS:
        raise ModelError(f"unknown meta-analysis method {method!r}; choose one of {METHODS}")
    if not 0 < alpha < 1:
        raise ModelError(f"alpha must lie in (0, 1); got {alpha!r}")
    _check_columns(table, [estimate, se, study, *by_cols], what="table")

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
    pair = np.sort(
        codes_all[status_ok].astype(np.int64) * max(n_studies, 1) + study_codes[status_ok]
    )
    n_repeats = int(np.count_nonzero(pair[1:] == pair[:-1]))
    if n_repeats:
        raise ModelError(
            f"{n_repeats} row(s) repeat a study within one group of "
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
            rss = sums.sum(w * r * r)
            s2w = np.where(rss <= np.finfo(float).eps, 1.0, rss / df)
            se_est = np.where(multi, np.sqrt(s2w / sw_re), np.nan)
            test_df = np.where(multi, df, np.nan).astype(float)
            crit = np.where(multi, _per_df(lambda d: -special.stdtrit(d, alpha / 2), df), np.nan)
            status[has & ~multi] = "a single study: Knapp-Hartung inference needs k >= 2"
        else:
            crit = np.full(n_groups, -special.ndtri(alpha / 2))
        bad_tau = np.isnan(tau2)
        mu[bad_tau] = np.nan
        se_est[bad_tau] = np.nan
        statistic = mu / se_est
        if knapp_hartung:
            p = 2.0 * special.stdtr(test_df, -np.abs(statistic))
        else:
            p = 2.0 * special.ndtr(-np.abs(statistic))

        # Heterogeneity summaries.
        q_p = np.where(multi, special.chdtrc(np.maximum(df, 1), q), 1.0)
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
            failed = np.flatnonzero(multi)[~ok]
            status[failed] = f"Q-profile interval of tau2 did not converge in {_MAXITER} iterations"

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
