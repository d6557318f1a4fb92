"""Effect modification and missing data of the mechanisms' models, at pipeline level.

The statistics live in :mod:`first1000.stats.modification` and
:mod:`first1000.stats.imputation`; which models a config asks for is decided at parse time
(:func:`first1000.plan.modification_models`, nothing is read from the data). This module
fits them and lays the results out as the workflow's tables:

* :func:`modification` fits them per cohort and pooled (cohort as covariate) with
  :func:`~first1000.stats.modification.effect_modification` and returns one long table
  (:data:`MODIFICATION_COLUMNS`): the interaction model's terms, the stratum-specific
  exposure effects and the heterogeneity tests, with a Benjamini–Hochberg q over the
  interaction tests;
* :func:`missingness` counts, per cohort and model variable, how many values are missing
  and how many complete cases the mechanism's models keep (:data:`MISSINGNESS_COLUMNS`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from first1000.config import POOLED
from first1000.labels import effect_unit

MODIFICATION_COLUMNS = [
    "cohort", "mechanism", "exposure", "response", "modifier", "part", "level", "value",
    "method", "estimate", "se", "ci_low", "ci_high", "p", "q", "n", "test", "statistic", "df",
    "df_denom", "i2", "model", "covariates", "unit", "status",
]  # fmt: skip
MISSINGNESS_COLUMNS = [
    "cohort", "variable", "role", "n_total", "n_observed", "n_missing", "pct_missing",
    "n_complete_cases",
]  # fmt: skip
#: The test whose p gets the FDR q (one per model, any modifier type).
PRIMARY_TEST = "interaction_wald"
ROLE_ORDER = ("exposure", "biomarker", "outcome", "covariate", "modifier", "auxiliary")


# --------------------------------------------------------------------------- effect modification
def _subsets(table: pd.DataFrame, covariates: list[str]):
    from first1000.analysis.associations import cohort_subsets

    return cohort_subsets(table, covariates)


def modification(table: pd.DataFrame, mechanism: str, models: list[dict], covariates: list[str],
                 data_schema: dict, at: str = "quartiles", birth_outcomes_from: float | None = None) -> pd.DataFrame:
    """Every effect-modification model of one mechanism, per cohort and pooled.

    Each model is ``response ~ exposure * modifier + covariates`` (the modifier and the
    exposure/response are dropped from the covariates; the pooled analysis adds cohort),
    fitted on complete cases by :func:`~first1000.stats.modification.effect_modification`.
    Rows: ``part = "term"`` (``level`` = the coefficient's name), ``"stratum"`` (``level``
    = modifier level or centile label, ``value`` = modifier value for continuous
    modifiers, ``method`` = stratified / interaction) and ``"test"`` (``test`` =
    interaction_wald, interaction_lr, cochran_q). ``q`` is the Benjamini–Hochberg FDR of
    the interaction Wald tests within the mechanism and cohort. ``birth_outcomes_from``
    (config ``analysis_population``): a model of a birth outcome leaves out the
    participants with a gestational age below it
    (:func:`~first1000.analysis.associations.births_only`).
    """
    # statsmodels only when needed (the missingness stage does without)
    from first1000.analysis.associations import births_only
    from first1000.stats.modification import effect_modification
    from first1000.stats.multitest import bh_fdr

    rows = []
    for cohort, cohort_data, covs in _subsets(table, covariates):
        for model in models:
            exposure, response, modifier = model["exposure"], model["response"], model["modifier"]
            data = births_only(cohort_data, response, birth_outcomes_from)
            family = model.get("family", "gaussian")
            covs_m = [c for c in covs if c not in (exposure, response, modifier)]
            base = dict(cohort=cohort, mechanism=mechanism, exposure=exposure, response=response,
                        modifier=modifier, covariates="+".join(covs_m),
                        unit=effect_unit(response, exposure, family, data_schema))  # fmt: skip
            absent = [v for v in (response, exposure, modifier) if data[v].notna().sum() == 0]
            if absent:
                rows.append(dict(base, part="test", test=PRIMARY_TEST, n=0,
                                 model="logistic" if family == "binomial" else "linear",
                                 status=f"{absent[0]} is not measured in cohort {cohort}"))  # fmt: skip
                continue
            res = effect_modification(data, response, exposure, modifier, covs_m, family=family, at=at)
            for r in res.terms.to_dict("records"):
                rows.append(dict(base, part="term", level=r["term"], **_numbers(r)))
            for r in res.strata.to_dict("records"):
                rows.append(dict(base, part="stratum", level=r["level"], value=r["value"], method=r["method"],
                                 **_numbers(r)))  # fmt: skip
            for r in res.tests.to_dict("records"):
                rows.append(dict(base, part="test", **{k: r[k] for k in _TEST_KEYS}))
    out = pd.DataFrame(rows).reindex(columns=MODIFICATION_COLUMNS)
    out["q"] = np.nan
    primary = (out.part == "test") & (out.test == PRIMARY_TEST)
    for _, index in out[primary].groupby("cohort", sort=False).groups.items():
        out.loc[index, "q"] = bh_fdr(out.loc[index, "p"].to_numpy(dtype=float))
    return out


_NUMBER_KEYS = ("estimate", "se", "ci_low", "ci_high", "p", "n", "model", "status")
_TEST_KEYS = ("test", "statistic", "df", "df_denom", "p", "i2", "n", "model", "status")


def _numbers(r: dict) -> dict:
    return {k: r[k] for k in _NUMBER_KEYS}


# --------------------------------------------------------------------------- missingness
def model_variables(spec: dict, covariates: list[str], models: list[dict] = (),
                    auxiliary: list[str] = ()) -> dict[str, list[str]]:
    """Variable -> its roles in one mechanism's analyses, in a stable order."""
    roles: dict[str, list[str]] = {}
    for role, names in (("exposure", spec["exposures"]), ("biomarker", spec["biomarkers"]),
                        ("outcome", spec.get("outcomes", [])), ("covariate", covariates),
                        ("modifier", [m["modifier"] for m in models]), ("auxiliary", auxiliary)):
        for name in names:
            if role not in roles.setdefault(name, []):
                roles[name].append(role)
    return roles


def missingness(table: pd.DataFrame, spec: dict, covariates: list[str], data_schema: dict,
                models: list[dict] = (), auxiliary: list[str] = ()) -> pd.DataFrame:
    """Missing values of every model variable of one mechanism, per cohort (and pooled).

    ``n_total`` = participants of the cohort (all of them: a participant without a
    sample has a missing biomarker); ``n_observed`` / ``n_missing`` / ``pct_missing`` for
    the variable; ``n_complete_cases`` = participants with the variable *and* every
    covariate observed, the most any complete-case model with this variable can use
    (each model's own n, after its other variable, is in the associations table). Rows
    per cohort, then ``pooled`` (all cohorts) when there are several. Counts are not
    suppressed here (see :func:`suppress_missingness`).
    """
    del data_schema  # the same signature as the other per-mechanism tables
    roles = model_variables(spec, covariates, models, auxiliary)
    cohorts = sorted(table.cohort.unique())
    subsets = [(c, table[table.cohort == c]) for c in cohorts]
    if len(cohorts) > 1:
        subsets.append((POOLED, table))
    rows = []
    for cohort, data in subsets:
        present = data.reindex(columns=list(roles)).notna()
        with_covariates = present[[c for c in covariates if c in present]].all(axis=1)
        n = len(data)
        for variable, var_roles in roles.items():
            observed = int(present[variable].sum())
            rows.append(dict(cohort=cohort, variable=variable, role="+".join(var_roles), n_total=n,
                             n_observed=observed, n_missing=n - observed,
                             pct_missing=100.0 * (n - observed) / n if n else np.nan,
                             n_complete_cases=int((present[variable] & with_covariates).sum())))
    return pd.DataFrame(rows, columns=MISSINGNESS_COLUMNS)
