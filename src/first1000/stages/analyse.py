"""Stages 4-5 (workflow/rules/analyse.smk): associations, sensitivity analyses and mediation
per mechanism (per cohort, pooled and meta-analysed), and the descriptive tables its
figures draw."""

from __future__ import annotations

import pandas as pd

from first1000.analysis import associations as assoc
from first1000.analysis import descriptive
from first1000.config import POOLED
from first1000.io import write_text, write_tsv
from first1000.labels import effect_unit, label_and_unit, variables
from first1000.plan import (
    mechanism_covariates,
    mediation_mechanisms,
    mediation_paths,
    mediators_of,
    optional_covariates,
    sensitivity_analyses,
)
from first1000.privacy import suppress_small_counts
from first1000.stages import LOG

#: Figure source data are written with every digit (they round-trip exactly).
EXACT = "%.17g"


def _models_spec(spec: dict) -> dict:
    """The part of a mechanism's config its models use."""
    return {"biomarkers": list(spec["biomarkers"]), "exposures": list(spec["exposures"]),
            "outcomes": list(spec.get("outcomes", []))}


def _variables(cfg: dict, names) -> dict:
    return variables(names, cfg["_data_schema"], cfg["_declared_biomarkers"])


def _mechanism_names(cfg: dict, mechanism: str) -> list[str]:
    spec = cfg["mechanisms"][mechanism]
    return [*spec["exposures"], *spec["biomarkers"], *spec.get("outcomes", [])]


def analysis_table(participants, biomarkers) -> pd.DataFrame:
    """The harmonised participants joined with one or more prepared tables (the first
    mechanism's biomarkers, then the columns of the others not yet in the table)."""
    biomarkers = [biomarkers] if isinstance(biomarkers, str) else list(biomarkers)
    table = assoc.analysis_table(pd.read_parquet(participants), pd.read_parquet(biomarkers[0]))
    for other in biomarkers[1:]:
        extra = pd.read_parquet(other).drop(columns="cohort")
        table = table.merge(extra[["pseudo_id", *[c for c in extra.columns if c not in table]]], on="pseudo_id",
                            how="left", validate="one_to_one")
    return table


# --------------------------------------------------------------------------- associations
def associate_params(cfg: dict, mechanism: str) -> dict:
    return {"mechanism": mechanism, "spec": _models_spec(cfg["mechanisms"][mechanism]),
            "covariates": mechanism_covariates(cfg, mechanism),
            "optional_covariates": optional_covariates(cfg, mechanism),
            "variables": _variables(cfg, _mechanism_names(cfg, mechanism)), "meta": cfg["meta_analysis"],
            "missing_data": cfg["missing_data"], "seed": cfg["seed"],
            "birth_outcomes_from": birth_outcomes_from(cfg), "min_cell_size": cfg["privacy"]["min_cell_size"],
            "firth": cfg["associations"]["firth"]}


def birth_outcomes_from(cfg: dict) -> float:
    """Gestational age (days) from which birth outcomes are analysed (config ``analysis_population``)."""
    return cfg["analysis_population"]["birth_outcomes_from_gestational_age_days"]


def associate(*, mechanism, spec, covariates, optional_covariates, variables, meta, missing_data, seed, participants,
              biomarkers, output, min_cell_size, firth, birth_outcomes_from=None):
    table = analysis_table(participants, biomarkers)
    result = assoc.associations(table, mechanism, spec, covariates, variables, meta, missing_data=missing_data,
                                seed=seed, optional_covariates=optional_covariates,
                                birth_outcomes_from=birth_outcomes_from, min_cell=min_cell_size, firth=firth)
    write_tsv(result, output)
    LOG.info("%s: %d models, %d not fitted (%s)", mechanism, len(result), int((result.status != "ok").sum()),
             missing_data["method"].replace("_", " "))


def associate_sensitivity_params(cfg: dict, mechanism: str) -> dict:
    return {**associate_params(cfg, mechanism), "analyses": sensitivity_analyses(cfg, mechanism)}


def associate_sensitivity(*, mechanism, spec, covariates, optional_covariates, variables, meta, missing_data, seed,
                          analyses, participants, biomarkers, associations, output, min_cell_size, firth,
                          birth_outcomes_from=None):
    """Association models re-fitted under the mechanism's sensitivity analyses."""
    table = analysis_table(participants, biomarkers)
    main = pd.read_csv(associations, sep="\t")
    result = assoc.sensitivity_associations(
        table, main, analyses, mechanism=mechanism, spec=spec, covariates=covariates, data_schema=variables,
        meta=meta, missing_data=missing_data, seed=seed, optional_covariates=optional_covariates,
        birth_outcomes_from=birth_outcomes_from, min_cell=min_cell_size, firth=firth)
    write_tsv(result, output)
    LOG.info("%s: %d sensitivity analyses, %d models", mechanism, len(analyses), len(result))


# --------------------------------------------------------------------------- mediation
def mediate_params(cfg: dict, mechanism: str) -> dict:
    paths = mediation_paths(cfg, mechanism)
    names = []
    for path in paths:
        names += [path["exposure"], *mediators_of(path), path["outcome"]]
    # the paths are passed apart; the high-dimensional paths are the mediate_highdim jobs' (an
    # edit of theirs reran every bootstrap job, the longest of a run)
    settings = {k: v for k, v in cfg["mediation"].items() if k not in ("paths", "high_dimensional")}
    return {"mechanism": mechanism, "mediation_paths": paths, "covariates": list(cfg["covariates"]), "settings": settings,
            "seed": cfg["seed"], "variables": _variables(cfg, names), "meta": cfg["meta_analysis"],
            "missing_data": cfg["missing_data"], "birth_outcomes_from": birth_outcomes_from(cfg),
            "min_cell_size": cfg["privacy"]["min_cell_size"]}


def mediate_inputs(cfg: dict, mechanism: str) -> dict:
    """The harmonised participants and the prepared tables of the mechanism's paths (its
    own first, then those of any second mediator from another mechanism)."""
    return {"participants": "results/harmonised/participants.parquet",
            "biomarkers": [f"results/prepared/{m}.parquet" for m in mediation_mechanisms(cfg, mechanism)]}


def mediate(*, mechanism, mediation_paths, covariates, settings, seed, variables, meta, missing_data, participants,
            biomarkers, effects, paths, sensitivity, min_cell_size, birth_outcomes_from=None):
    """``mediation_paths``: the declared paths; ``paths``: the table of their regression paths."""
    from first1000.analysis.mediation import mediation

    table = analysis_table(participants, biomarkers)
    eff, pth, sens = mediation(table, mediation_paths, covariates, settings, seed, variables, meta=meta,
                               missing_data=missing_data, mechanism=mechanism,
                               birth_outcomes_from=birth_outcomes_from, min_cell=min_cell_size)
    write_tsv(eff, effects)
    write_tsv(pth, paths)
    write_tsv(sens, sensitivity)
    LOG.info("%s: %d mediation paths, %d effect rows", mechanism, len(mediation_paths), len(eff))


# --------------------------------------------------------------------------- figure source data
def describe_params(cfg: dict, mechanism: str) -> dict:
    from first1000.stages.modification import missingness_params

    spec = cfg["mechanisms"][mechanism]
    missing = {k: v for k, v in missingness_params(cfg, mechanism).items() if k != "mechanism"}
    return {"mechanism": mechanism, "biomarkers": list(spec["biomarkers"]), "exposures": list(spec["exposures"]),
            "covariates": mechanism_covariates(cfg, mechanism), "optional_covariates": optional_covariates(cfg, mechanism),
            "min_cell_size": cfg["privacy"]["min_cell_size"], "missingness_settings": missing}


def scatter_biomarker(assoc_table: pd.DataFrame, exposure: str, biomarkers: list[str]) -> str:
    """The biomarker a mechanism's scatter plot of ``exposure`` shows: the one most strongly
    associated with it (smallest p of the pooled, else meta, else any cohort's model)."""
    rows = assoc_table[(assoc_table.predictor == exposure) & assoc_table.response.isin(biomarkers)
                       & (assoc_table.status == "ok")]
    chosen = next((c for c in ("pooled", "meta") if (rows.cohort == c).any()), None)
    rows = rows[rows.cohort == chosen] if chosen else rows
    return rows.sort_values(["p", "response"]).response.iloc[0] if len(rows) else biomarkers[0]


def scatter_covariates(data: pd.DataFrame, exposure: str, biomarker: str, covariates: list[str]) -> list[str]:
    """A cohort's covariates of the scatter plot's line: those of its association model
    (the study's, and the mechanism's own that the cohort recorded, :func:`cohort_subsets`),
    but a factor the association absorbs by demeaning (30 levels or more, e.g. the array
    plate of a large cohort; :func:`first1000.stats.regression.absorbed_factor`), whose
    dummy columns the line's plain least squares would have to carry."""
    from first1000.stats.regression import absorbed_factor

    complete = data[list(dict.fromkeys([exposure, biomarker, *covariates]))].dropna()
    absorbed = absorbed_factor(complete, covariates) if covariates else None
    return [c for c in covariates if c != absorbed]


def describe(*, mechanism, biomarkers, exposures, covariates, optional_covariates, min_cell_size, missingness_settings,
             participants, prepared, associations, fits, correlations, missing):
    """The tables behind the mechanism's scatter plots (``fits``: per exposure, its most
    strongly associated biomarker, binned and adjusted per cohort for the covariates of
    that cohort's association model, :func:`scatter_covariates`) and correlation heatmap
    (``correlations``, all cohorts together), and its missing-data table (``missing``,
    :func:`first1000.stages.modification.missingness`); aggregates only. One job, as each
    takes about a second."""
    from first1000.stages.modification import missingness

    missingness(mechanism=mechanism, **missingness_settings, participants=participants, biomarkers=prepared,
                output=missing)
    table = analysis_table(participants, prepared)
    assoc_table = pd.read_csv(associations, sep="\t")
    frames = []
    for exposure in exposures:
        biomarker = scatter_biomarker(assoc_table, exposure, biomarkers)
        for cohort, data, covs in assoc.cohort_subsets(table, covariates, optional_covariates):
            if cohort != POOLED:
                used = scatter_covariates(data, exposure, biomarker, covs)
                frames.append(descriptive.adjusted_fit_table(data, exposure, biomarker, used, min_cell=min_cell_size))
    write_tsv(suppress_small_counts(pd.concat(frames, ignore_index=True), min_cell_size), fits, float_format=EXACT)
    corr = descriptive.biomarker_correlations(table, biomarkers, min_n=min_cell_size)
    write_tsv(suppress_small_counts(corr, min_cell_size), correlations, float_format=EXACT)
    LOG.info("%s: adjusted fits of %d exposures, correlations of %d biomarkers", mechanism, len(exposures),
             len(biomarkers))


# --------------------------------------------------------------------------- high-dimensional mediation
#: The candidate set of a high-dimensional path when it names none: the epigenome-wide CpGs.
HIGHDIM_DEFAULT = "methylation"


def highdim_paths(cfg: dict, mechanism: str) -> list[dict]:
    """The declared high-dimensional paths through ``mechanism``'s candidates."""
    return [dict(p) for p in cfg["mediation"]["high_dimensional"]
            if p.get("mediators", HIGHDIM_DEFAULT) == mechanism]


def highdim_mechanisms(cfg: dict) -> list[str]:
    """Mechanisms with a high-dimensional path that runs here: ``methylation`` (the
    epigenome-wide matrices, where the EWAS runs) or a mechanism some cohort provides."""
    from first1000.plan import analysed_mechanisms, ewas_cohorts

    if cfg["_mode"] == "sites":
        return []
    wanted = dict.fromkeys(p.get("mediators", HIGHDIM_DEFAULT) for p in cfg["mediation"]["high_dimensional"])
    analysed = analysed_mechanisms(cfg)
    return [m for m in wanted if (ewas_cohorts(cfg) if m == HIGHDIM_DEFAULT else m in analysed)]


def mediate_highdim_params(cfg: dict, mechanism: str) -> dict:
    from first1000.plan import analysed_mechanisms, ewas_cohorts, ewas_covariates

    paths = highdim_paths(cfg, mechanism)
    if mechanism == HIGHDIM_DEFAULT:
        covariates, extra = ewas_covariates(cfg)  # as the EWAS adjusts (cell types and batch where given)
        cohorts, candidates = ewas_cohorts(cfg), []
    else:
        covariates, extra = mechanism_covariates(cfg, mechanism), []
        cohorts, candidates = sorted(analysed_mechanisms(cfg)[mechanism]), list(cfg["mechanisms"][mechanism]["biomarkers"])
    names = [v for p in paths for v in (p["exposure"], p["outcome"])]
    found = {n: label_and_unit(n, cfg["_data_schema"], cfg["_declared_biomarkers"]) for n in [*names, *candidates]}
    units = {f"{p['exposure']}--{p['outcome']}": effect_unit(p["outcome"], p["exposure"], "gaussian",
                                                             cfg["_data_schema"]) for p in paths}
    return {"mechanism": mechanism, "paths": paths, "cohorts": cohorts, "covariates": covariates,
            "extra_covariates": extra, "candidates": candidates, "chunk_cpgs": cfg["epigenome_wide"]["chunk_cpgs"],
            "labels": {n: lab for n, (lab, _) in found.items()}, "units": units, "fdr": cfg["fdr"],
            "min_cell_size": cfg["privacy"]["min_cell_size"]}


def mediate_highdim_inputs(cfg: dict, mechanism: str) -> dict:
    """The harmonised participants, the prepared tables of the mechanisms whose biomarkers
    are the paths' outcomes and the candidates: each cohort's ingested methylation matrix
    (``methylation``) or the mechanism's prepared table."""
    from first1000.plan import ewas_cohorts, matrix_sources

    outcomes = {p["outcome"] for p in highdim_paths(cfg, mechanism)}
    prepared = [f"results/prepared/{m}.parquet" for m, spec in cfg["mechanisms"].items()
                if outcomes & set(spec["biomarkers"]) or (m == mechanism != HIGHDIM_DEFAULT)]
    matrices = ([f"results/ingest/{c}/methylation_matrix.parquet" for c in ewas_cohorts(cfg)]
                if mechanism == HIGHDIM_DEFAULT else [])
    sources = matrix_sources(cfg, ewas_cohorts(cfg)) if mechanism == HIGHDIM_DEFAULT else []
    return {"participants": "results/harmonised/participants.parquet", "matrices": matrices, "prepared": prepared,
            "sources": sources}


def highdim_models_note(rows: pd.DataFrame) -> str:
    """A HIMA figure's caption lines (``<exposure>--<outcome>.models.rst``, in the form of the
    mechanisms' figures' notes): per cohort n, the candidates screened, the covariates (and
    latent factors), or why the path was not analysed; from its result rows (the protected
    table: a path on fewer than privacy.min_cell_size participants has no estimate)."""
    from first1000.report.captions import adjusted_for, escape, literal, note_lines

    bullets = []
    for cohort, part in rows.groupby("cohort", sort=False):
        first = part.iloc[0]
        if first.status != "ok":
            bullets.append(f"{literal(cohort)}: n = {int(first.n):,}; {escape(first.status)}")
            continue
        screened = f"{int(first.n_candidates):,} candidates"
        if pd.notna(first.n_incomplete) and int(first.n_incomplete):
            screened += f" ({int(first.n_incomplete):,} left out as incomplete or redundant)"
        bullets.append(f"{literal(cohort)}: n = {int(first.n):,}; {screened}, the {int(first.top):,} with the smallest "
                       f"screening p kept for the penalised model; {adjusted_for(str(first.covariates))}.")
    return note_lines(bullets or ["no cohort has this path."])


def mediate_highdim(*, mechanism, paths, cohorts, covariates, extra_covariates, candidates, chunk_cpgs, labels, units,
                    fdr, min_cell_size, participants, matrices, prepared, output, figures, sources=()):
    """HIMA per declared path and cohort (``matrices`` in the order of ``cohorts``, or the
    mechanism's ``candidates`` biomarkers), and a figure per path of the mediators it finds
    (``figures``: a folder)."""
    from pathlib import Path

    from first1000.analysis.highdim import HIGHDIM_COLUMNS, highdim_mediation, highdim_mediation_biomarkers
    from first1000.figures import save_figure
    from first1000.figures.highdim import highdim_figure
    from first1000.stages.ewas import cohort_covariates

    people = pd.read_parquet(participants)
    for path in [prepared] if isinstance(prepared, str) else list(prepared):
        extra = pd.read_parquet(path).drop(columns="cohort")
        people = people.merge(extra[["pseudo_id", *[c for c in extra.columns if c not in people]]], on="pseudo_id",
                              how="left", validate="one_to_one")
    from first1000.io.methylation import open_matrix

    sources = [sources] if isinstance(sources, str) else list(sources)
    matrices = [open_matrix(m, sources) for m in ([matrices] if isinstance(matrices, str) else matrices)]
    frames = []
    for path in paths:
        k = int(path.get("latent_factors", 0))
        for index, cohort in enumerate(cohorts):
            used = cohort_covariates(people, cohort, covariates, extra_covariates)
            if mechanism == HIGHDIM_DEFAULT:
                frames.append(highdim_mediation(people, matrices[index], cohort, path["exposure"], path["outcome"],
                                                used, top=path.get("top"), chunk_cpgs=chunk_cpgs, latent_factors=k,
                                                min_cell=min_cell_size))
            else:
                frames.append(highdim_mediation_biomarkers(people, mechanism, candidates, cohort, path["exposure"],
                                                           path["outcome"], used, top=path.get("top"),
                                                           latent_factors=k, min_cell=min_cell_size))
    table = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=HIGHDIM_COLUMNS)
    write_tsv(table, output)
    folder = Path(figures)
    folder.mkdir(parents=True, exist_ok=True)
    what = "CpG" if mechanism == HIGHDIM_DEFAULT else "biomarker"
    for path in paths:
        rows = table[(table.exposure == path["exposure"]) & (table.outcome == path["outcome"])]
        stem = folder / f"{path['exposure']}--{path['outcome']}"
        fig = highdim_figure(rows, exposure=path["exposure"], outcome=path["outcome"], labels=labels,
                             unit=units.get(f"{path['exposure']}--{path['outcome']}"), q_level=fdr, what=what)
        save_figure(fig, f"{stem}.png", f"{stem}.svg")
        write_text(highdim_models_note(rows), f"{stem}.models.rst")
    LOG.info("high-dimensional mediation through %s: %d paths x %d cohorts, %d mediators at q < %g", mechanism,
             len(paths), len(cohorts), int((table.q < fdr).sum()) if len(table) else 0, fdr)
