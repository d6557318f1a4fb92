"""What the Snakemake workflow needs at parse time, as plain functions.

:func:`preflight` validates the config and every input table before any job runs, so a
misspelt key, a missing column or a duplicated ID stops the run with one message and
nothing written under ``results/``. Input checks are cached by file size and
modification time, so a no-op rerun stays fast.
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

from first1000 import __version__
from first1000.config import SCHEMA_DIR, load_config
from first1000.mechanisms import PREPARERS

CONDA_ENV = "../envs/first1000.yaml"  # relative to workflow/rules


def cohort_tables(cfg: dict, cohort: str) -> dict[str, str]:
    """Standard table -> path, for one cohort."""
    return {name: spec["path"] for name, spec in cfg["cohorts"][cohort]["_mapping"]["tables"].items()}


def site_manifests(cfg: dict) -> dict[str, dict]:
    """Site -> its checked export manifest (summary-statistics-only runs)."""
    from first1000.io.summary_statistics import read_manifest

    if "_manifests" not in cfg:  # read (and checksum) once per loaded config
        cfg["_manifests"] = {site: read_manifest(site, spec["path"]) for site, spec in sorted(cfg["sites"].items())}
    return cfg["_manifests"]


def site_file(cfg: dict, site: str, name: str) -> str:
    return str(Path(cfg["sites"][site]["path"]) / name)


def analysed_mechanisms(cfg: dict) -> dict[str, dict[str, str]]:
    """Mechanism -> {cohort: ingested table path} for the cohorts that provide its table.

    In a summary-statistics-only run: mechanism -> {site: exported associations} for the
    sites whose export analysed that mechanism.
    """
    out = {}
    if cfg["_mode"] == "sites":
        manifests = site_manifests(cfg)
        for mechanism in cfg["mechanisms"]:
            sites = {s: site_file(cfg, s, "associations.tsv") for s, m in manifests.items()
                     if mechanism in m["analysis"]["mechanisms"]}
            if sites:
                out[mechanism] = sites
        return out
    for mechanism in cfg["mechanisms"]:
        _, table = PREPARERS[mechanism]
        cohorts = {c: f"results/ingest/{c}/{table}.parquet" for c in sorted(cfg["cohorts"])
                   if table in cohort_tables(cfg, c)}
        if cohorts:
            out[mechanism] = cohorts
    return out


def ewas_cohorts(cfg: dict) -> list[str]:
    """Cohorts with a methylation matrix (the epigenome-wide analysis runs in each)."""
    if not cfg["epigenome_wide"]["exposures"]:
        return []
    if cfg["_mode"] == "sites":
        wanted = set(cfg["epigenome_wide"]["exposures"])
        return [s for s, m in site_manifests(cfg).items() if wanted & set(m["ewas_exposures"])]
    return [c for c in sorted(cfg["cohorts"]) if "methylation_matrix" in cohort_tables(cfg, c)]


def mediation_paths(cfg: dict, mechanism: str) -> list[dict]:
    """The declared paths analysed with this mechanism: those whose first mediator is one of
    its biomarkers (a second mediator may come from another mechanism, e.g. cortisol ->
    NR3C1 methylation)."""
    biomarkers = set(cfg["mechanisms"][mechanism]["biomarkers"])
    return [p for p in cfg["mediation"]["paths"] if mediators_of(p)[0] in biomarkers]


def mediation_mechanisms(cfg: dict, mechanism: str) -> list[str]:
    """This mechanism and those of the other mediators of its paths (prepared tables needed)."""
    needed = [mechanism]
    for path in mediation_paths(cfg, mechanism):
        for mediator in mediators_of(path)[1:]:
            needed += [m for m, spec in cfg["mechanisms"].items() if mediator in spec["biomarkers"]]
    return list(dict.fromkeys(needed))


def mediators_of(path: dict) -> list[str]:
    """The mediator(s) of a declared path (one name, or a list of parallel mediators)."""
    return list(path["mediator"]) if isinstance(path["mediator"], list) else [path["mediator"]]


def site_inputs(cfg: dict) -> list[str]:
    """Every file of every site's export (their checksums go into the provenance)."""
    files = []
    for site, manifest in site_manifests(cfg).items():
        files.append(site_file(cfg, site, "manifest.json"))
        files.extend(site_file(cfg, site, name) for name in sorted(manifest["files"]))
    return files


def _fingerprint(cfg: dict) -> str:
    files = set()
    for cohort in cfg["cohorts"]:
        files.update(cohort_tables(cfg, cohort).values())
        files.add(cfg["cohorts"][cohort]["mapping"])
    files.add(cfg["harmonised_variables"])
    files.update(str(p) for p in Path(SCHEMA_DIR).rglob("*.yaml"))
    stats = []
    for f in sorted(files):
        try:
            st = os.stat(f)
            stats.append((f, st.st_size, st.st_mtime_ns))
        except OSError:
            stats.append((f, None, None))
    clean = {k: v for k, v in cfg.items() if not k.startswith("_")}
    blob = json.dumps([__version__, clean, stats], sort_keys=True, default=str)
    return hashlib.sha256(blob.encode()).hexdigest()


def preflight(config: dict, cache: str | None = None) -> dict:
    """Validate the config and all input tables; return the loaded config."""
    from first1000.stages import check_inputs

    cfg = load_config(config)
    if cfg["_mode"] == "sites":
        site_manifests(cfg)  # every export present, in the format, unchanged since it was written
        return cfg
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
