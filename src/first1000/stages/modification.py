"""Stage 5b (workflow/rules/modification.smk): effect modification (exposure x modifier) and
the missing data of each mechanism's models (their stratified forest plots are drawn with
the mechanism's other figures, :mod:`first1000.stages.figures`)."""

from __future__ import annotations

import pandas as pd

from first1000.analysis import modification as strata
from first1000.io import write_tsv
from first1000.labels import variables
from first1000.plan import mechanism_covariates, modification_models
from first1000.privacy import suppress_missingness, suppress_modification
from first1000.stages import LOG


def modify_params(cfg: dict, mechanism: str) -> dict:
    models = modification_models(cfg, mechanism)
    names = [n for m in models for n in (m["exposure"], m["response"], m["modifier"])]
    return {"mechanism": mechanism, "models": models, "covariates": mechanism_covariates(cfg, mechanism),
            "variables": variables(names, cfg["_data_schema"], cfg["_declared_biomarkers"]),
            "at": cfg["effect_modification"]["at"], "min_cell_size": cfg["privacy"]["min_cell_size"],
            "birth_outcomes_from": cfg["analysis_population"]["birth_outcomes_from_gestational_age_days"]}


def modify(*, mechanism, models, covariates, variables, at, min_cell_size, participants, biomarkers, output,
           birth_outcomes_from=None):
    """Effect modification of one mechanism's models (results/modification/{mechanism}.tsv)."""
    from first1000.analysis import associations as assoc  # the models (statsmodels): not for missingness

    table = assoc.analysis_table(pd.read_parquet(participants), pd.read_parquet(biomarkers))
    result = strata.modification(table, mechanism, models, covariates, variables, at=at,
                                 birth_outcomes_from=birth_outcomes_from)
    write_tsv(suppress_modification(result, min_cell_size), output)
    tests = result[(result.part == "test") & (result.test == strata.PRIMARY_TEST)]
    LOG.info("%s: %d effect-modification models, %d interaction tests, %d not fitted", mechanism, len(models),
             len(tests), int((tests.status != "ok").sum()))


def missingness_params(cfg: dict, mechanism: str) -> dict:
    spec = cfg["mechanisms"][mechanism]
    missing_data = cfg["missing_data"]
    return {"mechanism": mechanism,
            "spec": {"biomarkers": list(spec["biomarkers"]), "exposures": list(spec["exposures"]),
                     "outcomes": list(spec.get("outcomes", []))},
            "covariates": mechanism_covariates(cfg, mechanism), "models": modification_models(cfg, mechanism),
            "auxiliary": missing_data["auxiliary"] if missing_data["method"] == "multiple_imputation" else [],
            "min_cell_size": cfg["privacy"]["min_cell_size"]}


def missingness(*, mechanism, spec, covariates, models, auxiliary, min_cell_size, participants, biomarkers, output):
    """Missing values of the mechanism's model variables per cohort (results/missingness/{mechanism}.tsv)."""
    # the join of analysis.associations.analysis_table, without importing the models (statsmodels)
    table = pd.read_parquet(participants).merge(pd.read_parquet(biomarkers).drop(columns="cohort"), on="pseudo_id",
                                                how="left", validate="one_to_one")
    result = strata.missingness(table, spec, covariates, {}, models, auxiliary)
    write_tsv(suppress_missingness(result, min_cell_size), output)
    LOG.info("%s: missingness of %d variables in %d cohorts", mechanism, result.variable.nunique(),
             result.cohort.nunique())
