"""A summary-statistics-only run (workflow/rules/sites.smk): the sites' exports (config
``sites``) meta-analysed as a run on individual data meta-analyses its cohorts."""

from __future__ import annotations

import re

import pandas as pd

from first1000.analysis.associations import ASSOCIATION_COLUMNS, combine_cohorts
from first1000.analysis.mediation import combine_mediation
from first1000.io import write_tsv
from first1000.io.summary_statistics import site_associations, site_table
from first1000.plan import mediation_paths, mediators_of, site_file
from first1000.stages import LOG


def _sites(cfg: dict) -> list[str]:
    return sorted(cfg["sites"])


def import_associations_params(cfg: dict, mechanism: str) -> dict:
    return {"mechanism": mechanism, "sites": _sites(cfg), "meta": cfg["meta_analysis"]}


def import_associations_inputs(cfg: dict, mechanism: str) -> dict:
    """Each site's exported associations (in the order of the params' ``sites``) and its
    manifest (checked, with every file's checksum, before any job runs)."""
    return {"associations": [site_file(cfg, s, "associations.tsv") for s in _sites(cfg)],
            "manifests": [site_file(cfg, s, "manifest.json") for s in _sites(cfg)]}


def import_associations(*, mechanism, sites, meta, associations, manifests, output):
    """Meta-analysis of the sites' exported association rows of one mechanism."""
    del manifests
    associations = [associations] if isinstance(associations, str) else associations
    frames = [site_associations(site, path) for site, path in zip(sites, associations)]
    rows = pd.concat(frames, ignore_index=True)
    rows = rows[rows.mechanism == mechanism]
    extra = [c for c in rows if c not in ASSOCIATION_COLUMNS and rows[c].isna().all()]
    rows = rows.drop(columns=extra)  # columns of other mechanisms' models (e.g. odds_ratio)
    result = combine_cohorts(rows, meta) if len(rows) else rows
    write_tsv(result, output)
    LOG.info("%s: %d rows from %d sites", mechanism, len(result), len(frames))


def import_mediation_params(cfg: dict, mechanism: str) -> dict:
    declared = [{"exposure": p["exposure"], "mediators": mediators_of(p), "outcome": p["outcome"]}
                for p in mediation_paths(cfg, mechanism)]
    return {"sites": _sites(cfg), "biomarkers": list(cfg["mechanisms"][mechanism]["biomarkers"]),
            "declared": declared, "meta": cfg["meta_analysis"]}


def import_mediation_inputs(cfg: dict, mechanism: str) -> dict:
    return {"site_effects": [site_file(cfg, s, "mediation.tsv") for s in _sites(cfg)],
            "site_paths": [site_file(cfg, s, "mediation_paths.tsv") for s in _sites(cfg)],
            "manifests": [site_file(cfg, s, "manifest.json") for s in _sites(cfg)]}


def import_mediation(*, sites, biomarkers, declared, meta, site_effects, site_paths, manifests, effects, paths):
    del manifests

    def listed(files):
        return [files] if isinstance(files, str) else list(files)

    eff = pd.concat([e for e in (site_table(s, f) for s, f in zip(sites, listed(site_effects))) if len(e)],
                    ignore_index=True)
    pth = pd.concat([p for p in (site_table(s, f) for s, f in zip(sites, listed(site_paths))) if len(p)],
                    ignore_index=True)
    wanted = [(d["exposure"], set(d["mediators"]), d["outcome"]) for d in declared]

    def belongs(row) -> bool:  # a path's rows: its mediators one by one, jointly (m1+m2) or in sequence (m1>m2)
        parts = set(re.split(r"[+>]", str(row.mediator)))
        return any(row.exposure == x and row.outcome == y and parts <= ms for x, ms, y in wanted)

    eff = combine_mediation(eff[[belongs(r) for r in eff.itertuples()]], meta)
    write_tsv(eff, effects)
    write_tsv(pth[pth.mediator.isin(biomarkers)], paths)
