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
from first1000.stages.ingest import ingest_cohort


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


def check_inputs(cfg: dict, key_file) -> None:
    """Every cohort's tables through their ingest, in memory (nothing is written)."""
    key = read_key(key_file)
    for cohort, spec in cfg["cohorts"].items():
        ingest_cohort(cohort, spec["_mapping"], cfg["_data_schema"], key)


def ingested_tables(cfg: dict) -> list[str]:
    """The ingest jobs' outputs (those that exist carry the key's fingerprint)."""
    files = []
    for cohort in cfg["cohorts"]:
        files.append(f"results/ingest/{cohort}/participants.parquet")
        files += [f"results/ingest/{cohort}/{table}.parquet" for table in cohort_tables(cfg, cohort)
                  if table != "participants"]
    return files


def preflight(config: dict, cache: str | None = None, create_key: bool = True) -> dict:
    """Validate the config and all input tables; return the loaded config.

    ``create_key``: create a missing key (first run; never in a job's own process)."""
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
    check_inputs(cfg, cfg["privacy"]["key_file"])
    if cache:
        Path(cache).parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(f"{cache}.{os.getpid()}.tmp")
        tmp.write_text(json.dumps({"fingerprint": fingerprint}))
        os.replace(tmp, cache)
    return cfg
