"""Stage 1 (workflow/rules/ingest.smk): each cohort table read, checked, pseudonymised and
written as standard Parquet; the participants table harmonised by its mapping file."""

from __future__ import annotations


import pandas as pd

from first1000 import ingest
from first1000.harmonise.mapping import LMS_OPERATIONS, apply_mapping, report_table
from first1000.io import write_parquet, write_tsv
from first1000.keys import METADATA_KEY, job_key
from first1000.keys import key_fingerprint as fingerprint_of
from first1000.privacy import protect, protect_harmonisation, pseudonymise
from first1000.scoring.growth import table_files as who_tables
from first1000.stages import DEFINITIONS, LOG, workflow_path


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
    a CSV, TSV or Parquet methylation matrix is checked batch by batch (its CpG count is
    returned)."""
    participants, report, categories, id_map = cohort_participants(cohort, mapping, data_schema, key)
    return {"participants": participants, "harmonisation": report, "categories": categories,
            **ingest.check_tables(mapping, id_map, participants)}


def lms_table() -> str:
    """The shipped INTERGROWTH-21st LMS table (:func:`first1000.stages.workflow_path`)."""
    # here, not at import: the module imports scipy (0.15 s in each of ~20 table ingests, #19)
    from first1000.scoring.birth_outcomes import standard_table_path

    return workflow_path(standard_table_path())


def uses_lms_table(mapping: dict) -> bool:
    return any(rule.get("operation") in LMS_OPERATIONS for rule in mapping["variables"].values())


# --------------------------------------------------------------------------- participants
def ingest_participants_params(cfg: dict, cohort: str) -> dict:
    mapping = dict(cfg["cohorts"][cohort]["_mapping"])
    if uses_lms_table(mapping):
        mapping["_lms_table"] = lms_table()
    return {"cohort": cohort, "mapping": mapping, "data_schema": cfg["_data_schema"],
            "min_cell_size": cfg["privacy"]["min_cell_size"],
            "birth_outcomes_from": cfg["analysis_population"]["birth_outcomes_from_gestational_age_days"],
            "key_fingerprint": cfg.get("_key_fingerprint")}


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


def population_note(report: pd.DataFrame, variables: pd.DataFrame, from_days: float, min_cell: int) -> pd.DataFrame:
    """The harmonisation report with the number of participants whose gestational age is
    below ``from_days`` (pregnancy losses, config ``analysis_population``) in the note of
    ``gestational_age``, when there are any: shown as ``<min_cell`` when below it, or as a
    lower bound when the births (the other participants with a gestational age, a count
    shown nowhere) are below it (:func:`first1000.privacy.protect`)."""
    if "gestational_age" not in variables:
        return report
    ga = pd.to_numeric(variables["gestational_age"], errors="coerce")
    losses = int((ga < from_days).sum())
    if not losses:
        return report
    births = int(ga.notna().sum()) - losses
    shown = protect({"losses": losses, "births": births}, [(["losses", "births"], losses + births)], min_cell,
                    hidden=["births"])
    note = (f"pregnancy losses (gestational age < {from_days:g} days): {shown.get('losses', losses)}; their birth "
            "outcomes are left out of the outcome models (analysis_population)")
    report = report.copy()
    rows = report.variable == "gestational_age"
    report.loc[rows, "note"] = [f"{old}; {note}" if isinstance(old, str) and old else note
                                for old in report.loc[rows, "note"]]
    return report


def ingest_participants(*, cohort, mapping, data_schema, min_cell_size, table, mapping_file, key, participants,
                        harmonisation, categories, birth_outcomes_from=None, key_fingerprint=None):
    """``table``, ``mapping_file``: the files ``mapping`` (validated) was loaded from;
    ``birth_outcomes_from``: see :func:`population_note` (None: no count)."""
    del table, mapping_file  # read through the validated mapping, which names them
    secret = job_key(key, key_fingerprint)
    variables, report, cats, _ = cohort_participants(cohort, mapping, data_schema, secret)
    if birth_outcomes_from is not None:
        report = population_note(report, variables, birth_outcomes_from, min_cell_size)
    write_parquet(variables, participants, metadata={METADATA_KEY: fingerprint_of(secret).encode()})
    LOG.info("cohort %s: %d participants, %d harmonised variables, %d of them with rejected values (counts in "
             "the harmonisation report, small ones suppressed)", cohort, len(variables), len(report),
             int((report.n_rejected > 0).sum()))
    report, cats = protect_harmonisation(report, cats, min_cell_size)
    write_tsv(report, harmonisation)
    write_tsv(cats, categories)


# --------------------------------------------------------------------------- other tables
#: The layout of an ingested methylation matrix, a param of its ingest job so that results
#: ingested by an earlier version (a float32 copy of every matrix) are ingested again.
MATRIX_LAYOUT = "2: Parquet read in place, text copied as float64"


def ingest_table_params(cfg: dict, cohort: str, table: str) -> dict:
    mapping = cfg["cohorts"][cohort]["_mapping"]
    params = {"cohort": cohort, "kind": table, "spec": mapping["tables"][table],
              "participants_spec": mapping["tables"]["participants"], "missing_codes": mapping["missing_codes"],
              "key_fingerprint": cfg.get("_key_fingerprint")}
    if table == "methylation_matrix":
        params["matrix_layout"] = MATRIX_LAYOUT
    return params


def ingest_table_inputs(cfg: dict, cohort: str, table: str) -> dict:
    """The raw table, the raw participants table (its IDs), the key, the mapping file; for
    tables checked against clinical values (hair cut dates, the child's sex and gestation),
    the ingested participants; for the child follow-up, the WHO 2006 tables of its z-scores
    (``definitions``: packaged files, in the provenance's checksums)."""
    mapping = cfg["cohorts"][cohort]["_mapping"]
    inputs = {"table": mapping["tables"][table]["path"], "participants_table": mapping["tables"]["participants"]["path"],
              "mapping_file": cfg["cohorts"][cohort]["mapping"], "key": cfg["privacy"]["key_file"]}
    if table in ingest.WITH_PARTICIPANTS:
        inputs["participants"] = f"results/ingest/{cohort}/participants.parquet"
    if table == "child_followup":
        inputs[DEFINITIONS] = [workflow_path(path) for path in who_tables()]
    return inputs


def ingest_table(*, cohort, kind, spec, participants_spec, missing_codes, table, participants_table, mapping_file,
                 key, output, participants=None, key_fingerprint=None, matrix_layout=None):
    """One standard table of a cohort (``kind``), its IDs matched to the participants'
    (``matrix_layout``: :data:`MATRIX_LAYOUT`, a rerun trigger only)."""
    del table, participants_table, mapping_file, matrix_layout  # named by the specs; a trigger
    people, ids = ingest.read_participants({"tables": {"participants": participants_spec},
                                            "missing_codes": missing_codes})
    del people
    secret = job_key(key, key_fingerprint)
    id_map = dict(zip(ids, pseudonymise(ids, cohort, secret)))
    if kind == "methylation_matrix" and ingest.references_matrix(spec):  # the file itself is read by the jobs
        n_cpgs = ingest.reference_matrix(spec, id_map, output, metadata={METADATA_KEY: fingerprint_of(secret).encode()})
        LOG.info("cohort %s, methylation matrix (Parquet, read in place): %d CpGs, sample columns mapped to "
                 "pseudonyms", cohort, n_cpgs)
        return
    if kind == "methylation_matrix" and ingest.streams_matrix(spec):  # bounded memory, batch by batch
        n_cpgs = ingest.stream_matrix(spec, id_map, output, missing_codes=missing_codes,
                                      metadata={METADATA_KEY: fingerprint_of(secret).encode()})
        LOG.info("cohort %s, methylation matrix: %d CpGs standardised", cohort, n_cpgs)
        return
    clinical = pd.read_parquet(participants) if participants else None
    frame = ingest.ingest_standard(kind, spec, missing_codes, id_map, clinical)
    write_parquet(frame, output, metadata={METADATA_KEY: fingerprint_of(secret).encode()})
    LOG.info("cohort %s, table %s: %d rows x %d columns standardised", cohort, kind, *frame.shape)
