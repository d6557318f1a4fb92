"""Per-mechanism preparation: raw measurements -> analysis-ready biomarkers + QC.

Each module exposes ``prepare(tables, settings) -> (biomarkers, qc)`` where ``tables``
maps cohort -> that cohort's standardised ingest table, ``biomarkers`` has one row per
participant (``pseudo_id``, ``cohort`` and one column per biomarker) and ``qc`` is an
aggregate table (no row-level values) for the report. A module with
``NEEDS_PARTICIPANTS = True`` (or whose ``needs_participants(settings)`` is true for its
settings, e.g. hpa with ``timing: gestation``) also gets ``participants=`` (the
harmonised participants);
one with ``read_table(path, settings)`` reads its ingest table itself (e.g. only the
clock CpGs of a methylation matrix). ``QC_FIGURE`` names the figure drawn from its QC table
(:data:`first1000.figures.qc.QC_FIGURES`; the median/IQR summary when not declared),
``sensitivity_analyses(settings)`` and ``optional_covariates(settings)`` the sensitivity
analyses and the covariates (where recorded) its models add, and
``definition_files(settings)`` the packaged files its preparation reads (e.g. a clock's
coefficients), which the prepare rule declares as inputs.
"""

from first1000.mechanisms import (epigenetic_age, hpa, immune, metabolites, methylation, microbiome,
                                  mitochondria, telomeres)
from first1000.mechanisms import cns, growth

#: mechanism -> (module, the ingest table it reads)
PREPARERS = {
    "hpa": (hpa, "hair_cortisol"),
    "telomeres": (telomeres, "telomere_qpcr"),
    "methylation": (methylation, "methylation_candidates"),
    "metabolites": (metabolites, "metabolites"),
    "immune": (immune, "immune"),
    "mitochondria": (mitochondria, "mtdna_qpcr"),
    "epigenetic_age": (epigenetic_age, "methylation_matrix"),
    "microbiome": (microbiome, "microbiome_counts"),
    "cns": (cns, "cns_measures"),
    "growth": (growth, "child_followup"),
}

#: Mechanisms whose preparation also reads the harmonised participants (clinical ages).
NEEDS_PARTICIPANTS = sorted(m for m, (module, _) in PREPARERS.items() if getattr(module, "NEEDS_PARTICIPANTS", False))


def needs_participants(mechanism: str, settings: dict | None = None) -> bool:
    """Whether the mechanism's preparation reads the harmonised participants, given its
    ``preparation.{mechanism}`` settings (always, for ``NEEDS_PARTICIPANTS``)."""
    module, _ = PREPARERS[mechanism]
    if mechanism in NEEDS_PARTICIPANTS:
        return True
    depends = getattr(module, "needs_participants", None)
    return bool(depends(settings or {})) if depends else False


def definition_files(mechanism: str, settings: dict | None = None) -> list:
    """The packaged files (paths) the mechanism's preparation reads for these settings."""
    module, _ = PREPARERS[mechanism]
    files = getattr(module, "definition_files", None)
    return list(files(settings or {})) if files else []
