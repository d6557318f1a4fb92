"""Stage 6 (workflow/rules/figures.smk): the figures of each mechanism, the model filled in,
and the searchable table views of the report. Every figure job reads result tables only;
labels, units and titles come through its params."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from first1000.config import META, POOLED
from first1000.io import write_text, write_tsv
from first1000.labels import figure_labels, label_and_unit
from first1000.mechanisms import PREPARERS
from first1000.plan import (mechanism_label, mediation_paths, mediators_of, modification_models, sensitivity_analyses,
                            study_labels)
from first1000.report.captions import models_note


#: The natural-effect decomposition drawn in the figures: TE = PNDE + TNIE (VanderWeele 2015).
FIGURE_EFFECTS = {"te": "total", "pnde": "direct", "tnie": "indirect", "pm": "proportion_mediated"}


# --------------------------------------------------------------------------- which rows
#: The level of results a summary figure (volcano, scatter, mediation diagram, sensitivity
#: curve, stratified forest plot, the model) shows, in order of preference: the pooled
#: analysis of all cohorts' individual data, else the meta-analysis of the cohorts (a
#: summary-statistics run), else the first cohort (a single-cohort run).
SUMMARY = (POOLED, META)
#: Forest plots (the per-variable and the sensitivity-analysis ones) show the cohorts'
#: meta-analysis, the consortium view, else the pooled analysis, else the first cohort.
FOREST = (META, POOLED)


def shown_level(cohorts: Iterable, prefer: tuple = SUMMARY) -> str | None:
    """The one level of results a figure (or its caption) shows among ``cohorts`` (the
    cohort column of its table): the first of ``prefer`` present (:data:`SUMMARY` or
    :data:`FOREST`), else the first cohort in alphabetical order; None if there are no rows."""
    present = {str(c) for c in cohorts}
    for level in prefer:
        if level in present:
            return level
    return sorted(present)[0] if present else None


def where_text(level: str, cohort_labels: dict, pooled: str = "pooled cohorts", meta: str = "meta-analysis") -> str:
    return {POOLED: pooled, META: meta}.get(level, cohort_labels.get(level, level))


# --------------------------------------------------------------------------- labels
def _names(cfg: dict, mechanism: str) -> list[str]:
    spec = cfg["mechanisms"][mechanism]
    names = [*spec["exposures"], *spec["biomarkers"], *spec.get("outcomes", [])]
    for path in mediation_paths(cfg, mechanism):
        names += [path["exposure"], *mediators_of(path), path["outcome"]]
    return list(dict.fromkeys(names))


def variable_labels(cfg: dict, names) -> dict[str, str]:
    """name -> 'Label (unit)' for figure text."""
    return figure_labels(sorted(set(names)), cfg["_data_schema"], cfg["_declared_biomarkers"])


def figure_labels_of(cfg: dict, names) -> dict:
    """Plain labels, units (or "unit") and the cohorts' labels, for axis text."""
    found = {n: label_and_unit(n, cfg["_data_schema"], cfg["_declared_biomarkers"]) for n in dict.fromkeys(names)}
    return {"labels": {n: lab for n, (lab, _) in found.items()}, "units": {n: u or "unit" for n, (_, u) in found.items()},
            "cohort_labels": study_labels(cfg)}


def _read(path) -> pd.DataFrame:
    return pd.read_csv(path, sep="\t")


def _rows_of(rows: pd.DataFrame, path, what: str) -> pd.DataFrame:
    """``rows`` (selected from the table ``path``), or one message when there are none: the
    table was made with another config (its job's inputs or settings were changed by hand
    without a rerun) or damaged."""
    if rows.empty:
        from first1000.errors import InputTableError

        raise InputTableError(
            f"{path} has no rows of {what}, which this figure draws: the table was made with another config "
            "or is damaged. Rerun the workflow with its config (Snakemake remakes a table whose settings "
            "changed), or delete the table and rerun.")
    return rows


# --------------------------------------------------------------------------- forest plots
def forest_plot_params(cfg: dict, mechanism: str, variable: str) -> dict:
    labels = {**variable_labels(cfg, _names(cfg, mechanism)), **study_labels(cfg), POOLED: "Pooled",
              META: "Meta-analysis (FE)" if cfg["meta_analysis"]["method"] == "FE" else "Meta-analysis (RE)"}
    return {"variable": variable, "title": f"{mechanism_label(cfg, mechanism)}: {labels.get(variable, variable)}",
            "labels": labels, "cohorts": sorted(study_labels(cfg)), "fdr": cfg["fdr"]}


def forest_plot(*, variable, title, labels, cohorts, fdr, associations, png, svg, models):
    """Forest plot of one exposure (biomarker rows) or one outcome (biomarker rows): every
    cohort, the pooled model and the meta-analysis, with the estimate [CI] column
    (double-column width)."""
    from first1000.figures import cohort_colours, save_figure
    from first1000.figures import forest_plot as draw

    table = _read(associations)
    exposure_rows = table.predictor == variable
    rows = table[exposure_rows] if exposure_rows.any() else table[table.response == variable]
    rows = _rows_of(rows, associations, f"`{variable}`")
    colours = cohort_colours([*cohorts, POOLED, META])
    # every cohort, the pooled model and the meta-analysis, each with its estimate [CI]
    save_figure(draw(rows, title=title, labels=labels, colours=colours, width="double", q_level=fdr), png, svg)
    write_text(models_note(rows), models)


def sensitivity_forest_params(cfg: dict, mechanism: str) -> dict:
    return {"mechanism_label": mechanism_label(cfg, mechanism), "exposures": list(cfg["mechanisms"][mechanism]["exposures"]),
            "labels": variable_labels(cfg, _names(cfg, mechanism)), "cohort_labels": study_labels(cfg),
            "fdr": cfg["fdr"]}


def sensitivity_forest(*, mechanism_label, exposures, labels, cohort_labels, fdr, associations, sensitivity, png,
                       svg, models):
    """Main analysis beside each sensitivity analysis, exposure -> biomarker models, at the
    level :func:`shown_level` picks."""
    from first1000.figures import cohort_colours, save_figure
    from first1000.figures import forest_plot as draw

    main = _read(associations)
    alt = _read(sensitivity)
    level = shown_level(main.cohort, FOREST)
    # The entries are keyed "1 main", "2 <analysis>", ... so that the main analysis comes first.
    keep = main[(main.cohort == level) & main.predictor.isin(exposures)].assign(cohort="1 main")
    names = {"1 main": "Main analysis"}
    frames = [keep]
    for i, (name, rows) in enumerate(alt.groupby("analysis", sort=False), start=2):
        rows = rows[(rows.cohort == level) & rows.predictor.isin(exposures)]
        text = str(rows.description.iloc[0]) if len(rows) else name
        names[f"{i} {name}"] = text[:1].upper() + text[1:]
        frames.append(rows.drop(columns=["analysis", "description"]).assign(cohort=f"{i} {name}"))
    table = pd.concat(frames, ignore_index=True)
    title = f"{mechanism_label}: sensitivity analyses ({where_text(level, cohort_labels)})"
    fig = draw(table, title=title, labels={**labels, **names}, colours=cohort_colours(names), q_level=fdr)
    save_figure(fig, png, svg)
    write_text(models_note(table, names=names), models)


# --------------------------------------------------------------------------- mediation
def figure_effects(eff: pd.DataFrame) -> pd.DataFrame:
    """Mediation rows as the figures draw them: the first scale of each path (difference,
    or risk difference for a binary outcome), effects named total, direct, indirect and
    proportion mediated (TE, PNDE, TNIE, PM)."""
    if "scale" not in eff:
        return eff
    first = eff.groupby(["cohort", "exposure", "mediator", "outcome"], sort=False).scale.transform("first")
    rows = eff[(eff.scale == first) & eff.effect.isin(list(FIGURE_EFFECTS))].copy()
    rows["effect"] = rows.effect.map(FIGURE_EFFECTS)
    return rows.reset_index(drop=True)


def _path_rows(frame: pd.DataFrame, level, exposure, mediator, outcome) -> pd.DataFrame:
    return frame[(frame.cohort == level) & (frame.exposure == exposure) & (frame.mediator == mediator)
                 & (frame.outcome == outcome)]


def mediation_diagram_params(cfg: dict, mechanism: str, exposure: str, mediator: str, outcome: str) -> dict:
    return {"exposure": exposure, "mediator": mediator, "outcome": outcome,
            "labels": variable_labels(cfg, _names(cfg, mechanism)), "cohort_labels": study_labels(cfg)}


def mediation_diagram(*, exposure, mediator, outcome, labels, cohort_labels, effects, paths, png, svg, models):
    from first1000.figures import mediation_diagram as draw
    from first1000.figures import save_figure

    eff = figure_effects(_read(effects))
    level = shown_level(eff.cohort)
    title = where_text(level, cohort_labels, pooled="All cohorts pooled", meta="Meta-analysis of the cohorts")
    rows = _path_rows(eff, level, exposure, mediator, outcome)
    fig = draw(rows, _path_rows(_read(paths), level, exposure, mediator, outcome), labels=labels, title=title)
    save_figure(fig, png, svg)
    write_text(models_note(rows.drop_duplicates("cohort"), what="path"), models)


def sensitivity_plot_params(cfg: dict, mechanism: str, exposure: str, mediator: str, outcome: str) -> dict:
    return {"exposure": exposure, "mediator": mediator, "outcome": outcome,
            "labels": variable_labels(cfg, _names(cfg, mechanism))}


def sensitivity_plot(*, exposure, mediator, outcome, labels, sensitivity, png, svg, models):
    """Imai's rho curve and E-values of one path (the level :func:`shown_level` picks)."""
    from first1000.figures import save_figure
    from first1000.figures.sensitivity import sensitivity_plot as draw

    table = _read(sensitivity)
    rows = table[(table.exposure == exposure) & (table.mediator == mediator) & (table.outcome == outcome)]
    level = shown_level(rows.cohort)
    title = f"{labels.get(mediator, mediator)} ({'pooled' if level == POOLED else level})"
    save_figure(draw(rows[rows.cohort == level], labels=labels, title=title), png, svg)
    summary = rows[(rows.cohort == level) & (rows.part == "summary")] if "part" in rows else rows[rows.cohort == level]
    write_text(models_note(summary.drop_duplicates("cohort"), what="path"), models)


# --------------------------------------------------------------------------- the model
def model_diagram_params(cfg: dict) -> dict:
    """The model figure's settings. A mechanism whose preparation reads the child follow-up
    table (:data:`first1000.mechanisms.PREPARERS`: its "biomarkers" are the child's scores at
    the follow-up visits, e.g. growth) is one of the child's later outcomes (``later_labels``,
    the figure's "Child, to age 2" column), not a mechanism."""
    mechanisms = cfg["mechanisms"]
    names = [n for m in mechanisms for n in _names(cfg, m)]
    exposures = list(dict.fromkeys(e for spec in mechanisms.values() for e in spec["exposures"]))
    groups = cfg.get("_figure_groups", {})
    labels = {m: spec.get("label", m) for m, spec in mechanisms.items()}
    later = {m for m in mechanisms if m in PREPARERS and PREPARERS[m][1] == "child_followup"}
    return {"exposures": exposures,
            "outcomes": list(dict.fromkeys(o for spec in mechanisms.values() for o in spec.get("outcomes", []))),
            "mechanism_labels": {m: label for m, label in labels.items() if m not in later},
            "later_labels": {m: label for m, label in labels.items() if m in later},
            "labels": variable_labels(cfg, names), "fdr": cfg["fdr"],
            "exposure_groups": {e: groups[e] for e in exposures if e in groups}}


def model_diagram(*, exposures, outcomes, mechanism_labels, labels, fdr, associations, mediation, png, svg, models,
                  exposure_groups=None, later_labels=None):
    """The article's model filled in with this run's results (the level :func:`shown_level` picks);
    ``exposure_groups``: the block of each exposure the config places (study_variables,
    variable_overrides ``group``), the others by the figure's house rule; ``later_labels``: the
    mechanisms of the child's later outcomes (:func:`model_diagram_params`), drawn in the
    figure's "Child, to age 2" column, with the mediation paths ending at one of their scores
    (the mediation tables hold every declared path, whatever its outcome). A run without any
    other mechanism draws them as mechanisms (the figure needs its middle column)."""
    from first1000.figures import model_diagram as draw
    from first1000.figures import save_figure

    associations = [associations] if isinstance(associations, str) else associations
    mediation = [mediation] if isinstance(mediation, str) else mediation
    assoc = pd.concat([_read(p) for p in associations], ignore_index=True)
    med = figure_effects(pd.concat([_read(p) for p in mediation], ignore_index=True)) if mediation else None
    mechanisms = {m: label for m, label in mechanism_labels.items() if (assoc.mechanism == m).any()}
    later = {m: label for m, label in (later_labels or {}).items() if (assoc.mechanism == m).any()}
    if not mechanisms:
        mechanisms, later = later, {}
    level = shown_level(assoc.cohort)
    fig = draw(assoc, med, exposures=exposures, mechanisms=mechanisms, outcomes=outcomes,
               cohort=level, fdr=fdr, labels=labels, exposure_groups=exposure_groups or None,
               later=later or None)
    save_figure(fig, png, svg)
    # the figure draws one level (pooled, else meta-analysis, else a cohort): its models by mechanism
    write_text(models_note(assoc[assoc.cohort == level], by="mechanism"), models)


# --------------------------------------------------------------------------- per mechanism
def scatter_plot_params(cfg: dict, mechanism: str, exposure: str) -> dict:
    spec = cfg["mechanisms"][mechanism]
    axis = figure_labels_of(cfg, [exposure, *spec["biomarkers"]])
    return {"exposure": exposure, "title": mechanism_label(cfg, mechanism), "min_cell_size": cfg["privacy"]["min_cell_size"],
            **axis}


def scatter_plot(*, exposure, title, labels, units, cohort_labels, min_cell_size, fits, png, svg, models):
    """Binned biomarker vs exposure with the covariate-adjusted fit, by cohort (from the
    table of :func:`first1000.stages.analyse.describe`)."""
    from first1000.figures import cohort_colours, save_figure
    from first1000.figures.mechanism import scatter_adjusted

    table = pd.read_csv(fits, sep="\t", dtype={"cohort": str})
    rows = table[table.exposure == exposure]
    biomarker = str(rows.biomarker.iloc[0])
    fig = scatter_adjusted(rows, exposure, biomarker, units=units, labels={**labels, **cohort_labels},
                           colours=cohort_colours(sorted(cohort_labels)), title=title, min_cell=min_cell_size)
    save_figure(fig, png, svg)
    write_text(models_note(rows.drop_duplicates(["cohort", "biomarker"])), models)


def correlation_plot_params(cfg: dict, mechanism: str) -> dict:
    biomarkers = list(cfg["mechanisms"][mechanism]["biomarkers"])
    return {"title": mechanism_label(cfg, mechanism), "labels": figure_labels_of(cfg, biomarkers)["labels"],
            "min_cell_size": cfg["privacy"]["min_cell_size"], "wide": len(biomarkers) > 5}


def correlation_plot(*, title, labels, min_cell_size, wide, correlations, png, svg):
    """Spearman correlations of the mechanism's biomarkers (all cohorts together)."""
    from first1000.figures import save_figure
    from first1000.figures.mechanism import correlation_heatmap

    corr = pd.read_csv(correlations, sep="\t")
    fig = correlation_heatmap(corr, labels=labels, min_n=min_cell_size, width="double" if wide else "single",
                              title=title)
    save_figure(fig, png, svg)


def volcano_plot_params(cfg: dict, mechanism: str, exposure: str) -> dict:
    return {"exposure": exposure, "biomarkers": list(cfg["mechanisms"][mechanism]["biomarkers"]),
            "mechanism_label": mechanism_label(cfg, mechanism), "labels": variable_labels(cfg, _names(cfg, mechanism)),
            "fdr": cfg["fdr"]}


def volcano_plot(*, exposure, biomarkers, mechanism_label, labels, fdr, associations, png, svg, models):
    from first1000.figures import save_figure
    from first1000.figures.mechanism import volcano_plot as draw

    assoc = _read(associations)
    rows = _rows_of(assoc[(assoc.predictor == exposure) & assoc.response.isin(biomarkers)], associations,
                    f"`{exposure}` with the mechanism's biomarkers")
    level = shown_level(rows.cohort)
    fig = draw(rows, cohort=level, predictor=exposure, fdr=fdr, labels=labels,
               title=f"{mechanism_label} ({'pooled' if level == POOLED else level})")
    save_figure(fig, png, svg)
    write_text(models_note(rows[rows.cohort == level]), models)


def qc_plot_params(cfg: dict, mechanism: str) -> dict:
    """The QC figure the mechanism declares (``QC_FIGURE`` in its module; the median/IQR
    summary of its QC table otherwise) and the settings it draws."""
    module, _ = PREPARERS[mechanism]
    return {"mechanism": mechanism, "kind": getattr(module, "QC_FIGURE", "measure_summary"),
            "settings": cfg["preparation"].get(mechanism) or {}, "name": mechanism_label(cfg, mechanism),
            "cohort_labels": study_labels(cfg), "min_cell_size": cfg["privacy"]["min_cell_size"]}


def qc_plot(*, mechanism, kind, settings, name, cohort_labels, min_cell_size, qc, png, svg):
    """The mechanism's QC figure, drawn from its aggregate QC table only
    (:data:`first1000.figures.qc.QC_FIGURES`)."""
    from first1000.figures import save_figure
    from first1000.figures.qc import draw_qc_figure

    fig = draw_qc_figure(kind, _read(qc), mechanism=mechanism, settings=settings, labels=cohort_labels, name=name,
                         min_cell=min_cell_size)
    save_figure(fig, png, svg)


# --------------------------------------------------------------------------- effect modification
def strata_plot_params(cfg: dict, mechanism: str, exposure: str, modifier: str) -> dict:
    """Labels only: the units come with the modification table's rows."""
    names = [exposure, modifier, *(m["response"] for m in modification_models(cfg, mechanism))]
    axis = figure_labels_of(cfg, names)
    return {"mechanism_label": mechanism_label(cfg, mechanism), "exposure": exposure, "modifier": modifier,
            "labels": axis["labels"], "cohort_labels": axis["cohort_labels"]}


def strata_plot(*, mechanism_label, exposure, modifier, labels, cohort_labels, modification, png, svg, models):
    """Stratified forest plot of one exposure and modifier (the summary level's rows)."""
    from first1000.figures import save_figure
    from first1000.figures.strata import strata_plot as draw

    table = pd.read_csv(modification, sep="\t", dtype={"level": str})
    rows = table[(table.exposure == exposure) & (table.modifier == modifier)]
    cohort = shown_level(rows.cohort)
    title = (f"{mechanism_label}: {labels[exposure]} by {labels[modifier]} "
             f"({where_text(cohort, cohort_labels, pooled='all cohorts, pooled')})")
    save_figure(draw(rows, exposure=exposure, modifier=modifier, cohort=cohort, labels=labels, title=title), png, svg)
    strata = rows[(rows.cohort == cohort) & (rows.part == "stratum")] if "part" in rows else rows[rows.cohort == cohort]
    write_text(models_note(strata, what="stratum"), models)


# --------------------------------------------------------------------------- report tables
TABLE_TITLES = {"associations": "Associations", "mediation": "Mediation effects",
                "sensitivity": "Sensitivity analyses"}


def table_view_list(cfg: dict) -> list[tuple[str, str]]:
    """(kind, mechanism) of every searchable table view: the associations of each analysed
    mechanism, its mediation effects (with mediation paths) and its sensitivity analyses
    (with any, not in a summary-statistics run)."""
    from first1000.plan import analysed_mechanisms

    out = []
    for mechanism in analysed_mechanisms(cfg):
        out.append(("associations", mechanism))
        if mediation_paths(cfg, mechanism):
            out.append(("mediation", mechanism))
        if cfg["_mode"] != "sites" and sensitivity_analyses(cfg, mechanism):
            out.append(("sensitivity", mechanism))
    return out


def table_view_path(kind: str, mechanism: str, folder: str = "results") -> str:
    return f"{folder}/tables/{kind}--{mechanism}.html"


def table_views_params(cfg: dict) -> dict:
    views = table_view_list(cfg)
    return {"views": [[kind, mechanism] for kind, mechanism in views],
            "mechanism_labels": {m: mechanism_label(cfg, m) for m in dict.fromkeys(m for _, m in views)}}


def table_views_inputs(cfg: dict) -> dict:
    return {"tables": [f"results/{kind}/{mechanism}.tsv" for kind, mechanism in table_view_list(cfg)]}


def table_views(*, views, mechanism_labels, tables, output):
    """One searchable, sortable HTML view per result table (``views``: [kind, mechanism] in
    the order of ``tables`` and of ``output``), each with its TSV embedded: one job for all,
    as each takes well under a second."""
    tables = [tables] if isinstance(tables, str) else list(tables)
    output = [output] if isinstance(output, str) else list(output)
    for (kind, mechanism), table, path in zip(views, tables, output):
        table_view(kind=kind, mechanism=mechanism, mechanism_label=mechanism_labels[mechanism], table=table,
                   output=path)


def table_view(*, kind, mechanism, mechanism_label, table, output):
    """A searchable, sortable HTML view of one result table (with its TSV embedded)."""
    from first1000.report.html_tables import html_table

    data = pd.read_csv(table, sep="\t", keep_default_na=False, na_values=[""])
    caption = (f"{len(data)} rows. Click a column header to sort, type to filter; the full table "
               f"is {table} (download link).")
    write_text(html_table(data, f"{mechanism_label}: {TABLE_TITLES[kind].lower()}", caption,
                          filename=f"{kind}_{mechanism}.tsv"), output)


# --------------------------------------------------------------------------- publication tables
def _analysed_in_order(cfg: dict) -> tuple[list[str], list[str]]:
    """The analysed mechanisms in the config's order, and those with mediation paths."""
    from first1000.plan import analysed_mechanisms

    mechanisms = [m for m in cfg["mechanisms"] if m in analysed_mechanisms(cfg)]
    return mechanisms, [m for m in mechanisms if mediation_paths(cfg, m)]


def _result_tables(cfg: dict) -> dict:
    """The association and mediation tables, in the order of :func:`_analysed_in_order`."""
    mechanisms, mediated = _analysed_in_order(cfg)
    return {"associations": [f"results/associations/{m}.tsv" for m in mechanisms],
            "mediation": [f"results/mediation/{m}.tsv" for m in mediated]}


def publication_tables_inputs(cfg: dict) -> dict:
    """Table 1 (a run on cohorts), every analysed mechanism's associations and the mediation
    tables, in the order of the params' ``mechanisms`` and ``mediation_mechanisms``."""
    return {"table1": ["results/harmonised/table1.tsv"] if cfg["_mode"] == "cohorts" else [], **_result_tables(cfg)}


def publication_tables_params(cfg: dict) -> dict:
    mechanisms, mediated = _analysed_in_order(cfg)
    names = [n for m in mechanisms for n in _names(cfg, m)]
    return {"mechanisms": mechanisms, "mediation_mechanisms": mediated,
            "mechanism_labels": {m: mechanism_label(cfg, m) for m in mechanisms},
            "labels": variable_labels(cfg, names), "cohort_labels": study_labels(cfg),
            "min_cell_size": cfg["privacy"]["min_cell_size"]}


def publication_tables(*, mechanisms, mediation_mechanisms, mechanism_labels, labels, cohort_labels, min_cell_size,
                       table1, associations, mediation, xlsx, docx):
    """Table 1, the associations and the mediation effects as one workbook (``xlsx``, the
    result tables' numbers as numbers) and one Word document (``docx``, as printed)."""
    from first1000.report.publication import association_table, mediation_table, printed, write_docx, write_xlsx

    table1 = [table1] if isinstance(table1, str) else list(table1)
    associations = [associations] if isinstance(associations, str) else list(associations)
    mediation = [mediation] if isinstance(mediation, str) else list(mediation)
    sheets, sections = {}, []
    if table1:
        t1 = pd.read_csv(table1[0], sep="\t", dtype=str, keep_default_na=False)
        t1 = t1.rename(columns={"cohort": "Cohort", "variable": "Characteristic", "level": "Statistic",
                                "overall": "Overall"})
        t1["Cohort"] = t1["Cohort"].map(lambda c: cohort_labels.get(c, c))
        note = (f"Mean (SD), median [IQR] or n (%); counts below {min_cell_size} suppressed (<{min_cell_size}). "
                "p: across SES tertiles (ANOVA, Kruskal–Wallis or Pearson's χ²), blank where a count is suppressed.")
        sheets["Table 1"] = ("Table 1. Characteristics of the participants, overall and by SES tertile", t1)
        sections.append(("Table 1. Characteristics of the participants", note, t1))
    kinds = (("Associations", association_table, mechanisms, associations,
              "Estimate [95% CI] per unit of the exposure or biomarker (scale in the Scale column); OR: odds ratio "
              "of a logistic model. q: Benjamini–Hochberg FDR."),
             ("Mediation", mediation_table, mediation_mechanisms, mediation,
              "Counterfactual effects for the stated contrast of the exposure; proportion mediated only where the "
              "total effect's CI excludes the null."))
    for kind, build, names, paths, note in kinds:
        for mechanism, path in zip(names, paths):
            table = build(_read(path), labels, cohort_labels)
            title = f"{kind}: {mechanism_labels[mechanism]}"
            sheets[f"{kind} {mechanism}"] = (title, table)
            sections.append((title, note, printed(table)))
    write_xlsx(sheets, xlsx)
    write_docx(sections, docx)


# --------------------------------------------------------------------------- the report's first page
def key_findings_inputs(cfg: dict) -> dict:
    return {**_result_tables(cfg), "model": "results/figures/model.png"}


def key_findings_params(cfg: dict) -> dict:
    mechanisms, mediated = _analysed_in_order(cfg)
    names = [n for m in mechanisms for n in _names(cfg, m)]
    found = figure_labels_of(cfg, names)
    return {"mechanisms": mechanisms, "mediation_mechanisms": mediated,
            "biomarkers": {m: list(cfg["mechanisms"][m]["biomarkers"]) for m in mechanisms},
            "mechanism_labels": {m: mechanism_label(cfg, m) for m in mechanisms}, "labels": found["labels"],
            "cohort_labels": study_labels(cfg), "fdr": cfg["fdr"]}


def key_findings(*, mechanisms, mediation_mechanisms, biomarkers, mechanism_labels, labels, cohort_labels, fdr,
                 associations, mediation, model, table, landing):
    """The key findings (``table``, their numbers as in the result tables) and the report's
    first page (``landing``: the model figure and the findings, reStructuredText)."""
    from first1000.report.key_findings import key_findings as choose, landing_rst

    associations = [associations] if isinstance(associations, str) else list(associations)
    mediation = [mediation] if isinstance(mediation, str) else list(mediation)
    rows = choose({m: _read(p) for m, p in zip(mechanisms, associations)},
                  {m: _read(p) for m, p in zip(mediation_mechanisms, mediation)}, biomarkers, fdr)
    write_tsv(rows, table)
    text = landing_rst(rows, Path(model).read_bytes(), labels=labels, mechanism_labels=mechanism_labels,
                       cohort_labels=cohort_labels, fdr=fdr)
    write_text(text, landing)


# --------------------------------------------------------------------------- one job per mechanism
#: The figures of a mechanism, by kind: the report subsection, the label (its wildcards
#: filled in), the stage function's name (in this module), the tables it reads (its argument -> the job's input name), the
#: file name's parts after the kind, and whether it has a models note (``<figure>.models.rst``).
#: One job draws them all (rule ``mechanism_figures``): a figure costs ~0.3 s to draw and
#: ~1 s to start a Python process with pandas and matplotlib, so one process per
#: mechanism instead of one per figure (#19).
FIGURE_KINDS = {
    "forest": dict(subcategory="Associations", label="forest plot: {variable}", stage="forest_plot",
                   reads={"associations": "associations"}, parts=("variable",), models=True),
    "scatter": dict(subcategory="Associations", label="adjusted fit: {exposure}", stage="scatter_plot",
                    reads={"fits": "fits"}, parts=("exposure",), models=True),
    "volcano": dict(subcategory="Associations", label="volcano plot: {exposure}", stage="volcano_plot",
                    reads={"associations": "associations"}, parts=("exposure",), models=True),
    "sensitivity_analyses": dict(subcategory="Associations", label="sensitivity analyses",
                                 stage="sensitivity_forest",
                                 reads={"associations": "associations", "sensitivity": "sensitivity_analyses"},
                                 parts=(), models=True),
    "mediation": dict(subcategory="Mediation", label="mediation {exposure} -> {mediator} -> {outcome}",
                      stage="mediation_diagram", reads={"effects": "mediation", "paths": "mediation_paths"},
                      parts=("exposure", "mediator", "outcome"), models=True),
    "sensitivity": dict(subcategory="Mediation", label="sensitivity {exposure} -> {mediator} -> {outcome}",
                        stage="sensitivity_plot", reads={"sensitivity": "mediation_sensitivity"},
                        parts=("exposure", "mediator", "outcome"), models=True),
    "strata": dict(subcategory="Effect modification", label="strata: {exposure} by {modifier}",
                   stage="strata_plot", reads={"modification": "modification"}, parts=("exposure", "modifier"),
                   models=True),
    "qc": dict(subcategory="Quality control", label="QC of {mechanism}", stage="qc_plot", reads={"qc": "qc"},
               parts=(), models=False),
    "correlations": dict(subcategory="Quality control", label="biomarker correlations", stage="correlation_plot",
                         reads={"correlations": "correlations"}, parts=(), models=False),
}

_NAME = "[a-z][a-z0-9_]*"  # the names a config may give (validated)


def figure_patterns() -> list[str]:
    """The file patterns of a mechanism's figures (PNG) inside results/figures/{mechanism}:
    ``{kind}--{part}--...png``, or ``{kind}.png`` for a figure without parts. The report
    finds the figures by these patterns and fills the caption and label of each from its
    wildcards."""
    patterns = {}
    for kind, spec in FIGURE_KINDS.items():
        patterns.setdefault(spec["parts"], []).append(kind)
    return ["--".join([f"{{kind,{'|'.join(kinds)}}}", *(f"{{{part},{_NAME}}}" for part in parts)]) + ".png"
            for parts, kinds in patterns.items()]


def figure_subcategory(kind: str) -> str:
    return FIGURE_KINDS[kind]["subcategory"]


def figure_label(wildcards: dict) -> dict:
    """The report label of one figure, from the wildcards of its file name."""
    return {"figure": FIGURE_KINDS[wildcards["kind"]]["label"].format(**wildcards)}


def mechanism_figure_list(cfg: dict, mechanism: str) -> list[dict]:
    """Every figure of one mechanism, in drawing order: ``{"kind": ..., "stem": file name
    without suffix, "wildcards": {part: value}}``. A summary-statistics run (config
    ``sites``) has no QC, scatter, correlation, sensitivity-analysis, strata or
    mediation-sensitivity figures (they need individual data)."""
    from first1000.plan import strata_figures

    sites = cfg.get("_mode") == "sites"
    spec = cfg["mechanisms"][mechanism]
    figures = [("forest", {"variable": v}) for v in [*spec["exposures"], *spec.get("outcomes", [])]]
    if len(spec["biomarkers"]) >= 5:
        figures += [("volcano", {"exposure": e}) for e in spec["exposures"]]
    if not sites:
        figures.append(("qc", {}))
        figures += [("scatter", {"exposure": e}) for e in spec["exposures"]]
        if len(spec["biomarkers"]) > 1:
            figures.append(("correlations", {}))
        if sensitivity_analyses(cfg, mechanism):
            figures.append(("sensitivity_analyses", {}))
    for path in mediation_paths(cfg, mechanism):
        if isinstance(path["mediator"], list):  # joint mediators: tables only
            continue
        parts = {"exposure": path["exposure"], "mediator": path["mediator"], "outcome": path["outcome"]}
        figures.append(("mediation", parts))
        if cfg["mediation"]["sensitivity"] and not sites:
            figures.append(("sensitivity", parts))
    if not sites:
        figures += [("strata", {"exposure": e, "modifier": m}) for e, m in strata_figures(cfg, mechanism)]
    out = []
    for kind, parts in dict.fromkeys((k, tuple(p.items())) for k, p in figures):
        wildcards = dict(parts)
        out.append({"kind": kind, "stem": "--".join([kind, *wildcards.values()]), "wildcards": wildcards})
    return out


#: The tables a mechanism's figures read: the job's input name -> path.
_FIGURE_TABLES = {
    "associations": "results/associations/{mechanism}.tsv",
    "fits": "results/descriptives/{mechanism}_fits.tsv",
    "correlations": "results/descriptives/{mechanism}_correlations.tsv",
    "qc": "results/qc/{mechanism}.tsv",
    "sensitivity_analyses": "results/sensitivity/{mechanism}.tsv",
    "mediation": "results/mediation/{mechanism}.tsv",
    "mediation_paths": "results/mediation/{mechanism}_paths.tsv",
    "mediation_sensitivity": "results/mediation/{mechanism}_sensitivity.tsv",
    "modification": "results/modification/{mechanism}.tsv",
}


def mechanism_figures_inputs(cfg: dict, mechanism: str) -> dict[str, str]:
    """The result tables the mechanism's figures read (and only those)."""
    names = dict.fromkeys(name for fig in mechanism_figure_list(cfg, mechanism)
                          for name in FIGURE_KINDS[fig["kind"]]["reads"].values())
    return {name: _FIGURE_TABLES[name].format(mechanism=mechanism) for name in names}


def mechanism_figures_params(cfg: dict, mechanism: str) -> dict:
    """Each figure's kind, file name and settings (its own ``<stage>_params``)."""
    figures = []
    for fig in mechanism_figure_list(cfg, mechanism):
        stage = FIGURE_KINDS[fig["kind"]]["stage"]
        builder = globals()[f"{stage}_params"]
        figures.append({"kind": fig["kind"], "stem": fig["stem"],
                        "settings": builder(cfg, mechanism, **fig["wildcards"])})
    return {"mechanism": mechanism, "figures": figures}


def mechanism_figures(*, mechanism, figures, folder, associations=None, fits=None, correlations=None, qc=None,
                      sensitivity_analyses=None, mediation=None, mediation_paths=None, mediation_sensitivity=None,
                      modification=None):
    """Draw every figure of one mechanism into ``folder`` (results/figures/{mechanism}):
    ``<stem>.png``, ``<stem>.svg`` and, for figures of models, ``<stem>.models.rst``; each
    by its own stage function with the settings its ``<stage>_params`` built."""
    del mechanism  # named in the job's messages (first1000.stages.run)
    tables = {"associations": associations, "fits": fits, "correlations": correlations, "qc": qc,
              "sensitivity_analyses": sensitivity_analyses, "mediation": mediation,
              "mediation_paths": mediation_paths, "mediation_sensitivity": mediation_sensitivity,
              "modification": modification}
    out = Path(folder)
    out.mkdir(parents=True, exist_ok=True)
    for fig in figures:
        kind = FIGURE_KINDS[fig["kind"]]
        draw = globals()[kind["stage"]]
        files = {"png": str(out / f"{fig['stem']}.png"), "svg": str(out / f"{fig['stem']}.svg")}
        if kind["models"]:
            files["models"] = str(out / f"{fig['stem']}.models.rst")
        draw(**fig["settings"], **{arg: tables[name] for arg, name in kind["reads"].items()}, **files)

