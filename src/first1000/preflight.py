"""Pre-flight: the config and every input table checked before any job runs.

:func:`preflight` validates the config (:func:`first1000.config.load_config`, then the
analysis plan's cross-references, :func:`first1000.plan.check_settings`) and reads every
cohort table in memory the way its ingest job will, so a misspelt key, a missing column or
a duplicated ID stops the run with one message and nothing written under ``results/``.
The table checks are cached by what they read (the cohorts' validated mapping files, the
data schema, the key file's path, and the size and modification time of every file), so a
no-op rerun, or an edit of a setting the checks do not read, stays fast.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
from pathlib import Path

from first1000.config import SCHEMA_DIR, load_config
from first1000.plan import check_settings, cohort_tables, site_manifests
from first1000.keys import check_results_key, read_key
from first1000.ingest import WITH_PARTICIPANTS, check_table
from first1000.stages.ingest import cohort_participants, ingest_cohort


def _fingerprint(cfg: dict) -> str:
    files = set()
    for cohort in cfg["cohorts"]:
        files.update(cohort_tables(cfg, cohort).values())
        files.add(cfg["cohorts"][cohort]["mapping"])
    files.add(cfg["harmonised_variables"])
    files.update(_annotation(cfg))
    # the package's schemas by their name in the package (a copy of the project, with its
    # own src/, keeps its cache)
    named = {f: f for f in files}
    named.update({str(p): f"first1000/schemas/{p.relative_to(SCHEMA_DIR)}" for p in Path(SCHEMA_DIR).rglob("*.yaml")})
    # and the packaged reference tables the checks compute with (WHO 2006 growth z-scores,
    # an implausible one is an error; INTERGROWTH-21st birth-weight z-scores)
    from first1000.scoring.birth_outcomes import standard_table_path
    from first1000.scoring.growth import table_files as who_tables
    from first1000.stages.provenance import shown_path

    named.update({str(p): shown_path(p) for p in [*who_tables(), standard_table_path()]})
    stats = _file_stats(sorted(named, key=named.get), named)
    read = {"cohorts": cfg["cohorts"], "data_schema": cfg["_data_schema"], "key_file": cfg["privacy"]["key_file"]}
    return _fingerprint_of(read, stats)


def _file_stats(files, names: dict | None = None) -> list:
    """(name, size, modification time) of each file (None, None when it cannot be read)."""
    stats = []
    for f in files:
        name = (names or {}).get(f, f)
        try:
            st = os.stat(f)
            stats.append((name, st.st_size, st.st_mtime_ns))
        except OSError:
            stats.append((name, None, None))
    return stats


@functools.cache
def _software() -> str:
    """The software the checks ran with, first1000's code digest included: a pulled change of
    the checks (or of pandas, which parses the tables) within one version number kept the
    cached pass of unchanged tables."""
    from first1000.stages.provenance import software_trigger

    return software_trigger()


def _fingerprint_of(read: dict, stats: list = ()) -> str:
    blob = json.dumps([_software(), read, list(stats)], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


#: Weight in bytes-equivalent of the tables besides the heaviest (bytes times the format's cost,
#: :func:`_check_weight`) from which the tables are checked in parallel: below it, starting a
#: process (~1 s of imports) costs more than it saves. The heaviest table is left out: the
#: others can only be checked beside it, and a Parquet matrix's check already reads with a
#: second thread (450,000 CpGs x 500 beside the demo's small tables: 4.1-4.3 s in two
#: processes, 3.6-3.8 s in one; the demo at 10,000 participants, 361 MiB-equivalent besides
#: its heaviest table: 5.7 -> 4.2 s in two, #19). The demo at 1,000 participants: 36 MiB.
PARALLEL_WEIGHT = 128 << 20


def _annotation(cfg: dict) -> list[str]:
    """The array annotation the config names (``epigenome_wide.annotation``), if any."""
    path = cfg.get("epigenome_wide", {}).get("annotation")
    return [path] if path else []


def check_annotation(cfg: dict) -> None:
    """The array annotation, read as the EWAS jobs read it (one CpG per row, positions)."""
    from first1000.io.methylation import read_annotation

    for path in _annotation(cfg):
        read_annotation(path)


#: Where the traceback of a pre-flight check that failed unexpectedly goes (not results/).
FAILURE_LOG = "logs/first1000-preflight.log"


def unexpected_failure(exc: BaseException, log: str = FAILURE_LOG) -> str:
    """The one message for a pre-flight check that failed for a reason first1000 has no
    check for (a bug), as :func:`first1000.stages.run` gives it for a job: the traceback's
    frames and the exception's type, not its message (which may quote the data the check
    was reading, e.g. pandas' messages), go to ``log``; the message says where."""
    from first1000.stages import _trace_without_values

    path = Path(log)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(_trace_without_values(exc) + "\n", encoding="utf-8")
        where = f"; the traceback is in {log}"
    except OSError:
        where = ""
    return (f"first1000: error: the pre-flight check failed unexpectedly ({type(exc).__name__}){where}. first1000 "
            "has no check for what caused it: please report it with that log (it holds no participant values).")


def preflight_workers(cores: int | None) -> int:
    """Processes for the tables' check: Snakemake's --cores (1 when not given, as on a
    cluster with --jobs), at most the CPUs this process may run on (its affinity; a
    container's CPU quota is not seen)."""
    try:
        available = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not on Linux
        available = os.cpu_count() or 1
    return max(1, min(int(cores or 1), available))


def _participants(cohort: str, mapping: dict, data_schema: dict, key: bytes):
    """A cohort's participants and ID map (cohort ID -> pseudonym), for its tables' checks."""
    participants, _, _, id_map = cohort_participants(cohort, mapping, data_schema, key)
    return participants, id_map


def _check_table(kind: str, mapping: dict, id_map: dict, participants) -> None:
    """One table's check, in a worker process (the table stays there)."""
    check_table(kind, mapping, id_map, participants)


def _file_size(path) -> int:
    """A table's size in bytes (0 when missing: the check names the missing file)."""
    try:
        return os.stat(path).st_size
    except OSError:
        return 0


#: Seconds per byte of a table's check, relative to Parquet's, by suffix (measured at 100,000
#: participants: a text table ~40x; a workbook ~100x read by python-calamine, ~400x when it
#: needs openpyxl, #19): the order of the checks and whether they run in parallel
#: (:data:`PARALLEL_WEIGHT`; a workbook openpyxl reads weighs less than it costs).
_CHECK_COST = {".xlsx": 100.0, ".xlsm": 100.0, ".csv": 40.0, ".tsv": 40.0, ".txt": 40.0}


def _check_weight(spec: dict) -> float:
    """How long a table's check may take (its size times its format's cost), to start the
    longest first."""
    return _file_size(spec["path"]) * _CHECK_COST.get(Path(spec["path"]).suffix.lower(), 1.0)


def _weight_besides_heaviest(cohorts: list) -> float:
    """The check weight of every cohort's tables but the heaviest one."""
    weights = sorted(_check_weight(spec) for _, mapping in cohorts for spec in mapping["tables"].values())
    return sum(weights[:-1])


def check_inputs(cfg: dict, key_file, workers: int = 1) -> None:
    """Every cohort's tables through their ingest, in memory (nothing is written).

    With ``workers`` > 1, at least two tables besides the participants and at least
    PARALLEL_WEIGHT of tables besides the heaviest, they are checked in that many processes
    (:func:`_check_parallel`; 100,000 participants in two cohorts: 117 -> 72 s, #19)."""
    key = read_key(key_file)
    cohorts = [(cohort, spec["_mapping"]) for cohort, spec in cfg["cohorts"].items()]
    tables = sum(len(mapping["tables"]) - 1 for _, mapping in cohorts)
    if workers >= 2 and tables >= 2 and _weight_besides_heaviest(cohorts) >= PARALLEL_WEIGHT:
        from concurrent.futures.process import BrokenProcessPool

        try:
            _check_parallel(cohorts, cfg["_data_schema"], key, workers)
            return
        except BrokenProcessPool:  # a worker died (out of memory?): the check in this process
            pass
    for cohort, mapping in cohorts:
        ingest_cohort(cohort, mapping, cfg["_data_schema"], key)


def _check_parallel(cohorts: list, schema: dict, key: bytes, workers: int) -> None:
    """The check of :func:`check_inputs` in ``workers`` spawned processes: each cohort's
    participants first, then its other tables (those checked against the participants get
    them), the longest first. The error raised is the one the serial check raises: the first
    failure in the serial order (cohort by cohort, participants first, then the tables in
    mapping order), raised as soon as every check before it in that order has passed; the
    workers are then stopped, not waited for."""
    import multiprocessing
    from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait

    serial = []  # the checks in the serial order: ("participants", i) or (kind, i)
    for i, (_, mapping) in enumerate(cohorts):
        serial += [("participants", i)] + [(kind, i) for kind in mapping["tables"] if kind != "participants"]
    outcome: dict = {}  # check -> None (passed) or its exception
    # spawn: a fresh interpreter (Snakemake's process may hold threads and locks a fork copies)
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn"))
    running = {pool.submit(_participants, cohort, mapping, schema, key): ("participants", i)
               for i, (cohort, mapping) in enumerate(cohorts)}
    try:
        position = 0
        while position < len(serial):
            if not running:  # every check submitted is done: the loop below raised or moved on
                raise RuntimeError(f"pre-flight check: {serial[position]} never ran")
            done, _ = wait(running, return_when=FIRST_COMPLETED)
            for future in done:
                check = running.pop(future)
                error = future.exception()
                outcome[check] = error
                if check[0] == "participants" and error is None:
                    i = check[1]
                    mapping = cohorts[i][1]
                    participants, id_map = future.result()
                    for kind in sorted((k for k in mapping["tables"] if k != "participants"),
                                       key=lambda k: -_check_weight(mapping["tables"][k])):
                        people = participants if kind in WITH_PARTICIPANTS else None
                        running[pool.submit(_check_table, kind, mapping, id_map, people)] = (kind, i)
                    del participants, id_map
            while position < len(serial) and serial[position] in outcome:
                if outcome[serial[position]] is not None:
                    raise outcome[serial[position]]
                position += 1
    finally:
        # on an error, running checks are stopped, not awaited (a workbook takes a minute)
        processes = list((getattr(pool, "_processes", None) or {}).values())
        pool.shutdown(wait=False, cancel_futures=True)
        for process in processes:
            if process.is_alive():
                process.terminate()
        for process in processes:
            process.join()


def ingested_tables(cfg: dict) -> list[str]:
    """The ingest jobs' outputs (those that exist carry the key's fingerprint)."""
    files = []
    for cohort in cfg["cohorts"]:
        files.append(f"results/ingest/{cohort}/participants.parquet")
        files += [f"results/ingest/{cohort}/{table}.parquet" for table in cohort_tables(cfg, cohort)
                  if table != "participants"]
    return files


def preflight(config: dict, cache: str | None = None, create_key: bool = True, workers: int = 1) -> dict:
    """Validate the config and all input tables; return the loaded config.

    ``create_key``: create a missing key (first run; never in a job's own process);
    ``workers``: processes for the tables' check (:func:`check_inputs`)."""
    cfg = load_config(config)
    check_settings(cfg)
    if cfg["_mode"] == "sites":
        site_manifests(cfg)  # every export present, in the format, unchanged since it was written
        # every job's process runs this too: the annotation (866,000 rows for EPIC) is read
        # again only when it changed
        fingerprint = _fingerprint_of({"annotation": _file_stats(_annotation(cfg))})
        if not _cached(cache, fingerprint):
            check_annotation(cfg)
            _remember(cache, fingerprint)
        return cfg
    # the ingest jobs' input: made here on the first run (never by a job), and it must be the
    # key the existing ingested tables were pseudonymised with
    cfg["_key_fingerprint"] = check_results_key(cfg["privacy"]["key_file"], ingested_tables(cfg), create=create_key)
    fingerprint = _fingerprint(cfg)
    if _cached(cache, fingerprint):
        return cfg
    check_annotation(cfg)  # quick: before the tables
    check_inputs(cfg, cfg["privacy"]["key_file"], workers)
    _remember(cache, fingerprint)
    return cfg


def _cached(cache: str | None, fingerprint: str) -> bool:
    """Whether the checks passed for ``fingerprint`` (recorded in ``cache``)."""
    if cache and Path(cache).exists():
        try:
            return json.loads(Path(cache).read_text()).get("fingerprint") == fingerprint
        except (OSError, ValueError):
            pass
    return False


def _remember(cache: str | None, fingerprint: str) -> None:
    if cache:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(f"{cache}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"fingerprint": fingerprint}))
        os.replace(tmp, cache)
