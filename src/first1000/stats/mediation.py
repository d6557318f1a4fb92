"""Single-mediator linear mediation analysis with a vectorised case-resampling bootstrap."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from statsmodels.regression.linear_model import OLS  # not statsmodels.api: 0.7 s less per job (#19)

from first1000.errors import ModelError
from first1000.stats.bootstrap import (
    check_resampling_args,
    analysis_rng,
    batched_ols,
    bias_corrected_ci,
    bootstrap_p,
    percentile_ci,
    pingouin_resample_counts,
    resample_counts,
)
from first1000.stats.regression import (
    _as_list,
    _check_columns,
    _infinite_columns,
    _is_categorical,
    check_column_types,
    design_matrix,
)

EFFECT_COLUMNS = [
    "exposure", "mediator", "outcome", "effect", "estimate", "se", "ci_low", "ci_high",
    "p", "n", "n_missing", "n_boot", "n_boot_dropped", "ci_method", "seed", "status",
]  # fmt: skip
PATH_COLUMNS = [
    "exposure", "mediator", "outcome", "path", "estimate", "se", "ci_low", "ci_high",
    "p", "n", "status",
]  # fmt: skip
EFFECTS = ("total", "direct", "indirect", "proportion_mediated")
PATHS = ("a", "b", "c_prime", "c")
CI_METHODS = ("percentile", "bias_corrected")
RESAMPLERS = ("numpy", "pingouin")


def mediation_linear(
    data: pd.DataFrame,
    exposure: str,
    mediator: str,
    outcome: str,
    covariates: Sequence[str] = (),
    n_boot: int = 1000,
    seed: int = 0,
    alpha: float = 0.05,
    ci_method: str = "percentile",
    resampler: str = "numpy",
    keys: Sequence[str] = (),
    pm_min_total_effect: float = 0.0,
    max_dropped: float = 0.05,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Linear single-mediator analysis (product of coefficients) with bootstrap inference.

    Parameters
    ----------
    data : pandas.DataFrame
        The data; complete cases of the used columns are analysed.
    exposure, mediator, outcome : str
        Numeric (or bool) columns X, M and Y.
    covariates : sequence of str, optional
        Confounders C entered in every model (factors dummy-coded by
        :func:`first1000.stats.regression.design_matrix`).
    n_boot : int, default 1000
        Number of bootstrap resamples B.
    seed : int, default 0
        Non-negative seed.
    alpha : float, default 0.05
        Two-sided level of every interval.
    ci_method : {"percentile", "bias_corrected"}
        Bootstrap interval, see :func:`~first1000.stats.bootstrap.percentile_ci` and
        :func:`~first1000.stats.bootstrap.bias_corrected_ci`.
    resampler : {"numpy", "pingouin"}
        ``"numpy"``: :func:`~first1000.stats.bootstrap.resample_counts` with
        ``analysis_rng(seed, *keys)`` (= ``np.random.default_rng(seed)`` without keys).
        ``"pingouin"``: the resamples of ``pingouin.mediation_analysis(seed=seed)``
        (``RandomState(seed)``; ``keys`` are then not used), to reproduce its numbers.
    keys : sequence of str, optional
        Names of this analysis for :func:`~first1000.stats.bootstrap.analysis_rng`, so
        that its resamples do not depend on which other analyses run.
    pm_min_total_effect : float, default 0
        ``proportion_mediated`` is NaN, with a status saying why
        (:func:`first1000.stats.causal.pm_problem`), when the CI of the total effect
        includes 0 or |total| is below this threshold (outcome units).
    max_dropped : float, default 0.05
        When more than this share of the resamples could not be fitted, every row's
        ``status`` is the warning of :func:`first1000.stats.causal.dropped_status`.

    Returns
    -------
    effects : pandas.DataFrame
        Columns ``exposure, mediator, outcome, effect, estimate, se, ci_low, ci_high, p, n,
        n_boot, ci_method, seed, status``; ``effect`` is ``total``, ``direct``,
        ``indirect``, ``proportion_mediated`` in that order. ``se`` is the SD of the
        bootstrap replicates (ddof=1), the CI comes from the replicates by ``ci_method``,
        ``p`` is the OLS t-test p for total and direct and the bootstrap p of
        :func:`~first1000.stats.bootstrap.bootstrap_p` for indirect (proportion_mediated
        repeats the indirect p). ``n_boot`` is the number of replicates these rest on:
        B minus resamples whose design was singular (``n_boot_dropped`` of them).
        ``n_missing``: rows of ``data`` left out as incomplete. ``seed`` is the seed given
        to the generator (with ``keys``, reproduce it by ``analysis_rng(seed, *keys)``).
        ``proportion_mediated`` always uses the percentile interval (its ``ci_method``
        says so).
    paths : pandas.DataFrame
        Columns ``exposure, mediator, outcome, path, estimate, se, ci_low, ci_high, p, n,
        status`` for ``a`` (X→M), ``b`` (M→Y given X), ``c_prime`` (X→Y given M) and
        ``c`` (X→Y), from the full-data OLS fits with t-based CI and p.

    Notes
    -----
    Models (Baron & Kenny, J. Pers. Soc. Psychol. 51:1173–1182, 1986; VanderWeele,
    *Explanation in Causal Inference*, 2015, §2.2, no exposure–mediator interaction):

    - mediator: M = i1 + a·X + C'g1 + e1
    - outcome:  Y = i2 + c'·X + b·M + C'g2 + e2   (c' = direct effect)
    - total:    Y = i3 + c·X + C'g3 + e3

    indirect = a·b and, for OLS with the same covariates, c = c' + a·b exactly;
    proportion_mediated = a·b / c (unstable when c is near 0).

    Bootstrap (Preacher & Hayes, Behav. Res. Methods 40:879–891, 2008): each resample of
    rows refits all three models on the same rows, so a·b, c' and c of one replicate are
    coherent (statsmodels' ``Mediation`` resamples each model separately). The refits are
    batched weighted least squares (:func:`~first1000.stats.bootstrap.batched_ols`).
    With ``resampler="pingouin"`` and ``ci_method="bias_corrected"`` the indirect effect,
    its SE, CI and p equal ``pingouin.mediation_analysis`` 0.7.0.

    Data problems (too few complete rows, zero-variance exposure, mediator or outcome,
    non-numeric X/M/Y, infinite values, collinear covariates) give NaN numbers and a ``status`` saying why;
    ``status`` is ``"ok"`` otherwise.

    Raises
    ------
    ModelError
        Misuse only: unknown ``ci_method``/``resampler``, missing or repeated columns,
        invalid ``n_boot``, ``seed`` or ``alpha``.
    """
    if ci_method not in CI_METHODS:
        raise ModelError(f"ci_method must be one of {CI_METHODS}, got {ci_method!r}")
    if resampler not in RESAMPLERS:
        raise ModelError(f"resampler must be one of {RESAMPLERS}, got {resampler!r}")
    check_resampling_args(n_boot, seed, alpha)
    covariates = _as_list(covariates)
    keys = _as_list(keys)
    used = [exposure, mediator, outcome, *covariates]
    _check_columns(data, used)
    if len(set(used)) != len(used):
        raise ModelError(
            f"exposure '{exposure}', mediator '{mediator}', outcome '{outcome}' and "
            f"covariates {covariates} must all be different columns"
        )
    check_column_types(data, used)
    from first1000.stats.causal import _check_reporting, dropped_status, pm_problem

    _check_reporting(False, pm_min_total_effect, max_dropped)

    labels = {"exposure": exposure, "mediator": mediator, "outcome": outcome}
    meta = {"ci_method": ci_method, "seed": int(seed)}
    complete = data.loc[:, used].dropna()
    n = len(complete)
    meta["n_missing"] = len(data) - n

    problem = _non_numeric(complete, labels) or _infinite_columns(complete, used)
    if problem:
        return _failed(labels, meta, n, problem)
    C, _ = design_matrix(complete, covariates)
    x, m, y = (complete[c].to_numpy(dtype=float) for c in (exposure, mediator, outcome))
    X1 = np.column_stack([C[:, :1], x, C[:, 1:]])  # [1, X, C]: mediator and total models
    X2 = np.column_stack([C[:, :1], x, m, C[:, 1:]])  # [1, X, M, C]: outcome model
    problem = _data_problem(X2, x, m, y, n, labels)
    if problem:
        return _failed(labels, meta, n, problem)

    # Full-data fits: point estimates and the t-based path table.
    fit_m = OLS(m, X1).fit()
    fit_c = OLS(y, X1).fit()
    fit_y = OLS(y, X2).fit()
    paths = pd.DataFrame(
        [
            _path_row(labels, "a", fit_m, 1, alpha, n),
            _path_row(labels, "b", fit_y, 2, alpha, n),
            _path_row(labels, "c_prime", fit_y, 1, alpha, n),
            _path_row(labels, "c", fit_c, 1, alpha, n),
        ],
        columns=PATH_COLUMNS,
    )
    a, b = fit_m.params[1], fit_y.params[2]
    direct, total = fit_y.params[1], fit_c.params[1]
    indirect = a * b
    proportion = indirect / total if total != 0 else np.nan

    # Bootstrap: both models refitted on the same resampled rows.
    if resampler == "pingouin":
        counts = pingouin_resample_counts(n, n_boot, seed)
    else:
        counts = resample_counts(n, n_boot, analysis_rng(seed, *keys))
    boot1 = batched_ols(X1, np.column_stack([m, y]), counts)  # (B, p1, [M, Y])
    boot2 = batched_ols(X2, y, counts)
    reps = {
        "total": boot1[:, 1, 1],
        "direct": boot2[:, 1],
        "indirect": boot1[:, 1, 0] * boot2[:, 2],
    }
    valid = np.isfinite(reps["total"]) & np.isfinite(reps["indirect"])
    reps = {k: v[valid] for k, v in reps.items()}
    with np.errstate(divide="ignore", invalid="ignore"):
        reps["proportion_mediated"] = reps["indirect"] / reps["total"]

    p_indirect = bootstrap_p(reps["indirect"], indirect)
    estimates = {
        "total": (total, fit_c.pvalues[1]),
        "direct": (direct, fit_y.pvalues[1]),
        "indirect": (indirect, p_indirect),
        "proportion_mediated": (proportion, p_indirect),
    }
    n_valid = int(valid.sum())
    if valid.any():
        status = dropped_status(n_boot - n_valid, n_boot, max_dropped) or "ok"
    else:
        status = "no bootstrap resample gave a non-singular design"
    rows = []
    total_ci = (np.nan, np.nan)
    for effect in EFFECTS:
        estimate, p = estimates[effect]
        samples = reps[effect][np.isfinite(reps[effect])]
        method = "percentile" if effect == "proportion_mediated" else ci_method
        if method == "percentile":
            ci = percentile_ci(samples, alpha)
        else:
            ci = bias_corrected_ci(samples, estimate, alpha)
        se = float(np.std(samples, ddof=1)) if samples.size > 1 else np.nan
        row_status = status
        if effect == "total":
            total_ci = ci
        if effect == "proportion_mediated":
            why = pm_problem(float(total), total_ci, alpha, pm_min_total_effect)
            if why:
                estimate, se, ci, p = np.nan, np.nan, (np.nan, np.nan), np.nan
                row_status = why if status == "ok" else f"{status}; {why}"
        rows.append(
            {
                **labels,
                "effect": effect,
                "estimate": float(estimate),
                "se": se,
                "ci_low": ci[0],
                "ci_high": ci[1],
                "p": float(p),
                "n": n,
                "n_boot": n_valid,
                "n_boot_dropped": n_boot - n_valid,
                **meta,
                "ci_method": method,
                "status": row_status,
            }
        )
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS), paths


def _non_numeric(complete: pd.DataFrame, labels: dict) -> str | None:
    for role, column in labels.items():
        series = complete[column]
        if _is_categorical(series) and not pd.api.types.is_bool_dtype(series):
            return (
                f"{role} '{column}' is not numeric (dtype {series.dtype}); linear "
                "mediation needs numeric exposure, mediator and outcome"
            )
    return None


def _data_problem(X2, x, m, y, n, labels) -> str | None:
    n_params = X2.shape[1]
    if n < n_params + 1:
        return (
            f"too few complete rows: n={n} for an outcome model with {n_params} "
            f"parameters (needs at least {n_params + 1})"
        )
    for role, values in (("exposure", x), ("mediator", m), ("outcome", y)):
        if np.ptp(values) == 0:
            return f"{role} '{labels[role]}' has zero variance in the {n} complete rows"
    rank = np.linalg.matrix_rank(X2)
    if rank < n_params:
        return (
            f"exposure, mediator and covariates are collinear (design rank {rank} < "
            f"{n_params} parameters); drop redundant covariates"
        )
    return None


def _path_row(labels: dict, path: str, fit, j: int, alpha: float, n: int) -> dict:
    ci = fit.conf_int(alpha=alpha)[j]
    return {
        **labels,
        "path": path,
        "estimate": float(fit.params[j]),
        "se": float(fit.bse[j]),
        "ci_low": float(ci[0]),
        "ci_high": float(ci[1]),
        "p": float(fit.pvalues[j]),
        "n": n,
        "status": "ok",
    }


def _failed(labels: dict, meta: dict, n: int, status: str):
    nan = {"estimate": np.nan, "se": np.nan, "ci_low": np.nan, "ci_high": np.nan, "p": np.nan}
    effects = pd.DataFrame(
        [
            {**labels, "effect": e, **nan, "n": n, "n_boot": 0, "n_boot_dropped": 0, **meta,
             "status": status}
            for e in EFFECTS
        ],
        columns=EFFECT_COLUMNS,
    )
    paths = pd.DataFrame(
        [{**labels, "path": p, **nan, "n": n, "status": status} for p in PATHS],
        columns=PATH_COLUMNS,
    )
    return effects, paths
