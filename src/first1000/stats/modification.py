"""Effect modification: exposure x modifier interaction models and stratum-specific effects.

Does the effect of an exposure (e.g. maternal SES) on an outcome differ by a third variable
(child sex, cohort, maternal resilience)? :func:`effect_modification` answers on the
additive scale of the model (mean difference for linear models, log odds ratio for logistic
ones) in three tidy tables:

* ``terms``: the interaction model
  ``response ~ exposure + modifier + exposure:modifier + covariates``;
* ``strata``: the exposure effect in each stratum of a categorical modifier (separate fits,
  and the same contrast from the interaction model), or at declared values of a continuous
  modifier (linear combinations of coefficients);
* ``tests``: heterogeneity tests (joint Wald and likelihood-ratio tests of the interaction
  terms, Cochran's Q across the stratum estimates).

Design matrices are built with :func:`first1000.stats.regression.design_matrix` (no formula
strings), models fitted with statsmodels ``OLS`` and ``Logit``.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import NamedTuple

import numpy as np
import pandas as pd
from statsmodels.discrete.discrete_model import Logit  # not statsmodels.api: 0.7 s less per job (#19)
from statsmodels.regression.linear_model import OLS
from scipy import stats
from statsmodels.tools.sm_exceptions import PerfectSeparationError, PerfectSeparationWarning

from first1000.errors import ModelError
from first1000.stats.meta import meta_analyse
from first1000.stats.regression import (
    _EXTREME_PROB,
    _HUGE_STD_SE,
    _LOGIT_MAXITER,
    FAMILIES,
    _as_list,
    _check_columns,
    _infinite_columns,
    _is_categorical,
    _response_problem,
    _sorted_levels,
    design_matrix,
    fit_association,
)

TERM_COLUMNS = [
    "exposure", "modifier", "term", "estimate", "se", "ci_low", "ci_high", "p", "n",
    "model", "status",
]  # fmt: skip
STRATUM_COLUMNS = [
    "exposure", "modifier", "level", "value", "method", "estimate", "se", "ci_low",
    "ci_high", "p", "n", "model", "status",
]  # fmt: skip
TEST_COLUMNS = [
    "exposure", "modifier", "test", "statistic", "df", "df_denom", "p", "i2", "n", "model",
    "status",
]  # fmt: skip


class EffectModification(NamedTuple):
    """The three tables of :func:`effect_modification` (columns: TERM_COLUMNS,
    STRATUM_COLUMNS, TEST_COLUMNS)."""

    terms: pd.DataFrame
    strata: pd.DataFrame
    tests: pd.DataFrame


class _Fit(NamedTuple):
    params: np.ndarray
    cov: np.ndarray
    df_resid: float  # inf for logistic models (Wald z inference)
    llf: float


# --- fitting --------------------------------------------------------------------------------


def _fit(X: np.ndarray, y: np.ndarray, family: str) -> _Fit | str:
    """Fitted model, or a status text saying why it cannot be fitted."""
    n, p = X.shape
    if n < p + 1:
        return f"too few complete rows: n={n} for a model with {p} parameters"
    rank = np.linalg.matrix_rank(X)
    if rank < p:
        return (
            f"the design is collinear (rank {rank} < {p} parameters): a modifier level, "
            "covariate level or exposure value is absent or constant within a stratum"
        )
    if np.ptp(y) == 0:
        return "the response is constant in the complete rows"
    if family == "gaussian":
        res = OLS(y, X).fit()
        return _Fit(np.asarray(res.params), np.asarray(res.cov_params()), float(res.df_resid),
                    float(res.llf))  # fmt: skip
    separation = (
        "perfect or quasi-perfect separation in the interaction model; the odds ratios are "
        "not estimable (merge sparse strata or use penalised regression)"
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            res = Logit(y, X).fit(disp=0, maxiter=_LOGIT_MAXITER)
        except PerfectSeparationError:
            return separation
        except np.linalg.LinAlgError:
            return "the logistic information matrix is singular (separation or collinearity)"
        bse = np.asarray(res.bse, dtype=float)
        fitted = res.predict()
        cov = np.asarray(res.cov_params())
    warned = any(issubclass(w.category, PerfectSeparationWarning) for w in caught)
    converged = bool(res.mle_retvals.get("converged", False))
    extreme = bool(np.any((fitted < _EXTREME_PROB) | (fitted > 1 - _EXTREME_PROB)))
    sd = X[:, 1:].std(axis=0)
    huge = not np.all(np.isfinite(bse)) or bool(np.any(bse[1:] * sd > _HUGE_STD_SE))
    if warned or (extreme and (huge or not converged)):
        return separation
    if not converged:
        return f"logistic model did not converge in {_LOGIT_MAXITER} iterations"
    if huge:
        return "unstable logistic fit: implausibly large standard errors (near-separation)"
    return _Fit(np.asarray(res.params), cov, np.inf, float(res.llf))


def linear_combination(params, cov, weights, df: float = np.inf, alpha: float = 0.05) -> dict:
    """Estimate, SE, CI and p of a linear combination c'beta of model coefficients.

    Parameters
    ----------
    params : array-like, shape (p,)
        Coefficients beta.
    cov : array-like, shape (p, p)
        Their covariance matrix V.
    weights : array-like, shape (p,)
        The combination c.
    df : float, default inf
        Degrees of freedom of the t reference distribution (inf: normal, Wald z).
    alpha : float, default 0.05
        Two-sided level.

    Returns
    -------
    dict
        ``estimate`` = c'beta, ``se`` = sqrt(c'Vc), ``ci_low``, ``ci_high``, ``p``.

    Notes
    -----
    E.g. the exposure effect at modifier value v in ``y ~ x + z + x:z`` is
    beta_x + v beta_xz with variance V_xx + v² V_(xz,xz) + 2 v V_(x,xz).
    """
    b = np.asarray(params, dtype=float)
    V = np.asarray(cov, dtype=float)
    c = np.asarray(weights, dtype=float)
    if b.ndim != 1 or V.shape != (b.size, b.size) or c.shape != b.shape:
        raise ModelError(
            f"linear_combination needs params (p,), cov (p, p), weights (p,); got "
            f"{b.shape}, {V.shape}, {c.shape}"
        )
    estimate = float(c @ b)
    se = float(np.sqrt(c @ V @ c))
    if np.isfinite(df):
        crit = float(stats.t.isf(alpha / 2, df))
        p = float(2 * stats.t.sf(abs(estimate / se), df)) if se > 0 else np.nan
    else:
        crit = float(stats.norm.isf(alpha / 2))
        p = float(2 * stats.norm.sf(abs(estimate / se))) if se > 0 else np.nan
    return {"estimate": estimate, "se": se, "ci_low": estimate - crit * se,
            "ci_high": estimate + crit * se, "p": p}  # fmt: skip


# --- modifier values ---------------------------------------------------------------------------


def _modifier_values(values: np.ndarray, at) -> list[tuple[str, float]]:
    """(label, value) pairs at which the exposure effect of a continuous modifier is shown."""
    if at is None or (isinstance(at, str) and at == "quartiles"):
        q = np.percentile(values, [25, 50, 75])
        return [("p25", float(q[0])), ("p50", float(q[1])), ("p75", float(q[2]))]
    if isinstance(at, str) and at == "sd":
        mean, sd = float(values.mean()), float(values.std(ddof=1))
        return [("mean-1sd", mean - sd), ("mean", mean), ("mean+1sd", mean + sd)]
    if isinstance(at, str):
        raise ModelError(f"at must be 'quartiles', 'sd', a sequence or a mapping; got {at!r}")
    if isinstance(at, Mapping):
        pairs = [(str(k), v) for k, v in at.items()]
    else:
        pairs = [(None, v) for v in at]
    out = []
    for label, value in pairs:
        try:
            number = float(value)
        except (TypeError, ValueError) as err:
            raise ModelError(f"modifier values in 'at' must be numbers, got {value!r}") from err
        out.append((label if label is not None else f"{number:g}", number))
    if not out:
        raise ModelError("at must name at least one modifier value")
    return out


# --- the public function -------------------------------------------------------------------------


def _rows(columns: list[str], rows: list[dict]) -> pd.DataFrame:
    return pd.DataFrame(rows).reindex(columns=columns) if rows else pd.DataFrame(columns=columns)


def _nan_numbers() -> dict:
    return {"estimate": np.nan, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p": np.nan}


def effect_modification(
    data: pd.DataFrame,
    response: str,
    exposure: str,
    modifier: str,
    covariates: Sequence[str] = (),
    family: str = "gaussian",
    at=None,
    categorical: bool | None = None,
    interact_covariates: bool = False,
    alpha: float = 0.05,
) -> EffectModification:
    """Interaction model, stratum-specific exposure effects and heterogeneity tests.

    Parameters
    ----------
    data : pandas.DataFrame
        The data; complete cases of response, exposure, modifier and covariates are used.
    response : str
        Outcome: numeric (``family="gaussian"``) or coded 0/1 (``"binomial"``).
    exposure : str
        Numeric or two-level exposure (one model coefficient, as in
        :func:`~first1000.stats.regression.fit_association`).
    modifier : str
        The effect modifier. Categorical if it is a factor (string, category or bool
        column) or a numeric column with two distinct values (e.g. 0/1); continuous
        otherwise. ``categorical`` overrides the choice.
    covariates : sequence of str, optional
        Adjustment columns.
    family : {"gaussian", "binomial"}
        Linear (OLS) or logistic (maximum likelihood) models.
    at : None, "quartiles", "sd", sequence of float or mapping label -> float
        Continuous modifier only: values at which the exposure effect is reported.
        ``None``/``"quartiles"``: 25th, 50th and 75th centiles of the modifier in the
        complete rows (labels ``p25``, ``p50``, ``p75``); ``"sd"``: mean - 1 SD, mean,
        mean + 1 SD; or explicit values.
    categorical : bool, optional
        Force categorical (True) or continuous (False) treatment of the modifier.
    interact_covariates : bool, default False
        Also interact every covariate with the modifier (fully interacted model). For a
        categorical modifier the stratum effects of the interaction model then equal the
        separate stratified fits (see Notes).
    alpha : float, default 0.05
        Two-sided level of all intervals.

    Returns
    -------
    EffectModification
        Named tuple of three DataFrames:

        ``terms`` (:data:`TERM_COLUMNS`): one row per coefficient of the interaction model
        that involves the exposure or the modifier: the exposure (its effect at modifier = 0
        or in the reference level), the modifier term(s) (``modifier`` or
        ``modifier[level]``) and the interaction term(s) ``exposure:modifier[level]``;
        ``term`` uses the design-matrix names (a two-level exposure appears as
        ``exposure[level]``).

        ``strata`` (:data:`STRATUM_COLUMNS`): exposure effects by stratum. Categorical
        modifier: for every level, ``method="stratified"`` (a separate
        :func:`~first1000.stats.regression.fit_association` in that stratum, covariates
        as given) and ``method="interaction"`` (beta_exposure + beta_exposure:level from the
        interaction model); ``n`` is the stratum's number of complete rows, ``value`` NaN.
        Continuous modifier: ``method="interaction"`` rows at the ``at`` values, ``level``
        the label and ``value`` the modifier value, ``n`` all complete rows.

        ``tests`` (:data:`TEST_COLUMNS`): ``interaction_wald`` (joint Wald test of all
        exposure:modifier terms: F with ``df``, ``df_denom`` for linear models, chi² for
        logistic ones; for one term it equals the squared t or z of that term),
        ``interaction_lr`` (likelihood-ratio chi² against the model without those terms)
        and, for a categorical modifier, ``cochran_q`` (Cochran's Q of the stratified
        estimates, ``df`` = strata - 1, with ``i2`` in %).

        Estimates are on the model's scale: mean differences per unit of exposure for linear
        models, log odds ratios for logistic ones.

    Notes
    -----
    The interaction model is ``response ~ 1 + exposure + M + exposure·M + covariates``
    (plus ``covariates·M`` with ``interact_covariates``), M being the modifier's
    treatment-coded indicators (reference = first sorted level) or the continuous modifier
    itself. The exposure effect in stratum j is beta_x + beta_(x·M_j); at modifier value v
    it is beta_x + v beta_(x·M). Its SE is sqrt(c'Vc) from the model's covariance matrix V
    (:func:`linear_combination`); intervals and p use t with the residual df (linear) or
    the normal distribution (logistic), as ``fit_association``.

    Stratified fits versus the interaction model: with ``interact_covariates=True`` the
    interaction model is the stratified models in one design. For logistic models the
    stratum estimates and SEs are then identical to separate fits (the likelihood
    factorises over strata). For linear models the estimates are identical but the SEs
    differ by the factor sigma_j / sigma_pooled, because one residual variance is pooled
    over all strata (and the t df is the pooled one). Without ``interact_covariates`` the
    covariate effects are common to all strata, so the interaction-model stratum effects
    differ a little from the stratified ones.

    Heterogeneity: the Wald test is (R beta)' (R V R')^-1 (R beta) over the q interaction
    coefficients, divided by q for the F version (linear models, denominator df = residual
    df); the LR test is 2 (l_full - l_reduced) ~ chi²_q (Gaussian log-likelihoods for
    linear models). Cochran's Q (Cochran 1954) is the fixed-effect heterogeneity statistic
    of the stratified estimates, from :func:`first1000.stats.meta.meta_analyse`
    (``method="FE"``; strata whose fit failed are skipped); unlike the interaction tests
    it lets each stratum have its own covariate effects and residual variance.

    Data problems (too few rows, a modifier with one level, collinearity, separation) give
    NaN numbers and a ``status`` text in the rows concerned; stratified fits are attempted
    even if the interaction model fails.

    Raises
    ------
    ModelError
        For misuse: unknown family, a column not in ``data``, a column used twice, a bad
        ``at`` or ``alpha``.
    """
    if family not in FAMILIES:
        raise ModelError(f"family must be one of {FAMILIES}, got {family!r}")
    if not 0 < alpha < 1:
        raise ModelError(f"alpha must be between 0 and 1, got {alpha!r}")
    covariates = _as_list(covariates)
    used = [response, exposure, modifier, *covariates]
    _check_columns(data, used)
    if len(set(used)) != len(used):
        raise ModelError(
            f"response '{response}', exposure '{exposure}', modifier '{modifier}' and "
            f"covariates {covariates} must be different columns"
        )
    model = "linear" if family == "gaussian" else "logistic"
    complete = data.loc[:, used].dropna()
    n = len(complete)
    base = {"exposure": exposure, "modifier": modifier, "model": model}

    mod_series = complete[modifier]
    if categorical is None:
        categorical = _is_categorical(data[modifier]) or data[modifier].dropna().nunique() == 2
    if not categorical and _is_categorical(mod_series):
        raise ModelError(f"modifier '{modifier}' is not numeric; it cannot be continuous")
    if categorical and pd.api.types.is_float_dtype(mod_series) and np.all(mod_series == np.round(mod_series)):
        mod_series = mod_series.astype("int64")  # a 0/1 modifier: strata "0" and "1", not "0.0"
    levels = _sorted_levels(mod_series) if categorical else []
    if categorical:
        complete = complete.assign(**{modifier: mod_series.astype(object)})
    values = []
    if not categorical and n > 0:
        values = _modifier_values(mod_series.to_numpy(dtype=float), at)

    problem = _response_problem(complete[response], response, family) or _infinite_columns(
        complete, [c for c in used if not (categorical and c == modifier)]
    )
    if problem is None and n == 0:
        problem = "no complete rows"
    if problem is None and categorical and len(levels) < 2:
        problem = f"modifier '{modifier}' has {len(levels)} level(s) in the complete rows"

    # Design of the interaction model.
    fit: _Fit | str
    names: list[str] = []
    i_x, i_m, i_xm = 1, [], []  # positions of the exposure, modifier and interaction terms
    if problem is None:
        X_e, names_e = design_matrix(complete, [exposure])
        if len(names_e) != 2:
            problem = (
                f"exposure '{exposure}' is a factor with {len(names_e)} levels; it needs a "
                "numeric or two-level exposure"
            )
    if problem is None:
        x = X_e[:, 1]
        if np.ptp(x) == 0:
            problem = f"exposure '{exposure}' has zero variance in the {n} complete rows"
    if problem is None:
        M, names_m = design_matrix(complete, [modifier])
        M, names_m = M[:, 1:], names_m[1:]
        C, names_c = design_matrix(complete, covariates)
        C, names_c = C[:, 1:], names_c[1:]
        XM = x[:, None] * M
        names_xm = [f"{names_e[1]}:{m}" for m in names_m]
        blocks = [np.ones((n, 1)), x[:, None], M, XM, C]
        names = ["Intercept", names_e[1], *names_m, *names_xm, *names_c]
        if interact_covariates and C.shape[1]:
            CM = (C[:, :, None] * M[:, None, :]).reshape(n, -1)
            blocks.append(CM)
            names += [f"{c}:{m}" for c in names_c for m in names_m]
        X = np.hstack(blocks)
        y = complete[response].to_numpy(dtype=float)
        i_m = list(range(2, 2 + len(names_m)))
        i_xm = list(range(2 + len(names_m), 2 + 2 * len(names_m)))
        fit = _fit(X, y, family)
    else:
        fit = problem

    def effect(weights: dict[int, float]) -> dict:
        """Numbers and status of a linear combination of the interaction model."""
        if not isinstance(fit, _Fit):
            return {"status": fit, **_nan_numbers()}
        c = np.zeros(len(names))
        for index, weight in weights.items():
            c[index] = weight
        return {"status": "ok", **linear_combination(fit.params, fit.cov, c, fit.df_resid, alpha)}

    # (a) the interaction model's exposure, modifier and interaction terms
    if problem is None:
        term_rows = [
            {**base, "term": names[i], "n": n, **effect({i: 1.0})} for i in [i_x, *i_m, *i_xm]
        ]
    else:
        targets = [exposure, modifier, f"{exposure}:{modifier}"]
        term_rows = [{**base, "term": t, "n": n, "status": fit, **_nan_numbers()} for t in targets]

    # (b) stratum-specific exposure effects
    stratum_rows = []
    numbers = ("estimate", "se", "ci_low", "ci_high", "p", "status")
    for j, level in enumerate(levels):  # categorical modifier
        in_level = (complete[modifier] == level).to_numpy()
        strat = fit_association(complete[in_level], response, exposure, covariates,
                                family=family, alpha=alpha)  # fmt: skip
        row = {**base, "level": level, "value": np.nan}
        stratum_rows.append(
            {**row, "method": "stratified", "n": strat["n"], **{k: strat[k] for k in numbers}}
        )
        weights = {i_x: 1.0} if j == 0 or problem else {i_x: 1.0, i_xm[j - 1]: 1.0}
        stratum_rows.append(
            {**row, "method": "interaction", "n": int(in_level.sum()), **effect(weights)}
        )
    for label, value in values:  # continuous modifier
        weights = {i_x: 1.0, i_xm[0]: value} if problem is None else {}
        stratum_rows.append({**base, "level": label, "value": value, "method": "interaction",
                             "n": n, **effect(weights)})  # fmt: skip
    strata = _rows(STRATUM_COLUMNS, stratum_rows)

    # (c) heterogeneity tests
    nan_test = {"statistic": np.nan, "df": np.nan, "df_denom": np.nan, "p": np.nan, "i2": np.nan}
    test_rows = []
    if isinstance(fit, _Fit):
        q = len(i_xm)
        b = fit.params[i_xm]
        wald = float(b @ np.linalg.solve(fit.cov[np.ix_(i_xm, i_xm)], b))
        if family == "gaussian":  # F = Wald / q on (q, residual df)
            wald_numbers = {"statistic": wald / q, "df": q, "df_denom": fit.df_resid,
                            "p": float(stats.f.sf(wald / q, q, fit.df_resid))}  # fmt: skip
        else:
            wald_numbers = {"statistic": wald, "df": q, "df_denom": np.nan,
                            "p": float(stats.chi2.sf(wald, q))}  # fmt: skip
        test_rows.append({**base, "test": "interaction_wald", "n": n, "status": "ok",
                          **nan_test, **wald_numbers})  # fmt: skip
        reduced = _fit(np.delete(X, i_xm, axis=1), y, family)
        lr_row = {**base, "test": "interaction_lr", "n": n, **nan_test}
        if isinstance(reduced, _Fit):
            lr = max(0.0, 2.0 * (fit.llf - reduced.llf))
            lr_row.update(status="ok", statistic=lr, df=q, p=float(stats.chi2.sf(lr, q)))
        else:
            lr_row.update(status=f"model without the interaction: {reduced}")
        test_rows.append(lr_row)
    else:
        for test in ("interaction_wald", "interaction_lr"):
            test_rows.append({**base, "test": test, "n": n, "status": fit, **nan_test})
    if categorical:
        test_rows.append({**base, **_cochran_q(strata[strata.method == "stratified"]), "n": n})
    return EffectModification(
        terms=_rows(TERM_COLUMNS, term_rows),
        strata=strata,
        tests=_rows(TEST_COLUMNS, test_rows),
    )


def _cochran_q(strat: pd.DataFrame) -> dict:
    """Cochran's Q of the stratified estimates (fixed-effect meta-analysis of the strata)."""
    table = pd.DataFrame({"level": [str(v) for v in strat.level], "estimate": strat.estimate,
                          "se": strat.se, "status": strat.status})  # fmt: skip
    het = meta_analyse(table, by=None, study="level", method="FE")
    k = int(het.k.iloc[0])
    out = {"test": "cochran_q", "statistic": np.nan, "df": np.nan, "df_denom": np.nan,
           "p": np.nan, "i2": np.nan}  # fmt: skip
    if k < 2:
        out["status"] = f"{k} stratum estimate(s); Cochran's Q needs at least 2"
        return out
    out.update(status="ok", statistic=float(het.Q.iloc[0]), df=int(het.Q_df.iloc[0]),
               p=float(het.Q_p.iloc[0]), i2=float(het.I2.iloc[0]))  # fmt: skip
    return out
