"""Provenance (workflow/rules/provenance.smk): the config as run, a SHA-256 of every input,
the software versions, the seed and the git commit: what a reviewer needs to trace every
number of the report.

The job's params hold the whole validated config (defaults filled in, keys in the
schema's order), so it reruns whenever anything in the config changes, and its inputs are
every file the run reads, so it reruns whenever one of them changes.
"""

from __future__ import annotations

import datetime
import json
import platform
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pandas as pd
import yaml

from first1000.io import sha256sum, write_text, write_tsv
from first1000.stages import LOG

PACKAGES = ["first1000", "snakemake", "pandas", "numpy", "scipy", "statsmodels", "scikit-learn", "pingouin",
            "matplotlib", "pyarrow", "openpyxl", "python-calamine", "python-docx", "PyYAML", "jsonschema"]


def config_as_run(cfg: dict) -> dict:
    """The validated config without the loader's private keys (``_data_schema``, each
    cohort's loaded ``_mapping``) and without the empty section of the other mode."""
    clean = {k: v for k, v in cfg.items() if not k.startswith("_") and not (k in ("cohorts", "sites") and v == {})}
    if "cohorts" in clean:
        clean["cohorts"] = {k: {kk: vv for kk, vv in v.items() if not kk.startswith("_")}
                            for k, v in clean["cohorts"].items()}
    return clean


def git_commit(directory) -> str:
    """The commit of the workflow's sources, or "unknown" outside a git checkout."""
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True, check=True, cwd=directory)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def git_dirty(directory) -> bool | None:
    """Whether the workflow's tracked files (outside config/, results/, logs/ and
    .snakemake/) have uncommitted changes: the commit alone then does not say what ran.
    None outside git. An edited config/ is not counted: the provenance holds the config as
    run and the checksums of its mapping files and data schema, and an analyst edits it
    (every run of an edited config said "uncommitted changes", so the flag could not tell
    it from an edit of the code)."""
    try:
        # from the checkout's top: the Snakefile may be workflow/Snakefile (``-s``), and the
        # package under src/ is a source too
        top = subprocess.run(["git", "rev-parse", "--show-toplevel"], capture_output=True, text=True, check=True,
                             cwd=directory).stdout.strip()
        out = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no", "--", ".", ":!config",
                              ":!results", ":!logs", ":!.snakemake"], capture_output=True, text=True, check=True, cwd=top)
        return bool(out.stdout.strip())
    except (OSError, subprocess.CalledProcessError):
        return None


#: The files of first1000's package that :func:`code_digest` covers: its modules and the
#: table and config schemas.
CODE_SUFFIXES = (".py", ".yaml", ".yml", ".json")


def code_digest(package: Path | None = None) -> str:
    """The first 12 hex digits of a SHA-256 over first1000's code (paths and contents, in
    path order): its modules and table schemas, not bytecode caches and not the packaged
    reference tables under ``data/`` (each is an input of the jobs that read it, in the
    provenance's checksums: a changed WHO table reruns those jobs only). Its version number
    stays the same across the commits of a development checkout, so without this an
    updated package reran no job, and the results of the old code stood beside a
    provenance naming the new commit."""
    import hashlib

    root = Path(package) if package else Path(__file__).resolve().parents[1]
    digest = hashlib.sha256()
    for path in sorted(root.rglob("*")):
        parts = path.relative_to(root).parts
        # what runs or validates only: an editor's swap file, a .DS_Store or a tool's cache
        # in the package changed the digest, a param of every rule, and so reran every job
        if (path.suffix not in CODE_SUFFIXES or parts[0] == "data" or "__pycache__" in parts
                or any(part.startswith(".") for part in parts) or not path.is_file()):
            continue
        digest.update(path.relative_to(root).as_posix().encode() + b"\0" + path.read_bytes() + b"\0")
    return digest.hexdigest()[:12]


def software_versions() -> list[dict]:
    """The version of each package of :data:`PACKAGES` ("not installed" when absent) and of
    Python, as ``{"package", "version"}`` rows; first1000's with its :func:`code_digest`."""
    found = []
    for name in PACKAGES:
        try:
            version = metadata.version(name)
            if name == "first1000":
                version += f" (code {code_digest()})"
            found.append(dict(package=name, version=version))
        except metadata.PackageNotFoundError:
            found.append(dict(package=name, version="not installed"))
    found.append(dict(package="python", version=sys.version.split()[0]))
    return found


def machine_rows() -> list[dict]:
    """The platform and the BLAS libraries of the process that calls it (the provenance
    job), as rows of ``versions.tsv``: library, version and the CPU kernels OpenBLAS chose
    for this processor, which may change the last digits of a result. numpy's and scipy's
    are loaded first, so the rows do not depend on what the process had imported. Not in
    :func:`software_trigger`: Snakemake's main process (a cluster's login node) is not
    where the jobs compute, and a library's version follows its package's."""
    import numpy  # noqa: F401 - loads its BLAS
    import scipy.linalg  # noqa: F401 - loads scipy's own

    from first1000.stats.blas import _controller

    libc = " ".join(platform.libc_ver()).strip() or "libc unknown"
    rows = [dict(package="platform", version=f"{platform.system()} {platform.machine()}, {libc}")]
    controller = _controller()
    if controller is None:  # pragma: no cover - threadpoolctl ships with scikit-learn
        return rows + [dict(package="BLAS", version="unknown (threadpoolctl not installed)")]
    found = {}
    for lib in controller.lib_controllers:
        if lib.user_api != "blas":
            continue
        folder = Path(lib.filepath).parent.name  # numpy.libs/..., scipy.libs/... (pip wheels)
        owner = folder.removesuffix(".libs") if folder in ("numpy.libs", "scipy.libs") else Path(lib.filepath).name
        arch = getattr(lib, "architecture", None)
        found[owner] = f"{lib.internal_api} {lib.version or 'version unknown'}" + (f" ({arch} kernels)" if arch else "")
    return rows + ([dict(package=f"BLAS of {owner}", version=found[owner]) for owner in sorted(found)]
                   or [dict(package="BLAS", version="none found")])


def software_trigger() -> str:
    """The software versions in one line: a param of every rule, so that after an upgrade
    (or a downgrade) of first1000 (or any change of its code), Python or any package of
    :data:`PACKAGES` every job runs again and the results are what a run from scratch with that software gives, with the
    versions the provenance lists (Snakemake reruns a job whose params changed; with
    ``--sdm conda`` its software-env trigger does the same for the jobs' environment)."""
    return ", ".join(f"{row['package']} {row['version']}" for row in software_versions())


def provenance_view_params(cfg: dict) -> dict:
    """Nothing from the config: the page shows the provenance files, its inputs."""
    return {}


def provenance_view(*, config_out, checksums, versions, run_info, output):
    """The provenance as a page of the report (``output``): the commit and whether the
    sources had uncommitted changes, seed and FDR, software versions, the config as run and
    the SHA-256 of every input. Every value is HTML-escaped."""
    import html

    run = json.loads(Path(run_info).read_text(encoding="utf-8"))
    dirty = {True: "yes: the sources had uncommitted changes, so the commit alone does not say what ran",
             False: "no", None: "unknown (not a git checkout)"}[run.get("git_dirty")]

    def table(path) -> str:
        frame = pd.read_csv(path, sep="\t", dtype=str, keep_default_na=False)
        head = "".join(f"<th>{html.escape(c)}</th>" for c in frame.columns)
        rows = "".join("<tr>" + "".join(f"<td>{html.escape(v)}</td>" for v in row) + "</tr>"
                       for row in frame.itertuples(index=False))
        return f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>"

    facts = [("git commit", run.get("git_commit")), ("uncommitted changes", dirty), ("seed", run.get("seed")),
             ("FDR level", run.get("fdr")),
             ("pseudonym key (fingerprint)", run.get("key_fingerprint") or "none (no individual data)")]
    page = (
        "<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>Provenance</title><style>"
        "body{font-family:sans-serif;font-size:14px;margin:1em}table{border-collapse:collapse}"
        "td,th{border:1px solid #ccc;padding:2px 6px;text-align:left}pre{background:#f6f6f6;padding:1em}"
        "</style></head><body><h1>Provenance of this run</h1><table>"
        + "".join(f"<tr><th>{k}</th><td>{html.escape(str(v))}</td></tr>" for k, v in facts)
        + "</table><h2>Software versions</h2>" + table(versions)
        + "<h2>Config as run</h2><pre>" + html.escape(Path(config_out).read_text(encoding="utf-8")) + "</pre>"
        + "<h2>Input files (SHA-256)</h2>" + table(checksums) + "</body></html>\n")
    write_text(page, output)


def shown_path(path) -> str:
    """A file's name in the checksums: a file shipped in the first1000 package (the LMS
    table, a clock's coefficients) as ``first1000/<path in the package>``, the same
    wherever the package is installed; any other file as the run names it."""
    package = Path(__file__).resolve().parents[1]
    resolved = Path(path).resolve()
    if package in resolved.parents:
        return "first1000/" + resolved.relative_to(package).as_posix()
    return str(path)


def provenance_params(cfg: dict, commit: str, dirty: bool | None = None) -> dict:
    """The config as run, the commit, and the pseudonym key's fingerprint (an HMAC of a fixed
    text under the key, which does not reveal it: which key made the pseudonyms)."""
    return {"config": config_as_run(cfg), "git_commit": commit, "git_dirty": dirty,
            "key_fingerprint": cfg.get("_key_fingerprint")}


def provenance(*, config, git_commit, files, config_out, checksums, versions, run_info, git_dirty=None,
               key_fingerprint=None):
    """``files``: every input file of the run."""
    files = [files] if isinstance(files, str) else files
    write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True), config_out)
    rows = [dict(file=shown_path(p), bytes=Path(p).stat().st_size, sha256=sha256sum(p)) for p in sorted(set(files))]
    rows.sort(key=lambda row: row["file"])
    write_tsv(pd.DataFrame(rows), checksums)
    write_tsv(pd.DataFrame(software_versions() + machine_rows()), versions)
    # The date of the run goes to the log, not to results/: the same config, inputs and
    # software give the same bytes whenever they run.
    LOG.info("provenance written on %s", datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"))
    write_text(json.dumps({"seed": config.get("seed"), "fdr": config.get("fdr"), "git_commit": git_commit,
                           "git_dirty": git_dirty, "key_fingerprint": key_fingerprint}, indent=2) + "\n", run_info)


# --------------------------------------------------------------------------- methods section
#: Harmonised outcomes whose z-scores and classes come from the INTERGROWTH-21st standards.
_INTERGROWTH = ("birth_weight_z", "sga", "lga")


def methods_params(cfg: dict) -> dict:
    """What the methods section describes: the analysed mechanisms and every setting that
    chooses a sentence or a reference (:func:`first1000.report.methods.methods_markdown`)."""
    from first1000.labels import DETECTED_PATTERN
    from first1000.plan import (analysed_mechanisms, ewas_cohorts, ewas_covariates, mechanism_covariates,
                                optional_covariates, study_labels)

    analysed = analysed_mechanisms(cfg)
    mechanisms = {m: {**{k: cfg["mechanisms"][m].get(k, []) for k in ("biomarkers", "exposures", "outcomes")},
                      "label": cfg["mechanisms"][m].get("label", m), "covariates": mechanism_covariates(cfg, m),
                      "optional_covariates": optional_covariates(cfg, m)}
                  for m in cfg["mechanisms"] if m in analysed}
    used = set(cfg["covariates"])
    for spec in mechanisms.values():
        used |= set(spec["exposures"]) | set(spec["outcomes"]) | set(spec["covariates"])
        used |= set(spec["optional_covariates"])
    ewas_base, ewas_extra = ewas_covariates(cfg)
    used |= set(ewas_base) | set(ewas_extra)
    for path in [*cfg["mediation"]["paths"], *cfg["mediation"].get("high_dimensional", [])]:
        used |= {path["exposure"], path["outcome"]}
    used |= set(cfg["epigenome_wide"]["exposures"])
    schema = cfg["_data_schema"]
    logistic = any(schema.get(o, {}).get("type") == "binary" for spec in mechanisms.values() for o in spec["outcomes"])
    logistic |= any(DETECTED_PATTERN.fullmatch(b) for spec in mechanisms.values() for b in spec["biomarkers"])
    instruments = sorted({rule.get("instrument") for cohort in cfg["cohorts"].values()
                          for rule in cohort["_mapping"].get("variables", {}).values()
                          if isinstance(rule, dict) and rule.get("operation") == "questionnaire_score"} - {None})
    return {"settings": {
        "mode": cfg["_mode"], "cohorts": list(study_labels(cfg).values()), "mechanisms": mechanisms, "covariates": cfg["covariates"],
        "fdr": cfg["fdr"], "seed": cfg["seed"], "meta_analysis": cfg["meta_analysis"],
        "min_cell_size": cfg["privacy"]["min_cell_size"],
        "missing_data": cfg["missing_data"], "mediation": cfg["mediation"], "associations": cfg["associations"],
        "effect_modification": cfg["effect_modification"],
        "epigenome_wide": {**cfg["epigenome_wide"], "cohorts": ewas_cohorts(cfg), "covariates": ewas_base,
                           "extra_covariates": ewas_extra},
        "preparation": {m: cfg["preparation"].get(m) or {} for m in mechanisms},
        "ses_index": {**cfg["ses_index"], "used": "ses_index" in used},
        "longitudinal": {m: {**spec, "label": cfg["mechanisms"][m].get("label", m)}
                         for m, spec in cfg.get("longitudinal", {}).items()
                         if m in mechanisms and cfg["_mode"] != "sites"},  # not run on summary statistics
        "instruments": instruments, "intergrowth": bool(used & set(_INTERGROWTH)), "logistic": bool(logistic),
        "births_from": cfg["analysis_population"]["birth_outcomes_from_gestational_age_days"],
        "labels": _labels(cfg, used | set(cfg["ses_index"]["indicators"])
                          | {e for spec in cfg.get("longitudinal", {}).values() for e in spec["exposures"]})}}


def _labels(cfg: dict, names) -> dict:
    """variable -> its label in lower case unless it starts with an abbreviation (a sentence's words)."""
    from first1000.labels import label_and_unit

    out = {}
    for name in sorted(names):
        label, _ = label_and_unit(name, cfg["_data_schema"])
        out[name] = label if label[:2].isupper() else label[:1].lower() + label[1:]
    return out


def methods(*, settings, versions, output):
    """``results/methods.md`` from the run's settings and ``versions`` (the provenance's
    software versions)."""
    from first1000.report.methods import methods_markdown

    table = pd.read_csv(versions, sep="\t", dtype=str)
    write_text(methods_markdown(settings, dict(zip(table.package, table.version))), output)
