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

import hashlib
import json
import os
from pathlib import Path

from first1000 import __version__
from first1000.config import SCHEMA_DIR, load_config
from first1000.plan import check_settings, cohort_tables, site_manifests
from first1000.keys import check_results_key, read_key
from first1000.ingest import check_table
from first1000.stages.ingest import cohort_participants, ingest_cohort


def _fingerprint(cfg: dict) -> str:
    files = set()
    for cohort in cfg["cohorts"]:
        files.update(cohort_tables(cfg, cohort).values())
        files.add(cfg["cohorts"][cohort]["mapping"])
    files.add(cfg["harmonised_variables"])
    # the package's schemas by their name in the package (a copy of the project, with its
    # own src/, keeps its cache)
    named = {f: f for f in files}
    named.update({str(p): f"first1000/schemas/{p.relative_to(SCHEMA_DIR)}" for p in Path(SCHEMA_DIR).rglob("*.yaml")})
    stats = []
    for f in sorted(named, key=named.get):
        try:
            st = os.stat(f)
            stats.append((named[f], st.st_size, st.st_mtime_ns))
        except OSError:
            stats.append((named[f], None, None))
    read = {"cohorts": cfg["cohorts"], "data_schema": cfg["_data_schema"], "key_file": cfg["privacy"]["key_file"]}
    blob = json.dumps([__version__, read, stats], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


#: Input bytes (every cohort's tables) from which the cohorts are checked in parallel: below
#: it, starting a process (~1 s of imports) costs more than it saves.
PARALLEL_BYTES = 32 << 20


def preflight_workers(cores: int | None) -> int:
    """Processes for the tables' check: Snakemake's --cores (1 when not given), at most the
    CPUs this process may run on."""
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


def _input_bytes(cfg: dict) -> int:
    total = 0
    for cohort in cfg["cohorts"]:
        for path in cohort_tables(cfg, cohort).values():
            try:
                total += os.stat(path).st_size
            except OSError:
                pass  # the check names the missing file
    return total


def check_inputs(cfg: dict, key_file, workers: int = 1) -> None:
    """Every cohort's tables through their ingest, in memory (nothing is written).

    With ``workers`` > 1 and at least PARALLEL_BYTES of tables, the tables are checked in
    that many processes: the cohorts' participants first, then each other table with its
    cohort's participants (100,000 participants in two cohorts: 117 -> ~70 s, #19). The
    error reported is the one the serial check reports: the first, in the serial order
    (cohort by cohort, participants first, tables in mapping order), of those that fail."""
    key = read_key(key_file)
    schema = cfg["_data_schema"]
    cohorts = [(cohort, spec["_mapping"]) for cohort, spec in cfg["cohorts"].items()]
    if workers < 2 or _input_bytes(cfg) < PARALLEL_BYTES:
        for cohort, mapping in cohorts:
            ingest_cohort(cohort, mapping, schema, key)
        return
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed

    # spawn: a fresh interpreter (Snakemake's process may hold threads and locks a fork copies)
    with ProcessPoolExecutor(max_workers=workers, mp_context=multiprocessing.get_context("spawn")) as pool:
        people = [pool.submit(_participants, cohort, mapping, schema, key) for cohort, mapping in cohorts]
        checks: dict = {}
        try:
            # a cohort's tables as soon as its participants are in, the longest first
            for future in as_completed(people):
                if future.exception() is not None:
                    continue
                i = people.index(future)
                mapping = cohorts[i][1]
                participants, id_map = future.result()
                for kind in sorted((k for k in mapping["tables"] if k != "participants"),
                                   key=lambda k: -_check_weight(mapping["tables"][k])):
                    checks[i, kind] = pool.submit(_check_table, kind, mapping, id_map, participants)
                del participants, id_map
            for i, (_, mapping) in enumerate(cohorts):  # the serial order
                people[i].result()
                for kind in mapping["tables"]:
                    if kind != "participants":
                        checks[i, kind].result()
        finally:
            for future in people + list(checks.values()):
                future.cancel()


#: Seconds per byte of a table's check, relative to Parquet's, by suffix (measured at 100,000
#: participants: a workbook ~400x, a text table ~40x, #19); only the order of the checks.
_CHECK_COST = {".xlsx": 400.0, ".xlsm": 400.0, ".csv": 40.0, ".tsv": 40.0, ".txt": 40.0}


def _check_weight(spec: dict) -> float:
    """How long a table's check may take, to start the longest first."""
    try:
        size = os.stat(spec["path"]).st_size
    except OSError:
        return 0.0
    return size * _CHECK_COST.get(Path(spec["path"]).suffix.lower(), 1.0)


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
        return cfg
    # the ingest jobs' input: made here on the first run (never by a job), and it must be the
    # key the existing ingested tables were pseudonymised with
    cfg["_key_fingerprint"] = check_results_key(cfg["privacy"]["key_file"], ingested_tables(cfg), create=create_key)
    fingerprint = _fingerprint(cfg)
    if cache and Path(cache).exists():
        try:
            if json.loads(Path(cache).read_text()).get("fingerprint") == fingerprint:
                return cfg
        except (OSError, ValueError):
            pass
    check_inputs(cfg, cfg["privacy"]["key_file"], workers)
    if cache:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(f"{cache}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"fingerprint": fingerprint}))
        os.replace(tmp, cache)
    return cfg
