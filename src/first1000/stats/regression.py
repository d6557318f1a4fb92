"""Single-exposure association models (linear and logistic) on complete cases.

Design matrices are built here from numpy/pandas directly: no formula strings ever reach
patsy, formulaic or ``eval``, so a column name from a config file can never execute code.
"""

from __future__ import annotations

import numbers
import warnings
from collections.abc import Iterable, Sequence

import numpy as np
import pandas as pd

from first1000.errors import InputTableError, ModelError

FAMILIES = ("gaussian", "binomial")

# A logistic coefficient whose SE exceeds this many log-odds units per SD of its column is
# not a finite-sample estimate any more: that happens when the likelihood has no maximum
# (separation). Genuine effects in cohort data have standardised SEs far below 1.
_HUGE_STD_SE = 50.0
# Fitted probabilities this close to 0 or 1 mark observations that are predicted perfectly.
_EXTREME_PROB = 1e-8
_LOGIT_MAXITER = 100
#: In a linear model, a categorical covariate with at least this many levels among the
#: complete rows (an array's plate or batch: one level per ~96 samples, so thousands in a
#: national cohort) is absorbed by demeaning within its levels instead of entering as
#: dummy columns (Frisch–Waugh–Lovell): the same estimate, SE, CI and p, at O(n·p) instead
#: of O(n·(p + levels)²) (#19).
ABSORB_LEVELS = 30


def _as_list(columns) -> list[str]:
    if columns is None:
        return []
    if isinstance(columns, str):
        return [columns]
    return list(columns)


def _check_columns(data: pd.DataFrame, columns: Iterable[str], what: str = "data") -> None:
    """Raise ModelError for misuse: not a DataFrame, or column names it does not have."""
    if not isinstance(data, pd.DataFrame):
        raise ModelError(f"expected a pandas DataFrame, got {type(data).__name__}")
    missing = [c for c in columns if c not in data.columns]
    if missing:
        raise ModelError(
            f"column(s) {', '.join(repr(c) for c in missing)} not in the {what}; "
            f"available columns: {', '.join(map(str, data.columns))}"
        )


def _is_categorical(series: pd.Series) -> bool:
    # bool counts as numeric for pandas, but a True/False column is a two-level factor.
    return pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series)


def mixed_type_columns(data: pd.DataFrame, columns: Sequence[str]) -> list[str]:
    """The columns among ``columns`` whose non-missing values mix numbers and text.

    Such a column (object dtype holding e.g. ``0``, ``1.0`` and ``"0"``) would be dummy
    coded with ``0`` and ``"0"`` as different levels. Only the value types are inspected.
    """
    out = []
    for col in _as_list(columns):
        series = data[col]
        if not pd.api.types.is_object_dtype(series):
            continue
        kinds = set()
        for value in pd.unique(series.dropna()):
            if isinstance(value, str):
                kinds.add("text")
            elif isinstance(value, (numbers.Number, np.bool_)):
                kinds.add("number")
            else:
                kinds.add(type(value).__name__)
            if len(kinds) > 1:
                out.append(col)
                break
    return out


def check_column_types(data: pd.DataFrame, columns: Sequence[str], where: str = "") -> None:
    """Refuse columns that mix numbers and text (see :func:`mixed_type_columns`).

    Raises
    ------
    InputTableError
        One line naming the first such column, ``where`` (e.g. "mechanism immune, cohort
        a") and how to fix it; no participant value is quoted.
    """
    bad = mixed_type_columns(data, columns)
    if bad:
        col = bad[0]
        values = data[col].dropna()
        n_text = int(sum(isinstance(v, str) for v in values))
        context = f" ({where})" if where else ""
        more = f" (also {', '.join(repr(c) for c in bad[1:])})" if len(bad) > 1 else ""
        raise InputTableError(
            f"column '{col}'{context} mixes numbers and text ({len(values) - n_text} numeric "
            f"and {n_text} text values), so a code stored once as a number and once as text "
            f"would become two categories{more}; recode '{col}' to one type (all numbers or "
            "all text) in the input table or its mapping"
        )


def _sorted_levels(series: pd.Series) -> list:
    levels = list(pd.unique(series.dropna()))
    try:
        return sorted(levels)
    except TypeError:  # mixed types (e.g. 1 and "1"): fall back to text order, still stable
        return sorted(levels, key=lambda v: (str(v), type(v).__name__))


def design_matrix(data: pd.DataFrame, columns: Sequence[str]) -> tuple[np.ndarray, list[str]]:
    """Build a regression design matrix with an intercept and treatment-coded factors.

    Parameters
    ----------
    data : pandas.DataFrame
        The data.
    columns : sequence of str
        Columns to enter the model, in this order.

    Returns
    -------
    X : numpy.ndarray of float, shape (n_rows, n_terms)
        First column is the intercept (all ones).
    names : list of str
        Term names: ``"Intercept"``, numeric columns by their name, and one
        ``"column[level]"`` indicator per non-reference level of a factor.

    Notes
    -----
    Numeric columns enter as they are. Object, string, category and bool columns are
    treatment (dummy) coded: the levels observed in ``data`` are sorted and the first is the
    reference, e.g. ``child_sex`` with levels F, M gives one column ``child_sex[M]``; bool
    columns give ``column[True]``. The sort makes the coding deterministic whatever the row
    order. Missing values stay NaN in every indicator of that factor (so that a missing
    value can never pass for the reference level).

    Raises
    ------
    ModelError
        If a column is not in ``data``.
    """
    columns = _as_list(columns)
    _check_columns(data, columns)
    blocks = [np.ones((len(data), 1))]
    names = ["Intercept"]
    for col in columns:
        series = data[col]
        if _is_categorical(series):
            values = series.to_numpy(dtype=object)
            missing = series.isna().to_numpy()
            levels = _sorted_levels(series)
            for level in levels[1:]:
                indicator = (values == level).astype(float)
                indicator[missing] = np.nan
                blocks.append(indicator[:, None])
                names.append(f"{col}[{level}]")
        else:
            blocks.append(series.to_numpy(dtype=float, na_value=np.nan)[:, None])
            names.append(str(col))
    return np.hstack(blocks), names


def _infinite_columns(complete: pd.DataFrame, columns: Sequence[str]) -> str | None:
    """Status text if numeric columns hold +/-inf (dropna keeps them, the fit cannot)."""
    bad = [
        f"'{c}' ({int(np.isinf(v).sum())} rows)"
        for c in columns
        if not _is_categorical(complete[c])
        for v in [complete[c].to_numpy(dtype=float)]
        if np.isinf(v).any()
    ]
    if bad:
        return f"infinite values in {', '.join(bad)}; recode them as missing or fix them"
    return None


def _result(n: int, model: str, status: str, **numbers) -> dict:
    out = {
        "n": int(n),
        "estimate": np.nan,
        "se": np.nan,
        "ci_low": np.nan,
        "ci_high": np.nan,
        "p": np.nan,
        "status": status,
        "model": model,
    }
    if model.startswith("logistic"):
        out["odds_ratio"] = np.nan
    out.update(numbers)
    return out


def _response_problem(series: pd.Series, response: str, family: str) -> str | None:
    if family == "gaussian":
        if _is_categorical(series) and not pd.api.types.is_bool_dtype(series):
            return (
                f"response '{response}' is not numeric (dtype {series.dtype}); "
                "a linear model needs a numeric outcome"
            )
        return None
    if pd.api.types.is_bool_dtype(series):
        return None
    if not pd.api.types.is_numeric_dtype(series):
        return (
            f"binary response '{response}' must be coded 0/1 but is of type "
            f"{series.dtype}; recode it to 0/1"
        )
    values = series.to_numpy(dtype=float)
    if not np.isin(values, (0.0, 1.0)).all():
        n_bad = int((~np.isin(values, (0.0, 1.0))).sum())
        return (
            f"binary response '{response}' must be coded 0/1 but {n_bad} complete "
            "row(s) hold other values; recode it to 0/1"
        )
    return None


def model_name(family: str, firth: bool = False) -> str:
    """The ``model`` column of an association row: ``linear``, ``logistic`` or ``logistic
    (Firth)`` (also for a row that could not be fitted, so a pair keeps one name)."""
    return "linear" if family == "gaussian" else ("logistic (Firth)" if firth else "logistic")


def fit_association(
    data: pd.DataFrame,
    response: str,
    predictor: str,
    covariates: Sequence[str] = (),
    family: str = "gaussian",
    alpha: float = 0.05,
    firth: bool = False,
) -> dict:
    """Adjusted association of one predictor with one response.

    Parameters
    ----------
    data : pandas.DataFrame
        The data; rows with a missing value in any used column are dropped (complete cases).
    response : str
        Outcome column. Numeric for ``family="gaussian"``; coded 0/1 (or bool) for
        ``family="binomial"``.
    predictor : str
        Exposure column: numeric, or a factor with two levels (the estimate is then the
        contrast of the second sorted level against the first).
    covariates : sequence of str, optional
        Adjustment columns, coded by :func:`design_matrix`.
    family : {"gaussian", "binomial"}
        ``"gaussian"``: ordinary least squares. ``"binomial"``: logistic regression by
        maximum likelihood.
    alpha : float, default 0.05
        Two-sided level of the confidence interval.
    firth : bool, default False
        For ``family="binomial"``: Firth-penalised logistic regression
        (:func:`firth_logit`) instead of maximum likelihood; finite estimates under
        separation, Wald CI and p from the inverse information at the penalised estimate
        (``model`` is then ``"logistic (Firth)"``).

    Returns
    -------
    dict
        ``n`` (complete rows), ``estimate``, ``se``, ``ci_low``, ``ci_high``, ``p``,
        ``status`` (``"ok"`` or why the model could not be fitted, numbers then NaN),
        ``model`` (``"linear"`` or ``"logistic"``) and, for logistic models,
        ``odds_ratio`` = exp(estimate).

    Notes
    -----
    Linear: ordinary least squares with statsmodels ``OLS``'s arithmetic, written out
    (:func:`_ols_inference`: the same doubles, without importing statsmodels); CI =
    estimate ± t_{n-p, 1-alpha/2}·SE and p from the t distribution with n - p degrees of
    freedom (classical OLS inference).

    Logistic: statsmodels ``Logit`` (Newton–Raphson, at most 100 iterations). The estimate
    is the log odds ratio; CI = estimate ± z_{1-alpha/2}·SE and p from the Wald z test
    (Agresti, *Categorical Data Analysis*, 3rd ed., 2013, §4.2 / §5.2).

    Separation (Albert & Anderson, Biometrika 71:1–10, 1984): when some combination of
    the predictors splits the 0s from the 1s (completely or up to ties), the likelihood has
    no maximum and the Wald numbers are meaningless. It is reported when statsmodels
    signals it, or when observations get fitted probabilities within 1e-8 of 0/1 together
    with non-convergence or a standard error above 50 log-odds units per SD of the column.

    Other statuses (all with NaN numbers): response not numeric / not coded 0/1, infinite
    values, fewer complete rows than parameters + 1, zero-variance predictor, predictor
    with more than two levels, collinear design, constant response, non-convergence.

    Raises
    ------
    ModelError
        Only for misuse: unknown ``family``, a column not in ``data``, or the predictor
        also listed as a covariate. Data problems never raise; see ``status``.
    InputTableError
        A used column mixes numbers and text (:func:`check_column_types`).
    """
    if family not in FAMILIES:
        raise ModelError(f"family must be one of {FAMILIES}, got {family!r}")
    if not 0 < alpha < 1:
        raise ModelError(f"alpha must be between 0 and 1, got {alpha!r}")
    covariates = _as_list(covariates)
    used = [response, predictor, *covariates]
    _check_columns(data, used)
    if len(set(used)) != len(used):
        raise ModelError(
            f"response '{response}', predictor '{predictor}' and covariates "
            f"{covariates} must be different columns"
        )
    check_column_types(data, used)
    model = model_name(family, firth)

    complete = data.loc[:, used].dropna()
    n = len(complete)

    problem = _response_problem(complete[response], response, family) or _infinite_columns(
        complete, used
    )
    if problem:
        return _result(n, model, problem)

    absorbed = absorbed_factor(complete, covariates) if family == "gaussian" else None
    if absorbed is None:
        X, _ = design_matrix(complete, [predictor, *covariates])
        n_params = X.shape[1]
    else:  # the factor's levels replace the intercept: the same model, G parameters
        X, _ = design_matrix(complete, [predictor, *(c for c in covariates if c != absorbed)])
        groups = pd.factorize(complete[absorbed], sort=True)[0]
        n_levels = int(groups.max()) + 1
        n_params = X.shape[1] - 1 + n_levels
    _, predictor_names = design_matrix(complete, [predictor])
    if n < n_params + 1:
        return _result(
            n,
            model,
            f"too few complete rows: n={n} for a model with {n_params} parameters "
            f"(needs at least {n_params + 1})",
        )
    n_pred_terms = len(predictor_names) - 1
    if n_pred_terms > 1:
        return _result(
            n,
            model,
            f"predictor '{predictor}' is a factor with {n_pred_terms + 1} levels; "
            "one estimate needs a numeric or two-level predictor",
        )
    if n_pred_terms == 0 or np.ptp(X[:, 1]) == 0:
        return _result(
            n, model, f"predictor '{predictor}' has zero variance in the {n} complete rows"
        )
    if absorbed is not None:
        X = _demeaned(X[:, 1:], groups, n_levels)
        rank = np.linalg.matrix_rank(X) + n_levels
    else:
        rank = np.linalg.matrix_rank(X)
    if rank < n_params:
        return _result(
            n,
            model,
            f"the covariates are collinear with each other or with the predictor "
            f"(design rank {rank} < {n_params} parameters); drop redundant covariates",
        )
    y = complete[response].to_numpy(dtype=float)
    if family == "gaussian":
        if np.ptp(y) == 0:
            return _result(n, model, f"response '{response}' has zero variance")
        if absorbed is not None:
            return _fit_ols(X, _demeaned(y[:, None], groups, n_levels)[:, 0], n, alpha, coef=0,
                            df_resid=n - n_params)
        return _fit_ols(X, y, n, alpha)
    if np.ptp(y) == 0:
        # which value is not said: "1 in all" would tell every participant's outcome
        return _result(n, model, f"binary response '{response}' takes one value in all {n} complete rows")
    if firth:
        return _fit_firth(X, y, n, alpha)
    return _fit_logit(X, y, n, alpha)


def firth_logit(X: np.ndarray, y: np.ndarray, weights: np.ndarray | None = None,
                max_iter: int = 100, tol: float = 1e-10) -> dict:
    """Firth-penalised logistic regression (Jeffreys prior; Heinze & Schemper 2002).

    Parameters
    ----------
    X : numpy.ndarray, shape (n, p)
        Design with an intercept column; no NaN.
    y : numpy.ndarray, shape (n,)
        Response coded 0/1.
    weights : numpy.ndarray, shape (n,), optional
        Non-negative case (frequency) weights; default 1.
    max_iter, tol
        As in :func:`first1000.stats.bootstrap.batched_firth`.

    Returns
    -------
    dict
        ``coef`` (p,), ``cov`` (p, p) = I(beta)^-1 at the estimate, ``se`` (p,) and
        ``converged`` (bool; coefficients NaN if False).

    Notes
    -----
    Maximises l(beta) + ½ log|I(beta)| by the modified-score iteration of
    :func:`~first1000.stats.bootstrap.batched_firth` (one "resample" with the weights as
    counts). Checked against R brglm2 0.9 (``AS_mean``) and brglm 0.7.2 to 1e-9 on
    Heinze & Schemper's endometrial data and on a separated simulated data set with case
    weights (tests/data/reference/firth/).
    """
    from first1000.stats.bootstrap import batched_firth

    X = np.asarray(X, dtype=float)
    y = np.asarray(y, dtype=float)
    w = np.ones(len(y)) if weights is None else np.asarray(weights, dtype=float)
    if w.shape != y.shape or np.any(w < 0) or not np.all(np.isfinite(w)):
        raise ModelError("weights must be finite, non-negative and one per row")
    if not np.isin(y, (0.0, 1.0)).all():
        raise ModelError("firth_logit needs a response coded 0/1")
    coef, cov = batched_firth(X, y, w[None, :], max_iter=max_iter, tol=tol, return_cov=True)
    converged = bool(np.isfinite(coef[0]).all())
    return {"coef": coef[0], "cov": cov[0], "se": np.sqrt(np.clip(np.diag(cov[0]), 0, None)),
            "converged": converged}


def _fit_firth(X: np.ndarray, y: np.ndarray, n: int, alpha: float) -> dict:
    from scipy.stats import norm

    fit = firth_logit(X, y)
    model = model_name("binomial", firth=True)
    if not fit["converged"]:
        return _result(
            n, model, "Firth-penalised logistic model did not converge in 100 iterations"
        )
    estimate, se = float(fit["coef"][1]), float(fit["se"][1])
    z = norm.ppf(1 - alpha / 2)
    return _result(n, model, "ok", estimate=estimate, se=se, ci_low=estimate - z * se,
                   ci_high=estimate + z * se, p=float(2 * norm.sf(abs(estimate / se))),
                   odds_ratio=float(np.exp(estimate)))


def absorbed_factor(complete: pd.DataFrame, covariates: Sequence[str]) -> str | None:
    """The categorical covariate absorbed by demeaning (:data:`ABSORB_LEVELS`): the one
    with the most levels among the complete rows, if it has at least that many."""
    levels = {c: complete[c].nunique() for c in covariates if _is_categorical(complete[c])}
    best = max(levels, key=lambda c: (levels[c], c), default=None)
    return best if best is not None and levels[best] >= ABSORB_LEVELS else None


def _demeaned(values: np.ndarray, groups: np.ndarray, n_levels: int) -> np.ndarray:
    """Columns of ``values`` minus their mean within each group (codes 0..n_levels-1)."""
    counts = np.bincount(groups, minlength=n_levels).astype(float)
    out = np.empty_like(values, dtype=float)
    for j in range(values.shape[1]):
        means = np.bincount(groups, weights=values[:, j], minlength=n_levels) / counts
        out[:, j] = values[:, j] - means[groups]
    return out


def _ols_inference(X: np.ndarray, y: np.ndarray, alpha: float, df_resid: float | None = None):
    """Estimates, standard errors, two-sided p and ``1 - alpha`` CI bounds of an OLS fit,
    by the arithmetic of statsmodels' ``OLS(y, X).fit()`` (method "pinv", classical
    covariance, Student's t), step for step, so the numbers are the same to the last bit
    (tests/stats/test_regression_ols.py compares them with statsmodels bit for bit).

    Written out because statsmodels' regression module imports ``scipy.stats``: ~0.8 s of
    every association and sensitivity job, most of which fit no other model (#19, as
    :func:`first1000.stats.multitest.bh_fdr`). ``df_resid``: the residual degrees
    of freedom when they are not n minus the rank of ``X`` (``OLS.df_resid`` set before the
    fit).
    """
    from scipy import special  # norm/t quantiles and tails: what scipy.stats.t calls

    X = np.asarray(X)
    y = np.asarray(y)
    if X.ndim != 2 or y.ndim != 1 or len(y) != len(X):
        raise ValueError(f"_ols_inference: X must be n x p and y of length n, got {X.shape} and {y.shape}")
    # statsmodels.tools.tools.pinv_extended (rcond 1e-15)
    u, s, vt = np.linalg.svd(X.conjugate(), False)
    singular = np.copy(s)
    cutoff = 1e-15 * np.maximum.reduce(s)
    for i in range(min(u.shape[0], vt.shape[1])):
        s[i] = 1.0 / s[i] if s[i] > cutoff else 0.0
    pinv = np.dot(np.transpose(vt), np.multiply(s[:, np.newaxis], np.transpose(u)))
    normalized_cov = np.dot(pinv, np.transpose(pinv))
    if df_resid is None:
        df_resid = X.shape[0] - np.linalg.matrix_rank(np.diag(singular))
    params = np.dot(pinv, y)
    resid = y - np.dot(X, params)
    scale = np.dot(resid, resid) / df_resid
    with np.errstate(invalid="ignore", divide="ignore"):
        bse = np.sqrt(np.diag(normalized_cov * scale))
        tvalues = params / bse
    # scipy.stats.t.sf(|t|, df) * 2 and t.ppf(1 - alpha/2, df) are these special functions
    p = special.stdtr(df_resid, -np.abs(tvalues)) * 2
    q = special.stdtrit(df_resid, 1 - alpha / 2)
    return params, bse, p, params - q * bse, params + q * bse


def _fit_ols(X: np.ndarray, y: np.ndarray, n: int, alpha: float, coef: int = 1,
             df_resid: int | None = None) -> dict:
    """OLS (:func:`_ols_inference`, statsmodels' numbers); the estimate of column ``coef``.
    ``df_resid``: the residual degrees of freedom when ``X`` and ``y`` were demeaned within
    the levels of an absorbed factor (n minus every parameter of the full model, the
    levels' means included)."""
    params, bse, p, low, high = _ols_inference(X, y, alpha, None if df_resid is None else float(df_resid))
    return _result(
        n,
        "linear",
        "ok",
        estimate=float(params[coef]),
        se=float(bse[coef]),
        ci_low=float(low[coef]),
        ci_high=float(high[coef]),
        p=float(p[coef]),
    )


def _fit_logit(X: np.ndarray, y: np.ndarray, n: int, alpha: float) -> dict:
    from statsmodels.discrete.discrete_model import Logit
    from statsmodels.tools.sm_exceptions import PerfectSeparationError, PerfectSeparationWarning

    separation = (
        "perfect or quasi-perfect separation: the predictor and covariates predict the "
        "outcome (almost) perfectly in some rows, so the odds ratio is infinite and cannot "
        "be estimated by maximum likelihood; fit it by Firth's penalised likelihood "
        "(associations.firth; mediation.firth for mediation models), merge sparse categories "
        "or leave out the covariate that separates"
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")  # record, never print: we translate them to a status
        try:
            res = Logit(y, X).fit(disp=0, maxiter=_LOGIT_MAXITER)
        except PerfectSeparationError:
            return _result(n, "logistic", separation)
        except np.linalg.LinAlgError:
            return _result(
                n,
                "logistic",
                "the logistic information matrix is singular (typically separation or "
                "collinear covariates); the model cannot be estimated",
            )
        bse = np.asarray(res.bse, dtype=float)
        fitted = res.predict()
        ci = res.conf_int(alpha=alpha)[1]
        p_value = float(res.pvalues[1])
    warned_separation = any(issubclass(w.category, PerfectSeparationWarning) for w in caught)
    converged = bool(res.mle_retvals.get("converged", False))
    n_extreme = int(np.sum((fitted < _EXTREME_PROB) | (fitted > 1 - _EXTREME_PROB)))
    std_se = bse[1:] * X[:, 1:].std(axis=0)
    huge_se = not np.all(np.isfinite(bse)) or bool(np.any(std_se > _HUGE_STD_SE))

    if warned_separation or (n_extreme > 0 and (huge_se or not converged)):
        return _result(n, "logistic", separation)
    if not converged:
        return _result(
            n,
            "logistic",
            f"logistic model did not converge in {_LOGIT_MAXITER} iterations",
        )
    if huge_se:
        return _result(
            n,
            "logistic",
            "unstable logistic fit: standard errors are implausibly large (near-separation "
            "or near-collinear covariates); estimates not reported",
        )
    estimate = float(res.params[1])
    return _result(
        n,
        "logistic",
        "ok",
        estimate=estimate,
        se=float(bse[1]),
        ci_low=float(ci[0]),
        ci_high=float(ci[1]),
        p=p_value,
        odds_ratio=float(np.exp(estimate)),
    )
