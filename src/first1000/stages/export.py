"""Summary statistics of each cohort for a meta-analysis elsewhere (workflow/rules/export.smk)."""

from __future__ import annotations

from first1000.io.summary_statistics import analysis_summary, export_cohort
from first1000.plan import ewas_cohorts, mediation_paths
from first1000.stages import LOG


def _mediation_tables(cfg: dict) -> list[str]:
    from first1000.plan import analysed_mechanisms

    return [f"results/mediation/{m}.tsv" for m in analysed_mechanisms(cfg) if mediation_paths(cfg, m)]


def export_summary_params(cfg: dict, cohort: str) -> dict:
    return {"cohort": cohort, "label": cfg["cohorts"][cohort].get("label", cohort), "analysis": analysis_summary(cfg),
            "ewas_exposures": list(cfg["epigenome_wide"]["exposures"]) if cohort in ewas_cohorts(cfg) else []}


def export_summary_inputs(cfg: dict, cohort: str) -> dict:
    """Every mechanism's association table, the mediation tables and their paths, and the
    cohort's EWAS tables (in the order of the params' ``ewas_exposures``)."""
    from first1000.plan import analysed_mechanisms

    exposures = export_summary_params(cfg, cohort)["ewas_exposures"]
    mediation = _mediation_tables(cfg)
    return {"associations": [f"results/associations/{m}.tsv" for m in analysed_mechanisms(cfg)],
            "mediation": mediation, "mediation_paths": [t.replace(".tsv", "_paths.tsv") for t in mediation],
            "ewas": [f"results/ewas/{cohort}/{e}.parquet" for e in exposures]}


def export_summary(*, cohort, label, analysis, ewas_exposures, associations, mediation, mediation_paths, ewas,
                   output):
    """One cohort's summary-statistics export (results/export/{cohort}/)."""
    def listed(files):
        return [files] if isinstance(files, str) else list(files)

    manifest = export_cohort(cohort, label, analysis, listed(associations), listed(mediation),
                             listed(mediation_paths), dict(zip(ewas_exposures, listed(ewas))), output)
    LOG.info("export of %s: %s", cohort, ", ".join(sorted(manifest["files"])))
