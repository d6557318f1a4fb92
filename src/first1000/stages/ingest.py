"""Stage 1 (workflow/rules/ingest.smk): each cohort table read, checked, pseudonymised and
written as standard Parquet; the participants table harmonised by its mapping file."""

from __future__ import annotations


import pandas as pd

from first1000 import ingest
from first1000.harmonise.mapping import LMS_OPERATIONS, apply_mapping, report_table
from first1000.io import write_parquet, write_tsv
from first1000.privacy import load_or_create_key, pseudonymise, suppress_small_counts
from first1000.scoring.birth_outcomes import standard_table_path
from first1000.stages import LOG, workflow_path


def cohort_participants(cohort: str, mapping: dict, data_schema: dict, key: bytes):
    """The participants table: pseudonymised, every harmonised variable, and the report.

    Returns ``(participants, report, categories, id_map)``; ``id_map`` (cohort ID ->
    pseudonym) stays in memory and is never written.
    """
    table, ids = ingest.read_participants(mapping)
    pseudo = pseudonymise(ids, cohort, key)
    variables, reports, categories = apply_mapping(table, mapping, data_schema)
    variables.insert(0, "cohort", cohort)
    variables.insert(0, "pseudo_id", pseudo.to_numpy())
    categories.insert(0, "cohort", cohort)
    return (variables.reset_index(drop=True), report_table(reports, cohort), categories,
            dict(zip(ids, pseudo)))


def ingest_cohort(cohort: str, mapping: dict, data_schema: dict, key: bytes) -> dict:
    """Read, check and standardise every table of one cohort, in memory (the pre-flight
    check). Returns ``{"participants", "harmonisation", "categories", <table kind>...}``;
    a Parquet methylation matrix is only checked by its header (its CpG count)."""
    participants, report, categories, id_map = cohort_participants(cohort, mapping, data_schema, key)
    return {"participants": participants, "harmonisation": report, "categories": categories,
            **ingest.check_tables(mapping, id_map, participants)}


def lms_table() -> str:
    """The shipped INTERGROWTH-21st LMS table (:func:`first1000.stages.workflow_path`)."""
    return workflow_path(standard_table_path())


def uses_lms_table(mapping: dict) -> bool:
    return any(rule.get("operation") in LMS_OPERATIONS for rule in mapping["variables"].values())


# --------------------------------------------------------------------------- participants
def ingest_participants_params(cfg: dict, cohort: str) -> dict:
    mapping = dict(cfg["cohorts"][cohort]["_mapping"])
    if uses_lms_table(mapping):
        mapping["_lms_table"] = lms_table()
    return {"cohort": cohort, "mapping": mapping, "data_schema": cfg["_data_schema"],
            "min_cell_size": cfg["privacy"]["min_cell_size"]}


def ingest_participants_inputs(cfg: dict, cohort: str) -> dict:
    """The raw participants table, the mapping file (messages locate their line in it), the
    key, and the definitions whose validated content the params carry (the data schema,
    the mapping's category files, the LMS table of birth-weight z-scores)."""
    mapping = cfg["cohorts"][cohort]["_mapping"]
    definitions = [cfg["harmonised_variables"]]
    definitions += [rule["map_file"] for rule in mapping["variables"].values() if "map_file" in rule]
    if uses_lms_table(mapping):
        definitions.append(lms_table())
    return {"table": mapping["tables"]["participants"]["path"], "mapping_file": cfg["cohorts"][cohort]["mapping"],
            "key": cfg["privacy"]["key_file"], "definitions": sorted(set(definitions))}


def ingest_participants(*, cohort, mapping, data_schema, min_cell_size, table, mapping_file, key, participants,
                        harmonisation, categories):
    """``table``, ``mapping_file``: the files ``mapping`` (validated) was loaded from."""
    del table, mapping_file  # read through the validated mapping, which names them
    variables, report, cats, _ = cohort_participants(cohort, mapping, data_schema, load_or_create_key(key))
    write_parquet(variables, participants)
    LOG.info("cohort %s: %d participants, %d harmonised variables, %d values rejected", cohort,
             len(variables), len(report), int(report.n_rejected.sum()))
    write_tsv(suppress_small_counts(report, min_cell_size), harmonisation)
    write_tsv(suppress_small_counts(cats, min_cell_size), categories)


# --------------------------------------------------------------------------- other tables
def ingest_table_params(cfg: dict, cohort: str, table: str) -> dict:
    mapping = cfg["cohorts"][cohort]["_mapping"]
    return {"cohort": cohort, "kind": table, "spec": mapping["tables"][table],
            "participants_spec": mapping["tables"]["participants"], "missing_codes": mapping["missing_codes"]}


def ingest_table_inputs(cfg: dict, cohort: str, table: str) -> dict:
    """The raw table, the raw participants table (its IDs), the key, the mapping file; for
    tables checked against clinical values (hair cut dates), the ingested participants."""
    mapping = cfg["cohorts"][cohort]["_mapping"]
    inputs = {"table": mapping["tables"][table]["path"], "participants_table": mapping["tables"]["participants"]["path"],
              "mapping_file": cfg["cohorts"][cohort]["mapping"], "key": cfg["privacy"]["key_file"]}
    if table in ingest.WITH_PARTICIPANTS:
        inputs["participants"] = f"results/ingest/{cohort}/participants.parquet"
    return inputs


def ingest_table(*, cohort, kind, spec, participants_spec, missing_codes, table, participants_table, mapping_file,
                 key, output, participants=None):
    """One standard table of a cohort (``kind``), its IDs matched to the participants'."""
    del table, participants_table, mapping_file  # named by the specs
    people, ids = ingest.read_participants({"tables": {"participants": participants_spec},
                                            "missing_codes": missing_codes})
    del people
    id_map = dict(zip(ids, pseudonymise(ids, cohort, load_or_create_key(key))))
    if kind == "methylation_matrix" and str(spec["path"]).lower().endswith(".parquet"):
        n_cpgs = ingest.stream_matrix(spec, id_map, output)  # bounded memory, batch by batch
        LOG.info("cohort %s, methylation matrix: %d CpGs standardised", cohort, n_cpgs)
        return
    clinical = pd.read_parquet(participants) if participants else None
    frame = ingest.ingest_standard(kind, spec, missing_codes, id_map, clinical)
    write_parquet(frame, output)
    LOG.info("cohort %s, table %s: %d rows x %d columns standardised", cohort, kind, *frame.shape)
