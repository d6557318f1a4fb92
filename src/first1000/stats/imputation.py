"""Multiple imputation by chained equations, pooled by Rubin's rules.

Three steps, as in R's ``mice`` (van Buuren & Groothuis-Oudshoorn, J. Stat. Softw. 45(3),
2011):

1. :func:`impute` completes the data m times with scikit-learn's ``IterativeImputer``
   (chained equations, Bayesian ridge regression, draws from the posterior predictive
   distribution), each run with its own seed;
2. the analysis model is fitted to every completed data set
   (:func:`first1000.stats.regression.fit_association`);
3. :func:`pool_rubin` combines the m estimates and variances (Rubin 1987, with the
   Barnard & Rubin 1999 small-sample degrees of freedom).

:func:`fit_association_mi` runs all three. :func:`pool_bootstrap` pools bootstrap replicates
computed on each imputed data set (e.g. of an indirect effect) by the "MI Boot, pooled
sample" rule of Schomaker & Heumann (2018).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from scipy import stats
from sklearn.experimental import enable_iterative_imputer  # noqa: F401  (registers the class)
from sklearn.impute import IterativeImputer
from sklearn.linear_model import BayesianRidge

from first1000.errors import ModelError
from first1000.stats.bootstrap import analysis_rng, bootstrap_p
from first1000.stats.regression import (
    FAMILIES,
    _as_list,
    _check_columns,
    _is_categorical,
    _sorted_levels,
    design_matrix,
    fit_association,
)

# Lower bound of lambda in the Barnard-Rubin degrees of freedom, as R mice's barnard.rubin():
# without it, B = 0 (identical imputations) gives infinitely many "old" degrees of freedom.
_LAMBDA_FLOOR = 1e-4


# --- imputation ---------------------------------------------------------------------------


class _Column:
    """How one variable is coded for the imputer and decoded afterwards.

    kind "continuous": one standardised column; "binary": one 0/1 indicator of the second
    of two observed values (numeric) or levels (factor); "factor": k - 1 treatment
    indicators of a factor with k > 2 levels.
    """

    def __init__(self, name: str, series: pd.Series):
        self.name = name
        self.missing = series.isna().to_numpy()
        observed = series[~self.missing]
        if observed.empty:
            raise ModelError(
                f"column '{name}' has no observed value; it cannot be imputed or used to "
                "impute (drop it from the imputation)"
            )
        self.numeric = not _is_categorical(series)
        if self.numeric:
            values = series.to_numpy(dtype=float, na_value=np.nan)
            if np.isinf(values).any():
                raise ModelError(
                    f"column '{name}' holds infinite values; recode them as missing first"
                )
            self.levels = sorted(np.unique(values[~self.missing]))
        else:
            self.levels = _sorted_levels(series)
        if self.numeric and len(self.levels) != 2:
            self.kind = "continuous"
            obs = values[~self.missing]
            self.centre = float(obs.mean())
            sd = float(obs.std())
            self.scale = sd if sd > 0 else 1.0
            self.block = ((values - self.centre) / self.scale)[:, None]
        else:
            self.kind = "binary" if len(self.levels) <= 2 else "factor"
            if self.numeric:
                raw = series.to_numpy(dtype=float, na_value=np.nan)
            else:
                raw = series.to_numpy(dtype=object).copy()
                raw[self.missing] = None  # pd.NA would not compare to a level
            cols = []
            for level in self.levels[1:]:
                indicator = (raw == level).astype(float)
                indicator[self.missing] = np.nan
                cols.append(indicator)
            if not cols:  # a single observed level: a constant indicator of it
                cols.append(np.where(self.missing, np.nan, 0.0))
            self.block = np.column_stack(cols)
        self.width = self.block.shape[1]

    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        if self.kind == "continuous":
            return np.full(self.width, -np.inf), np.full(self.width, np.inf)
        return np.zeros(self.width), np.ones(self.width)

    def decode(self, block: np.ndarray) -> np.ndarray:
        """Values of the missing rows from the imputed columns of this variable."""
        part = block[self.missing]
        if self.kind == "continuous":
            return part[:, 0] * self.scale + self.centre
        if len(self.levels) == 1:
            choice = np.zeros(len(part), dtype=int)
        elif self.kind == "binary":
            choice = (part[:, 0] >= 0.5).astype(int)
        else:
            scores = np.column_stack([1.0 - part.sum(axis=1), part])
            choice = np.argmax(scores, axis=1)  # first level wins ties
        levels = np.asarray(self.levels, dtype=float if self.numeric else object)
        return levels[choice]


def _bootstrap_rows(rng: np.random.Generator, observed: np.ndarray) -> np.ndarray | None:
    """Row indices of a bootstrap resample usable to fit the imputation models.

    Every variable keeps at least two observed values (or as many as it has), and every
    variable with a missing value keeps one: ``IterativeImputer(skip_complete=True)`` fits
    no model for a variable complete at fit time and would impute it by its mean.
    """
    n = observed.shape[0]
    need_observed = np.minimum(observed.sum(axis=0), 2)
    need_missing = (~observed).any(axis=0)
    for _ in range(100):
        rows = rng.integers(0, n, size=n)
        sample = observed[rows]
        if (sample.sum(axis=0) >= need_observed).all() and (
            (~sample).any(axis=0) >= need_missing
        ).all():
            return rows
    return None  # e.g. tiny data: fall back to fitting on the original rows


def _fill(data: pd.DataFrame, column: _Column, values: np.ndarray) -> pd.Series:
    series = data[column.name]
    if column.numeric:
        out = series.to_numpy(dtype=float, na_value=np.nan).copy()
        out[column.missing] = values
        return pd.Series(out, index=data.index, name=column.name)
    if pd.api.types.is_bool_dtype(series) or set(column.levels) <= {True, False}:
        out = series.to_numpy(dtype=object).copy()
        out[column.missing] = values
        if all(isinstance(v, (bool, np.bool_)) for v in out):
            return pd.Series(out.astype(bool), index=data.index, name=column.name)
        return pd.Series(out, index=data.index, name=column.name, dtype=object)
    out = series.copy()
    if isinstance(series.dtype, pd.CategoricalDtype):
        out[column.missing] = values
        return out
    fill = pd.Series(values, index=data.index[column.missing], dtype=series.dtype)
    out.loc[column.missing] = fill
    return out


def impute(
    data: pd.DataFrame,
    columns: Sequence[str],
    auxiliary: Sequence[str] = (),
    m: int = 20,
    seed: int = 0,
    max_iter: int = 10,
    keys: Sequence[str] = (),
    bootstrap: bool = True,
) -> list[pd.DataFrame]:
    """Multiple imputation by chained equations (scikit-learn ``IterativeImputer``).

    Parameters
    ----------
    data : pandas.DataFrame
        The data with missing values (NaN/None/NA).
    columns : sequence of str
        Analysis variables: imputed, and their imputed values written into the result.
        Include the outcome of the analysis model (an imputation model without it biases
        the exposure-outcome association towards zero; Moons et al., J. Clin. Epidemiol.
        59:1092, 2006).
    auxiliary : sequence of str, optional
        Auxiliary variables: predictors in the imputation models (they can make the
        missing-at-random assumption more plausible and add information) whose own missing
        values are imputed internally but are *not* written into the result.
    m : int, default 20
        Number of imputations.
    seed : int, default 0
        Non-negative project seed.
    max_iter : int, default 10
        Rounds of the chained equations per imputation (``IterativeImputer(max_iter=)``).
    keys : sequence of str, optional
        Names of the analysis, for :func:`~first1000.stats.bootstrap.analysis_rng`.
    bootstrap : bool, default True
        Fit each imputation's chained-equation models on a bootstrap resample of the rows,
        then impute the original rows with them (see Notes). False: fit on the data itself.

    Returns
    -------
    list of pandas.DataFrame
        m completed copies of ``data`` (same index and columns). Only the missing cells of
        ``columns`` differ from ``data``; numeric analysis columns come back as float64,
        factor columns keep their levels (bool columns become bool).

    Notes
    -----
    *Model.* Imputation i runs ``IterativeImputer(estimator=BayesianRidge(),
    sample_posterior=True, max_iter=max_iter, initial_strategy="mean", skip_complete=True,
    random_state=s_i)`` on all ``columns`` and ``auxiliary`` together: every incomplete
    variable is regressed on all others in turn (chained equations / fully conditional
    specification; van Buuren, *Flexible Imputation of Missing Data*, 2nd ed., 2018, §4.5)
    and its missing values are replaced by draws from the Bayesian-ridge posterior
    predictive normal distribution. Continuous variables are standardised (observed mean
    and SD) before imputation and transformed back afterwards.

    *Seeds.* Imputation i draws from its own generator
    ``analysis_rng(seed, "imputation", *keys, str(i))``: first the imputer's
    ``random_state`` s_i (an integer below 2**32 - 1), then the bootstrap rows. The
    imputations are independent streams, deterministic for a seed, and the first j
    imputations do not change when m grows.

    *Bootstrap (default).* scikit-learn draws each missing value independently from its
    row's predictive distribution; it never draws one coefficient vector per imputation as
    a proper imputation (mice's ``norm``) does, so the imputations vary too little between
    each other and Rubin's total variance is too small (in the coverage benchmark the 95%
    intervals covered about 91-96% without the bootstrap). With ``bootstrap=True`` each
    imputation fits its imputation models to a bootstrap resample of the rows (redrawn
    until every variable keeps two observed values and every incomplete variable one
    missing value; after 100 failed draws the original rows are used) and then imputes the original
    rows with those fitted models (``IterativeImputer.fit(resample).transform(data)``),
    the bootstrap form of proper imputation of mice's ``norm.boot`` (van Buuren 2018,
    §3.2.2, Algorithm 3.2; Rubin 1987, §4.3). Observed values are never replaced.

    *Categorical variables.* scikit-learn has no logistic or multinomial imputation model,
    so factors are imputed through indicators, as the linear-normal model of mice's
    ``norm`` would impute them, and rounded at the end:

    * binary variables (a numeric column with exactly two observed values, e.g. 0/1, or a
      factor/bool with two levels): one indicator of the second (sorted) value, imputed as
      a continuous variable truncated to [0, 1] (the chained equations use the fractional
      values), then rounded at 0.5 to the nearer observed value;
    * factors with k > 2 levels: k - 1 treatment indicators as in
      :func:`~first1000.stats.regression.design_matrix`, each truncated to [0, 1]; the
      imputed level is the one with the largest score, the reference level scoring one
      minus the sum of the indicators.

    Rounding a linear-normal draw is simple and keeps the imputed values in the observed
    categories, but can bias proportions when the variable is far from balanced (Horton,
    Lipsitz & Parzen, Am. Stat. 57:229, 2003); polytomous models (mice ``logreg`` /
    ``polyreg``) are the better choice when a binary variable is the exposure or outcome
    of interest and is heavily missing. Numeric variables with more than two values
    (counts, scores) are imputed as continuous and not rounded.

    Raises
    ------
    ModelError
        For misuse: not a DataFrame, unknown column, a column listed twice or both as
        analysis and auxiliary variable, m or max_iter < 1, a bad seed, a column without
        any observed value or with infinite values.
    """
    columns, auxiliary = _as_list(columns), _as_list(auxiliary)
    if not columns:
        raise ModelError("impute needs at least one analysis column")
    used = [*columns, *auxiliary]
    _check_columns(data, used)
    if len(set(used)) != len(used):
        raise ModelError(
            f"columns {columns} and auxiliary {auxiliary} must be distinct column names"
        )
    for name, value in (("m", m), ("max_iter", max_iter)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ModelError(f"{name} must be a positive integer, got {value!r}")
    analysis_rng(seed)  # validates the seed
    coded = [_Column(c, data[c]) for c in used]
    if not any(c.missing.any() for c in coded[: len(columns)]):
        return [data.copy() for _ in range(m)]

    Z = np.hstack([c.block for c in coded])
    low = np.concatenate([c.bounds()[0] for c in coded])
    high = np.concatenate([c.bounds()[1] for c in coded])
    edges = np.cumsum([0, *(c.width for c in coded)])
    completed = []
    observed = ~np.isnan(Z)
    for i in range(m):
        rng = analysis_rng(seed, "imputation", *keys, str(i))
        imputer = IterativeImputer(
            estimator=BayesianRidge(),
            sample_posterior=True,
            max_iter=max_iter,
            initial_strategy="mean",
            skip_complete=True,
            min_value=low,
            max_value=high,
            keep_empty_features=True,
            random_state=int(rng.integers(0, 2**32 - 1)),
        )
        rows = _bootstrap_rows(rng, observed) if bootstrap else None
        if rows is None:
            filled = imputer.fit_transform(Z)
        else:
            filled = imputer.fit(Z[rows]).transform(Z)
        out = data.copy()
        for j, column in enumerate(coded[: len(columns)]):
            if column.missing.any():
                values = column.decode(filled[:, edges[j] : edges[j + 1]])
                out[column.name] = _fill(data, column, values)
        completed.append(out)
    return completed


# --- Rubin's rules --------------------------------------------------------------------------


def _df_barnard_rubin(m: int, lam, dfcom):
    """Barnard & Rubin (1999) degrees of freedom, as R mice's ``barnard.rubin``."""
    lam = np.maximum(lam, _LAMBDA_FLOOR)
    df_old = (m - 1) / lam**2
    if not np.isfinite(dfcom):
        return df_old
    df_obs = (dfcom + 1) / (dfcom + 3) * dfcom * (1 - lam)
    return df_old * df_obs / (df_old + df_obs)


def pool_rubin(
    estimates,
    variances,
    n: float = np.inf,
    k_params: int = 1,
    alpha: float = 0.05,
) -> dict:
    """Pool m complete-data estimates by Rubin's rules.

    Parameters
    ----------
    estimates : array-like, shape (m,)
        The estimate of one parameter from each imputed data set.
    variances : array-like, shape (m,)
        Their squared standard errors.
    n : float, default inf
        Sample size of the complete-data analysis; ``n - k_params`` is the complete-data
        degrees of freedom (``inf``: large-sample, Rubin's 1987 df).
    k_params : int, default 1
        Number of parameters of the complete-data model (intercept included).
    alpha : float, default 0.05
        Two-sided level of the confidence interval.

    Returns
    -------
    dict
        ``estimate`` (Q̄), ``within`` (Ū), ``between`` (B), ``variance`` (T), ``se``
        (√T), ``df``, ``statistic`` (Q̄/√T), ``p``, ``ci_low``, ``ci_high``, ``riv``
        (relative increase in variance r), ``lambda`` (proportion of the total variance
        due to missingness), ``fmi`` (fraction of missing information) and ``m``.

    Notes
    -----
    With estimates Q_i and variances U_i, i = 1..m (Rubin, *Multiple Imputation for
    Nonresponse in Surveys*, 1987, §3.1; van Buuren 2018, §2.3–2.4):
    Q̄ = mean Q_i; Ū = mean U_i; B = sum (Q_i - Q̄)² / (m - 1); T = Ū + (1 + 1/m) B;
    r = (1 + 1/m) B / Ū; lambda = (1 + 1/m) B / T.

    Degrees of freedom (Barnard & Rubin, Biometrika 86:948, 1999): with
    nu_com = n - k_params, nu_old = (m - 1) / lambda² and
    nu_obs = (nu_com + 1) / (nu_com + 3) · nu_com · (1 - lambda),
    df = nu_old nu_obs / (nu_old + nu_obs) (df = nu_old when nu_com is infinite).
    As in R mice (``barnard.rubin``), lambda is floored at 1e-4 in this formula so that
    B = 0 gives df ≈ nu_obs instead of a division by zero.

    Fraction of missing information: fmi = (r + 2 / (df + 3)) / (r + 1) (Rubin 1987,
    eq. 3.1.10, with the Barnard–Rubin df, as mice's ``pool`` and ``pool.scalar``).
    The test and interval use the t distribution with df degrees of freedom:
    CI = Q̄ ± t_{df, 1-alpha/2} √T.

    statsmodels' ``MICE.combine`` gives the same Q̄ and T but normal-theory inference and
    reports lambda as its ``frac_miss_info``.

    Raises
    ------
    ModelError
        Fewer than two imputations, estimates and variances of different lengths,
        non-finite input or a negative variance, alpha outside (0, 1).
    """
    q = np.asarray(estimates, dtype=float).ravel()
    u = np.asarray(variances, dtype=float).ravel()
    if q.shape != u.shape:
        raise ModelError(f"got {q.size} estimates but {u.size} variances")
    m = q.size
    if m < 2:
        raise ModelError(f"Rubin's rules need at least 2 imputations, got {m}")
    if not (np.isfinite(q).all() and np.isfinite(u).all()) or (u < 0).any():
        raise ModelError("estimates and variances must be finite, variances >= 0")
    if not 0 < alpha < 1:
        raise ModelError(f"alpha must be between 0 and 1, got {alpha!r}")
    dfcom = float(n) - k_params
    if dfcom <= 0:
        raise ModelError(f"n - k_params must be positive, got n={n}, k_params={k_params}")

    qbar = float(q.mean())
    ubar = float(u.mean())
    b = float(q.var(ddof=1))
    t = ubar + (1 + 1 / m) * b
    lam = (1 + 1 / m) * b / t if t > 0 else 0.0
    riv = (1 + 1 / m) * b / ubar if ubar > 0 else np.inf
    df = float(_df_barnard_rubin(m, lam, dfcom))
    fmi = (riv + 2 / (df + 3)) / (riv + 1) if np.isfinite(riv) else 1.0
    se = float(np.sqrt(t))
    with np.errstate(divide="ignore", invalid="ignore"):
        statistic = qbar / se
    crit = float(stats.t.isf(alpha / 2, df))
    return {
        "estimate": qbar,
        "within": ubar,
        "between": b,
        "variance": t,
        "se": se,
        "df": df,
        "statistic": float(statistic),
        "p": float(2 * stats.t.sf(abs(statistic), df)),
        "ci_low": qbar - crit * se,
        "ci_high": qbar + crit * se,
        "riv": float(riv),
        "lambda": float(lam),
        "fmi": float(fmi),
        "m": m,
    }


# --- association models on imputed data ------------------------------------------------------


def _mi_result(fit: dict, m: int, status: str | None = None, **extra) -> dict:
    out = dict(fit)
    if status is not None:
        for key in ("estimate", "se", "ci_low", "ci_high", "p", "odds_ratio"):
            if key in out:
                out[key] = np.nan
        out["status"] = status
    out.update({"m": m, "fmi": np.nan, "df": np.nan, "riv": np.nan, "lambda": np.nan})
    out.update(extra)
    return out


def fit_association_mi(
    data: pd.DataFrame,
    response: str,
    exposure: str,
    covariates: Sequence[str] = (),
    family: str = "gaussian",
    m: int = 20,
    seed: int = 0,
    auxiliary: Sequence[str] = (),
    alpha: float = 0.05,
    max_iter: int = 10,
    keys: Sequence[str] = (),
    bootstrap: bool = True,
) -> dict:
    """:func:`~first1000.stats.regression.fit_association` after multiple imputation.

    Parameters
    ----------
    data, response, exposure, covariates, family, alpha
        As for :func:`~first1000.stats.regression.fit_association`.
    m : int, default 20
        Number of imputations.
    seed : int, default 0
        Non-negative project seed; with ``keys`` it fixes the imputations
        (see :func:`impute`).
    auxiliary : sequence of str, optional
        Auxiliary variables of the imputation model (not in the analysis model).
    max_iter : int, default 10
        Rounds of chained equations per imputation.
    keys : sequence of str, optional
        Names of the analysis, so that each analysis has its own random stream.
    bootstrap : bool, default True
        Bootstrap form of proper imputation (see :func:`impute`).

    Returns
    -------
    dict
        The keys of ``fit_association`` (``n``, ``estimate``, ``se``, ``ci_low``,
        ``ci_high``, ``p``, ``status``, ``model`` and for logistic models ``odds_ratio``),
        pooled by :func:`pool_rubin`, plus ``m`` (imputations; 0 when nothing was missing),
        ``fmi``, ``df`` (Barnard–Rubin), ``riv``, ``lambda`` and ``n_complete`` (the
        complete cases of the analysis variables). ``n`` counts all analysed rows.

    Notes
    -----
    The response, exposure and covariates are imputed together with ``auxiliary``
    (:func:`impute`); rows with a missing response are imputed too. The analysis model is
    fitted to every completed data set and the exposure coefficient pooled with
    nu_com = n - p (p = model parameters incl. intercept) for both families, as mice uses
    ``df.residual`` of ``lm`` and ``glm`` fits; the pooled interval and p-value are
    t-based, also for logistic models. ``odds_ratio`` = exp(pooled log odds ratio).

    When the analysis variables have no missing value, no imputation is done: the result
    is ``fit_association``'s with ``m = 0``, ``fmi = 0`` and ``df`` = n - p (linear) or
    inf (logistic, Wald z).

    If the model fails on any imputed data set (e.g. separation in one of them), the
    numbers are NaN and ``status`` names the first failing imputation and why.

    Raises
    ------
    ModelError
        For misuse, as ``fit_association`` and :func:`impute`.
    """
    if family not in FAMILIES:
        raise ModelError(f"family must be one of {FAMILIES}, got {family!r}")
    covariates, auxiliary = _as_list(covariates), _as_list(auxiliary)
    used = [response, exposure, *covariates]
    _check_columns(data, [*used, *auxiliary])
    if len(set(used)) != len(used):
        raise ModelError(
            f"response '{response}', exposure '{exposure}' and covariates {covariates} "
            "must be different columns"
        )
    n_complete = int(data[used].notna().all(axis=1).sum())
    if n_complete == len(data):
        fit = fit_association(data, response, exposure, covariates, family=family, alpha=alpha)
        p = design_matrix(data, [exposure, *covariates])[0].shape[1]
        df = float(fit["n"] - p) if family == "gaussian" else np.inf
        ok = fit["status"] == "ok"
        return _mi_result(
            fit, 0, fmi=0.0 if ok else np.nan, df=df if ok else np.nan,
            riv=0.0 if ok else np.nan, n_complete=n_complete,
        )  # fmt: skip
    empty = [c for c in [*used, *auxiliary] if data[c].isna().all()]
    model = "linear" if family == "gaussian" else "logistic"
    if empty:
        base = {"n": 0, "model": model, "estimate": np.nan, "se": np.nan, "ci_low": np.nan,
                "ci_high": np.nan, "p": np.nan, "status": ""}  # fmt: skip
        if family == "binomial":
            base["odds_ratio"] = np.nan
        return _mi_result(
            base, m, f"column '{empty[0]}' has no observed value; it cannot be imputed",
            n_complete=n_complete,
        )  # fmt: skip

    completed = impute(
        data, used, auxiliary, m=m, seed=seed, max_iter=max_iter, keys=keys, bootstrap=bootstrap
    )
    fits = []
    for i, filled in enumerate(completed):
        fit = fit_association(filled, response, exposure, covariates, family=family, alpha=alpha)
        if fit["status"] != "ok":
            return _mi_result(
                fit, m, f"imputation {i + 1} of {m}: {fit['status']}", n_complete=n_complete
            )
        fits.append(fit)
    k_params = design_matrix(completed[0], [exposure, *covariates])[0].shape[1]
    n = fits[0]["n"]
    pooled = pool_rubin(
        [f["estimate"] for f in fits], [f["se"] ** 2 for f in fits], n=n, k_params=k_params,
        alpha=alpha,
    )  # fmt: skip
    out = {
        "n": n,
        "estimate": pooled["estimate"],
        "se": pooled["se"],
        "ci_low": pooled["ci_low"],
        "ci_high": pooled["ci_high"],
        "p": pooled["p"],
        "status": "ok",
        "model": model,
    }
    if family == "binomial":
        out["odds_ratio"] = float(np.exp(pooled["estimate"]))
    out.update(
        m=m, fmi=pooled["fmi"], df=pooled["df"], riv=pooled["riv"], n_complete=n_complete
    )
    out["lambda"] = pooled["lambda"]
    return out


# --- bootstrap after multiple imputation ------------------------------------------------------


def pool_bootstrap(
    replicates_per_imputation,
    estimates=None,
    alpha: float = 0.05,
) -> dict:
    """Pool bootstrap replicates of m imputed data sets ("MI Boot, pooled sample").

    Parameters
    ----------
    replicates_per_imputation : sequence of array-like
        For each of the m imputed data sets, the B_i bootstrap replicates of the statistic
        (e.g. the indirect effect of a mediation analysis) computed on that data set.
        NaN/inf replicates (failed resamples) are ignored.
    estimates : array-like of length m, optional
        The statistic on each imputed data set (not resampled). The pooled point estimate is
        their mean; without them it is the mean of all finite replicates.
    alpha : float, default 0.05
        Two-sided level of the interval.

    Returns
    -------
    dict
        ``estimate``, ``se`` (SD of the stacked replicates), ``ci_low``, ``ci_high`` (the
        alpha/2 and 1 - alpha/2 percentiles of the stacked replicates), ``p`` (bootstrap
        p-value of the stacked replicates, :func:`~first1000.stats.bootstrap.bootstrap_p`),
        ``m``, ``n_boot`` (finite replicates used) and ``method`` =
        ``"MI Boot (pooled sample)"``.

    Notes
    -----
    Rule (Schomaker & Heumann, Stat. Med. 37:2252–2266, 2018, "MI Boot pooled sample"):
    impute m times, bootstrap each completed data set B times, pool the point estimates by
    their mean (Rubin's Q̄) and take the percentile interval from the m·B replicates
    stacked into one sample. The stacked sample has variance ≈ Ū + (1 - 1/m) B (the
    within-imputation bootstrap variance plus the spread of the imputation-specific
    centres), close to Rubin's T = Ū + (1 + 1/m) B when m is large, so use m >= 20 and
    B >= 200 per imputation. Under uncongenial imputation and analysis models,
    imputation-then-bootstrap is not guaranteed valid (Bartlett & Hughes, Stat. Methods
    Med. Res. 29:3533, 2020); bootstrap-then-impute is the robust, more expensive,
    alternative.

    Quantiles interpolate linearly (numpy's default, R's ``type = 7``).
    """
    if not 0 < alpha < 1:
        raise ModelError(f"alpha must be between 0 and 1, got {alpha!r}")
    if isinstance(replicates_per_imputation, np.ndarray) and replicates_per_imputation.ndim == 2:
        groups = list(replicates_per_imputation)
    else:
        groups = [np.asarray(r, dtype=float).ravel() for r in replicates_per_imputation]
    m = len(groups)
    if m < 1:
        raise ModelError("pool_bootstrap needs the replicates of at least one imputation")
    stacked = np.concatenate([np.asarray(g, dtype=float).ravel() for g in groups])
    stacked = stacked[np.isfinite(stacked)]
    if estimates is not None:
        est = np.asarray(estimates, dtype=float).ravel()
        if est.size != m:
            raise ModelError(f"got {est.size} estimates for {m} imputations")
        estimate = float(est.mean())
    else:
        estimate = float(stacked.mean()) if stacked.size else np.nan
    if stacked.size == 0:
        return {"estimate": estimate, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan,
                "p": np.nan, "m": m, "n_boot": 0, "method": "MI Boot (pooled sample)"}  # fmt: skip
    low, high = np.percentile(stacked, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return {
        "estimate": estimate,
        "se": float(stacked.std(ddof=1)) if stacked.size > 1 else np.nan,
        "ci_low": float(low),
        "ci_high": float(high),
        "p": bootstrap_p(stacked, estimate),
        "m": m,
        "n_boot": int(stacked.size),
        "method": "MI Boot (pooled sample)",
    }
