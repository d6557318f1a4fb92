"""Counterfactual (causal) mediation analysis: g-computation, closed forms, vectorised inference.

Estimands (Robins & Greenland, Epidemiology 3:143–155, 1992; Pearl, UAI 2001; VanderWeele,
*Explanation in Causal Inference*, 2015, ch. 2–5), for an exposure contrast a0 -> a1 and
counterfactual means E[Y(a, M(a*))]:

- ``cde``  controlled direct effect at mediator value m:  E[Y(a1, m)]      vs E[Y(a0, m)]
- ``pnde`` pure natural direct effect:                    E[Y(a1, M(a0))] vs E[Y(a0, M(a0))]
- ``tnde`` total natural direct effect:                   E[Y(a1, M(a1))] vs E[Y(a0, M(a1))]
- ``pnie`` pure natural indirect effect:                  E[Y(a0, M(a1))] vs E[Y(a0, M(a0))]
- ``tnie`` total natural indirect effect:                 E[Y(a1, M(a1))] vs E[Y(a1, M(a0))]
- ``te``   total effect:                                  E[Y(a1, M(a1))] vs E[Y(a0, M(a0))]
- ``pm``   proportion mediated: tnie/te on difference scales; on ratio scales
  pnde (tnie - 1) / (te - 1) (VanderWeele 2015, §2.4).

"vs" is a difference, a ratio of means (risk or rate ratio) or a ratio of odds, according to
``scale``. te = pnde + tnie = tnde + pnie (difference) or pnde · tnie (ratio scales).
In R ``mediation`` terms ACME(control) = pnie, ACME(treated) = tnie, ADE(control) = pnde,
ADE(treated) = tnde.

Models: one regression per mediator, M_j ~ X + C_Mj (linear, logistic or Poisson), and one
outcome regression Y ~ X + M_1..M_J [+ X·M_j] + C_Y (linear, logistic, probit or Poisson).
Identification needs no unmeasured exposure–outcome, mediator–outcome and exposure–mediator
confounding and no mediator–outcome confounder affected by the exposure.

The g-formula (``estimand="marginal"``) averages E[Y(a, M(a*)) | C = c_i] over the empirical
covariate distribution (each participant once; each resample by its counts), so ratio
measures are marginal and need no rare-outcome approximation. The inner expectation over
M(a*) | c_i is computed deterministically (see :func:`counterfactual_means`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy.optimize import brentq
from scipy.special import gammaln, ndtr
from scipy.stats import norm

from first1000.errors import ModelError
from first1000.stats.blas import one_thread as _one_blas_thread
from first1000.stats.bootstrap import (
    check_resampling_args,
    _glm_parts,
    analysis_rng,
    batched_firth,
    batched_glm,
    batched_ols,
    bca_ci,
    bias_corrected_ci,
    bootstrap_p,
    jackknife_counts,
    percentile_ci,
    pingouin_resample_counts,
    resample_counts,
)
from first1000.stats.multitest import bh_fdr
from first1000.stats.regression import (
    _as_list,
    _check_columns,
    _infinite_columns,
    _is_categorical,
    check_column_types,
    design_matrix,
)

COLUMNS = [
    "exposure", "mediator", "outcome", "effect", "scale", "estimand", "method", "estimate",
    "se", "ci_low", "ci_high", "p", "n", "n_missing", "n_boot", "n_boot_dropped", "contrast",
    "a0", "a1", "m_cde", "inference", "ci_method", "seed", "firth", "status",
]  # fmt: skip
EFFECTS = ("cde", "pnde", "tnde", "pnie", "tnie", "te", "pm")
FAMILY_LINKS = {
    "gaussian": ("identity",),
    "binomial": ("logit", "probit"),
    "poisson": ("log",),
}
OUTCOME_SCALES = {
    "gaussian": ("difference",),
    "binomial": ("risk_difference", "risk_ratio", "odds_ratio"),
    "poisson": ("difference", "rate_ratio"),
}
RATIO_SCALES = ("risk_ratio", "odds_ratio", "rate_ratio")
CI_METHODS = ("percentile", "bias_corrected", "bca")
INFERENCE = ("bootstrap", "quasi_bayes", "delta", "none")
RESAMPLERS = ("numpy", "pingouin")
ESTIMANDS = ("marginal", "conditional")
METHODS = ("gformula", "closed_form")

# Cells (resamples x rows x quadrature nodes) evaluated per step of the g-formula: ~2 MB of
# float64 per temporary (elementwise passes dominate the cost).
_GF_CELLS = 2**20
# Gauss-Hermite rules (nodes, largest s = SD of the normal part of the logit linear predictor
# for which the rule's error is below ~1e-10), see _quadrature_nodes.
_QUAD_RULES = ((8, 0.4), (16, 0.85), (32, 1.5), (64, 2.0), (128, 2.9), (256, np.inf))
_GLM_MAXITER = 100
_HUGE_STD_SE = 50.0
_EXTREME_PROB = 1e-8


# --------------------------------------------------------------------------------------
# Model specification and fitting
# --------------------------------------------------------------------------------------


@dataclass
class _Model:
    """One regression: design [1, x, ...], response, family/link, full-data fit."""

    name: str
    family: str
    link: str
    X: np.ndarray
    y: np.ndarray
    coef: np.ndarray = field(default=None)
    cov: np.ndarray = field(default=None)
    sigma2: float = np.nan  # residual variance (OLS mean squared error), gaussian only
    firth: bool = False  # Firth-penalised logistic regression (binomial, logit link)

    @property
    def p(self) -> int:
        return self.X.shape[1]


@dataclass
class _Spec:
    """A mediation model set: J mediator models and one outcome model."""

    mediators: list[str]
    med: list[_Model]
    out: _Model
    inter: list[bool]
    # positions in the outcome coefficient vector
    ix_m: list[int]
    ix_xm: list[int | None]
    ix_c: list[int]  # intercept and covariates (no x, no mediators)
    # covariate-only design columns (intercept + covariates) of each model
    med_cols: list[list[int]]


@dataclass
class _Params:
    """Parameters of a spec for B resamples/draws (leading axis B)."""

    med_coef: list[np.ndarray]
    med_sigma2: list[np.ndarray]
    out_coef: np.ndarray

    def take(self, rows) -> _Params:
        return _Params(
            [c[rows] for c in self.med_coef],
            [s[rows] for s in self.med_sigma2],
            self.out_coef[rows],
        )

    @property
    def B(self) -> int:
        return self.out_coef.shape[0]


def _fit_ols_full(model: _Model) -> str | None:
    X, y = model.X, model.y
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    resid = y - X @ coef
    dof = len(y) - model.p
    sigma2 = float(resid @ resid / dof)
    model.coef = coef
    model.sigma2 = sigma2
    model.cov = sigma2 * np.linalg.inv(X.T @ X)
    return None


def _fit_glm_full(model: _Model) -> str | None:
    X, y = model.X, model.y
    if model.firth:
        coef, cov = batched_firth(X, y, np.ones((1, len(y))), max_iter=_GLM_MAXITER,
                                  return_cov=True)  # fmt: skip
        if not np.isfinite(coef).all():
            return (f"the Firth-penalised {model.name} model did not converge in "
                    f"{_GLM_MAXITER} steps")  # fmt: skip
        model.coef, model.cov = coef[0], cov[0]
        return None
    coef = batched_glm(
        X, y, np.ones((1, len(y))), model.family, model.link, max_iter=_GLM_MAXITER
    )[0]
    separation = (
        f"perfect or quasi-perfect separation in the {model.name} model: some "
        "combination of its predictors predicts the response (almost) perfectly, so its "
        "coefficients are infinite; merge sparse categories or drop the predictor"
    )
    if not np.isfinite(coef).all():
        return (
            f"the {model.name} model ({model.family}, {model.link} link) did not converge in "
            f"{_GLM_MAXITER} Fisher-scoring steps (typically separation)"
        )
    eta = X @ coef
    mu, dmu, var = _glm_parts(eta.copy(), model.family, model.link)
    w = dmu**2 / np.maximum(var, 1e-300)
    info = X.T @ (w[:, None] * X)
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        return separation
    se = np.sqrt(np.clip(np.diag(cov), 0, None))
    std_se = se[1:] * X[:, 1:].std(axis=0)
    n_extreme = 0
    if model.family == "binomial":
        n_extreme = int(np.sum((mu < _EXTREME_PROB) | (mu > 1 - _EXTREME_PROB)))
    if not np.all(np.isfinite(se)) or (n_extreme > 0 and np.any(std_se > _HUGE_STD_SE)):
        return separation
    model.coef = coef
    model.cov = cov
    return None


def _fit_models(models, n: int) -> str | None:
    """Fit every model on the full data; the first reason one cannot be fitted, else None."""
    for model in models:
        if n < model.p + 1:
            return (f"too few complete rows: n={n} for the {model.name} model with {model.p} "
                    f"parameters (needs at least {model.p + 1})")
        rank = np.linalg.matrix_rank(model.X)
        if rank < model.p:
            return (f"the {model.name} model's design is collinear (rank {rank} < {model.p} "
                    "parameters); drop redundant covariates")
        why = _fit_full(model)
        if why:
            return why
    return None


def _fit_full(model: _Model) -> str | None:
    if model.family == "gaussian":
        return _fit_ols_full(model)
    return _fit_glm_full(model)


def _batched_fit(
    model: _Model, counts: np.ndarray, need_sigma2: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """Coefficients (B, p) and residual variance (B,) of one model on every resample."""
    B = counts.shape[0]
    if model.family == "gaussian":
        coef = batched_ols(model.X, model.y, counts)
        sigma2 = np.full(B, np.nan)
        if not need_sigma2:
            return coef, sigma2
        step = max(1, 2**20 // len(model.y))
        dof = counts.sum(axis=1) - model.p
        for start in range(0, B, step):
            stop = min(start + step, B)
            resid = model.y[None, :] - coef[start:stop] @ model.X.T
            sigma2[start:stop] = np.einsum("bn,bn->b", counts[start:stop], resid * resid)
        with np.errstate(invalid="ignore", divide="ignore"):
            sigma2 = sigma2 / dof
        return coef, sigma2
    if model.firth:
        coef = batched_firth(model.X, model.y, counts, start=model.coef, max_iter=_GLM_MAXITER)
    else:
        coef = batched_glm(model.X, model.y, counts, model.family, model.link, start=model.coef)
    return coef, np.full(B, np.nan)


def _fit_params(spec: _Spec, counts: np.ndarray) -> tuple[_Params, np.ndarray]:
    med_coef, med_s2 = [], []
    valid = np.ones(counts.shape[0], dtype=bool)
    for model in spec.med:
        c, s2 = _batched_fit(model, counts)
        med_coef.append(c)
        med_s2.append(s2)
        valid &= np.isfinite(c).all(axis=1)
        if model.family == "gaussian":
            valid &= np.isfinite(s2) & (s2 > 0)
    out_coef, _ = _batched_fit(spec.out, counts, need_sigma2=False)
    valid &= np.isfinite(out_coef).all(axis=1)
    return _Params(med_coef, med_s2, out_coef), valid


def _full_params(spec: _Spec) -> _Params:
    return _Params(
        [m.coef[None, :] for m in spec.med],
        [np.array([m.sigma2]) for m in spec.med],
        spec.out.coef[None, :],
    )


def _quasi_bayes_params(spec: _Spec, sims: int, rng: np.random.Generator) -> _Params:
    """Coefficients drawn from their asymptotic normal distributions (models independent)."""
    med_coef, med_s2 = [], []
    for model in spec.med:
        med_coef.append(rng.multivariate_normal(model.coef, model.cov, size=sims, method="eigh"))
        med_s2.append(np.full(sims, model.sigma2))
    out = rng.multivariate_normal(spec.out.coef, spec.out.cov, size=sims, method="eigh")
    return _Params(med_coef, med_s2, out)


# --------------------------------------------------------------------------------------
# Counterfactual means (g-formula)
# --------------------------------------------------------------------------------------


def _inv_link(eta: np.ndarray, link: str) -> np.ndarray:
    if link == "identity":
        return eta
    if link == "logit":
        return 1.0 / (1.0 + np.exp(-np.clip(eta, -700, 700)))
    if link == "probit":
        return ndtr(eta)
    return np.exp(np.clip(eta, -700, 700))


def _gauss_hermite(k: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes t and weights w with E[f(Z)] ~ sum_k w_k f(t_k) for Z ~ N(0, 1)."""
    t, w = np.polynomial.hermite.hermgauss(k)
    return t * np.sqrt(2.0), w / np.sqrt(np.pi)


@dataclass
class _Eval:
    """Covariate rows at which counterfactual means are evaluated (and averaged)."""

    med_C: list[np.ndarray]  # (r, p_j - 1): intercept + covariates of mediator model j
    out_C: np.ndarray  # (r, len(ix_c))


def _eval_rows(spec: _Spec, rows: np.ndarray | None = None) -> _Eval:
    """Evaluation rows from the data (all rows, or the given design rows)."""
    med_C = [m.X[:, cols] for m, cols in zip(spec.med, spec.med_cols)]
    out_C = spec.out.X[:, spec.ix_c]
    if rows is not None:
        med_C = [c[rows] for c in med_C]
        out_C = out_C[rows]
    return _Eval(med_C, out_C)


def _poisson_support(spec: _Spec) -> int:
    """Largest count K enumerated for Poisson mediators (from the full-data means)."""
    lam = 0.0
    for model in spec.med:
        if model.family == "poisson":
            lam = max(lam, float(np.exp(np.max(model.X @ model.coef))))
    return int(np.ceil(lam + 12 * np.sqrt(lam) + 12))


def _chunk_means(spec, P: _Params, ev: _Eval, W, pairs, m_cde, quad, k_pois):
    """Counterfactual means for one chunk of parameter rows.

    Returns an array (Bc, len(pairs) + 2): E[Y(x, M(x*))] for each (x, x*) in ``pairs``,
    then E[Y(a1, m)], E[Y(a0, m)] at the CDE mediator values (the first two x of pairs).
    """
    Bc = P.B
    r = ev.out_C.shape[0]
    out = P.out_coef
    link = spec.out.link
    theta_c = out[:, spec.ix_c]
    base_y = theta_c @ ev.out_C.T  # (Bc, r)
    th_x = out[:, 1]
    # mediator linear predictors without the exposure term
    med_base = [
        P.med_coef[j][:, spec.med_cols[j]] @ ev.med_C[j].T for j in range(len(spec.med))
    ]

    def weighted_mean(E):
        if W is None:
            return E.mean(axis=1)
        return np.einsum("br,br->b", W, E) / W.sum(axis=1)

    def gammas(x):
        g = []
        for j in range(len(spec.med)):
            gj = out[:, spec.ix_m[j]].copy()
            if spec.ix_xm[j] is not None:
                gj = gj + out[:, spec.ix_xm[j]] * x
            g.append(gj)
        return g

    results = []
    cache_mu = {}
    for x, xs in pairs:
        a = base_y + (th_x * x)[:, None]
        gam = gammas(x)
        mean_l = np.zeros((Bc, r))
        var_l = np.zeros(Bc)
        discrete = []  # (support (S,), probs (Bc, r, S), gamma (Bc,))
        for j, model in enumerate(spec.med):
            key = (j, xs)
            if key not in cache_mu:
                cache_mu[key] = _inv_link(med_base[j] + (P.med_coef[j][:, 1] * xs)[:, None],
                                          model.link)  # fmt: skip
            mu = cache_mu[key]
            if model.family == "gaussian" or link == "identity":
                mean_l += gam[j][:, None] * mu
                if model.family == "gaussian":
                    var_l += gam[j] ** 2 * P.med_sigma2[j]
                continue
            if link == "log":  # moment generating functions
                if model.family == "binomial":
                    a = a + np.log1p(mu * np.expm1(gam[j])[:, None])
                else:
                    a = a + mu * np.expm1(gam[j])[:, None]
                continue
            if model.family == "binomial":
                support = np.array([0.0, 1.0])
                probs = np.stack([1.0 - mu, mu], axis=-1)
            else:
                support = np.arange(k_pois + 1, dtype=float)
                lam = np.maximum(mu, 1e-300)[..., None]
                probs = np.exp(support * np.log(lam) - lam - gammaln(support + 1))
            discrete.append((support, probs, gam[j]))
        if link == "identity":
            E = a + mean_l
        elif link == "log":
            E = np.exp(np.clip(a + mean_l + 0.5 * var_l[:, None], -700, 700))
        else:
            # enumerate the joint support of the discrete mediators
            shift = np.zeros((Bc, 1))
            probs = np.ones((Bc, r, 1))
            if len(discrete) == 1:  # no product needed
                support, probs, gj = discrete[0]
                shift = gj[:, None] * support[None, :]
                discrete = []
            for support, pr, gj in discrete:
                shift = (shift[:, :, None] + gj[:, None, None] * support[None, None, :]).reshape(
                    Bc, -1
                )
                probs = (probs[:, :, :, None] * pr[:, :, None, :]).reshape(Bc, r, -1)
            u = a + mean_l
            if link == "probit":
                z = (u[:, :, None] + shift[:, None, :]) / np.sqrt(1.0 + var_l)[:, None, None]
                E = np.einsum("brs,brs->br", probs, ndtr(z))
            elif not np.any(var_l > 0):  # logit, discrete mediators only: exact sums
                E = np.zeros((Bc, r))
                for k in range(shift.shape[1]):
                    # exp overflow gives 1/(1 + inf) = 0 exactly: no clipping needed
                    term = np.exp(-(u + shift[:, k : k + 1]))
                    term += 1.0
                    np.divide(probs[:, :, k], term, out=term)
                    E += term
            else:  # logit: Gauss-Hermite over the normal part of the linear predictor
                t, w = quad
                # expit(u + v) = 1 / (1 + e^-u e^-v): one exp per row and one per node,
                # then only a multiply, an add and a reciprocal per (row, node).
                sd = np.sqrt(var_l)
                # clipping at +-350 keeps e^-u e^-v finite and never inf * 0
                ea = np.exp(-np.clip(u, -350, 350))  # (Bc, r)
                d = np.exp(
                    -np.clip(shift[:, :, None] + sd[:, None, None] * t[None, None, :], -350, 350)
                )  # (Bc, S, K)
                val = ea[:, :, None, None] * d[:, None, :, :]  # (Bc, r, S, K)
                val += 1.0
                np.reciprocal(val, out=val)
                nodes = len(w)
                E = (val.reshape(-1, nodes) @ w).reshape(val.shape[:-1])  # (Bc, r, S)
                E = E[..., 0] if E.shape[-1] == 1 else np.einsum("brs,brs->br", E, probs)
        results.append(weighted_mean(E))
    # controlled direct effect: mediators fixed at m_cde
    for x in (pairs[0][0], pairs[1][0]):
        gam = gammas(x)
        eta = base_y + (th_x * x)[:, None]
        for j in range(len(spec.med)):
            eta = eta + (gam[j] * m_cde[j])[:, None]
        results.append(weighted_mean(_inv_link(eta, link)))
    return np.stack(results, axis=1)


def _pairs(a0, a1):
    # (x, x*): Y(a1,M(a1)), Y(a0,M(a0)), Y(a1,M(a0)), Y(a0,M(a1))
    return [(a1, a1), (a0, a0), (a1, a0), (a0, a1)]


def counterfactual_means(spec, params, ev, weights, a0, a1, m_cde, n_quad):
    """E[Y(x, M(x*))] for all parameter rows, evaluated in chunks.

    Parameters
    ----------
    spec : internal model specification
    params : parameters for B resamples / draws
    ev : covariate rows (r) at which the conditional means are evaluated
    weights : (B, r) case weights for averaging over rows (bootstrap counts), or None
        (equal weights)
    a0, a1 : exposure levels
    m_cde : mediator values for the CDE
    n_quad : number of Gauss-Hermite nodes

    Returns
    -------
    numpy.ndarray, shape (B, 6)
        Columns y11 = E[Y(a1, M(a1))], y00, y10 = E[Y(a1, M(a0))], y01, then
        E[Y(a1, m)], E[Y(a0, m)].

    Notes
    -----
    Given covariates c, E[Y(x, M(x*)) | c] = ∫ h(eta(x, m, c)) dF(m | x*, c) with eta the
    outcome linear predictor and h its inverse link. The mediators enter eta linearly,
    through L = sum_j gamma_j(x) m_j with gamma_j(x) = theta_Mj + theta_XMj x, and are
    independent given (X, C) (parallel mediators). Hence:

    - gaussian mediators N(mu_j, sigma_j^2) (sigma_j^2 = OLS mean squared error): their part
      of L is N(sum gamma_j mu_j, sum gamma_j^2 sigma_j^2);
    - identity link: E = eta evaluated at the mediator means (exact);
    - log link: E = exp(eta_0 + mean + var/2) x prod over discrete mediators of their moment
      generating functions (1 - p + p e^gamma; exp(lambda (e^gamma - 1))) (exact);
    - probit link: E = sum_s P_s Phi((eta_0 + mean + shift_s) / sqrt(1 + var)) (exact),
      summing over the joint support s of the discrete mediators;
    - logit link: the same sum over discrete supports with the normal part integrated by
      Gauss-Hermite quadrature, E[expit(u + sd Z)] = sum_k w_k expit(u + sd t_k), a
      deterministic rule; the number of nodes (8 to 256) is chosen from the largest SD s
      of the normal part over all parameter rows so that the error is below ~1e-10 for
      s <= 5 (see ``_quadrature_nodes``).

    Binary mediators have support {0, 1}; Poisson mediators 0..K with K = ceil(lambda_max +
    12 sqrt(lambda_max) + 12) (tail mass < 1e-12 for the largest full-data mean).
    """
    B = params.B
    r = ev.out_C.shape[0]
    quad = _gauss_hermite(n_quad)
    k_pois = 0
    if any(m.family == "poisson" for m in spec.med) and spec.out.link in ("logit", "probit"):
        k_pois = _poisson_support(spec)
    n_disc = 1
    for m in spec.med:
        if m.family == "binomial":
            n_disc *= 2
        elif m.family == "poisson":
            n_disc *= k_pois + 1
    per = r * n_disc * (n_quad if spec.out.link == "logit" else 1)
    step = max(1, _GF_CELLS // max(per, 1))
    out = np.empty((B, 6))
    pairs = _pairs(a0, a1)
    with np.errstate(over="ignore", under="ignore"):
        for start in range(0, B, step):
            stop = min(start + step, B)
            W = None if weights is None else weights[start:stop].astype(float)
            out[start:stop] = _chunk_means(
                spec, params.take(slice(start, stop)), ev, W, pairs, m_cde, quad, k_pois
            )
    return out


def _quadrature_nodes(spec: _Spec, params: _Params, a0, a1, n_quad) -> int:
    """Gauss-Hermite nodes for a logit outcome: enough for every parameter row.

    The rule integrates E[expit(u + s Z)], s = sqrt(sum_j gamma_j(x)^2 sigma_j^2) the SD of
    the gaussian-mediator part of the linear predictor. Its worst-case error over u
    (checked against adaptive quadrature) is below ~1e-10 for s <= 0.4 with 8 nodes,
    s <= 0.85 (16), 1.5 (32), 2 (64), 2.9 (128) and 5 (256 nodes); with 256 nodes it is
    5e-8 at s = 6 and 2e-6 at s = 8 (an odds ratio of e^8 per residual SD of the mediator).
    """
    if spec.out.link != "logit" or not any(m.family == "gaussian" for m in spec.med):
        return 1
    if n_quad is not None:
        return int(n_quad)
    s_max = 0.0
    out = params.out_coef
    for x in (a0, a1):
        var = np.zeros(params.B)
        for j, model in enumerate(spec.med):
            if model.family != "gaussian":
                continue
            g = out[:, spec.ix_m[j]]
            if spec.ix_xm[j] is not None:
                g = g + out[:, spec.ix_xm[j]] * x
            var = var + g**2 * params.med_sigma2[j]
        finite = var[np.isfinite(var)]
        if finite.size:
            s_max = max(s_max, float(np.sqrt(finite.max())))
    return _nodes_for(s_max)


def _nodes_for(s_max: float) -> int:
    """Fewest Gauss-Hermite nodes whose error stays below ~1e-10 for this spread (_QUAD_RULES)."""
    for nodes, limit in _QUAD_RULES:
        if s_max <= limit:
            return nodes
    return _QUAD_RULES[-1][0]


def _effects_from_means(means: np.ndarray, scale: str) -> dict[str, np.ndarray]:
    """Effects on the *analysis* scale (log for ratio scales) from counterfactual means."""
    y11, y00, y10, y01, c1, c0 = means.T
    with np.errstate(divide="ignore", invalid="ignore"):
        if scale in ("difference", "risk_difference"):
            e = {
                "cde": c1 - c0, "pnde": y10 - y00, "tnde": y11 - y01,
                "pnie": y01 - y00, "tnie": y11 - y10, "te": y11 - y00,
            }  # fmt: skip
            e["pm"] = e["tnie"] / e["te"]
            return e
        if scale == "odds_ratio":
            f = lambda p: np.log(p) - np.log1p(-p)  # noqa: E731
        else:
            f = np.log
        e = {
            "cde": f(c1) - f(c0), "pnde": f(y10) - f(y00), "tnde": f(y11) - f(y01),
            "pnie": f(y01) - f(y00), "tnie": f(y11) - f(y10), "te": f(y11) - f(y00),
        }  # fmt: skip
        nde, nie, te = np.exp(e["pnde"]), np.exp(e["tnie"]), np.exp(e["te"])
        e["pm"] = nde * (nie - 1.0) / (te - 1.0)
        return e


# --------------------------------------------------------------------------------------
# VanderWeele closed forms (conditional on covariate values)
# --------------------------------------------------------------------------------------


def _closed_form(spec: _Spec, P: _Params, c_med: np.ndarray, a0, a1, m_cde) -> dict:
    """VanderWeele–Vansteelandt closed-form effects (log OR or differences), batched.

    Linear mediator M = b0 + b1 a + b2'c + e, e ~ N(0, s2); outcome
    g(E[Y]) = t0 + t1 a + t2 m + t3 a m + t4'c (identity or logit link):

    - CDE(m):  (t1 + t3 m)(a1 - a0)
    - PNDE:    {t1 + t3 (b0 + b1 a0 + b2'c + t2 s2)}(a1 - a0) + t3^2 s2 (a1^2 - a0^2)/2
    - TNDE:    the same with b1 a1 in place of b1 a0
    - PNIE:    (t2 b1 + t3 b1 a0)(a1 - a0);  TNIE: (t2 b1 + t3 b1 a1)(a1 - a0)
    - TE:      PNDE + TNIE

    For the logit link these are log odds ratios that assume a rare outcome; the linear
    version has no s2 terms (Valeri & VanderWeele, Psychol. Methods 18:137–150, 2013,
    Appendix; VanderWeele 2015, Propositions 2.3–2.4). ``c_med`` is the mediator-model
    covariate row (intercept first).
    """
    b = P.med_coef[0]
    s2 = P.med_sigma2[0]
    t = P.out_coef
    t1, t2 = t[:, 1], t[:, spec.ix_m[0]]
    t3 = t[:, spec.ix_xm[0]] if spec.ix_xm[0] is not None else np.zeros(len(t))
    b1 = b[:, 1]
    bc = b[:, spec.med_cols[0]] @ c_med
    d = a1 - a0
    logit = spec.out.link == "logit"
    extra = t2 * s2 if logit else 0.0
    quad = 0.5 * t3**2 * s2 * (a1**2 - a0**2) if logit else 0.0
    e = {
        "cde": (t1 + t3 * m_cde[0]) * d,
        "pnde": (t1 + t3 * (bc + b1 * a0 + extra)) * d + quad,
        "tnde": (t1 + t3 * (bc + b1 * a1 + extra)) * d + quad,
        "pnie": (t2 * b1 + t3 * b1 * a0) * d,
        "tnie": (t2 * b1 + t3 * b1 * a1) * d,
    }
    e["te"] = e["pnde"] + e["tnie"]
    with np.errstate(divide="ignore", invalid="ignore"):
        if logit:
            nde, nie, te = np.exp(e["pnde"]), np.exp(e["tnie"]), np.exp(e["te"])
            e["pm"] = nde * (nie - 1.0) / (te - 1.0)
        else:
            e["pm"] = e["tnie"] / e["te"]
    return e


def _delta_se(spec: _Spec, c_med, a0, a1, m_cde, n: int) -> dict[str, float]:
    """Delta-method SEs of the closed-form effects (analysis scale).

    Var(beta) and Var(theta) are the model covariance matrices (OLS: s2 (X'X)^-1; logistic:
    inverse Fisher information), the two models independent, and Var(s2) = 2 s2^2 /
    (n - p) (normal-theory variance of the mean squared error). Gradients by central
    differences (relative step 1e-6).
    """
    med, out = spec.med[0], spec.out
    vec = np.concatenate([med.coef, out.coef, [med.sigma2]])
    pm, po = med.p, out.p
    cov = np.zeros((len(vec), len(vec)))
    cov[:pm, :pm] = med.cov
    cov[pm : pm + po, pm : pm + po] = out.cov
    cov[-1, -1] = 2 * med.sigma2**2 / (n - pm)

    def f(v):
        P = _Params([v[None, :pm]], [np.array([v[-1]])], v[None, pm : pm + po])
        e = _closed_form(spec, P, c_med, a0, a1, m_cde)
        return np.array([e[k][0] for k in EFFECTS])

    grads = np.zeros((len(EFFECTS), len(vec)))
    for i in range(len(vec)):
        h = 1e-6 * max(abs(vec[i]), 1e-3)
        up, dn = vec.copy(), vec.copy()
        up[i] += h
        dn[i] -= h
        grads[:, i] = (f(up) - f(dn)) / (2 * h)
    var = np.einsum("ei,ij,ej->e", grads, cov, grads)
    return dict(zip(EFFECTS, np.sqrt(np.clip(var, 0, None))))


# --------------------------------------------------------------------------------------
# Public API
# --------------------------------------------------------------------------------------


def causal_mediation(
    data: pd.DataFrame,
    exposure: str,
    mediators: str | Sequence[str],
    outcome: str,
    covariates: Sequence[str] = (),
    mediator_covariates: Sequence[str] | Mapping[str, Sequence[str]] | None = None,
    outcome_covariates: Sequence[str] | None = None,
    mediator_family: str | Mapping[str, str] = "gaussian",
    outcome_family: str = "gaussian",
    outcome_link: str | None = None,
    interaction: bool | Sequence[str] = False,
    contrast: str | tuple[float, float] | None = None,
    cde_at: float | Mapping[str, float] | None = None,
    estimand: str = "marginal",
    covariate_values: Mapping[str, object] | str | None = None,
    method: str = "gformula",
    inference: str = "bootstrap",
    n_boot: int = 1000,
    seed: int = 0,
    keys: Sequence[str] = (),
    alpha: float = 0.05,
    ci_method: str = "percentile",
    resampler: str = "numpy",
    n_quad: int | None = None,
    joint: bool = True,
    firth: bool = False,
    pm_min_total_effect: float = 0.0,
    max_dropped: float = 0.05,
) -> pd.DataFrame:
    """Counterfactual natural/controlled direct and indirect effects with vectorised inference.

    Parameters
    ----------
    data : pandas.DataFrame
        Complete cases of all used columns are analysed (the same rows for every model).
    exposure : str
        Numeric (or bool) exposure X.
    mediators : str or sequence of str
        One mediator, or several parallel mediators (independent given X and C). With
        several, each is analysed on its own (its own outcome model Y ~ X + M_j + C_Y) and,
        if ``joint``, all together (outcome model with all of them; rows ``mediator`` =
        ``"M1+M2"`` and effects ``joint_cde, joint_pnde, joint_tnde, joint_pnie, joint_tnie,
        te, joint_pm``: the effect through the set).
    outcome : str
        Outcome Y: numeric (gaussian), coded 0/1 or bool (binomial) or a non-negative
        integer count (poisson).
    covariates : sequence of str
        Confounders used in every model unless overridden (factors dummy-coded by
        :func:`first1000.stats.regression.design_matrix`).
    mediator_covariates : sequence of str or dict {mediator: sequence}, optional
        Covariates of the mediator model(s) (default ``covariates``).
    outcome_covariates : sequence of str, optional
        Covariates of the outcome model (default ``covariates``).
    mediator_family : {"gaussian", "binomial", "poisson"} or dict {mediator: family}
        OLS, logistic or Poisson (log link) mediator models.
    outcome_family : {"gaussian", "binomial", "poisson"}
    outcome_link : str, optional
        Default canonical (identity, logit, log); ``"probit"`` for a binomial outcome.
    interaction : bool or sequence of str
        Add the exposure–mediator product X·M_j to the outcome model (all mediators if
        True, or the listed ones).
    contrast : None, "sd", "iqr" or (a0, a1)
        Exposure levels compared. None: (0, 1) if the exposure is coded 0/1, else "sd".
        "sd": a0 = mean, a1 = mean + SD (ddof=1) of the exposure in the analysed rows;
        "iqr": a0 = 25th, a1 = 75th percentile; a tuple: declared values. Written into
        every row (``contrast``, ``a0``, ``a1``).
    cde_at : float or dict {mediator: value}, optional
        Mediator value(s) m of the CDE. Default: the mean of a gaussian mediator, 0 for a
        binary or count mediator (column ``m_cde``; for joint rows the values joined by
        ``"+"`` are not shown, ``m_cde`` is then NaN).
    estimand : {"marginal", "conditional"}
        "marginal": g-formula averaged over the empirical covariate distribution of the
        analysed rows. "conditional": effects for covariates fixed at
        ``covariate_values``.
    covariate_values : dict or "mean", optional
        Covariate values for ``estimand="conditional"`` (every covariate of any model;
        factors by level) or "mean" (the means of the design columns, i.e. dummies at
        their proportions; what the SAS/SPSS mediation macros call "marginal").
    method : {"gformula", "closed_form"}
        "closed_form": VanderWeele's formulas for one gaussian mediator and a gaussian or
        logistic outcome (conditional on ``covariate_values``; for the logistic outcome
        these are odds ratios under the rare-outcome approximation), see Notes.
    inference : {"bootstrap", "quasi_bayes", "delta", "none"}
        "bootstrap": case resampling refitting every model on the same resample.
        "quasi_bayes": ``n_boot`` draws of all coefficients from their asymptotic normal
        distributions (R ``mediation``'s default, Imai, Keele & Tingley, Psychol. Methods
        15:309–334, 2010), residual variances fixed; percentile intervals.
        "delta": delta method, only with ``method="closed_form"``; Wald CI and p.
    n_boot : int, default 1000
        Resamples (bootstrap) or draws (quasi_bayes).
    seed : int, default 0
    keys : sequence of str
        Analysis names for :func:`~first1000.stats.bootstrap.analysis_rng`; the resamples
        depend only on (seed, keys) and the number of complete rows.
    alpha : float, default 0.05
    ci_method : {"percentile", "bias_corrected", "bca"}
        Bootstrap interval. "bca" (Efron 1987) adds the jackknife acceleration; the n
        leave-one-out refits are batched (cost of n extra resamples).
    resampler : {"numpy", "pingouin"}
        As in :func:`first1000.stats.mediation.mediation_linear`.
    n_quad : int, optional
        Gauss–Hermite nodes (logit outcome with a gaussian mediator); default chosen
        automatically (see :func:`counterfactual_means`).
    joint : bool, default True
        With several mediators, also estimate the joint effects.
    firth : bool, default False
        Fit every logistic (binomial, logit link) model, on the full data and in every
        resample, by Firth's penalised likelihood
        (:func:`~first1000.stats.bootstrap.batched_firth`): finite estimates under
        separation, so resamples in which a binary outcome or mediator is separated are
        kept instead of dropped. Poisson models stay maximum likelihood; a probit outcome
        cannot be combined with it.
    pm_min_total_effect : float, default 0
        The proportion mediated is reported only where it means something: it is NaN,
        with a status saying why, when the CI of ``te`` (same interval method) includes
        the null, or when |te| is below this threshold (on the analysis scale: the
        difference, or |log ratio| for ratio scales).
    max_dropped : float, default 0.05
        When more than this share of the ``n_boot`` resamples could not be fitted, every
        row's ``status`` says so (numbers are still given).

    Returns
    -------
    pandas.DataFrame
        One row per (mediator set, scale, effect); columns ``COLUMNS``: exposure, mediator,
        outcome, effect (cde, pnde, tnde, pnie, tnie, te, pm), scale (difference for
        gaussian outcomes; risk_difference, risk_ratio, odds_ratio for binary; difference
        and rate_ratio for counts; closed_form logistic: odds_ratio only), estimand,
        method, estimate, se, ci_low, ci_high, p, n, n_boot, contrast, a0, a1, m_cde,
        inference, ci_method, seed, status. Ratio estimates are ratios; their ``se`` is
        the SE of the log ratio and their CIs are computed on the log scale and
        exponentiated. ``n_missing``: rows of ``data`` left out as incomplete (len(data) -
        n). ``n_boot_dropped``: resamples that could not be fitted (n_boot requested -
        ``n_boot``). ``firth``: whether logistic models were Firth-penalised.
        ``pm`` rows always use the percentile interval (``ci_method`` says so): a
        bias-corrected interval of a ratio of two effects is not reliable. ``p`` is the
        bootstrap p of :func:`~first1000.stats.bootstrap.bootstrap_p` (of the log for
        ratios) or the Wald p (delta). ``pm`` rows repeat the p of ``tnie`` (NaN where pm
        is not reported). ``n_boot`` counts the resamples in
        which every model could be fitted (singular designs and non-converging GLMs, e.g.
        separation in a resample, are dropped).

    Notes
    -----
    Point estimates are deterministic (no Monte Carlo): see :func:`counterfactual_means`.
    For a gaussian mediator and outcome without interaction and with the same covariates
    in both models, pnde = tnde = c'(a1 - a0), pnie = tnie = a·b (a1 - a0) and te = c(a1 - a0)
    exactly (Baron–Kenny / product of coefficients; pingouin and
    :func:`~first1000.stats.mediation.mediation_linear` give the same numbers).

    The bootstrap refits all models on each resample with
    :func:`~first1000.stats.bootstrap.batched_ols` / :func:`~first1000.stats.bootstrap.batched_glm`
    (GLMs start from the full-data estimate) and evaluates the g-formula for all resamples
    in vectorised chunks; the marginal average in a resample weights participant i by its
    count. Same data, options and seed give identical numbers.

    Data problems (too few rows, zero variance, wrong coding of a binary/count variable,
    infinite values, collinear designs, separation or non-convergence of a GLM) give NaN
    numbers and a ``status`` saying why; ``status`` is "ok" otherwise. Two statuses keep
    the numbers: ``PM_STATUS_*`` on ``pm`` rows (estimate NaN) and the dropped-resample
    warning of :func:`dropped_status` on every row of the analysis.

    An exposure with exactly two distinct values is binary: unless ``contrast`` gives
    values, a0 is the lower and a1 the higher value (``contrast`` "binary" for 0/1, else
    e.g. "binary (1 -> 2)"), never a per-SD or IQR contrast.

    Raises
    ------
    ModelError
        Misuse: unknown options, missing or repeated columns, invalid n_boot/seed/alpha,
        options that do not fit together (e.g. delta with the g-formula).
    InputTableError
        A used column mixes numbers and text.
    """
    opts = _check_options(locals())
    mediators = _as_list(mediators)
    covariates = _as_list(covariates)
    med_cov = _mediator_covariates(mediators, covariates, mediator_covariates)
    out_cov = covariates if outcome_covariates is None else _as_list(outcome_covariates)
    fam = _mediator_families(mediators, mediator_family)
    inter = _interactions(mediators, interaction)
    link = outcome_link or FAMILY_LINKS[outcome_family][0]
    if link not in FAMILY_LINKS[outcome_family]:
        raise ModelError(f"outcome_link {link!r} is not available for {outcome_family!r}")
    all_cov = list(dict.fromkeys([*sum((med_cov[m] for m in mediators), []), *out_cov]))
    roles = [exposure, *mediators, outcome]
    if len(set(roles)) != len(roles) or set(roles) & set(all_cov):
        raise ModelError(
            f"exposure '{exposure}', mediators {mediators} and outcome '{outcome}' must be "
            "different columns and must not be covariates"
        )
    used = [*roles, *all_cov]
    _check_columns(data, used)
    check_column_types(data, used)
    if firth and link == "probit":
        raise ModelError(
            "firth=True applies to logistic (logit link) models, not to a probit outcome"
        )
    if opts["method"] == "closed_form":
        if len(mediators) != 1 or fam[mediators[0]] != "gaussian" or link not in (
            "identity", "logit"
        ):
            raise ModelError(
                "method='closed_form' needs one gaussian mediator and a gaussian or "
                "logistic (logit link) outcome"
            )
        if covariate_values is None:
            raise ModelError("method='closed_form' needs covariate_values (a dict or 'mean')")
    if opts["estimand"] == "conditional" and covariate_values is None:
        raise ModelError("estimand='conditional' needs covariate_values (a dict or 'mean')")
    if opts["inference"] == "delta" and opts["method"] != "closed_form":
        raise ModelError("inference='delta' is available for method='closed_form' only")
    if opts["inference"] in ("quasi_bayes", "delta") and opts["ci_method"] != "percentile":
        raise ModelError(f"ci_method {ci_method!r} applies to the bootstrap only")
    if isinstance(covariate_values, Mapping):
        missing = [c for c in all_cov if c not in covariate_values]
        if missing:
            raise ModelError(f"covariate_values lacks {missing}")

    complete = data.loc[:, used].dropna()
    n = len(complete)
    scales = ("odds_ratio",) if (opts["method"] == "closed_form" and link == "logit") else (
        OUTCOME_SCALES[outcome_family]
    )  # fmt: skip
    sets = [[m] for m in mediators]
    if joint and len(mediators) > 1:
        sets.append(list(mediators))
    if opts["method"] == "closed_form":
        opts["estimand"] = "conditional"
    meta = {
        "exposure": exposure, "outcome": outcome, "estimand": opts["estimand"],
        "method": opts["method"], "inference": inference,
        "ci_method": ci_method if inference == "bootstrap" else (
            "percentile" if inference == "quasi_bayes" else ("wald" if inference == "delta"
                                                              else "none")),
        "seed": int(seed), "n": n, "n_missing": len(data) - n, "firth": bool(firth),
    }  # fmt: skip

    problem = _data_problem(complete, exposure, mediators, outcome, fam, outcome_family, n)
    a0 = a1 = np.nan
    label = contrast if isinstance(contrast, str) else ("values" if contrast else None)
    if not problem:
        x = complete[exposure].to_numpy(dtype=float)
        a0, a1, label = _contrast(x, contrast)
    meta.update({"contrast": label, "a0": a0, "a1": a1})
    if problem:
        return _failed(sets, scales, meta, problem)

    # Build and fit the models of every mediator set.
    specs, m_cdes = [], []
    for mset in sets:
        spec, why = _build_spec(complete, exposure, mset, outcome, med_cov, out_cov, fam,
                                outcome_family, link, inter, firth)  # fmt: skip
        if why:
            return _failed(sets, scales, meta, why)
        specs.append(spec)
        m_cdes.append(_cde_values(complete, mset, fam, cde_at))

    evs = []
    for spec in specs:
        if opts["estimand"] == "marginal" and opts["method"] == "gformula":
            evs.append(_eval_rows(spec))
        else:
            evs.append(_conditional_rows(spec, complete, covariate_values, med_cov, out_cov))

    rows = []
    with _one_blas_thread():
        # Full-data point estimates
        points = []
        for spec, ev, m_cde in zip(specs, evs, m_cdes):
            P = _full_params(spec)
            if opts["method"] == "closed_form":
                points.append({"odds_ratio" if link == "logit" else "difference":
                               _closed_form(spec, P, ev.med_C[0][0], a0, a1, m_cde)})  # fmt: skip
                continue
            k = _quadrature_nodes(spec, P, a0, a1, n_quad)
            means = counterfactual_means(spec, P, ev, None, a0, a1, m_cde, k)
            points.append({s: _effects_from_means(means, s) for s in scales})

        # Replicates
        reps = [None] * len(specs)
        jacks = [None] * len(specs)
        n_valid = 0
        status = "ok"
        if inference in ("bootstrap", "quasi_bayes"):
            if inference == "bootstrap":
                if resampler == "pingouin":
                    counts = pingouin_resample_counts(n, n_boot, seed)
                else:
                    counts = resample_counts(n, n_boot, analysis_rng(seed, *keys))
            else:
                counts = None
                rng = analysis_rng(seed, *keys)
            draws = []
            valid = np.ones(n_boot, dtype=bool)
            for spec in specs:
                if counts is not None:
                    P, ok = _fit_params(spec, counts)
                else:
                    P = _quasi_bayes_params(spec, n_boot, rng)
                    ok = np.ones(n_boot, dtype=bool)
                draws.append(P)
                valid &= ok
            n_valid = int(valid.sum())
            if n_valid < 2:
                status = "fewer than 2 bootstrap resamples could be fitted (separation or "
                status += "singular designs in the resamples)"
            elif inference == "bootstrap":
                logistic = any(m.family == "binomial" for sp in specs for m in [*sp.med, sp.out])
                status = dropped_status(n_boot - n_valid, n_boot, max_dropped,
                                        firth_hint=logistic and not firth) or "ok"  # fmt: skip
            for i, (spec, ev, m_cde) in enumerate(zip(specs, evs, m_cdes)):
                Pv = draws[i].take(valid)
                reps[i] = _replicate_effects(
                    spec, Pv, ev,
                    None if counts is None or ev.out_C.shape[0] != n else counts[valid],
                    a0, a1, m_cde, _quadrature_nodes(spec, Pv, a0, a1, n_quad), scales,
                    opts["method"], link,
                )  # fmt: skip
                if inference == "bootstrap" and ci_method == "bca":
                    jc = jackknife_counts(n)
                    PJ, okj = _fit_params(spec, jc)
                    PJ = PJ.take(okj)
                    jacks[i] = _replicate_effects(
                        spec, PJ, ev, jc[okj] if ev.out_C.shape[0] == n else None,
                        a0, a1, m_cde, _quadrature_nodes(spec, PJ, a0, a1, n_quad), scales,
                        opts["method"], link,
                    )  # fmt: skip
        deltas = [None] * len(specs)
        if inference == "delta":
            for i, (spec, ev, m_cde) in enumerate(zip(specs, evs, m_cdes)):
                deltas[i] = _delta_se(spec, ev.med_C[0][0], a0, a1, m_cde, n)

    resampled = inference in ("bootstrap", "quasi_bayes")
    for i, mset in enumerate(sets):
        name = "+".join(mset)
        prefix = "joint_" if len(mset) > 1 else ""
        for scale in points[i]:
            point = points[i][scale]
            te_ci = (np.nan, np.nan)
            for effect in EFFECTS:
                est = float(point[effect][0])
                se = lo = hi = p = np.nan
                row_status, row_ci_method = status, meta["ci_method"]
                if resampled and n_valid >= 2:
                    samples = reps[i][scale][effect]
                    samples = samples[np.isfinite(samples)]
                    method_i = "percentile" if effect == "pm" else meta["ci_method"]
                    row_ci_method = method_i
                    lo, hi = _interval(samples, est, alpha, method_i,
                                       None if jacks[i] is None else jacks[i][scale][effect])
                    se = float(np.std(samples, ddof=1)) if samples.size > 1 else np.nan
                    ref = "tnie" if effect == "pm" else effect
                    p = bootstrap_p(reps[i][scale][ref], float(point[ref][0]))
                elif inference == "delta":
                    se = float(deltas[i][effect])
                    z = norm.ppf(1 - alpha / 2)
                    lo, hi = est - z * se, est + z * se
                    ref = "tnie" if effect == "pm" else effect
                    zr = float(point[ref][0]) / float(deltas[i][ref])
                    p = float(2 * norm.sf(abs(zr)))
                    if effect == "pm":
                        se = lo = hi = np.nan
                if effect == "te":
                    te_ci = (lo, hi)
                if effect == "pm":
                    why = pm_problem(float(point["te"][0]), te_ci, alpha, pm_min_total_effect)
                    if why:
                        est = se = lo = hi = p = np.nan
                        row_status = why if status == "ok" else f"{status}; {why}"
                ratio = scale in RATIO_SCALES and effect != "pm"
                if ratio:
                    est, lo, hi = np.exp(est), np.exp(lo), np.exp(hi)
                eff = effect if (not prefix or effect == "te") else prefix + effect
                rows.append({
                    **meta, "mediator": name, "effect": eff, "scale": scale,
                    "estimate": float(est), "se": se, "ci_low": float(lo),
                    "ci_high": float(hi), "p": p,
                    "n_boot": n_valid if resampled else 0,
                    "n_boot_dropped": n_boot - n_valid if inference == "bootstrap" else 0,
                    "m_cde": float(m_cdes[i][0]) if (effect == "cde" and len(mset) == 1)
                    else np.nan,
                    "ci_method": row_ci_method,
                    "status": row_status,
                })  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


def _replicate_effects(spec, P, ev, counts, a0, a1, m_cde, k, scales, method, link):
    if method == "closed_form":
        e = _closed_form(spec, P, ev.med_C[0][0], a0, a1, m_cde)
        out = {("odds_ratio" if link == "logit" else "difference"): e}
    else:
        means = counterfactual_means(spec, P, ev, counts, a0, a1, m_cde, k)
        out = {s: _effects_from_means(means, s) for s in scales}
    return out


#: Status of a ``pm`` row whose total effect's CI includes the null ({level}: e.g. "95%").
PM_STATUS_CI = ("pm not reported: the {level} CI of the total effect includes the null, so "
                "a proportion of it is not interpretable")
#: Status of a ``pm`` row whose |total effect| is below the threshold.
PM_STATUS_SMALL = ("pm not reported: |total effect| {te:.3g} is below pm_min_total_effect "
                   "{threshold:g}")


def pm_problem(te: float, te_ci, alpha: float, threshold: float = 0.0) -> str | None:
    """Why the proportion mediated must not be reported, or None.

    ``te`` and ``te_ci`` on the analysis scale (log for ratio measures, so the null is 0).
    PM = tnie / te (or pnde (tnie - 1)/(te - 1) on ratio scales) has no finite mean or
    variance when te can be 0: it is suppressed when the CI of te includes the null, or
    when |te| < ``threshold`` (or te = 0).
    """
    if not np.isfinite(te):
        return None  # the analysis failed; its status says why
    if te == 0 or abs(te) < threshold:
        return PM_STATUS_SMALL.format(te=abs(te), threshold=threshold)
    lo, hi = te_ci
    if np.isfinite(lo) and np.isfinite(hi) and lo <= 0 <= hi:
        return PM_STATUS_CI.format(level=f"{100 * (1 - alpha):g}%")
    return None


#: Status of every row when more than ``max_dropped`` of the resamples were dropped.
DROPPED_STATUS = ("warning: {dropped} of {total} bootstrap resamples ({share:.1f}%) could not "
                  "be fitted (separation or a singular design) and were dropped; the "
                  "intervals are conditional on the {kept} that could")
#: Appended when logistic models were fitted without Firth's penalty.
FIRTH_HINT = "; Firth-penalised logistic models (mediation.firth: true) keep them"


def dropped_status(dropped: int, total: int, max_dropped: float, firth_hint: bool = False
                   ) -> str | None:
    """The warning status when more than ``max_dropped`` (a share) of ``total`` resamples
    were dropped, else None."""
    if total <= 0 or dropped <= max_dropped * total:
        return None
    text = DROPPED_STATUS.format(dropped=int(dropped), total=int(total),
                                 share=100 * dropped / total, kept=int(total - dropped))
    return text + (FIRTH_HINT if firth_hint else "")


def _interval(samples, est, alpha, ci_method, jack):
    if ci_method == "percentile":
        return percentile_ci(samples, alpha)
    if ci_method == "bias_corrected":
        return bias_corrected_ci(samples, est, alpha)
    return bca_ci(samples, est, jack, alpha)


# --------------------------------------------------------------------------------------
# Input handling
# --------------------------------------------------------------------------------------


def _check_options(o: dict) -> dict:
    checks = {
        "ci_method": CI_METHODS, "inference": INFERENCE, "resampler": RESAMPLERS,
        "estimand": ESTIMANDS, "method": METHODS,
    }  # fmt: skip
    for key, allowed in checks.items():
        if o[key] not in allowed:
            raise ModelError(f"{key} must be one of {allowed}, got {o[key]!r}")
    if o["outcome_family"] not in FAMILY_LINKS:
        raise ModelError(
            f"outcome_family must be one of {tuple(FAMILY_LINKS)}, got {o['outcome_family']!r}"
        )
    check_resampling_args(o["n_boot"], o["seed"], o["alpha"])
    if o["n_quad"] is not None and (not isinstance(o["n_quad"], (int, np.integer)) or
                                    o["n_quad"] < 1):  # fmt: skip
        raise ModelError(f"n_quad must be a positive integer, got {o['n_quad']!r}")
    if o["resampler"] == "pingouin" and o["inference"] != "bootstrap":
        raise ModelError("resampler='pingouin' applies to inference='bootstrap' only")
    _check_reporting(o["firth"], o["pm_min_total_effect"], o["max_dropped"])
    return dict(o)


def _check_reporting(firth, pm_min_total_effect, max_dropped) -> None:
    if not isinstance(firth, (bool, np.bool_)):
        raise ModelError(f"firth must be true or false, got {firth!r}")
    if not (isinstance(pm_min_total_effect, (int, float)) and pm_min_total_effect >= 0):
        raise ModelError(f"pm_min_total_effect must be a number >= 0, got {pm_min_total_effect!r}")
    if not (isinstance(max_dropped, (int, float)) and 0 <= max_dropped <= 1):
        raise ModelError(f"max_dropped must be a share between 0 and 1, got {max_dropped!r}")


def _mediator_covariates(mediators, covariates, given) -> dict[str, list[str]]:
    if given is None:
        return {m: list(covariates) for m in mediators}
    if isinstance(given, Mapping):
        unknown = set(given) - set(mediators)
        if unknown:
            raise ModelError(f"mediator_covariates names unknown mediators {sorted(unknown)}")
        return {m: _as_list(given.get(m, covariates)) for m in mediators}
    return {m: _as_list(given) for m in mediators}


def _mediator_families(mediators, given) -> dict[str, str]:
    fams = {m: given for m in mediators} if isinstance(given, str) else dict(given)
    for m in mediators:
        if fams.get(m) not in FAMILY_LINKS:
            raise ModelError(
                f"mediator_family of '{m}' must be one of {tuple(FAMILY_LINKS)}, "
                f"got {fams.get(m)!r}"
            )
    return fams


def _interactions(mediators, interaction) -> dict[str, bool]:
    if isinstance(interaction, bool):
        return {m: interaction for m in mediators}
    listed = _as_list(interaction)
    unknown = set(listed) - set(mediators)
    if unknown:
        raise ModelError(f"interaction names unknown mediators {sorted(unknown)}")
    return {m: m in listed for m in mediators}


def _data_problem(complete, exposure, mediators, outcome, fam, outcome_family, n):
    roles = [("exposure", exposure, "gaussian"), *[("mediator", m, fam[m]) for m in mediators],
             ("outcome", outcome, outcome_family)]  # fmt: skip
    for role, col, family in roles:
        s = complete[col]
        if _is_categorical(s) and not pd.api.types.is_bool_dtype(s):
            return f"{role} '{col}' is not numeric (dtype {s.dtype}); recode it"
    bad = _infinite_columns(complete, list(complete.columns))
    if bad:
        return bad
    if n < 3:
        return f"too few complete rows: n={n}"
    for role, col, family in roles:
        v = complete[col].to_numpy(dtype=float)
        if np.ptp(v) == 0:
            return f"{role} '{col}' has zero variance in the {n} complete rows"
        if family == "binomial" and not np.isin(v, (0.0, 1.0)).all():
            return f"binary {role} '{col}' must be coded 0/1; recode it"
        if family == "poisson" and (np.any(v < 0) or np.any(v != np.round(v))):
            return f"count {role} '{col}' must hold non-negative integers"
    return None


def _contrast(x, contrast):
    """(a0, a1, label) of the exposure contrast; two-valued exposures are binary."""
    levels = np.unique(x)
    if len(levels) == 2 and (contrast is None or isinstance(contrast, str)):
        if contrast is not None and contrast not in ("sd", "iqr"):
            raise ModelError(f"contrast must be None, 'sd', 'iqr' or (a0, a1), got {contrast!r}")
        lo, hi = float(levels[0]), float(levels[1])
        return lo, hi, "binary" if (lo, hi) == (0.0, 1.0) else f"binary ({lo:g} -> {hi:g})"
    if contrast is None:
        contrast = "sd"
    if isinstance(contrast, str):
        if contrast == "sd":
            mean, sd = float(np.mean(x)), float(np.std(x, ddof=1))
            return mean, mean + sd, "sd"
        if contrast == "iqr":
            q1, q3 = np.percentile(x, [25, 75])
            return float(q1), float(q3), "iqr"
        raise ModelError(f"contrast must be None, 'sd', 'iqr' or (a0, a1), got {contrast!r}")
    try:
        a0, a1 = (float(v) for v in contrast)
    except (TypeError, ValueError) as err:
        raise ModelError(
            f"contrast must be None, 'sd', 'iqr' or (a0, a1), got {contrast!r}"
        ) from err
    if not (np.isfinite(a0) and np.isfinite(a1)) or a0 == a1:
        raise ModelError(f"contrast values must be finite and different, got {contrast!r}")
    return a0, a1, "values"


def _cde_values(complete, mset, fam, cde_at) -> list[float]:
    out = []
    for m in mset:
        if isinstance(cde_at, Mapping) and m in cde_at:
            out.append(float(cde_at[m]))
        elif cde_at is not None and not isinstance(cde_at, Mapping):
            out.append(float(cde_at))
        elif fam[m] == "gaussian":
            out.append(float(complete[m].astype(float).mean()))
        else:
            out.append(0.0)
    return out


def _build_spec(complete, exposure, mset, outcome, med_cov, out_cov, fam, out_family, link,
                inter, firth=False):  # fmt: skip
    n = len(complete)
    x = complete[exposure].to_numpy(dtype=float)
    med_models, med_cols = [], []
    for m in mset:
        C, _ = design_matrix(complete, med_cov[m])
        X = np.column_stack([C[:, :1], x, C[:, 1:]])
        family = fam[m]
        med_models.append(_Model(f"mediator ('{m}')", family, FAMILY_LINKS[family][0], X,
                                 complete[m].to_numpy(dtype=float),
                                 firth=bool(firth) and family == "binomial"))  # fmt: skip
        med_cols.append([0, *range(2, X.shape[1])])
    C, _ = design_matrix(complete, out_cov)
    mvals = [complete[m].to_numpy(dtype=float) for m in mset]
    inter_cols = [x * mv for m, mv in zip(mset, mvals) if inter[m]]
    Xy = np.column_stack([C[:, :1], x, *mvals, *inter_cols, C[:, 1:]])
    J = len(mset)
    ix_m = list(range(2, 2 + J))
    ix_xm, k = [], 2 + J
    for m in mset:
        ix_xm.append(k if inter[m] else None)
        k += int(inter[m])
    ix_c = [0, *range(k, Xy.shape[1])]
    out = _Model("outcome", out_family, link, Xy, complete[outcome].to_numpy(dtype=float),
                 firth=bool(firth) and link == "logit")
    why = _fit_models([*med_models, out], n)
    if why:
        return None, why
    spec = _Spec(list(mset), med_models, out, [inter[m] for m in mset], ix_m, ix_xm, ix_c,
                 med_cols)  # fmt: skip
    return spec, None


def _conditional_rows(spec, complete, values, med_cov, out_cov) -> _Eval:
    """One evaluation row: covariates at declared values or at the design-column means."""
    if isinstance(values, str):
        if values != "mean":
            raise ModelError(f"covariate_values must be a dict or 'mean', got {values!r}")
        med_C = [m.X[:, cols].mean(axis=0)[None, :] for m, cols in zip(spec.med, spec.med_cols)]
        out_C = spec.out.X[:, spec.ix_c].mean(axis=0)[None, :]
        return _Eval(med_C, out_C)
    row = pd.DataFrame({c: [values[c]] for c in complete.columns if c in values})
    both = pd.concat([complete, row], ignore_index=True)
    med_C = []
    for m in spec.mediators:
        C, _ = design_matrix(both, med_cov[m])
        med_C.append(C[-1:])
    C, _ = design_matrix(both, out_cov)
    # a declared factor level absent from the data would add a column: check widths
    for Cm, model, cols in zip(med_C, spec.med, spec.med_cols):
        if Cm.shape[1] != len(cols):
            raise ModelError("covariate_values holds a factor level that is not in the data")
    if C.shape[1] != len(spec.ix_c):
        raise ModelError("covariate_values holds a factor level that is not in the data")
    return _Eval(med_C, C[-1:])


def _failed(sets, scales, meta, status) -> pd.DataFrame:
    rows = []
    nan = {"estimate": np.nan, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p": np.nan}
    for mset in sets:
        prefix = "joint_" if len(mset) > 1 else ""
        for scale in scales:
            for effect in EFFECTS:
                eff = effect if (not prefix or effect == "te") else prefix + effect
                rows.append({**meta, **nan, "mediator": "+".join(mset), "effect": eff,
                             "scale": scale, "n_boot": 0, "n_boot_dropped": 0,
                             "m_cde": np.nan, "status": status})  # fmt: skip
    return pd.DataFrame(rows, columns=COLUMNS)


# --------------------------------------------------------------------------------------
# Many paths
# --------------------------------------------------------------------------------------


def mediation_paths(
    data: pd.DataFrame,
    paths: Sequence[tuple[str, str, str]],
    keys: Sequence[str] = (),
    fdr_effect: str = "tnie",
    **options,
) -> pd.DataFrame:
    """Run :func:`causal_mediation` for many (exposure, mediator, outcome) paths.

    Parameters
    ----------
    data : pandas.DataFrame
    paths : sequence of (exposure, mediator, outcome)
    keys : sequence of str
        Prefix of the analysis keys; path i uses ``(*keys, exposure, mediator, outcome)``,
        so adding or removing a path never changes another path's resamples.
    fdr_effect : str, default "tnie"
        Indirect effect whose p-values are FDR-adjusted across the paths.
    **options
        Passed to :func:`causal_mediation` (covariates, families, n_boot, seed, ...).

    Returns
    -------
    pandas.DataFrame
        The rows of every path stacked, plus ``q``: Benjamini–Hochberg q-values
        (:func:`first1000.stats.multitest.bh_fdr`) of ``fdr_effect`` on the first scale
        of each path (difference / risk_difference), computed across the paths; NaN in the
        other rows and for failed paths.
    """
    if "keys" in options:
        raise ModelError("pass keys once")
    frames = []
    for path in paths:
        if len(path) != 3:
            raise ModelError(f"each path must be (exposure, mediator, outcome), got {path!r}")
        exposure, mediator, outcome = path
        frames.append(
            causal_mediation(data, exposure, mediator, outcome,
                             keys=(*_as_list(keys), exposure, mediator, outcome), **options)
        )  # fmt: skip
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=COLUMNS)
    first = table.groupby(["exposure", "mediator", "outcome"], sort=False)["scale"].transform(
        "first"
    )
    target = (table["effect"] == fdr_effect) & (table["scale"] == first)
    table["q"] = np.nan
    table.loc[target, "q"] = bh_fdr(table.loc[target, "p"].to_numpy(dtype=float))
    return table


# --------------------------------------------------------------------------------------
# Sensitivity: Imai-Keele-Yamamoto rho and E-values
# --------------------------------------------------------------------------------------


def e_value(
    estimate: float,
    ci_low: float = np.nan,
    ci_high: float = np.nan,
    scale: str = "risk_ratio",
    rare_outcome: bool = True,
    sd: float | None = None,
) -> tuple[float, float]:
    """E-value of a point estimate and of the CI limit nearest the null.

    Parameters
    ----------
    estimate, ci_low, ci_high : float
        On the ratio scale for ratio measures; on the outcome scale for ``"difference"``.
    scale : {"risk_ratio", "rate_ratio", "odds_ratio", "difference"}
    rare_outcome : bool, default True
        For odds ratios: if False (outcome prevalence > 15%), RR ~ sqrt(OR).
    sd : float
        Outcome SD, needed for ``"difference"``: d = estimate / sd and RR ~ exp(0.91 d).

    Returns
    -------
    (e_point, e_ci) : tuple of float
        E = RR + sqrt(RR (RR - 1)) for RR >= 1 (RR < 1 is inverted first). ``e_ci`` is the
        E-value of the CI limit nearest 1, and 1 if the CI includes the null (NaN if no CI).

    Notes
    -----
    VanderWeele & Ding, Ann. Intern. Med. 167:268–274 (2017), with their conversions: for a
    common outcome RR ~ sqrt(OR) (VanderWeele, Epidemiology 28:e58–e60, 2017); for a
    continuous outcome the standardised mean difference d gives RR ~ exp(0.91 d)
    (Hasselblad & Hedges, Psychol. Bull. 117:167–178, 1995; VanderWeele & Ding 2017,
    appendix). The E-value is the minimum strength (risk-ratio scale) that an unmeasured
    confounder would need with both exposure and outcome to explain the estimate away.
    """
    if scale not in ("risk_ratio", "rate_ratio", "odds_ratio", "difference"):
        raise ModelError(f"unknown scale {scale!r} for an E-value")

    def to_rr(v):
        if not np.isfinite(v):
            return np.nan
        if scale == "difference":
            if sd is None or not sd > 0:
                raise ModelError("an E-value on the difference scale needs the outcome SD")
            return float(np.exp(0.91 * v / sd))
        if v <= 0:
            return np.nan
        return float(np.sqrt(v)) if (scale == "odds_ratio" and not rare_outcome) else float(v)

    def ev(rr):
        if not np.isfinite(rr):
            return np.nan
        rr = rr if rr >= 1 else 1.0 / rr
        return float(rr + np.sqrt(rr * (rr - 1.0)))

    rr = to_rr(estimate)
    e_point = ev(rr)
    lo, hi = to_rr(ci_low), to_rr(ci_high)
    if not np.isfinite(rr):
        return e_point, np.nan
    limit = lo if rr >= 1 else hi
    if not np.isfinite(limit):
        return e_point, np.nan
    if (rr >= 1 and limit <= 1) or (rr < 1 and limit >= 1):
        return e_point, 1.0
    return e_point, ev(limit)


def mediation_sensitivity(
    data: pd.DataFrame,
    exposure: str,
    mediator: str,
    outcome: str,
    covariates: Sequence[str] = (),
    contrast: str | tuple[float, float] | None = None,
    rho: Sequence[float] | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    keys: Sequence[str] = (),
    alpha: float = 0.05,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Imai–Keele–Yamamoto rho sensitivity and E-values for a linear mediator and outcome.

    Parameters
    ----------
    data, exposure, mediator, outcome, covariates
        Linear (OLS) mediator M ~ X + C and outcome Y ~ X + M + C, no interaction, the same
        covariates in both models.
    contrast : as in :func:`causal_mediation`
    rho : sequence of float, optional
        Grid of error correlations (default -0.99, -0.98, ..., 0.99).
    n_boot, seed, keys, alpha
        Case-resampling bootstrap (all models refitted on the same resample) for the CI of
        the curve and of the effects.

    Returns
    -------
    curve : pandas.DataFrame
        Columns ``effect`` ("nie" = ACME, "nde" = ADE), ``rho``, ``estimate``, ``ci_low``,
        ``ci_high`` (bootstrap percentile CI of the effect at that rho).
    summary : pandas.DataFrame
        One row per effect ("nde", "nie"): ``estimate``, ``ci_low``, ``ci_high`` (at rho =
        0; percentile bootstrap), ``rho_at_zero`` (the rho at which the effect is 0; NaN if
        none in (-1, 1)), ``r2_star_product`` (R²*_M R²*_Y = rho², proportions of the
        *unexplained* variances explained by an unobserved confounder) and
        ``r2_tilde_product`` (R̃²_M R̃²_Y = rho² (1 - R²_M)(1 - R²_Y), of the *total*
        variances), at rho_at_zero; ``e_value_point``, ``e_value_ci`` (VanderWeele & Ding,
        standardised difference d = effect / SD(Y), RR ~ exp(0.91 d)); ``contrast, a0, a1,
        n, n_boot``.

    Notes
    -----
    Imai, Keele & Yamamoto, Stat. Sci. 25:51–71 (2010), Theorem 2: with residuals e1 of
    the total model Y ~ X + C, e2 of the mediator model (slope beta2 of X), sigma_k their SDs
    and rho_tilde = corr(e1, e2), the ACME at error correlation rho of the mediator and
    outcome models is

        ACME(rho) = beta2 (sigma1 / sigma2) {rho_tilde - rho sqrt((1 - rho_tilde²)/(1 - rho²))},

    times (a1 - a0); at rho = 0 it is the product a·b. It is 0 at rho = rho_tilde.
    ADE(rho) = TE - ACME(rho). R ``mediation::medsens`` estimates the same function (by a
    seemingly-unrelated-regressions fit per rho, with delta-method CIs) and reports the
    zero crossing on its rho grid (JOBS II: -0.273; here -0.27347). The CIs here are
    bootstrap percentile intervals of the curve (all models refitted per resample).
    """
    covariates = _as_list(covariates)
    used = [exposure, mediator, outcome, *covariates]
    _check_columns(data, used)
    if len(set(used)) != len(used):
        raise ModelError("exposure, mediator, outcome and covariates must be different columns")
    if isinstance(n_boot, bool) or not isinstance(n_boot, (int, np.integer)) or n_boot < 2:
        raise ModelError(f"n_boot must be an integer >= 2, got {n_boot!r}")
    if not 0 < alpha < 1:
        raise ModelError(f"alpha must be between 0 and 1, got {alpha!r}")
    grid = np.round(np.arange(-0.99, 0.995, 0.01), 2) if rho is None else np.asarray(rho, float)
    if np.any(np.abs(grid) >= 1):
        raise ModelError("rho must lie strictly between -1 and 1")
    complete = data.loc[:, used].dropna()
    n = len(complete)
    problem = _data_problem(complete, exposure, [mediator], outcome, {mediator: "gaussian"},
                            "gaussian", n)  # fmt: skip
    C, _ = design_matrix(complete, covariates)
    if not problem:
        x = complete[exposure].to_numpy(dtype=float)
        a0, a1, label = _contrast(x, contrast)
        X1 = np.column_stack([C[:, :1], x, C[:, 1:]])
        if n < X1.shape[1] + 2:
            problem = f"too few complete rows: n={n} for {X1.shape[1] + 1} parameters"
        elif np.linalg.matrix_rank(
            np.column_stack([X1, complete[mediator].to_numpy(dtype=float)])
        ) < X1.shape[1] + 1:
            problem = "exposure, mediator and covariates are collinear; drop redundant covariates"
    if problem:
        curve = pd.DataFrame(
            [{"effect": e, "rho": r, "estimate": np.nan, "ci_low": np.nan, "ci_high": np.nan}
             for e in ("nie", "nde") for r in grid])  # fmt: skip
        summary = pd.DataFrame([{"effect": e, "status": problem} for e in ("nde", "nie")])
        return curve, summary
    m, y = (complete[c].to_numpy(dtype=float) for c in (mediator, outcome))
    d = a1 - a0
    Y = np.column_stack([m, y])

    def moments(coef, counts):
        """beta2, c (total slope), sigma1, sigma2, rho_tilde per resample."""
        B = counts.shape[0]
        s11, s22, s12 = np.empty(B), np.empty(B), np.empty(B)
        step = max(1, 2**20 // n)
        for start in range(0, B, step):
            stop = min(start + step, B)
            pred = np.einsum("bpk,np->bnk", coef[start:stop], X1)
            e2 = m[None, :] - pred[:, :, 0]
            e1 = y[None, :] - pred[:, :, 1]
            w = counts[start:stop]
            s11[start:stop] = np.einsum("bn,bn->b", w, e1 * e1)
            s22[start:stop] = np.einsum("bn,bn->b", w, e2 * e2)
            s12[start:stop] = np.einsum("bn,bn->b", w, e1 * e2)
        return coef[:, 1, 0], coef[:, 1, 1], np.sqrt(s11), np.sqrt(s22), s12 / np.sqrt(s11 * s22)

    def acme(beta2, s1, s2, rt, r):
        r = np.asarray(r, float)
        return (beta2 * s1 / s2)[:, None] * (
            rt[:, None] - r[None, :] * np.sqrt((1 - rt[:, None] ** 2) / (1 - r[None, :] ** 2))
        ) * d

    with _one_blas_thread():
        full = batched_ols(X1, Y, np.ones((1, n), dtype=np.int32))
        b2, c, s1, s2, rt = moments(full, np.ones((1, n)))
        counts = resample_counts(n, n_boot, analysis_rng(seed, *keys))
        boot = batched_ols(X1, Y, counts)
        ok = np.isfinite(boot).all(axis=(1, 2))
        B2, CC, S1, S2, RT = moments(boot[ok], counts[ok])
    te, te_b = c * d, CC * d
    nie_curve = acme(b2, s1, s2, rt, grid)[0]
    nie_boot = acme(B2, S1, S2, RT, grid)
    nde_curve = te[0] - nie_curve
    nde_boot = te_b[:, None] - nie_boot
    lo, hi = 100 * alpha / 2, 100 * (1 - alpha / 2)
    rows = []
    for eff, est, bt in (("nie", nie_curve, nie_boot), ("nde", nde_curve, nde_boot)):
        q = np.percentile(bt, [lo, hi], axis=0)
        for i, r in enumerate(grid):
            rows.append({"effect": eff, "rho": float(r), "estimate": float(est[i]),
                         "ci_low": float(q[0, i]), "ci_high": float(q[1, i])})  # fmt: skip
    curve = pd.DataFrame(rows, columns=["effect", "rho", "estimate", "ci_low", "ci_high"])

    # R^2 of the mediator and outcome models (for the R-tilde parametrisation)
    r2_m = 1 - s2[0] ** 2 / np.sum((m - m.mean()) ** 2)
    X2 = np.column_stack([X1, m])
    res_y = y - X2 @ np.linalg.lstsq(X2, y, rcond=None)[0]
    r2_y = 1 - (res_y @ res_y) / np.sum((y - y.mean()) ** 2)
    sd_y = float(np.std(y, ddof=1))

    def root(f):
        xs = np.linspace(-0.999, 0.999, 2001)
        vals = np.array([f(v) for v in xs])
        sign = np.flatnonzero(np.sign(vals[:-1]) * np.sign(vals[1:]) <= 0)
        if sign.size == 0:
            return np.nan
        i = sign[0]
        if vals[i] == 0:
            return float(xs[i])
        return float(brentq(f, xs[i], xs[i + 1], xtol=1e-14))

    summary = []
    nie0 = float(acme(b2, s1, s2, rt, [0.0])[0, 0])
    nie0_b = acme(B2, S1, S2, RT, [0.0])[:, 0]
    for eff, est, bt, rz in (
        ("nde", te[0] - nie0, te_b - nie0_b,
         root(lambda r: te[0] - acme(b2, s1, s2, rt, [r])[0, 0])),
        ("nie", nie0, nie0_b, float(rt[0])),
    ):  # fmt: skip
        ci = percentile_ci(bt, alpha)
        ep, eci = e_value(est, ci[0], ci[1], scale="difference", sd=sd_y)
        summary.append({
            "effect": eff, "estimate": float(est), "ci_low": ci[0], "ci_high": ci[1],
            "rho_at_zero": rz, "r2_star_product": rz**2,
            "r2_tilde_product": rz**2 * (1 - r2_m) * (1 - r2_y),
            "e_value_point": ep, "e_value_ci": eci, "contrast": label, "a0": a0, "a1": a1,
            "n": n, "n_boot": int(ok.sum()), "status": "ok",
        })  # fmt: skip
    return curve, pd.DataFrame(summary)
