"""Summary-statistics exchange between sites: export one cohort's results, import many.

Consortia (PACE, LifeCycle) analyse each cohort where its data live and share only
summary statistics. A run on individual data writes, per cohort, an export folder
``results/export/{cohort}/``:

* ``associations.tsv``: every association model of that cohort (all mechanisms), the
  columns of ``results/associations/{mechanism}.tsv`` without the pooled and meta rows;
* ``mediation.tsv`` and ``mediation_paths.tsv``: that cohort's mediation effects and the
  a, b, c', c paths;
* ``ewas_{exposure}.parquet``: per CpG the coefficient, limma's moderated SE and p, n and
  status (what a per-CpG meta-analysis needs), when the cohort has a methylation matrix;
* ``manifest.json``: format version, the first1000 version, the cohort, the analysis
  (covariates, mechanisms, mediation and EWAS settings, seed) and a SHA-256 of every file.

Nothing in an export is row-level: model estimates, their SEs and the number of
participants per model. A second run whose config lists ``sites`` instead of ``cohorts``
reads the exports (checking every checksum) and meta-analyses them exactly as a run on
individual data meta-analyses its cohorts (:func:`first1000.analysis.associations.combine_cohorts`).
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd

from first1000 import __version__
from first1000.errors import InputTableError
from first1000.io import sha256sum, write_parquet, write_text, write_tsv

FORMAT = "first1000-summary-statistics"
FORMAT_VERSION = 1
EWAS_COLUMNS = ["cpg", "term", "n", "coef", "se_moderated", "p_moderated", "status"]
REQUIRED_ASSOCIATION_COLUMNS = ["cohort", "mechanism", "predictor", "response", "model", "n", "estimate", "se",
                                "ci_low", "ci_high", "p", "family", "covariates", "unit", "status"]


def analysis_summary(cfg: dict) -> dict:
    """The settings that define what the exported numbers mean (written to the manifest)."""
    return {
        "seed": cfg["seed"],
        "covariates": cfg["covariates"],
        "mechanisms": cfg["mechanisms"],
        "mediation": cfg["mediation"],
        "epigenome_wide": {k: v for k, v in cfg["epigenome_wide"].items() if k not in ("annotation", "shards")},
    }


def export_cohort(cohort: str, label: str, analysis: dict, associations: list, mediation: list,
                  mediation_paths: list, ewas: dict, out_dir) -> dict:
    """Write one cohort's export folder; return its manifest.

    ``analysis``: :func:`analysis_summary` of the config; ``associations``, ``mediation``
    and ``mediation_paths`` are paths of the per-mechanism result tables (all cohorts);
    ``ewas`` maps exposure -> that cohort's EWAS parquet.
    """
    out_dir = Path(out_dir)
    files = {}

    def rows_of(paths):
        frames = [pd.read_csv(p, sep="\t", keep_default_na=True) for p in paths]
        frames = [f[f.cohort == cohort] for f in frames if len(f)]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    for name, paths in (("associations.tsv", associations), ("mediation.tsv", mediation),
                        ("mediation_paths.tsv", mediation_paths)):
        table = rows_of(paths)
        if name == "associations.tsv":
            table = table.drop(columns=["q", "k", "i2", "tau2", "q_het", "q_het_p", "direction"], errors="ignore")
        write_tsv(table, out_dir / name)
        files[name] = sha256sum(out_dir / name)
    for exposure, path in sorted(ewas.items()):
        name = f"ewas_{exposure}.parquet"
        write_parquet(pd.read_parquet(path, columns=EWAS_COLUMNS), out_dir / name)
        files[name] = sha256sum(out_dir / name)
    manifest = {
        "format": FORMAT, "format_version": FORMAT_VERSION, "first1000_version": __version__,
        "cohort": cohort, "label": label, "analysis": analysis, "ewas_exposures": sorted(ewas), "files": files,
    }
    write_text(json.dumps(manifest, indent=2, sort_keys=True, default=str) + "\n", out_dir / "manifest.json")
    return manifest


def read_manifest(site: str, path) -> dict:
    """The manifest of one site's export, checked (format, files present, checksums)."""
    folder = Path(path)
    manifest_path = folder / "manifest.json"
    if not manifest_path.is_file():
        raise InputTableError(
            f"site `{site}`: {manifest_path} not found; `sites.{site}.path` must be a cohort's export folder "
            "(results/export/{cohort}/ of that site's run).")
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise InputTableError(f"site `{site}`: {manifest_path} is not valid JSON ({exc}); export it again.") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise InputTableError(f"site `{site}`: {manifest_path} is not a first1000 summary-statistics manifest.")
    if manifest.get("format_version") != FORMAT_VERSION:
        raise InputTableError(
            f"site `{site}`: {manifest_path} has export format version {manifest.get('format_version')}, this "
            f"first1000 reads version {FORMAT_VERSION}; export it again with first1000 {__version__}.")
    for name, digest in sorted(manifest.get("files", {}).items()):
        file = folder / name
        if not file.is_file():
            raise InputTableError(f"site `{site}`: {file} is listed in {manifest_path} but missing; copy the "
                                  "whole export folder.")
        if sha256sum(file) != digest:
            raise InputTableError(
                f"site `{site}`: {file} does not match its SHA-256 in {manifest_path}: it changed after the "
                "export was written. Ask the site for its export again (never edit exported files).")
    return manifest


def site_associations(site: str, file) -> pd.DataFrame:
    """A site's association rows (its export's associations.tsv), relabelled with the site
    name used in this run."""
    table = pd.read_csv(file, sep="\t")
    missing = [c for c in REQUIRED_ASSOCIATION_COLUMNS if c not in table]
    if missing:
        raise InputTableError(f"site `{site}`: {file} lacks column(s) {', '.join(missing)}; export it again.")
    return table.assign(cohort=site)


def site_table(site: str, file) -> pd.DataFrame:
    """One table of a site's export (mediation.tsv, mediation_paths.tsv), relabelled."""
    file = Path(file)
    table = pd.read_csv(file, sep="\t") if file.stat().st_size > 1 else pd.DataFrame()
    return table.assign(cohort=site) if len(table) else table
