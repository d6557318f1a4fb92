"""Per-mechanism preparation: raw measurements -> analysis-ready biomarkers + QC.

Each module exposes ``prepare(tables, settings) -> (biomarkers, qc)`` where ``tables``
maps cohort -> that cohort's standardised ingest table, ``biomarkers`` has one row per
participant (``pseudo_id``, ``cohort`` and one column per biomarker) and ``qc`` is an
aggregate table (no row-level values) for the report.
"""

from first1000.mechanisms import hpa, immune, metabolites, methylation, telomeres

#: mechanism -> (module, the ingest table it reads)
PREPARERS = {
    "hpa": (hpa, "hair_cortisol"),
    "telomeres": (telomeres, "telomere_qpcr"),
    "methylation": (methylation, "methylation_candidates"),
    "metabolites": (metabolites, "metabolites"),
    "immune": (immune, "immune"),
}
