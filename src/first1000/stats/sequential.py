"""Sequential (two-mediator, M1 -> M2) causal mediation: path-specific effects by g-formula.

Extension of :mod:`first1000.stats.causal` (same model fitting, batched bootstrap, interval
helpers and output columns) to two *causally ordered* mediators, exposure X, first mediator
M1, second mediator M2 (which M1 may affect) and outcome Y, and the paths::

    X ───────────────────> Y     direct
    X ─────────> M2 ─────> Y     through M2 only
    X ──> M1 ────────────> Y     through M1 ...
    X ──> M1 ──> M2 ─────> Y     ... and its descendant M2

Models (the same covariates C in all three; factors dummy-coded):

- M1 ~ X + C                                  (OLS; M1 | X, C ~ N(mu1, s1²))
- M2 ~ X + M1 + C                             (OLS; M2 | X, M1, C ~ N(mu2, s2²))
- Y  ~ X + M1 + M2 [+ X·M1 + X·M2] + C        (OLS, or logistic for a 0/1 outcome)

Nested counterfactual means (VanderWeele & Vansteelandt, "Mediation analysis with multiple
mediators", Epidemiol. Methods 2:95–115, 2014; Daniel, De Stavola, Cousens &
Vansteelandt, "Causal mediation analysis with multiple mediators", Biometrics 71:1–14, 2015;
Avin, Shpitser & Pearl, IJCAI 2005, for path-specific effects)::

    Q(a, a', a'') = E[ Y(a, M1(a'), M2(a'', M1(a'))) ]

Y with the exposure set to a on the direct path X -> Y, M1 at the value it would take under
a', and M2 at the value it would take under exposure a'' *and* that same M1(a'). M1 has a
single counterfactual value throughout (no "recanting witness"), so Q is identified by the
g-formula (no unmeasured X–Y, X–M1, X–M2, M1–Y, M2–Y, M1–M2 confounding given C, and no
confounder of those relations affected by X)::

    Q(a, a', a'') = E_C ∫∫ E[Y | a, m1, m2, C] dF(m2 | a'', m1, C) dF(m1 | a', C).

Effects for the contrast a0 -> a1 (the sequential decomposition: each step switches one more
path on, in the order direct, M2-only, M1):

- ``te``          Q(a1, a1, a1) vs Q(a0, a0, a0)      total effect
- ``nde``         Q(a1, a0, a0) vs Q(a0, a0, a0)      X -> Y, not through M1 or M2
- ``nie_m2_only`` Q(a1, a0, a1) vs Q(a1, a0, a0)      X -> M2 -> Y (not through M1)
- ``nie_m1``      Q(a1, a1, a1) vs Q(a1, a0, a1)      X -> M1 -> Y and X -> M1 -> M2 -> Y
  (VanderWeele & Vansteelandt's effect "through M1 and its descendant M2")
- ``nie_joint``   Q(a1, a1, a1) vs Q(a1, a0, a0)      through {M1, M2} jointly
- ``pm_joint``    proportion mediated by {M1, M2}: nie_joint / te (difference scales);
  nde (nie_joint - 1) / (te - 1) on ratio scales (VanderWeele 2015, §2.4).

"vs" is a difference, a risk ratio or an odds ratio (according to ``scale``). The pieces
telescope: te = nde + nie_m2_only + nie_m1 and nie_joint = nie_m2_only + nie_m1 exactly on
difference scales (products on ratio scales).

Linear outcome, no interaction, with coefficients M1: a1·X; M2: d·X + e·M1; Y: c'·X + b1·M1
+ b2·M2 and Δ = a1 - a0 (the contrast):

    nde = c' Δ,   nie_m2_only = b2 d Δ,   nie_m1 = (a1 b1 + a1 e b2) Δ,
    te  = (c' + b2 d + a1 b1 + a1 e b2) Δ = (coefficient of X in Y ~ X + C) Δ.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from first1000.errors import ModelError
from first1000.stats.bootstrap import (
    check_resampling_args,
    analysis_rng,
    bootstrap_p,
    jackknife_counts,
    resample_counts,
)
from first1000.stats.causal import (
    _nodes_for,
    _GF_CELLS,
    CI_METHODS,
    COLUMNS,
    RATIO_SCALES,
    _batched_fit,
    _contrast,
    _data_problem,
    _fit_models,
    _gauss_hermite,
    _interval,
    _Model,
    _one_blas_thread,
)
from first1000.stats.regression import _as_list, _check_columns, design_matrix

SEQ_EFFECTS = ("te", "nde", "nie_m2_only", "nie_m1", "nie_joint", "pm_joint")
SEQ_SCALES = {
    "gaussian": ("difference",),
    "binomial": ("risk_difference", "risk_ratio", "odds_ratio"),
}
SEQ_INFERENCE = ("bootstrap", "none")
# (a, a', a'') of the nested counterfactual means Q(a, a', a''), in column order
# q111, q000, q100, q101 (with 1 = a1, 0 = a0).
_ORDER = ("111", "000", "100", "101")


@dataclass
class _SeqSpec:
    """Three fitted models and the positions of their coefficients."""

    m1: _Model  # design [1, x, C...]
    m2: _Model  # design [1, x, m1, C...]
    out: _Model  # design [1, x, m1, m2, (x m1, x m2), C...]
    interaction: bool
    C: np.ndarray  # (n, q) covariate design (intercept first)


@dataclass
class SeqParams:
    """Coefficients of the three models for B fits (leading axis B).

    ``m1`` (B, 1 + 1 + q'): [intercept, x, covariates...]; ``m2`` (B, 3 + q'):
    [intercept, x, m1, covariates...]; ``out`` (B, 4 [+ 2] + q'): [intercept, x, m1, m2,
    (x·m1, x·m2), covariates...]; ``s1``, ``s2`` (B,): residual variances of M1 and M2.
    """

    m1: np.ndarray
    s1: np.ndarray
    m2: np.ndarray
    s2: np.ndarray
    out: np.ndarray

    def take(self, rows) -> SeqParams:
        return SeqParams(self.m1[rows], self.s1[rows], self.m2[rows], self.s2[rows],
                         self.out[rows])  # fmt: skip

    @property
    def B(self) -> int:
        return self.out.shape[0]


def _linear_predictor_moments(P: SeqParams, C: np.ndarray, a, a1_, a2_, interaction):
    """Mean u (B, r) and variance v (B,) of the outcome linear predictor at (a, a', a'').

    With mu1 = alpha'c + alpha_x a',  M1 = mu1 + s1 Z1;  M2 = delta'c + delta_x a'' + e M1
    + s2 Z2;  eta = theta'c + theta_x a + g1 M1 + g2 M2  (g1 = b1 + t1 a, g2 = b2 + t2 a):

        u = theta'c + theta_x a + (g1 + g2 e) mu1 + g2 (delta'c + delta_x a''),
        v = (g1 + g2 e)^2 s1^2 + g2^2 s2^2        (Z1, Z2 independent N(0, 1)).
    """
    k = C.shape[1]
    c1 = [0, *range(2, 2 + k - 1)]
    c2 = [0, *range(3, 3 + k - 1)]
    kk = 6 if interaction else 4
    c3 = [0, *range(kk, kk + k - 1)]
    mu1 = P.m1[:, c1] @ C.T + (P.m1[:, 1] * a1_)[:, None]
    base2 = P.m2[:, c2] @ C.T + (P.m2[:, 1] * a2_)[:, None]
    e = P.m2[:, 2]
    g1 = P.out[:, 2].copy()
    g2 = P.out[:, 3].copy()
    if interaction:
        g1 = g1 + P.out[:, 4] * a
        g2 = g2 + P.out[:, 5] * a
    tot1 = g1 + g2 * e  # effect of M1 on eta, directly and through M2
    u = P.out[:, c3] @ C.T + (P.out[:, 1] * a)[:, None] + tot1[:, None] * mu1
    u += g2[:, None] * base2
    v = tot1**2 * P.s1 + g2**2 * P.s2
    return u, v


def sequential_counterfactual_means(
    P: SeqParams,
    C: np.ndarray,
    weights: np.ndarray | None,
    a0: float,
    a1: float,
    link: str,
    interaction: bool,
    n_quad: int = 1,
) -> np.ndarray:
    """Nested counterfactual means Q(a, a', a'') for every parameter row.

    Parameters
    ----------
    P : SeqParams
        Coefficients of B fits.
    C : numpy.ndarray, shape (r, q)
        Covariate design rows (intercept first) over which the conditional means are
        averaged (the analysed rows; one row for a conditional mean).
    weights : numpy.ndarray, shape (B, r), optional
        Case weights of the average (bootstrap counts); None: equal weights.
    a0, a1 : float
        Exposure levels.
    link : {"identity", "logit"}
    interaction : bool
        Whether the outcome model holds X·M1 and X·M2.
    n_quad : int
        Gauss–Hermite nodes (logit link).

    Returns
    -------
    numpy.ndarray, shape (B, 4)
        Q(a1, a1, a1), Q(a0, a0, a0), Q(a1, a0, a0), Q(a1, a0, a1).

    Notes
    -----
    Given c, (M1, M2) | (a', a'', c) is bivariate normal, M1 = mu1 + s1 Z1, M2 = mu2(a'',
    M1) + s2 Z2, and enters the outcome's linear predictor linearly, so eta is
    N(u, v) with u, v from ``_linear_predictor_moments``. Hence the double integral
    ∫∫ h(eta) dF(m2 | a'', m1, c) dF(m1 | a', c) is exactly E[h(u + sqrt(v) Z)]:

    - identity link: u (exact; the variances do not enter);
    - logit link: sum_k w_k expit(u + sqrt(v) t_k), a Gauss–Hermite rule over the
      one-dimensional normal to which the 2-D product rule over (Z1, Z2) collapses (the
      product rule with K² nodes gives the same number to its own accuracy; the tests
      check the result against scipy ``dblquad`` over (m1, m2) and against Monte Carlo).
    """
    B = P.B
    r = C.shape[0]
    t, w = _gauss_hermite(n_quad)
    step = max(1, _GF_CELLS // max(r * (n_quad if link == "logit" else 1), 1))
    levels = {"1": a1, "0": a0}
    out = np.empty((B, len(_ORDER)))
    with np.errstate(over="ignore", under="ignore"):
        for start in range(0, B, step):
            stop = min(start + step, B)
            Pc = P.take(slice(start, stop))
            W = None if weights is None else weights[start:stop].astype(float)
            for j, code in enumerate(_ORDER):
                a, ap, app = (levels[ch] for ch in code)
                u, v = _linear_predictor_moments(Pc, C, a, ap, app, interaction)
                if link == "identity":
                    E = u
                else:
                    sd = np.sqrt(np.clip(v, 0, None))
                    ea = np.exp(-np.clip(u, -350, 350))  # (Bc, r)
                    d = np.exp(-np.clip(sd[:, None] * t[None, :], -350, 350))  # (Bc, K)
                    val = ea[:, :, None] * d[:, None, :]
                    val += 1.0
                    np.reciprocal(val, out=val)
                    E = val @ w
                if W is None:
                    out[start:stop, j] = E.mean(axis=1)
                else:
                    out[start:stop, j] = np.einsum("br,br->b", W, E) / W.sum(axis=1)
    return out


def _quad_nodes(P: SeqParams, a0, a1, link, interaction, n_quad) -> int:
    """Nodes for the logit outcome: the rule of :mod:`causal` for the largest SD of eta."""
    if link != "logit":
        return 1
    if n_quad is not None:
        return int(n_quad)
    s_max = 0.0
    C0 = np.ones((1, 1 + P.m1.shape[1] - 2))  # the variance does not depend on c
    for a in (a0, a1):
        _, v = _linear_predictor_moments(P, C0, a, a0, a0, interaction)
        v = v[np.isfinite(v)]
        if v.size:
            s_max = max(s_max, float(np.sqrt(v.max())))
    return _nodes_for(s_max)


def _effects(Q: np.ndarray, scale: str) -> dict[str, np.ndarray]:
    """Effects on the analysis scale (log for ratio scales) from Q (B, 4)."""
    q111, q000, q100, q101 = Q.T
    with np.errstate(divide="ignore", invalid="ignore"):
        if scale in ("difference", "risk_difference"):
            f = lambda p: p  # noqa: E731
        elif scale == "odds_ratio":
            f = lambda p: np.log(p) - np.log1p(-p)  # noqa: E731
        else:
            f = np.log
        e = {
            "te": f(q111) - f(q000),
            "nde": f(q100) - f(q000),
            "nie_m2_only": f(q101) - f(q100),
            "nie_m1": f(q111) - f(q101),
            "nie_joint": f(q111) - f(q100),
        }
        if scale in ("difference", "risk_difference"):
            e["pm_joint"] = e["nie_joint"] / e["te"]
        else:
            nde, nie, te = np.exp(e["nde"]), np.exp(e["nie_joint"]), np.exp(e["te"])
            e["pm_joint"] = nde * (nie - 1.0) / (te - 1.0)
    return e


def _fit_batched(spec: _SeqSpec, counts: np.ndarray) -> tuple[SeqParams, np.ndarray]:
    """Refit the three models on every resample (same counts for all three)."""
    c1, s1 = _batched_fit(spec.m1, counts)
    c2, s2 = _batched_fit(spec.m2, counts)
    c3, _ = _batched_fit(spec.out, counts, need_sigma2=False)
    valid = (
        np.isfinite(c1).all(axis=1) & np.isfinite(c2).all(axis=1) & np.isfinite(c3).all(axis=1)
        & np.isfinite(s1) & (s1 > 0) & np.isfinite(s2) & (s2 > 0)
    )  # fmt: skip
    return SeqParams(c1, s1, c2, s2, c3), valid


def _build(complete, exposure, m1, m2, outcome, covariates, family, interaction):
    n = len(complete)
    x = complete[exposure].to_numpy(dtype=float)
    v1 = complete[m1].to_numpy(dtype=float)
    v2 = complete[m2].to_numpy(dtype=float)
    C, _ = design_matrix(complete, covariates)
    X1 = np.column_stack([C[:, :1], x, C[:, 1:]])
    X2 = np.column_stack([C[:, :1], x, v1, C[:, 1:]])
    inter = [x * v1, x * v2] if interaction else []
    X3 = np.column_stack([C[:, :1], x, v1, v2, *inter, C[:, 1:]])
    link = "identity" if family == "gaussian" else "logit"
    models = [
        _Model(f"first mediator ('{m1}')", "gaussian", "identity", X1, v1),
        _Model(f"second mediator ('{m2}')", "gaussian", "identity", X2, v2),
        _Model("outcome", family, link, X3, complete[outcome].to_numpy(dtype=float)),
    ]
    why = _fit_models(models, n)
    if why:
        return None, why
    for model in models:
        if model.family == "gaussian" and not model.sigma2 > 0:
            return None, f"the {model.name} model fits exactly (zero residual variance)"
    return _SeqSpec(*models, interaction=bool(interaction), C=C), None


def _full(spec: _SeqSpec) -> SeqParams:
    return SeqParams(spec.m1.coef[None], np.array([spec.m1.sigma2]), spec.m2.coef[None],
                     np.array([spec.m2.sigma2]), spec.out.coef[None])  # fmt: skip


def _failed(scales, meta, status) -> pd.DataFrame:
    nan = {"estimate": np.nan, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p": np.nan}
    rows = [{**meta, **nan, "effect": eff, "scale": s, "n_boot": 0, "status": status}
            for s in scales for eff in SEQ_EFFECTS]  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def sequential_mediation(
    data: pd.DataFrame,
    exposure: str,
    mediator1: str,
    mediator2: str,
    outcome: str,
    covariates: Sequence[str] = (),
    contrast: str | tuple[float, float] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    keys: Sequence[str] = (),
    alpha: float = 0.05,
    ci_method: str = "percentile",
    interaction: bool = False,
    outcome_family: str = "gaussian",
    inference: str = "bootstrap",
    n_quad: int | None = None,
) -> pd.DataFrame:
    """Path-specific effects of X through two sequential mediators M1 -> M2 (g-formula).

    Parameters
    ----------
    data : pandas.DataFrame
        Complete cases of all used columns are analysed (the same rows for every model).
    exposure : str
        Numeric (or 0/1) exposure X.
    mediator1, mediator2 : str
        Continuous mediators; ``mediator1`` (M1) precedes and may affect ``mediator2`` (M2).
        Both are modelled by OLS with normal residuals.
    outcome : str
        Continuous outcome (``outcome_family="gaussian"``, OLS) or 0/1 outcome
        (``"binomial"``, logistic regression).
    covariates : sequence of str
        Baseline confounders C, in all three models (factors dummy-coded by
        :func:`first1000.stats.regression.design_matrix`).
    contrast : None, "sd", "iqr" or (a0, a1)
        As in :func:`first1000.stats.causal.causal_mediation`: None gives (0, 1) for a 0/1
        exposure and else "sd" (a0 = mean, a1 = mean + SD).
    n_boot : int, default 1000
        Bootstrap resamples.
    seed : int, default 0
    keys : sequence of str
        Analysis names for :func:`~first1000.stats.bootstrap.analysis_rng`; the resamples
        depend only on (seed, keys) and the number of complete rows.
    alpha : float, default 0.05
    ci_method : {"percentile", "bias_corrected", "bca"}
        As in :func:`~first1000.stats.causal.causal_mediation` ("bca" refits the three
        models on the n leave-one-out samples, batched).
    interaction : bool, default False
        Add X·M1 and X·M2 to the outcome model.
    outcome_family : {"gaussian", "binomial"}
    inference : {"bootstrap", "none"}
        "none": point estimates only.
    n_quad : int, optional
        Gauss–Hermite nodes for the logistic outcome (default chosen from the largest SD of
        the mediators' part of the linear predictor, as in :mod:`first1000.stats.causal`).

    Returns
    -------
    pandas.DataFrame
        Columns :data:`first1000.stats.causal.COLUMNS`; one row per (scale, effect) with
        ``mediator`` = ``"M1>M2"`` (the two names joined by ">"), effect in ``te, nde,
        nie_m2_only, nie_m1, nie_joint, pm_joint`` (see the module docstring), scale
        ``difference`` (gaussian outcome) or ``risk_difference, risk_ratio, odds_ratio``
        (binary), estimand "marginal", method "gformula", m_cde NaN. Ratio estimates are
        ratios, their ``se`` is that of the log ratio, their CIs are computed on the log
        scale. ``p`` is :func:`~first1000.stats.bootstrap.bootstrap_p` (``pm_joint`` repeats
        that of ``nie_joint``). ``n_boot`` counts the resamples in which all three models
        could be fitted.

    Notes
    -----
    Point estimates are deterministic: Q(a, a', a'') is averaged over the analysed rows'
    covariates, the inner double integral over (M1, M2) is exact for a linear outcome and
    a Gauss–Hermite rule for a logistic one (see :func:`sequential_counterfactual_means`).
    Ratio measures are marginal (no rare-outcome approximation).

    The bootstrap resamples cases (counts from
    :func:`~first1000.stats.bootstrap.resample_counts`), refits M1, M2 and Y models on
    the same resample with :func:`~first1000.stats.bootstrap.batched_ols` /
    :func:`~first1000.stats.bootstrap.batched_glm` and averages the g-formula with the
    resample's counts as weights. Same data, options and seed give identical numbers.

    Identification (beyond the single-mediator conditions): no unmeasured confounding of
    M1–M2, and no exposure-induced confounder of any mediator–outcome or M1–M2 relation
    other than M1 itself (Daniel et al. 2015). The decomposition order matters when
    the outcome model has interactions (other orders, e.g. M1 first, give different but
    also valid splits); without interactions and with a linear outcome all orders agree.

    Data problems (too few rows, zero variance, non-0/1 binary outcome, infinite values,
    collinear designs, separation) give NaN numbers and a ``status`` saying why.

    Raises
    ------
    ModelError
        Unknown options, missing or repeated columns, invalid n_boot/seed/alpha/contrast.
    """
    if outcome_family not in SEQ_SCALES:
        raise ModelError(f"outcome_family must be one of {tuple(SEQ_SCALES)}, got "
                         f"{outcome_family!r}")  # fmt: skip
    if ci_method not in CI_METHODS:
        raise ModelError(f"ci_method must be one of {CI_METHODS}, got {ci_method!r}")
    if inference not in SEQ_INFERENCE:
        raise ModelError(f"inference must be one of {SEQ_INFERENCE}, got {inference!r}")
    check_resampling_args(n_boot, seed, alpha)
    bad_quad = isinstance(n_quad, bool) or not isinstance(n_quad, (int, np.integer))
    if n_quad is not None and (bad_quad or n_quad < 1):
        raise ModelError(f"n_quad must be a positive integer, got {n_quad!r}")
    if not isinstance(interaction, (bool, np.bool_)):
        raise ModelError(f"interaction must be True or False, got {interaction!r}")
    covariates = _as_list(covariates)
    roles = [exposure, mediator1, mediator2, outcome]
    if len(set(roles)) != 4 or set(roles) & set(covariates):
        raise ModelError(
            f"exposure '{exposure}', mediators '{mediator1}', '{mediator2}' and outcome "
            f"'{outcome}' must be different columns and must not be covariates"
        )
    if len(set(covariates)) != len(covariates):
        raise ModelError(f"covariates are repeated: {covariates}")
    used = [*roles, *covariates]
    _check_columns(data, used)

    complete = data.loc[:, used].dropna()
    n = len(complete)
    scales = SEQ_SCALES[outcome_family]
    meta = {
        "exposure": exposure, "mediator": f"{mediator1}>{mediator2}", "outcome": outcome,
        "estimand": "marginal", "method": "gformula", "inference": inference,
        "ci_method": ci_method if inference == "bootstrap" else "none", "seed": int(seed),
        "n": n, "m_cde": np.nan,
    }  # fmt: skip
    fam = {mediator1: "gaussian", mediator2: "gaussian"}
    problem = _data_problem(complete, exposure, [mediator1, mediator2], outcome, fam,
                            outcome_family, n)  # fmt: skip
    a0 = a1 = np.nan
    label = contrast if isinstance(contrast, str) else ("values" if contrast else None)
    if not problem:
        a0, a1, label = _contrast(complete[exposure].to_numpy(dtype=float), contrast)
    meta.update({"contrast": label, "a0": a0, "a1": a1})
    if problem:
        return _failed(scales, meta, problem)
    spec, why = _build(complete, exposure, mediator1, mediator2, outcome, covariates,
                       outcome_family, interaction)  # fmt: skip
    if why:
        return _failed(scales, meta, why)
    link = spec.out.link

    with _one_blas_thread():
        P = _full(spec)
        Q = sequential_counterfactual_means(
            P, spec.C, None, a0, a1, link, spec.interaction,
            _quad_nodes(P, a0, a1, link, spec.interaction, n_quad),
        )  # fmt: skip
        points = {s: _effects(Q, s) for s in scales}
        reps = jacks = None
        n_valid = 0
        status = "ok"
        if inference == "bootstrap":
            counts = resample_counts(n, n_boot, analysis_rng(seed, *keys))
            PB, valid = _fit_batched(spec, counts)
            n_valid = int(valid.sum())
            if n_valid < 2:
                status = ("fewer than 2 bootstrap resamples could be fitted (separation or "
                          "singular designs in the resamples)")  # fmt: skip
            else:
                PB = PB.take(valid)
                QB = sequential_counterfactual_means(
                    PB, spec.C, counts[valid], a0, a1, link, spec.interaction,
                    _quad_nodes(PB, a0, a1, link, spec.interaction, n_quad),
                )  # fmt: skip
                reps = {s: _effects(QB, s) for s in scales}
                if ci_method == "bca":
                    jc = jackknife_counts(n)
                    PJ, okj = _fit_batched(spec, jc)
                    PJ = PJ.take(okj)
                    QJ = sequential_counterfactual_means(
                        PJ, spec.C, jc[okj], a0, a1, link, spec.interaction,
                        _quad_nodes(PJ, a0, a1, link, spec.interaction, n_quad),
                    )  # fmt: skip
                    jacks = {s: _effects(QJ, s) for s in scales}

    rows = []
    for scale in scales:
        for effect in SEQ_EFFECTS:
            est = float(points[scale][effect][0])
            se = lo = hi = p = np.nan
            if reps is not None:
                samples = reps[scale][effect]
                samples = samples[np.isfinite(samples)]
                if samples.size >= 2:
                    jack = None if jacks is None else jacks[scale][effect]
                    lo, hi = _interval(samples, est, alpha, ci_method, jack)
                    se = float(np.std(samples, ddof=1))
                ref = "nie_joint" if effect == "pm_joint" else effect
                p = bootstrap_p(reps[scale][ref], float(points[scale][ref][0]))
            if scale in RATIO_SCALES and effect != "pm_joint":
                est, lo, hi = np.exp(est), np.exp(lo), np.exp(hi)
            rows.append({
                **meta, "effect": effect, "scale": scale, "estimate": float(est), "se": se,
                "ci_low": float(lo), "ci_high": float(hi), "p": p,
                "n_boot": n_valid if inference == "bootstrap" else 0, "status": status,
            })  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)
