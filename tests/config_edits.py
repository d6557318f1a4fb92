"""The config edits an analyst makes, and what each must rerun: the edit list of the rerun tests.

Every key of the config schema (``workflow/schemas/config.schema.yaml``) is here, as

* an end-to-end edit (:data:`EDITS`): tests/workflow/test_reruns.py makes it on a finished
  run of ``.test/config/reruns.yaml``, reruns, and compares every file under ``results/``
  with a run from scratch of the edited config;
* a params edit (:data:`PARAMS_EDITS`): tests/stages/test_params.py makes it on the demo
  config and checks that the params of the jobs that read the key change (so Snakemake
  reruns them), for every job of the demo's DAG;
* or a reason it needs neither (:data:`NOT_EDITED`): a section whose keys are listed one
  by one, a path whose file is a job's input, a key of the other mode.

A new config key without an entry fails tests/stages/test_params.py::test_every_config_key_has_an_edit.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass

from first1000.config import load_schema

RERUNS_CONFIG = ".test/config/reruns.yaml"


@dataclass(frozen=True)
class Edit:
    """A text edit of one file of the working directory (``old`` must occur exactly once)."""

    name: str
    keys: tuple[str, ...]  # the config keys (schema paths) it exercises
    file: str
    old: str
    new: str
    reruns: tuple[str, ...]  # rules of which at least one job must rerun

    def apply(self, workdir) -> None:
        path = workdir / self.file
        text = path.read_text(encoding="utf-8")
        assert text.count(self.old) == 1, f"edit {self.name}: {self.old!r} occurs {text.count(self.old)} times"
        path.write_text(text.replace(self.old, self.new), encoding="utf-8")


#: The edits made end to end, one at a time, on a finished run of .test/config/reruns.yaml.
EDITS = [
    Edit("covariate added", ("covariates",), RERUNS_CONFIG,
         "covariates: [maternal_age, bmi, parity, smoking, child_sex]",
         "covariates: [maternal_age, bmi, parity, smoking, child_sex, gestational_age]",
         ("associate", "associate_sensitivity", "mediate", "describe")),
    Edit("exposure added to a mechanism", ("mechanisms.*.exposures",), RERUNS_CONFIG,
         "    exposures: [ses_index, epds]\n", "    exposures: [ses_index, epds, pss]\n",
         ("associate", "describe", "model_diagram")),
    Edit("fdr", ("fdr",), RERUNS_CONFIG, "fdr: 0.05", "fdr: 0.10", ("model_diagram", "mechanism_figures")),
    Edit("meta-analysis method", ("meta_analysis.method",), RERUNS_CONFIG, "method: REML, knapp", "method: DL, knapp",
         ("associate", "mediate")),
    Edit("Knapp-Hartung", ("meta_analysis.knapp_hartung",), RERUNS_CONFIG, "knapp_hartung: false",
         "knapp_hartung: true", ("associate", "mediate")),
    Edit("bootstrap resamples", ("mediation.n_boot",), RERUNS_CONFIG, "n_boot: 100", "n_boot: 120", ("mediate",)),
    Edit("bootstrap interval", ("mediation.ci_method",), RERUNS_CONFIG, "ci_method: percentile", "ci_method: bca",
         ("mediate",)),
    Edit("LOQ of hair cortisol", ("preparation.hpa.loq",), RERUNS_CONFIG, "loq: 1.5", "loq: 2.5", ("prepare",)),
    Edit("hair windows", ("preparation.hpa.windows",), RERUNS_CONFIG, "t2: [3, 6]", "t2: [3, 5]", ("prepare",)),
    Edit("outlier SD", ("preparation.hpa.outlier_sd",), RERUNS_CONFIG, "outlier_sd: 3", "outlier_sd: 2.5",
         ("associate_sensitivity",)),
    Edit("SES-index indicator", ("ses_index.indicators",), RERUNS_CONFIG,
         "indicators: {education_isced: 1, income_equivalised_ln: 1, neighbourhood_ses: 1}",
         "indicators: {education_isced: 1, income_equivalised_ln: 1}", ("harmonise", "associate")),
    Edit("mapping-file recode", ("cohorts.*.mapping",), "config/cohorts/ghent.yaml",
         '"5000 of meer": 6000', '"5000 of meer": 7000', ("ingest_participants", "harmonise")),
    Edit("harmonised-variable range", ("harmonised_variables",), "resources/harmonised_variables.yaml",
         "unit: years, min: 12, max: 60}", "unit: years, min: 12, max: 55}", ("ingest_participants",)),
    Edit("EWAS covariates", ("epigenome_wide.covariates",), RERUNS_CONFIG,
         "covariates: [maternal_age, child_sex]\n", "covariates: [maternal_age, child_sex, bmi]\n",
         ("ewas_shard",)),
    Edit("smallest cell", ("privacy.min_cell_size",), RERUNS_CONFIG, "min_cell_size: 5", "min_cell_size: 10",
         ("ingest_participants", "harmonise", "prepare", "describe", "associate")),
    Edit("CNS measure label", ("preparation.cns.measures.*.label",), RERUNS_CONFIG,
         "label: Right amygdala volume", "label: Volume of the right amygdala", ("mechanism_figures",)),
]


#: Edits whose incremental rerun goes through the snakemake command (processes, scheduler,
#: temp files); the others rerun Snakemake's plan in one process (tests/workflow/inprocess.py).
REAL_RERUNS = ("fdr", "EWAS covariates")


@dataclass(frozen=True)
class ParamsEdit:
    """An edit of the demo config (a function of its raw dict) and the rules whose params
    must change for at least one job."""

    keys: tuple[str, ...]
    edit: object  # callable(raw config dict) -> None, in place
    rules: tuple[str, ...]
    description: str = ""


def _set(path: str, value):
    def edit(raw: dict) -> None:
        node = raw
        parts = path.split(".")
        for part in parts[:-1]:
            node = node[int(part)] if isinstance(node, list) else node.setdefault(part, {})
        node[int(parts[-1]) if isinstance(node, list) else parts[-1]] = value

    return edit


def _do(*edits):
    def edit(raw):
        for one in edits:
            one(raw)

    return edit


PARAMS_EDITS = [
    ParamsEdit(("seed",), _set("seed", 7), ("mediate", "associate")),
    ParamsEdit(("cohorts.*.label",), _set("cohorts.ghent.label", "Gent"), ("mood_qc", "mechanism_figures")),
    ParamsEdit(("effect_modification.at",), _set("effect_modification.at", "sd"), ("modify",)),
    ParamsEdit(("effect_modification.modifiers",),
               _do(_set("effect_modification.pairs", []), _set("effect_modification.modifiers", ["child_sex"])),
               ("modify",)),
    ParamsEdit(("effect_modification.pairs", "effect_modification.pairs[].modifier"),
               _set("effect_modification.pairs.0.modifier", "child_sex"), ("modify", "describe")),
    ParamsEdit(("effect_modification.pairs[].exposure",), _set("effect_modification.pairs.0.exposure", "ses_index"),
               ("modify",)),
    ParamsEdit(("effect_modification.pairs[].biomarker",),
               _set("effect_modification.pairs.0.biomarker", "hair_cortisol_t2_ln"), ("modify",)),
    ParamsEdit(("effect_modification.pairs[].outcome",),
               _set("effect_modification.pairs.0", {"exposure": "hair_cortisol_t3_ln", "outcome": "birth_weight",
                                                    "modifier": "resilience"}), ("modify",)),
    ParamsEdit(("epigenome_wide.array",), _set("epigenome_wide.array", "EPIC"), ("ewas_gather", "ewas_meta")),
    ParamsEdit(("epigenome_wide.chunk_cpgs",), _set("epigenome_wide.chunk_cpgs", 500), ("ewas_shard",)),
    ParamsEdit(("epigenome_wide.exposures",), _set("epigenome_wide.exposures", ["epds", "ses_index"]),
               ("export_summary",), "and the new exposure's EWAS jobs"),
    ParamsEdit(("epigenome_wide.meta_method",), _set("epigenome_wide.meta_method", "REML"), ("ewas_meta",)),
    ParamsEdit(("epigenome_wide.outlier_k",), _set("epigenome_wide.outlier_k", 2), ("ewas_shard",)),
    ParamsEdit(("epigenome_wide.remove_outliers",), _set("epigenome_wide.remove_outliers", False), ("ewas_shard",)),
    ParamsEdit(("epigenome_wide.shards",), _set("epigenome_wide.shards", 3), ("ewas_shard",)),
    ParamsEdit(("epigenome_wide.top_n",), _set("epigenome_wide.top_n", 10), ("ewas_gather", "ewas_meta")),
    ParamsEdit(("mechanisms.*.biomarkers",), _set("mechanisms.metabolites.biomarkers", ["formate_ln", "lactate_ln"]),
               ("associate", "describe", "mechanism_figures")),
    ParamsEdit(("mechanisms.*.covariates",), _set("mechanisms.metabolites.covariates", ["maternal_age", "bmi"]),
               ("associate", "describe")),
    ParamsEdit(("mechanisms.*.label",), _set("mechanisms.hpa.label", "HPA axis"),
               ("mechanism_figures", "table_views", "model_diagram")),
    ParamsEdit(("mechanisms.*.outcomes",), _set("mechanisms.telomeres.outcomes", ["birth_weight", "preterm"]),
               ("associate", "describe")),
    ParamsEdit(("mediation.contrast",), _set("mediation.contrast", "iqr"), ("mediate",)),
    ParamsEdit(("mediation.inference",), _set("mediation.inference", "quasi_bayes"), ("mediate",)),
    ParamsEdit(("mediation.interaction",), _set("mediation.interaction", True), ("mediate",)),
    ParamsEdit(("mediation.sensitivity",), _set("mediation.sensitivity", False), ("mediate",)),
    ParamsEdit(("preparation.immune.lod_max_pct",), _set("preparation.immune.lod_max_pct", 20), ("prepare",)),
    ParamsEdit(("preparation.immune.pile_up_pct",), _set("preparation.immune.pile_up_pct", 5), ("prepare",)),
    ParamsEdit(("preparation.metabolites.pile_up_pct",), _set("preparation.metabolites.pile_up_pct", 5),
               ("prepare",)),
    ParamsEdit(("mediation.firth",), _set("mediation.firth", True), ("mediate",)),
    ParamsEdit(("associations.firth",), _set("associations.firth", False),  # on in the demo config
               ("associate", "associate_sensitivity", "methods")),
    ParamsEdit(("mediation.pm_min_total_effect",), _set("mediation.pm_min_total_effect", 0.5), ("mediate",)),
    ParamsEdit(("mediation.max_dropped_resamples",), _set("mediation.max_dropped_resamples", 0.1), ("mediate",)),
    ParamsEdit(("mediation.paths", "mediation.paths[].exposure"), _set("mediation.paths.1.exposure", "epds"),
               ("mediate",)),
    ParamsEdit(("mediation.paths[].mediator",), _set("mediation.paths.0.mediator", "hair_cortisol_t2_ln"),
               ("mediate",)),
    ParamsEdit(("mediation.paths[].outcome",), _set("mediation.paths.1.outcome", "gestational_age"), ("mediate",)),
    ParamsEdit(("mediation.paths[].cde_at",), _set("mediation.paths.0.cde_at", 2.0), ("mediate",)),
    ParamsEdit(("mediation.paths[].contrast",), _set("mediation.paths.0.contrast", [0, 1]), ("mediate",)),
    ParamsEdit(("mediation.paths[].covariates",), _set("mediation.paths.0.covariates", ["maternal_age"]),
               ("mediate",)),
    ParamsEdit(("mediation.paths[].interaction",), _set("mediation.paths.0.interaction", True), ("mediate",)),
    ParamsEdit(("mediation.paths[].mediator_covariates",),
               _set("mediation.paths.0.mediator_covariates", ["maternal_age"]), ("mediate",)),
    ParamsEdit(("mediation.paths[].outcome_covariates",),
               _set("mediation.paths.0.outcome_covariates", ["maternal_age"]), ("mediate",)),
    ParamsEdit(("mediation.paths[].sequential",), _set("mediation.paths.4.sequential", False), ("mediate",)),
    ParamsEdit(("missing_data.method",), _set("missing_data.method", "multiple_imputation"),
               ("associate", "associate_sensitivity", "mediate")),
    ParamsEdit(("missing_data.auxiliary",),
               _do(_set("missing_data.method", "multiple_imputation"), _set("missing_data.auxiliary", ["employment"])),
               ("associate", "describe")),
    ParamsEdit(("missing_data.m",), _set("missing_data.m", 10), ("associate",)),
    ParamsEdit(("missing_data.imputation_method",), _set("missing_data.imputation_method", "pmm"), ("associate",)),
    ParamsEdit(("missing_data.max_iter",), _set("missing_data.max_iter", 5), ("associate",)),
    ParamsEdit(("preparation.cns.measures.*.unit",),
               _set("preparation.cns.measures.amygdala_volume_right.unit", "cm³"),
               ("mechanism_figures", "associate")),
    ParamsEdit(("preparation.cns.measures.*.min",), _set("preparation.cns.measures.amygdala_volume_right.min", 50),
               ("ingest_table",)),
    ParamsEdit(("preparation.cns.measures.*.max",), _set("preparation.cns.measures.amygdala_volume_right.max", 3000),
               ("ingest_table",)),
    ParamsEdit(("preparation.cns.measures.*.log",),
               _do(_set("preparation.cns.measures.hippocampus_volume.log", True),
                   _set("mechanisms.cns.biomarkers", ["amygdala_volume_right", "hippocampus_volume_ln",
                                                      "dmn_connectivity"])),
               ("ingest_table", "prepare", "associate")),
    ParamsEdit(("preparation.epigenetic_age.clock",), _set("preparation.epigenetic_age.clock", "bohlin2016"),
               ("prepare",)),
    ParamsEdit(("preparation.epigenetic_age.impute",), _set("preparation.epigenetic_age.impute", "mean"),
               ("prepare",)),
    ParamsEdit(("preparation.hpa.covariates",), _set("preparation.hpa.covariates", ["hair_treated"]),
               ("associate", "associate_sensitivity")),
    ParamsEdit(("preparation.hpa.growth_cm_per_month",), _set("preparation.hpa.growth_cm_per_month", 1.1),
               ("prepare",)),
    ParamsEdit(("preparation.hpa.timing",),
               _do(_set("preparation.hpa.timing", "gestation"),
                   _set("preparation.hpa.windows", {"t3": [28, 43], "t2": [14, 28], "t1": [0, 14]})),
               ("prepare", "mechanism_figures")),
    ParamsEdit(("preparation.immune.crp_exclusion_mg_l",), _set("preparation.immune.crp_exclusion_mg_l", 5),
               ("prepare", "associate_sensitivity")),
    ParamsEdit(("preparation.immune.lod",), _set("preparation.immune.lod.il6", 0.5), ("prepare",)),
    ParamsEdit(("preparation.metabolites.lod",), _set("preparation.metabolites.lod.formate", 5.0), ("prepare",)),
    ParamsEdit(("preparation.metabolites.lod_max_pct",), _set("preparation.metabolites.lod_max_pct", 30),
               ("prepare", "mechanism_figures")),
    ParamsEdit(("preparation.metabolites.normalisation",), _set("preparation.metabolites.normalisation", "pqn"),
               ("prepare",)),
    ParamsEdit(("preparation.metabolites.creatinine",), _set("preparation.metabolites.creatinine", "creatinine_mmol"),
               ("prepare",)),
    ParamsEdit(("preparation.methylation.covariates",), _set("preparation.methylation.covariates", ["cell_nk"]),
               ("associate", "ewas_shard", "ewas_candidates", "ewas_figures")),
    ParamsEdit(("preparation.microbiome.min_depth",), _set("preparation.microbiome.min_depth", 5000), ("prepare",)),
    ParamsEdit(("preparation.microbiome.min_prevalence",), _set("preparation.microbiome.min_prevalence", 0.2),
               ("prepare",)),
    ParamsEdit(("preparation.microbiome.pseudocount",), _set("preparation.microbiome.pseudocount", 1.0),
               ("prepare",)),
    ParamsEdit(("preparation.microbiome.shannon_base",), _set("preparation.microbiome.shannon_base", 2),
               ("prepare",)),
    ParamsEdit(("preparation.microbiome.taxa",), _set("preparation.microbiome.taxa", ["bifidobacterium"]),
               ("prepare",)),
    ParamsEdit(("preparation.microbiome.zero_replacement",),
               _set("preparation.microbiome.zero_replacement", "multiplicative"), ("prepare",)),
    ParamsEdit(("preparation.mitochondria.efficiency",), _set("preparation.mitochondria.efficiency",
                                                              {"mt": 1.95, "nuclear": 2.0}), ("prepare",)),
    ParamsEdit(("preparation.mitochondria.slope",), _set("preparation.mitochondria.slope",
                                                         {"mt": -3.3, "nuclear": -3.4}), ("prepare",)),
    ParamsEdit(("preparation.mitochondria.replicate_ct_sd_max",),
               _set("preparation.mitochondria.replicate_ct_sd_max", 0.3), ("prepare",)),
    ParamsEdit(("preparation.telomeres.efficiency",), _set("preparation.telomeres.efficiency",
                                                           {"telomere": 1.9, "single_copy": 2.0}), ("prepare",)),
    ParamsEdit(("preparation.telomeres.slope",), _set("preparation.telomeres.slope",
                                                      {"telomere": -3.3, "single_copy": -3.4}), ("prepare",)),
    ParamsEdit(("preparation.telomeres.replicate_ct_sd_max",), _set("preparation.telomeres.replicate_ct_sd_max", 0.3),
               ("prepare",)),
    ParamsEdit(("ses_index.method",), _set("ses_index.method", "pca"), ("harmonise",)),
    ParamsEdit(("study_variables", "study_variables.*.type", "study_variables.*.label", "study_variables.*.unit",
                "study_variables.*.min", "study_variables.*.max"),
               _set("study_variables.sleep_hours", {"type": "continuous", "label": "Sleep in late pregnancy",
                                                    "unit": "hours/night", "min": 2, "max": 16}),
               ("ingest_participants", "harmonise")),
    ParamsEdit(("study_variables.*.categories",),
               _set("study_variables.birth_mode", {"type": "categorical", "label": "Mode of delivery",
                                                   "categories": ["vaginal", "caesarean"]}),
               ("ingest_participants", "harmonise")),
    ParamsEdit(("study_variables.*.group",),
               _do(_set("study_variables.low_education", {"type": "binary", "label": "Low education", "group": "ses"}),
                   _set("mechanisms.hpa.exposures", ["ses_index", "epds", "pss", "low_education"])),
               ("model_diagram", "associate")),
    ParamsEdit(("variable_overrides", "variable_overrides.*.min", "variable_overrides.*.reason"),
               _set("variable_overrides.gestational_age", {"min": 100, "reason": "pregnancy losses from 14 weeks"}),
               ("ingest_participants", "harmonise")),
    ParamsEdit(("variable_overrides.*.max",),
               _set("variable_overrides.birth_weight", {"max": 7000, "reason": "macrosomia up to 7 kg"}),
               ("ingest_participants", "harmonise")),
    ParamsEdit(("analysis_population.birth_outcomes_from_gestational_age_days",),
               _set("analysis_population.birth_outcomes_from_gestational_age_days", 168),
               ("ingest_participants", "associate", "associate_sensitivity", "mediate", "modify")),
    ParamsEdit(("variable_overrides.*.group",),
               _set("variable_overrides.epds", {"group": "Maternal mental health", "reason": "our model's blocks"}),
               ("model_diagram",)),
    ParamsEdit(("ses_index.min_indicators",), _set("ses_index.min_indicators", 3), ("harmonise",)),
    ParamsEdit(("preparation.growth.visits",), _set("preparation.growth.visits",
                                                    {"6m": [6, 3, 9], "12m": [12, 10, 15], "24m": [24, 18, 24]}),
               ("prepare",)),
    ParamsEdit(("preparation.growth.asq_cutoffs",), _set("preparation.growth.asq_cutoffs",
                                                         {24: {"communication": 25.0}}), ("prepare",)),
    ParamsEdit(("mediation.high_dimensional", "mediation.high_dimensional[].exposure"),
               _set("mediation.high_dimensional.0.exposure", "pss"), ("mediate_highdim",)),
    ParamsEdit(("mediation.high_dimensional[].outcome",),
               _set("mediation.high_dimensional.0.outcome", "birth_weight"), ("mediate_highdim",)),
    ParamsEdit(("mediation.high_dimensional[].top",), _set("mediation.high_dimensional.0.top", 20),
               ("mediate_highdim",)),
    ParamsEdit(("mediation.high_dimensional[].latent_factors",),
               _set("mediation.high_dimensional.0.latent_factors", 2), ("mediate_highdim",)),
    ParamsEdit(("mediation.high_dimensional[].mediators",),
               _set("mediation.high_dimensional.1.mediators", "immune"), ("mediate_highdim",)),
    ParamsEdit(("longitudinal.*.scores",), _set("longitudinal.growth.scores", ["wlz", "laz"]), ("longitudinal",)),
    ParamsEdit(("longitudinal.*.exposures",), _set("longitudinal.growth.exposures", ["ses_index"]),
               ("longitudinal",)),
    ParamsEdit(("longitudinal.*.random_slope",), _set("longitudinal.growth.random_slope", False), ("longitudinal",)),
]

_SECTION = "a section: each of its keys has its own entry"
_INPUT = "a path: the file is an input of the jobs that read it (Snakemake reruns a job whose input changes)"
_SITES = ("a summary-statistics-only run's key (`sites` instead of `cohorts`): the sites' exports are the import "
          "jobs' inputs and their labels the figures' params; tests/workflow/test_demo.py runs one end to end")

#: Keys neither edit needs, with the reason.
NOT_EDITED = {
    "analysis_population": _SECTION, "associations": _SECTION, "cohorts": _SECTION, "effect_modification": _SECTION, "epigenome_wide": _SECTION, "export": _SECTION,
    "mechanisms": _SECTION, "mediation": _SECTION, "meta_analysis": _SECTION, "missing_data": _SECTION,
    "preparation": _SECTION, "privacy": _SECTION, "ses_index": _SECTION,
    **{f"preparation.{m}": _SECTION for m in ("cns", "epigenetic_age", "hpa", "immune", "metabolites", "methylation",
                                              "microbiome", "mitochondria", "telomeres", "growth")},
    "longitudinal": _SECTION,
    "preparation.cns.measures": _SECTION,
    "epigenome_wide.annotation": _INPUT + " (ewas_gather, ewas_meta, ewas_candidates)",
    "privacy.key_file": _INPUT + " (every ingest job: a new key reruns them all)",
    "export.summary_statistics": "switches the export jobs on or off (targets of rule all); no job reads it",
    "sites": _SITES, "sites.*.label": _SITES, "sites.*.path": _SITES,
}


def schema_keys() -> set[str]:
    """Every key path of the config schema; ``*`` for a named entry, ``[]`` for a list item."""
    out: set[str] = set()

    def walk(schema, path):
        if not isinstance(schema, dict):
            return
        for branch in schema.get("oneOf", []) + schema.get("anyOf", []):
            walk(branch, path)
        for key, sub in schema.get("properties", {}).items():
            name = f"{path}.{key}" if path else key
            out.add(name)
            walk(sub, name)
        extra = schema.get("additionalProperties")
        if isinstance(extra, dict) and ("properties" in extra or "oneOf" in extra):
            walk(extra, f"{path}.*")
        if isinstance(schema.get("items"), dict):
            walk(schema["items"], f"{path}[]")

    walk(load_schema("config.schema.yaml"), "")
    return out


def edited(raw: dict, params_edit: ParamsEdit) -> dict:
    out = copy.deepcopy(raw)
    params_edit.edit(out)
    return out


def planned_jobs(dry_run_output: str) -> list[tuple[str, dict]]:
    """(rule, wildcards) of every job a ``snakemake --dry-run`` printed."""
    jobs = []
    for block in re.split(r"\n(?=(?:local)?rule \w+:\n)", dry_run_output):
        head = re.match(r"(?:local)?rule (\w+):\n", block)
        if not head or head.group(1) == "all":
            continue
        found = re.search(r"^    wildcards: (.*)$", block, flags=re.M)
        wildcards = dict(kv.split("=", 1) for kv in found.group(1).split(", ")) if found else {}
        jobs.append((head.group(1), wildcards))
    return jobs
