"""Multiple imputation by chained equations, pooled by Rubin's rules.

Three steps, as in R's ``mice`` (van Buuren & Groothuis-Oudshoorn, J. Stat. Softw. 45(3),
2011):

1. :func:`impute` completes the data m times with mice's sampler (chained equations):
   continuous variables by linear regression with bootstrap (``"norm.boot"``, R
   ``mice.impute.norm.boot``; the default) or predictive mean matching (``"pmm"``, R
   ``mice.impute.pmm``, mice's own default), binary and categorical variables by a truncated
   linear-normal draw of their indicators; each imputation with its own random stream;
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
from scipy import special, stats
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
    model_name,
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
            self.values = values
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


# --- univariate imputation methods (R mice's mice.impute.* functions) ---------------------------

#: Imputation methods of continuous variables, named as in R mice.
METHODS = ("pmm", "norm.boot")
#: The default here: norm.boot. mice's own default, pmm, under-covers when the missing values
#: lie where observed donors are few (benchmarks/imputation_coverage.py: 92.5% here, 93.5%
#: with R mice on the same data; norm.boot 94.5% and 95.0%).
DEFAULT_METHOD = "norm.boot"
#: Donors of predictive mean matching (mice.impute.pmm's ``donors = 5L``).
PMM_DONORS = 5
# mice's estimice(): ridge penalty (x'x + ridge * diag(x'x)) when the least-squares fit is
# singular; R's lm.fit() declares a column aliased below a relative tolerance of 1e-7.
_RIDGE = 1e-5
_RANK_TOL = 1e-7


def _estimice(X: np.ndarray, y: np.ndarray):
    """Least squares of y on X (first column the intercept), as mice's ``estimice``.

    Returns ``(coef, residuals, V, df)`` with V = (X'X)^-1 (from the QR decomposition, as
    ``solve(crossprod(qr.R(qr)))`` in mice) and df = max(n - p, 1). Predictors constant on
    the rows given are left out with coefficient 0 (mice's ``remove.lindep`` drops them
    before the fit; ``.norm.draw(rank.adjust = TRUE)`` sets aliased coefficients to 0).
    When the remaining X is still (numerically) rank deficient, mice's ridge fallback:
    V = (X'X + 1e-5 diag(X'X))^-1, coef = V X'y.
    """
    n, p = X.shape
    keep = np.ptp(X, axis=0) > 0
    keep[0] = True
    x = X[:, keep]
    k = x.shape[1]
    coef = np.zeros(p)
    q, r = np.linalg.qr(x)
    d = np.abs(np.diag(r))
    if n >= k and d.min() > _RANK_TOL * d.max():
        r_inv = np.linalg.inv(r)  # k x k upper triangular; k is small
        beta = r_inv @ (q.T @ y)
        v = r_inv @ r_inv.T
    else:
        xtx = x.T @ x
        v = np.linalg.inv(xtx + np.diag(_RIDGE * np.diag(xtx)))
        beta = v @ (x.T @ y)
    coef[keep] = beta
    resid = y - x @ beta
    return coef, resid, v, keep, max(n - k, 1)


def _norm_boot(rng: np.random.Generator, X: np.ndarray, y: np.ndarray, ry: np.ndarray):
    """Draws for the missing cases, as R ``mice.impute.norm.boot`` (bootstrap, then OLS).

    ``X`` (n x p, first column the intercept) holds the current values of the predictors,
    ``y`` the target (its missing entries hold the current imputations), ``ry`` marks the
    observed cases. mice: ``s <- sample(n1, n1, replace = TRUE)``; the least-squares fit
    beta* of the n1 bootstrap rows; ``sigma <- sqrt(sum(r^2) / (n1 - ncol(x) - 1))``;
    draws ``x[wy, ] %*% beta* + rnorm(sum(wy)) * sigma``. Random draws, in this order:
    the n1 bootstrap row numbers (``rng.integers``), then the standard normal residuals.

    Returns the draws and ``{"rows", "coef", "sigma"}`` (rows: positions among the observed
    cases).
    """
    xo, yo = X[ry], y[ry]
    n1, p = xo.shape
    rows = rng.integers(0, n1, size=n1)
    coef, resid, _, _, _ = _estimice(xo[rows], yo[rows])
    sigma = float(np.sqrt(resid @ resid / max(n1 - p - 1, 1)))
    draws = X[~ry] @ coef + rng.standard_normal(int((~ry).sum())) * sigma
    return draws, {"rows": rows, "coef": coef, "sigma": sigma}


def _norm_draw(rng: np.random.Generator, xo: np.ndarray, yo: np.ndarray):
    """One draw of (beta, sigma) from their posterior, as mice's ``.norm.draw``.

    beta-hat and V = (X'X)^-1 from least squares; sigma* = sqrt(RSS / chi2_df) with
    df = n1 - p; beta* = beta-hat + L z sigma* with L the lower Cholesky factor of V
    (mice: ``t(chol(sym(v)))``) and z standard normal (van Buuren 2018, Algorithm 3.1).
    Returns ``(coef, beta_star, sigma_star)``.
    """
    coef, resid, v, keep, df = _estimice(xo, yo)
    sigma_star = float(np.sqrt(resid @ resid / rng.chisquare(df)))
    v = (v + v.T) / 2
    beta_star = coef.copy()
    beta_star[keep] += np.linalg.cholesky(v) @ rng.standard_normal(int(keep.sum())) * sigma_star
    return coef, beta_star, sigma_star


def _pmm_donors(
    rng: np.random.Generator, yhat_obs: np.ndarray, yhat_mis: np.ndarray, k: int = PMM_DONORS
) -> np.ndarray:
    """The k observed cases nearest to each missing case on the predicted scale.

    As mice's ``matchindex`` (mice >= 3.0): the observed cases are shuffled (so that ties
    are broken at random) and sorted by their predicted value; for each missing case the
    k nearest are found by walking outwards from its insertion point. Returns an
    (n_mis, k) array of positions among the observed cases, nearest first; k is capped at
    the number of observed cases.
    """
    n1 = yhat_obs.size
    k = max(1, min(int(k), n1))
    shuffle = rng.permutation(n1)
    order = shuffle[np.argsort(yhat_obs[shuffle], kind="stable")]
    ysort = yhat_obs[order]
    hi = np.searchsorted(ysort, yhat_mis, side="left")
    lo = hi - 1
    picked = np.empty((yhat_mis.size, k), dtype=np.intp)
    for j in range(k):
        d_lo = np.where(lo >= 0, yhat_mis - ysort[np.maximum(lo, 0)], np.inf)
        d_hi = np.where(hi < n1, ysort[np.minimum(hi, n1 - 1)] - yhat_mis, np.inf)
        take_lo = d_lo <= d_hi
        picked[:, j] = np.where(take_lo, lo, hi)
        lo = np.where(take_lo, lo - 1, lo)
        hi = np.where(take_lo, hi, hi + 1)
    return order[picked]


def _pmm(
    rng: np.random.Generator, X: np.ndarray, y: np.ndarray, ry: np.ndarray,
    donors: int = PMM_DONORS,
):  # fmt: skip
    """Predictive mean matching, as R ``mice.impute.pmm`` (``matchtype = 1L``).

    beta-hat and a posterior draw beta* (:func:`_norm_draw`); predicted values of the
    observed cases with beta-hat and of the missing cases with beta* (type-1 matching;
    van Buuren 2018, §3.4.2, Algorithm 3.3); for each missing case the ``donors`` observed
    cases with the nearest predicted values (:func:`_pmm_donors`), of which one is drawn
    at random; its observed value is the imputation. Random draws, in this order: the
    chi-square and the p normals of ``.norm.draw``, the shuffle of the observed cases, the
    donor choices (``rng.integers(0, k)`` per missing case).

    Returns the chosen positions among the observed cases and ``{"coef", "beta_star",
    "sigma_star", "donors"}``.
    """
    xo, yo = X[ry], y[ry]
    coef, beta_star, sigma_star = _norm_draw(rng, xo, yo)
    yhat_obs = xo @ coef
    yhat_mis = X[~ry] @ beta_star
    near = _pmm_donors(rng, yhat_obs, yhat_mis, donors)
    choice = near[np.arange(near.shape[0]), rng.integers(0, near.shape[1], size=near.shape[0])]
    return choice, {"coef": coef, "beta_star": beta_star, "sigma_star": sigma_star, "donors": near}


def _indicator_draw(rng: np.random.Generator, X: np.ndarray, y: np.ndarray, ry: np.ndarray):
    """Draws in [0, 1] for one indicator of a binary or categorical variable.

    The linear-normal model this module used for every variable before pmm/norm.boot
    (scikit-learn ``IterativeImputer(BayesianRidge(), sample_posterior=True)`` on a bootstrap
    resample): ``BayesianRidge`` fitted to a bootstrap resample of the observed cases
    (``X`` without the intercept column), then for each missing case a draw from the
    posterior predictive normal truncated to [0, 1], as ``IterativeImputer`` draws it (a
    mean outside [0, 1] or a zero SD gives the clipped mean), by the inverse normal CDF of
    a uniform draw.
    """
    xo, yo = X[ry], y[ry]
    n1 = yo.size
    rows = rng.integers(0, n1, size=n1)
    model = BayesianRidge().fit(xo[rows], yo[rows])
    mus, sigmas = model.predict(X[~ry], return_std=True)
    out = np.clip(mus, 0.0, 1.0)
    ok = (sigmas > 0) & (mus >= 0) & (mus <= 1)
    if ok.any():  # inverse-CDF draw; 0 <= mu <= 1, so no tail of the normal is involved
        mu, sd = mus[ok], sigmas[ok]
        low, high = special.ndtr(-mu / sd), special.ndtr((1 - mu) / sd)
        out[ok] = np.clip(mu + sd * special.ndtri(low + rng.random(mu.size) * (high - low)), 0, 1)
    return out


def _chain(
    rng: np.random.Generator, coded: list[_Column], method: str, max_iter: int, donors: int
) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """One chain of mice's sampler; returns the completed working matrix and pmm donors.

    Working matrix: an intercept column, then every variable's block (standardised
    continuous values, 0/1 indicators). Start (mice's ``initialize.imp``): each missing
    block is filled with the block of an observed case drawn at random (as
    ``mice.impute.sample``). Then ``max_iter`` rounds visit the incomplete variables in
    their order (mice's visit sequence "roman"); each is regressed on the current values
    of all other variables on its observed cases and its missing cases are replaced by new
    draws. The second value maps a pmm-imputed variable to the rows of its donors in the
    last round (their raw observed values are the imputations).
    """
    W = np.column_stack([np.ones(coded[0].missing.size), *(c.block for c in coded)])
    edges = np.cumsum([1, *(c.width for c in coded)])
    for j, c in enumerate(coded):
        if c.missing.any():
            start = rng.choice(np.flatnonzero(~c.missing), size=int(c.missing.sum()))
            W[c.missing, edges[j] : edges[j + 1]] = W[start, edges[j] : edges[j + 1]]
    everything = np.arange(W.shape[1])
    donor_rows: dict[int, np.ndarray] = {}
    for _ in range(max_iter):
        for j, c in enumerate(coded):
            if not c.missing.any():
                continue
            ry = ~c.missing
            for col in range(edges[j], edges[j + 1]):
                if c.kind == "continuous":
                    X = W[:, everything != col]
                    if method == "pmm":
                        choice, _ = _pmm(rng, X, W[:, col], ry, donors)
                        donor_rows[j] = np.flatnonzero(ry)[choice]
                        W[c.missing, col] = W[donor_rows[j], col]
                    else:
                        W[c.missing, col], _ = _norm_boot(rng, X, W[:, col], ry)
                else:
                    X = W[:, (everything != col) & (everything != 0)]
                    W[c.missing, col] = _indicator_draw(rng, X, W[:, col], ry)
    return W[:, 1:], donor_rows


def impute(
    data: pd.DataFrame,
    columns: Sequence[str],
    auxiliary: Sequence[str] = (),
    m: int = 20,
    seed: int = 0,
    max_iter: int = 10,
    keys: Sequence[str] = (),
    method: str = DEFAULT_METHOD,
    donors: int = PMM_DONORS,
) -> list[pd.DataFrame]:
    """Multiple imputation by chained equations, as R ``mice``.

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
        Iterations of the chained equations per imputation (mice's ``maxit``, default 5
        there).
    keys : sequence of str, optional
        Names of the analysis, for :func:`~first1000.stats.bootstrap.analysis_rng`.
    method : {"norm.boot", "pmm"}, default "norm.boot"
        Imputation method of the continuous variables, as R mice's ``method =``:
        ``"norm.boot"`` linear regression with bootstrap, ``"pmm"`` predictive mean
        matching (mice's own default for numeric data; see *Choice* below). Binary and
        categorical variables are imputed as described under *Categorical variables*
        whatever the method.
    donors : int, default 5
        Donors per missing value of ``pmm`` (mice's ``donors``).

    Returns
    -------
    list of pandas.DataFrame
        m completed copies of ``data`` (same index and columns). Only the missing cells of
        ``columns`` differ from ``data``; numeric analysis columns come back as float64,
        factor columns keep their levels (bool columns become bool).

    Notes
    -----
    *Sampler* (van Buuren & Groothuis-Oudshoorn, J. Stat. Softw. 45(3), 2011; van Buuren,
    *Flexible Imputation of Missing Data*, 2nd ed., 2018, §4.5). Each imputation is one
    chain of mice's sampler over all ``columns`` and ``auxiliary`` together: the missing
    values start as random draws of observed values (mice's ``initialize.imp``); then
    ``max_iter`` times every incomplete variable, in the order given, is regressed on all
    the others (their current values, factors as treatment indicators; an intercept
    added) on its observed cases, and its missing cases are replaced by new draws. The
    values of the last iteration are the imputation (mice returns the same). All
    variables predict all others (mice's default ``predictorMatrix``).

    *Continuous variables* (numeric, more than two observed values):

    * ``"pmm"``, R ``mice.impute.pmm`` with its defaults (``donors = 5L, matchtype = 1L``):
      beta-hat by least squares on the observed cases, a posterior draw
      sigma* = sqrt(RSS / chi2_{n1-p}), beta* = beta-hat + chol((X'X)^-1) z sigma* (mice's
      ``.norm.draw``); predicted values X_obs beta-hat of the observed and X_mis beta* of
      the missing cases; each missing case receives the observed value of one of the 5
      observed cases with the nearest predicted values, drawn at random (mice's
      ``matchindex``: ties broken by a random shuffle). Imputations are always observed
      values.
    * ``"norm.boot"``, R ``mice.impute.norm.boot``: a bootstrap sample of the n1 observed
      cases, least squares beta* on it, sigma* = sqrt(RSS* / (n1 - p - 1)) (p = columns
      of the design incl. the intercept, mice's denominator), draws
      X_mis beta* + N(0, sigma*²) (van Buuren 2018, §3.2.2, Algorithm 3.2).

    *Choice.* pmm imputes only observed values (no impossible values, robust to a
    misspecified normal model) but cannot extrapolate: when the missing values lie where
    few observed cases are (e.g. x missing mostly at high y), the donors come from the
    centre and the association is attenuated. In ``benchmarks/imputation_coverage.py``
    (40% of x missing, more so at high y) pmm's 95% intervals covered 92.5% (bias -0.023),
    R mice's pmm on the same 200 data sets 93.5% (bias -0.021); norm.boot covered 94.5%
    (mice: 95.0%), hence the default here.

    Least squares by QR as mice's ``estimice``; a predictor constant on the fitted rows is
    left out (coefficient 0), and a still singular design uses mice's ridge fallback
    (X'X + 1e-5 diag(X'X)). Continuous variables are standardised (observed mean and SD)
    in the working matrix; least squares are invariant to that, and ``pmm`` returns the
    donors' raw values.

    *Seeds.* Imputation i is one chain drawn from its own generator
    ``analysis_rng(seed, "imputation", *keys, str(i))``. The imputations are independent
    streams, deterministic for a seed (byte-identical results), and the first j imputations
    do not change when m grows. They are not R's random numbers: the results agree with
    mice in distribution (``tests/stats/test_imputation.py`` compares pooled estimates on
    mice's ``nhanes`` data with 1000 mice runs), not draw for draw.

    *Categorical variables.* Binary variables (a numeric column with exactly two observed
    values, e.g. 0/1, or a factor/bool with two levels) and factors with k > 2 levels
    (k - 1 treatment indicators as in
    :func:`~first1000.stats.regression.design_matrix`) keep this module's earlier
    linear-normal model, whatever ``method``: each indicator is regressed on all other
    columns with scikit-learn's ``BayesianRidge`` fitted to a bootstrap resample of its
    observed cases and drawn from the posterior predictive normal truncated to [0, 1]
    (as ``IterativeImputer(sample_posterior=True)``); the chained equations use the
    fractional values, and at the end a binary indicator is rounded at 0.5 to the nearer
    observed value and a factor takes the level with the largest score (the reference
    level scoring one minus the sum of the indicators). This is not mice's ``logreg`` /
    ``polyreg`` (mice's defaults for factors); rounding a linear-normal draw keeps the
    values in the observed categories but can bias proportions when the variable is far
    from balanced (Horton, Lipsitz & Parzen, Am. Stat. 57:229, 2003), so prefer a
    complete binary exposure or outcome when it is heavily missing. Numeric variables
    with more than two values (counts, scores) are continuous.

    Raises
    ------
    ModelError
        For misuse: not a DataFrame, unknown column, a column listed twice or both as
        analysis and auxiliary variable, m, max_iter or donors < 1, an unknown method, a
        bad seed, a column without any observed value or with infinite values.
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
    for name, value in (("m", m), ("max_iter", max_iter), ("donors", donors)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
            raise ModelError(f"{name} must be a positive integer, got {value!r}")
    if method not in METHODS:
        raise ModelError(f"imputation method must be one of {METHODS}, got {method!r}")
    analysis_rng(seed)  # validates the seed
    coded = [_Column(c, data[c]) for c in used]
    if not any(c.missing.any() for c in coded[: len(columns)]):
        return [data.copy() for _ in range(m)]

    edges = np.cumsum([0, *(c.width for c in coded)])
    completed = []
    for i in range(m):
        rng = analysis_rng(seed, "imputation", *keys, str(i))
        filled, donor_rows = _chain(rng, coded, method, max_iter, donors)
        out = data.copy()
        for j, column in enumerate(coded[: len(columns)]):
            if column.missing.any():
                if j in donor_rows:
                    values = column.values[donor_rows[j]]
                else:
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
    method: str = DEFAULT_METHOD,
    firth: bool = False,
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
        Iterations of the chained equations per imputation.
    keys : sequence of str, optional
        Names of the analysis, so that each analysis has its own random stream.
    method : {"norm.boot", "pmm"}, default "norm.boot"
        Imputation method of the continuous variables, as R mice's (see :func:`impute`).

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
        fit = fit_association(data, response, exposure, covariates, family=family, alpha=alpha, firth=firth)
        p = design_matrix(data, [exposure, *covariates])[0].shape[1]
        df = float(fit["n"] - p) if family == "gaussian" else np.inf
        ok = fit["status"] == "ok"
        return _mi_result(
            fit, 0, fmi=0.0 if ok else np.nan, df=df if ok else np.nan,
            riv=0.0 if ok else np.nan, n_complete=n_complete,
        )  # fmt: skip
    empty = [c for c in [*used, *auxiliary] if data[c].isna().all()]
    model = model_name(family, firth)
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
        data, used, auxiliary, m=m, seed=seed, max_iter=max_iter, keys=keys, method=method
    )
    fits = []
    for i, filled in enumerate(completed):
        fit = fit_association(filled, response, exposure, covariates, family=family, alpha=alpha, firth=firth)
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
