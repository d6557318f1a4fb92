"""Stage 3 (workflow/rules/prepare.smk): each mechanism's raw measurements become
analysis-ready biomarkers, as its field prepares them, with an aggregate QC table."""

from __future__ import annotations

import pandas as pd

from first1000.io import write_parquet, write_tsv
from first1000.mechanisms import PREPARERS, definition_files, needs_participants
from first1000.plan import analysed_mechanisms, matrix_sources
from first1000.privacy import protect_quantiles, suppress_small_counts
from first1000.stages import DEFINITIONS, LOG, workflow_path

HARMONISED = "results/harmonised/participants.parquet"


def prepare_params(cfg: dict, mechanism: str) -> dict:
    return {"mechanism": mechanism, "cohorts": sorted(analysed_mechanisms(cfg)[mechanism]),
            "settings": cfg["preparation"].get(mechanism, {}), "min_cell_size": cfg["privacy"]["min_cell_size"]}


def prepare_inputs(cfg: dict, mechanism: str) -> dict:
    """The mechanism's ingested table of each cohort that has it (in the order of the
    params' ``cohorts``) and, for mechanisms that need clinical values (gestational age
    for clock acceleration; hair segments dated with ``preparation.hpa.timing:
    gestation``), the harmonised participants; ``definitions``: the packaged files its
    preparation reads (a clock's coefficients)."""
    tables = analysed_mechanisms(cfg)[mechanism]
    settings = cfg["preparation"].get(mechanism, {})
    inputs = {"tables": [tables[c] for c in sorted(tables)]}
    if PREPARERS[mechanism][1] == "methylation_matrix":  # a Parquet matrix is read in place
        inputs["sources"] = matrix_sources(cfg, sorted(tables))
    if needs_participants(mechanism, settings):
        inputs["participants"] = HARMONISED
    definitions = [workflow_path(path) for path in definition_files(mechanism, settings)]
    if definitions:
        inputs[DEFINITIONS] = definitions
    return inputs


def prepare(*, mechanism, cohorts, settings, min_cell_size, tables, output, qc, participants=None, sources=()):
    """``tables``: the ingested table of each of ``cohorts``, in that order (a methylation
    matrix opened with its ``sources``, :func:`first1000.io.methylation.open_matrix`)."""
    module, kind = PREPARERS[mechanism]
    read = getattr(module, "read_table", None)
    tables = [tables] if isinstance(tables, str) else list(tables)
    if kind == "methylation_matrix":
        from first1000.io.methylation import open_matrix

        tables = [open_matrix(path, [sources] if isinstance(sources, str) else sources) for path in tables]
    frames = {cohort: read(path, settings) if read else pd.read_parquet(path) for cohort, path in zip(cohorts, tables)}
    extra = {"participants": pd.read_parquet(participants)} if participants else {}
    biomarkers, qc_table = module.prepare(frames, settings, **extra)
    write_parquet(biomarkers, output)
    LOG.info("%s: %d participants with %d biomarkers", mechanism, len(biomarkers), biomarkers.shape[1] - 2)
    write_tsv(suppress_small_counts(protect_quantiles(qc_table, min_cell_size), min_cell_size), qc)
