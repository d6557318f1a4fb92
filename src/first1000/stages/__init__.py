"""The workflow's stages as plain functions of a config and file paths.

``workflow/scripts/*.py`` call these with ``snakemake.input``/``output``; tests call them
directly. Nothing here imports snakemake. Every output is written atomically.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from pathlib import Path

import pandas as pd

from first1000 import ingest
from first1000.config import DERIVED_VARIABLES, POOLED, load_config
from first1000.errors import First1000Error
from first1000.harmonise.ses import harmonise as harmonise_cohorts
from first1000.io import sha256sum, write_parquet, write_text, write_tsv
from first1000.mechanisms import PREPARERS, needs_participants

#: Report tables: counts below the privacy threshold in these columns are suppressed.
COUNT_COLUMNS = ("n", "n_missing", "n_below_loq", "n_below_lod", "n_outliers", "n_failed_replicate_qc",
                 "n_samples", "n_clipped", "n_segments_outside_windows", "n_segments_postpartum",
                 "n_segments_before_pregnancy", "n_segments_undated", "n_dropped_replicates",
                 "n_single_replicate", "n_repeated", "n_prorated", "n_values_mean_imputed",
                 "n_samples_removed", "n_samples_kept", "n_samples_in", "n_above_limit")


#: part -> (its complement, the total): when the part is suppressed the complement would
#: give it back (total - complement), so it is shown as a bound instead.
COMPLEMENTS = {"n_samples_removed": ("n_samples_kept", "n_samples_in")}

LOG = logging.getLogger("first1000")


def run(stage, log=None, **kwargs):
    """Run a stage, logging aggregate progress to ``log``.

    A First1000Error becomes one clear message (log and stderr) and exit status 1; any
    other exception is a bug and keeps its traceback. Logs never hold row-level values.
    """
    if log:
        Path(log).parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(log, mode="w", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        LOG.addHandler(handler)
        LOG.setLevel(logging.INFO)
    LOG.info("stage %s started", stage.__name__)
    try:
        stage(**kwargs)
        LOG.info("stage %s finished", stage.__name__)
    except First1000Error as exc:
        message = f"first1000: error: {exc}"
        LOG.error("%s", message)
        print(message, file=sys.stderr)
        sys.exit(1)
    except Exception:  # a bug: keep the trace for the developer
        LOG.error("unexpected failure\n%s", traceback.format_exc())
        raise


def suppress_small_counts(table: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """Replace counts 1..min_cell-1 by '<min_cell' in report-facing aggregate tables.

    The percentage that goes with a suppressed count (``pct_x`` of ``n_x``) is blanked
    too, since count = percentage × n would give the count back.
    """
    table = table.copy()
    for part, (complement, total) in COMPLEMENTS.items():  # secondary suppression, before the counts change
        if {part, complement, total} <= set(table.columns):
            small = table[part].notna() & (table[part] > 0) & (table[part] < min_cell)
            if small.any():
                table[complement] = table[complement].astype(object)
                table.loc[small, complement] = [f">{int(t) - min_cell}" for t in table.loc[small, total]]
    for column in COUNT_COLUMNS:
        if column in table:
            counts = pd.to_numeric(table[column], errors="coerce")  # bounds already set stay
            small = counts.notna() & (counts > 0) & (counts < min_cell)
            if small.any():
                table[column] = table[column].astype(object)
                table.loc[small, column] = f"<{min_cell}"
                share = "pct_" + column.removeprefix("n_")
                if share in table:
                    table.loc[small, share] = float("nan")
    return table


# --------------------------------------------------------------------------- ingest
def _cohort(config, cohort):
    cfg = load_config(config)
    return cfg, cfg["cohorts"][cohort]["_mapping"]


def ingest_participants(config, cohort, key_file, participants, harmonisation, categories):
    cfg, mapping = _cohort(config, cohort)
    key = ingest.load_or_create_key(key_file)
    variables, report, cats, _ = ingest.ingest_participants(cohort, mapping, cfg["_data_schema"], key)
    write_parquet(variables, participants)
    LOG.info("cohort %s: %d participants, %d harmonised variables, %d values rejected", cohort,
             len(variables), len(report), int(report.n_rejected.sum()))
    min_cell = cfg["privacy"]["min_cell_size"]
    write_tsv(suppress_small_counts(report, min_cell), harmonisation)
    write_tsv(suppress_small_counts(cats, min_cell), categories)


def ingest_table(config, cohort, table, key_file, output):
    cfg, mapping = _cohort(config, cohort)
    key = ingest.load_or_create_key(key_file)
    people, *_, id_map = ingest.ingest_participants(cohort, mapping, cfg["_data_schema"], key)
    spec = mapping["tables"][table]
    if table == "methylation_matrix" and str(spec["path"]).lower().endswith(".parquet"):
        n_cpgs = ingest.stream_matrix(spec, id_map, output)  # bounded memory, batch by batch
        LOG.info("cohort %s, methylation matrix: %d CpGs standardised", cohort, n_cpgs)
        return
    frame = ingest.ingest_standard(table, spec, mapping["missing_codes"], id_map, people)
    write_parquet(frame, output)
    LOG.info("cohort %s, table %s: %d rows x %d columns standardised", cohort, table, *frame.shape)


def check_inputs(cfg, key_file) -> None:
    """Run every cohort's ingest in memory: the pre-flight check before any job runs."""
    key = ingest.load_or_create_key(key_file)
    for cohort, spec in cfg["cohorts"].items():
        ingest.ingest_cohort(cohort, spec["_mapping"], cfg["_data_schema"], key)


# --------------------------------------------------------------------------- harmonise
def harmonise(config, participants, output, summary, table1, ses_weights, harmonisation=(), mood_qc=None,
              mood_png=None, mood_svg=None):
    """``harmonisation``: the cohorts' harmonisation reports, for the mood QC table ``mood_qc``
    and its figure (``mood_png``, ``mood_svg``)."""
    from first1000.scoring import questionnaires as mood
    from first1000.harmonise.characteristics import table1 as make_table1

    cfg = load_config(config)
    frames = [pd.read_parquet(p) for p in participants]
    table, weights = harmonise_cohorts(frames, cfg["ses_index"])
    write_parquet(table, output)
    LOG.info("%d participants from %d cohorts harmonised", len(table), len(frames))
    min_cell = cfg["privacy"]["min_cell_size"]
    write_tsv(weights, ses_weights)
    write_tsv(make_table1(table, cfg["_data_schema"], min_cell=min_cell), table1)
    rows = []
    labels = {**{k: v.get("label", k) for k, v in cfg["_data_schema"].items()}, **DERIVED_VARIABLES}
    for cohort, group in table.groupby("cohort", sort=True):
        for column in table.columns.drop(["pseudo_id", "cohort"]):
            values = group[column]
            numeric = pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)
            rows.append(dict(
                cohort=cohort, variable=column, label=labels.get(column, column), n=int(values.notna().sum()),
                pct_missing=round(100 * float(values.isna().mean()), 1),
                mean=float(values.mean()) if numeric else None,
                sd=float(values.std(ddof=1)) if numeric else None,
            ))
    write_tsv(suppress_small_counts(pd.DataFrame(rows), min_cell), summary)
    if mood_qc:
        reports = pd.concat([pd.read_csv(p, sep="\t") for p in harmonisation], ignore_index=True)
        shown = suppress_small_counts(mood.qc_table(table, reports, cfg["_data_schema"]), min_cell)
        write_tsv(shown, mood_qc)
        if mood_png:
            mood_figure(cfg, shown, mood_png, mood_svg)


def mood_figure(cfg, qc: pd.DataFrame, png, svg):
    """Median and IQR of each mood score per cohort, with Cronbach's alpha in the panel title."""
    from first1000.figures import save_figure
    from first1000.figures.qc import measure_summary

    labels = study_labels(cfg)
    titles = {}
    for variable, rows in qc.groupby("variable", sort=False):
        alphas = [f"{labels.get(c, c)} {a:.2f}" for c, a in zip(rows.cohort, rows.alpha) if pd.notna(a)]
        label = str(rows.label.iloc[0])
        titles[variable] = f"{label}; Cronbach's α: {', '.join(alphas)}" if alphas else label
    fig = measure_summary(qc.assign(unit="points"), name_col="variable", labels=labels, name_labels=titles,
                          title="Maternal mood questionnaires")
    save_figure(fig, png, svg)


# --------------------------------------------------------------------------- mechanisms
def prepare(config, mechanism, tables: dict, output, qc, participants=None):
    """``tables``: cohort -> ingest parquet of the mechanism's raw table; ``participants``:
    the harmonised participants, for mechanisms that need clinical values (``NEEDS_PARTICIPANTS``)."""
    cfg = load_config(config)
    module, _ = PREPARERS[mechanism]
    settings = cfg["preparation"].get(mechanism, {})
    read = getattr(module, "read_table", None)
    frames = {cohort: read(path, settings) if read else pd.read_parquet(path)
              for cohort, path in sorted(tables.items())}
    extra = {}
    if needs_participants(mechanism, settings):
        extra["participants"] = pd.read_parquet(participants)
    biomarkers, qc_table = module.prepare(frames, settings, **extra)
    write_parquet(biomarkers, output)
    LOG.info("%s: %d participants with %d biomarkers", mechanism, len(biomarkers), biomarkers.shape[1] - 2)
    write_tsv(suppress_small_counts(qc_table, cfg["privacy"]["min_cell_size"]), qc)


def _analysis_inputs(config, mechanism, participants, biomarkers):
    from first1000.analysis import associations as analyse

    cfg = load_config(config)
    table = analyse.analysis_table(pd.read_parquet(participants), pd.read_parquet(biomarkers))
    spec = cfg["mechanisms"][mechanism]
    covariates = spec.get("covariates", cfg["covariates"])
    return cfg, table, spec, covariates


def associate(config, mechanism, participants, biomarkers, output):
    from first1000.analysis import associations as analyse

    cfg, table, spec, covariates = _analysis_inputs(config, mechanism, participants, biomarkers)
    missing_data = cfg["missing_data"]
    if missing_data["method"] == "multiple_imputation":
        from first1000.analysis.modification import check_settings

        check_settings(cfg)
    result = analyse.associations(table, mechanism, spec, covariates, cfg["_data_schema"], cfg["meta_analysis"],
                                  missing_data=missing_data, seed=cfg["seed"],
                                  optional_covariates=optional_covariates(cfg, mechanism))
    write_tsv(result, output)
    LOG.info("%s: %d models, %d not fitted (%s)", mechanism, len(result), int((result.status != "ok").sum()),
             missing_data["method"].replace("_", " "))


def optional_covariates(cfg, mechanism) -> list[str]:
    """Covariates the mechanism adds where a cohort recorded them (e.g. hair washing)."""
    module, _ = PREPARERS[mechanism]
    found = getattr(module, "optional_covariates", None)
    return found(cfg["preparation"].get(mechanism, {})) if found else []


def sensitivity_analyses(cfg, mechanism) -> list[dict]:
    """The mechanism's declared sensitivity analyses (e.g. winsorised cortisol)."""
    module, _ = PREPARERS[mechanism]
    found = getattr(module, "sensitivity_analyses", None)
    return found(cfg["preparation"].get(mechanism, {})) if found else []


def associate_sensitivity(config, mechanism, participants, biomarkers, associations, output):
    """Association models re-fitted under the mechanism's sensitivity analyses."""
    from first1000.analysis import associations as analyse

    cfg, table, spec, covariates = _analysis_inputs(config, mechanism, participants, biomarkers)
    analyses = sensitivity_analyses(cfg, mechanism)
    main = pd.read_csv(associations, sep="\t")
    result = analyse.sensitivity_associations(
        table, main, analyses, mechanism=mechanism, spec=spec, covariates=covariates,
        data_schema=cfg["_data_schema"], meta=cfg["meta_analysis"], missing_data=cfg["missing_data"],
        seed=cfg["seed"], optional_covariates=optional_covariates(cfg, mechanism))
    write_tsv(result, output)
    LOG.info("%s: %d sensitivity analyses, %d models", mechanism, len(analyses), len(result))


def mediate(config, mechanism, participants, biomarkers, effects, paths, sensitivity):
    """Mediation paths of one mechanism; ``biomarkers`` is its prepared table, then those of
    the mechanisms of any second mediator (pipeline.mediation_mechanisms)."""
    from first1000.analysis import associations as analyse

    biomarkers = [biomarkers] if isinstance(biomarkers, (str, Path)) else list(biomarkers)
    cfg, table, spec, covariates = _analysis_inputs(config, mechanism, participants, biomarkers[0])
    for other in biomarkers[1:]:
        extra = pd.read_parquet(other).drop(columns="cohort")
        table = table.merge(extra[["pseudo_id", *[c for c in extra.columns if c not in table]]], on="pseudo_id",
                            how="left", validate="one_to_one")
    from first1000.plan import mediation_paths

    declared = mediation_paths(cfg, mechanism)
    eff, pth, sens = analyse.mediation(table, declared, cfg["covariates"], cfg["mediation"], cfg["seed"],
                                       cfg["_data_schema"], meta=cfg["meta_analysis"],
                                       missing_data=cfg["missing_data"])
    write_tsv(eff, effects)
    write_tsv(pth, paths)
    write_tsv(sens, sensitivity)
    LOG.info("%s: %d mediation paths, %d effect rows", mechanism, len(declared), len(eff))


# --------------------------------------------------------------------------- provenance
def provenance(config, inputs: list, config_out, checksums, versions, run_info, git_commit="unknown"):
    from importlib import metadata

    import yaml

    cfg = load_config(config)
    clean = {k: v for k, v in cfg.items() if not k.startswith("_") and not (k in ("cohorts", "sites") and v == {})}
    if "cohorts" in clean:
        clean["cohorts"] = {k: {kk: vv for kk, vv in v.items() if not kk.startswith("_")}
                            for k, v in clean["cohorts"].items()}
    write_text(yaml.safe_dump(clean, sort_keys=False, allow_unicode=True), config_out)
    rows = [dict(file=str(p), bytes=Path(p).stat().st_size, sha256=sha256sum(p)) for p in sorted(set(inputs))]
    write_tsv(pd.DataFrame(rows), checksums)
    packages = ["first1000", "snakemake", "pandas", "numpy", "scipy", "statsmodels", "scikit-learn", "pingouin",
                "matplotlib", "pyarrow", "openpyxl", "PyYAML", "jsonschema"]
    found = []
    for name in packages:
        try:
            found.append(dict(package=name, version=metadata.version(name)))
        except metadata.PackageNotFoundError:
            found.append(dict(package=name, version="not installed"))
    found.append(dict(package="python", version=sys.version.split()[0]))
    write_tsv(pd.DataFrame(found), versions)
    import datetime

    write_text(json.dumps({
        "seed": cfg["seed"], "fdr": cfg["fdr"], "git_commit": git_commit,
        "run_date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }, indent=2) + "\n", run_info)


# --------------------------------------------------------------------------- figures
def study_labels(cfg) -> dict:
    """Cohort (or site) name -> its label, for a run on cohorts or on sites' exports."""
    studies = {**cfg.get("cohorts", {}), **cfg.get("sites", {})}
    return {name: spec.get("label", name) for name, spec in studies.items()}


def _labels(cfg, table: pd.DataFrame) -> dict:
    from first1000.labels import figure_labels

    names = set()
    for column in ("predictor", "response", "exposure", "mediator", "outcome"):
        if column in table:
            names.update(table[column].dropna())
    return figure_labels(sorted(names), cfg["_data_schema"])


def forest_figure(config, mechanism, variable, associations, png, svg):
    """Forest plot of one exposure (biomarker rows) or one outcome (biomarker rows)."""
    from first1000.figures import cohort_colours, forest_plot, save_figure

    cfg = load_config(config)
    table = pd.read_csv(associations, sep="\t")
    exposure_rows = table.predictor == variable
    rows = table[exposure_rows] if exposure_rows.any() else table[table.response == variable]
    if (rows.cohort == "meta").any():  # consortium view: cohorts and their meta-analysis
        rows = rows[rows.cohort != POOLED]
    labels = _labels(cfg, rows)
    labels.update(study_labels(cfg))
    labels[POOLED] = "Pooled"
    labels["meta"] = "Meta-analysis (FE)" if cfg["meta_analysis"]["method"] == "FE" else "Meta-analysis (RE)"
    title = f"{cfg['mechanisms'][mechanism].get('label', mechanism)}: {labels.get(variable, variable)}"
    colours = cohort_colours([*sorted(study_labels(cfg)), POOLED, "meta"])
    fig = forest_plot(rows, title=title, labels=labels, colours=colours)
    save_figure(fig, png, svg)


def sensitivity_forest_figure(config, mechanism, associations, sensitivity, png, svg):
    """Main analysis beside each sensitivity analysis, exposure -> biomarker models, at the
    summary level (meta-analysis, else pooled, else the single cohort)."""
    from first1000.figures import cohort_colours, forest_plot, save_figure

    cfg = load_config(config)
    main = pd.read_csv(associations, sep="\t")
    alt = pd.read_csv(sensitivity, sep="\t")
    level = next(c for c in ("meta", POOLED, *sorted(main.cohort.unique())) if (main.cohort == c).any())
    exposures = cfg["mechanisms"][mechanism]["exposures"]
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
    labels = {**_labels(cfg, table), **names}
    where = {"meta": "meta-analysis", POOLED: "pooled cohorts"}.get(level, study_labels(cfg).get(level, level))
    title = f"{cfg['mechanisms'][mechanism].get('label', mechanism)}: sensitivity analyses ({where})"
    colours = cohort_colours(names)
    save_figure(forest_plot(table, title=title, labels=labels, colours=colours), png, svg)


#: The natural-effect decomposition drawn in the figures: TE = PNDE + TNIE (VanderWeele 2015).
FIGURE_EFFECTS = {"te": "total", "pnde": "direct", "tnie": "indirect", "pm": "proportion_mediated"}


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


def sensitivity_figure(config, sensitivity, exposure, mediator, outcome, png, svg):
    from first1000.figures import save_figure
    from first1000.figures.sensitivity import sensitivity_plot

    cfg = load_config(config)
    table = pd.read_csv(sensitivity, sep="\t")
    rows = table[(table.exposure == exposure) & (table.mediator == mediator) & (table.outcome == outcome)]
    chosen = POOLED if (rows.cohort == POOLED).any() else sorted(rows.cohort.unique())[0]
    labels = _labels(cfg, rows)
    fig = sensitivity_plot(rows[rows.cohort == chosen], labels=labels,
                           title=f"{labels.get(mediator, mediator)} ({'pooled' if chosen == POOLED else chosen})")
    save_figure(fig, png, svg)


def mediation_figure(config, effects, paths, exposure, mediator, outcome, png, svg):
    from first1000.figures import mediation_diagram, save_figure

    cfg = load_config(config)
    eff = figure_effects(pd.read_csv(effects, sep="\t"))
    pth = pd.read_csv(paths, sep="\t")
    chosen = POOLED if (eff.cohort == POOLED).any() else sorted(eff.cohort.unique())[0]

    def pick(frame):
        return frame[(frame.cohort == chosen) & (frame.exposure == exposure) & (frame.mediator == mediator)
                     & (frame.outcome == outcome)]

    fig = mediation_diagram(pick(eff), pick(pth), labels=_labels(cfg, eff),
                            title="All cohorts pooled" if chosen == POOLED else study_labels(cfg).get(chosen, chosen))
    save_figure(fig, png, svg)


def model_figure(config, associations: list, mediation: list, png, svg):
    """The article's model filled in with this run's pooled (or single-cohort) results."""
    from first1000.figures import model_diagram, save_figure

    cfg = load_config(config)
    assoc = pd.concat([pd.read_csv(p, sep="\t") for p in associations], ignore_index=True)
    med = figure_effects(pd.concat([pd.read_csv(p, sep="\t") for p in mediation], ignore_index=True)) \
        if mediation else None
    cohort = next((c for c in (POOLED, "meta") if (assoc.cohort == c).any()), sorted(study_labels(cfg))[0])
    exposures = list(dict.fromkeys(e for spec in cfg["mechanisms"].values() for e in spec["exposures"]))
    outcomes = list(dict.fromkeys(o for spec in cfg["mechanisms"].values() for o in spec.get("outcomes", [])))
    mechanisms = {m: spec.get("label", m) for m, spec in cfg["mechanisms"].items() if (assoc.mechanism == m).any()}
    labels = _labels(cfg, assoc)
    fig = model_diagram(assoc, med, exposures=exposures, mechanisms=mechanisms, outcomes=outcomes,
                        cohort=cohort, fdr=cfg["fdr"], labels=labels)
    save_figure(fig, png, svg)


def _units_and_labels(cfg, names) -> tuple[dict, dict]:
    from first1000.labels import label_and_unit

    found = {n: label_and_unit(n, cfg["_data_schema"]) for n in names}
    return {n: u or "unit" for n, (_, u) in found.items()}, {n: lab for n, (lab, _) in found.items()}


def scatter_figure(config, mechanism, exposure, participants, biomarkers, associations, png, svg):
    """Binned biomarker vs exposure with the covariate-adjusted fit, by cohort.

    The biomarker drawn is the one most strongly associated with the exposure (smallest
    p of the pooled, or else first cohort's, model). Only binned means are drawn (never a
    participant's value): the report shows no row-level data.
    """
    from first1000.figures import cohort_colours, save_figure
    from first1000.figures.mechanism import scatter_adjusted

    cfg, table, spec, covariates = _analysis_inputs(config, mechanism, participants, biomarkers)
    assoc = pd.read_csv(associations, sep="\t")
    rows = assoc[(assoc.predictor == exposure) & assoc.response.isin(spec["biomarkers"]) & (assoc.status == "ok")]
    chosen = next((c for c in (POOLED, "meta") if (rows.cohort == c).any()), None)
    rows = rows[rows.cohort == chosen] if chosen else rows
    biomarker = rows.sort_values(["p", "response"]).response.iloc[0] if len(rows) else spec["biomarkers"][0]
    units, labels = _units_and_labels(cfg, [exposure, biomarker])
    labels.update(study_labels(cfg))
    fig = scatter_adjusted(table, exposure, biomarker, covariates, units=units, labels=labels,
                           colours=cohort_colours(sorted(study_labels(cfg))), show_points=False,
                           title=f"{cfg['mechanisms'][mechanism].get('label', mechanism)}")
    save_figure(fig, png, svg)


def correlation_figure(config, mechanism, participants, biomarkers, png, svg):
    """Spearman correlations of the mechanism's biomarkers (all cohorts together)."""
    from first1000.figures import save_figure
    from first1000.figures.mechanism import biomarker_correlations, correlation_heatmap

    cfg, table, spec, _ = _analysis_inputs(config, mechanism, participants, biomarkers)
    min_cell = cfg["privacy"]["min_cell_size"]
    corr = biomarker_correlations(table, spec["biomarkers"], min_n=min_cell)
    _, labels = _units_and_labels(cfg, spec["biomarkers"])
    fig = correlation_heatmap(corr, labels=labels, min_n=min_cell, width="double" if len(spec["biomarkers"]) > 5
                              else "single", title=cfg["mechanisms"][mechanism].get("label", mechanism))
    save_figure(fig, png, svg)


def volcano_figure(config, mechanism, exposure, associations, png, svg):
    from first1000.figures import save_figure
    from first1000.figures.mechanism import volcano_plot

    cfg = load_config(config)
    assoc = pd.read_csv(associations, sep="\t")
    spec = cfg["mechanisms"][mechanism]
    rows = assoc[(assoc.predictor == exposure) & assoc.response.isin(spec["biomarkers"])]
    cohort = next((c for c in (POOLED, "meta") if (rows.cohort == c).any()), sorted(rows.cohort.unique())[0])
    labels = _labels(cfg, rows)
    fig = volcano_plot(rows, cohort=cohort, predictor=exposure, fdr=cfg["fdr"], labels=labels,
                       title=f"{spec.get('label', mechanism)} ({'pooled' if cohort == POOLED else cohort})")
    save_figure(fig, png, svg)


def qc_figure(config, mechanism, qc, png, svg):
    """The mechanism's QC figure, drawn from its aggregate QC table only.

    hpa: hair cortisol by window; telomeres, mitochondria: the calibrator control chart;
    metabolites, immune: % below the detection limit per marker; methylation: β per
    candidate CpG; epigenetic_age: the clock's CpGs measured and its agreement;
    microbiome: depth and the depth/prevalence filters; any other mechanism: median and
    IQR per measure and cohort (:func:`first1000.figures.qc.measure_summary`).
    """
    from first1000.figures import save_figure
    from first1000.figures import qc as qc_figures
    from first1000.figures.mechanism import calibrator_control_chart, cortisol_by_window

    cfg = load_config(config)
    table = pd.read_csv(qc, sep="\t")
    labels = study_labels(cfg)
    settings = cfg.get("preparation", {}).get(mechanism) or {}
    name = cfg["mechanisms"].get(mechanism, {}).get("label", mechanism) if "mechanisms" in cfg else mechanism
    if mechanism == "hpa":
        fig = cortisol_by_window(table, windows=list(settings["windows"]), loq=settings.get("loq"), labels=labels,
                                 title="Hair cortisol by exposure window")
    elif mechanism == "telomeres":
        fig = calibrator_control_chart(table, labels=labels, title="Inter-run calibrator per plate")
    elif mechanism == "mitochondria":
        fig = qc_figures.qpcr_control_chart(table, ratio_column="calibrator_mt_n", ratio_label="Calibrator mt/n",
                                            delta_label="Calibrator \u0394Ct, mt \u2212 nuclear", labels=labels,
                                            title="Inter-run calibrator per plate (mtDNA qPCR)")
    elif mechanism in ("metabolites", "immune"):
        markers = table[qc_figures.name_column(table)].astype(str).unique() if len(table) else []
        fig = qc_figures.below_limit_bars(table, max_pct=settings.get("lod_max_pct"), labels=labels,
                                          name_labels=qc_figures.marker_labels(markers),
                                          title=f"{name}: values below the detection limit")
    elif mechanism == "methylation":
        fig = qc_figures.cpg_summary(table, labels=labels, title=f"{name}: \u03b2 per CpG")
    elif mechanism == "epigenetic_age":
        fig = qc_figures.clock_coverage_figure(table, labels=labels, title=f"{name}: clock CpGs and agreement")
    elif mechanism == "microbiome":
        fig = qc_figures.microbiome_filters(table, labels=labels, title=f"{name}: depth and filters")
    else:
        try:
            fig = qc_figures.measure_summary(table, labels=labels, title=f"{name}: QC summary")
        except First1000Error as exc:
            raise First1000Error(f"no QC figure can be drawn for mechanism {mechanism}: {exc}") from exc
    save_figure(fig, png, svg)


#: Mechanisms with a QC figure (:func:`qc_figure`): all of them (any mechanism without a
#: figure of its own gets the generic median/IQR summary of its QC table).
QC_FIGURES = tuple(PREPARERS)


# --------------------------------------------------------------------------- epigenome-wide
def ewas_covariates(cfg, participants: pd.DataFrame, cohort: str) -> list[str]:
    """The EWAS covariates of one cohort: ``epigenome_wide.covariates`` (default: the
    study's) plus the methylation cell-type and batch covariates the cohort gives."""
    covariates = list(cfg["epigenome_wide"].get("covariates", cfg["covariates"]))
    people = participants[participants.cohort == cohort]
    extra = cfg["preparation"].get("methylation", {}).get("covariates", [])
    return covariates + [v for v in extra if v not in covariates and v in people and people[v].notna().any()]


def ewas_shard(config, cohort, exposure, shard, matrix, participants, output):
    from first1000.analysis import epigenome

    cfg = load_config(config)
    spec = cfg["epigenome_wide"]
    people = pd.read_parquet(participants)
    covariates = ewas_covariates(cfg, people, cohort)
    samples = [c for c in pq_columns(matrix) if c != "cpg"]
    design = epigenome.ewas_design(people, cohort, exposure, covariates, samples)
    fit = epigenome.fit_shard(matrix, design, exposure, int(shard), spec["shards"], chunk_cpgs=spec["chunk_cpgs"],
                              remove_outliers=spec["remove_outliers"], outlier_k=spec["outlier_k"])
    write_parquet(fit, output)
    LOG.info("EWAS %s/%s shard %s: %d CpGs fitted on %d samples", cohort, exposure, shard, len(fit), len(design))


def pq_columns(path) -> list[str]:
    import pyarrow.parquet as pq

    return list(pq.ParquetFile(path).schema_arrow.names)


def ewas_gather(config, shards: list, table_out, top_out, summary_out):
    from first1000.analysis import epigenome

    cfg = load_config(config)
    spec = cfg["epigenome_wide"]
    annotation = pd.read_csv(spec["annotation"], sep="\t", dtype={"cpg": str}) if spec.get("annotation") else None
    table, summary = epigenome.gather([pd.read_parquet(p) for p in shards], annotation, spec["array"])
    write_parquet(table, table_out)
    keep = [c for c in ("cpg", "chr", "pos", "gene", "term", "n", "coef", "se", "t", "p", "coef_beta", "se_beta",
                        "t_moderated", "p_moderated", "fdr", "bonferroni", "array_significant", "status") if c in table]
    top = table.sort_values(["p_moderated", "cpg"], kind="stable").head(spec["top_n"])[keep]
    write_tsv(top, top_out)
    write_tsv(summary, summary_out)
    LOG.info("EWAS: %d CpGs, lambda %.3f", len(table), float(summary["lambda"].iloc[0]))


def ewas_meta(config, tables: list, cohorts: list, table_out, top_out, summary_out):
    """Meta-analysis of the cohorts' EWAS tables (inverse variance per CpG)."""
    from first1000.analysis import epigenome

    cfg = load_config(config)
    spec = cfg["epigenome_wide"]
    annotation = pd.read_csv(spec["annotation"], sep="\t", dtype={"cpg": str}) if spec.get("annotation") else None
    per_cohort = {c: pd.read_parquet(p, columns=epigenome.META_READ_COLUMNS) for c, p in zip(cohorts, tables)}
    table, summary = epigenome.meta_ewas(per_cohort, annotation, spec["array"], method=spec["meta_method"])
    write_parquet(table, table_out)
    keep = [c for c in ("cpg", "chr", "pos", "gene", "term", "n", "k", "coef", "se", "z", "p", "fdr", "bonferroni",
                        "array_significant", "i2", "q_het_p", "direction", "status") if c in table]
    top = table.sort_values(["p", "cpg"], kind="stable").head(spec["top_n"])[keep]
    write_tsv(top, top_out)
    write_tsv(summary, summary_out)
    LOG.info("EWAS meta-analysis of %d cohorts: %d CpGs, lambda %.3f", len(cohorts), len(table),
             float(summary["lambda"].iloc[0]))


def ewas_figures(config, cohort, exposure, table, summary, qq_png, qq_svg, manhattan_png, manhattan_svg):
    from first1000.analysis.associations import META
    from first1000.figures import manhattan_plot, qq_plot, save_figure

    cfg = load_config(config)
    results = pd.read_parquet(table)
    info = pd.read_csv(summary, sep="\t").iloc[0]
    labels = _labels(cfg, pd.DataFrame({"predictor": [exposure]}))
    if cohort == META:
        where = f"meta-analysis of {info['cohorts'].count('+') + 1} cohorts ({info['method']})"
        p_column = "p"
    else:
        where, p_column = cfg["cohorts"][cohort].get("label", cohort), "p_moderated"
    title = f"{labels.get(exposure, exposure)}, {where}"
    save_figure(qq_plot(results, p_column=p_column, lambda_gc=float(info["lambda"]), title=title), qq_png, qq_svg)
    threshold = info.get("array_threshold")
    threshold = float(threshold) if pd.notna(threshold) else None
    save_figure(manhattan_plot(results, p_column=p_column, threshold=threshold, title=title), manhattan_png,
                manhattan_svg)


def ewas_candidates(config, cohort, exposure, biomarkers, participants, output):
    from first1000.analysis import epigenome

    cfg = load_config(config)
    people = pd.read_parquet(participants)
    covariates = ewas_covariates(cfg, people, cohort)
    table = epigenome.candidate_ewas(pd.read_parquet(biomarkers), people, cohort, exposure, covariates)
    spec = cfg["epigenome_wide"]
    if spec.get("annotation"):  # the gene (and position) of each candidate CpG, as in the EWAS tables
        annotation = pd.read_csv(spec["annotation"], sep="\t", dtype={"cpg": str})[["cpg", "chr", "pos", "gene"]]
        table = table.merge(annotation.drop_duplicates("cpg"), on="cpg", how="left")
        front = ["cohort", "cpg", "chr", "pos", "gene"]
        table = table[front + [c for c in table.columns if c not in front]]
    write_tsv(table, output)
    LOG.info("candidate CpGs of %s, %s: %d CpGs", cohort, exposure, len(table))


# --------------------------------------------------------------------------- summary statistics
def export_summary(config, cohort, associations: list, mediation: list, mediation_paths: list,
                   ewas_exposures: list, ewas_tables: list, out_dir):
    """One cohort's summary-statistics export (results/export/{cohort}/)."""
    from first1000.io.summary_statistics import export_cohort

    cfg = load_config(config)
    manifest = export_cohort(cfg, cohort, associations, mediation, mediation_paths,
                             dict(zip(ewas_exposures, ewas_tables)), out_dir)
    LOG.info("export of %s: %s", cohort, ", ".join(sorted(manifest["files"])))


def import_associations(config, mechanism, output):
    """Meta-analysis of the sites' exported association rows of one mechanism."""
    from first1000.analysis import associations as analyse
    from first1000.io.summary_statistics import site_associations

    cfg = load_config(config)
    frames = [site_associations(site, spec["path"]) for site, spec in sorted(cfg["sites"].items())]
    rows = pd.concat(frames, ignore_index=True)
    rows = rows[rows.mechanism == mechanism]
    extra = [c for c in rows if c not in analyse.ASSOCIATION_COLUMNS and rows[c].isna().all()]
    rows = rows.drop(columns=extra)  # columns of other mechanisms' models (e.g. odds_ratio)
    result = analyse.combine_cohorts(rows, cfg["meta_analysis"]) if len(rows) else rows
    write_tsv(result, output)
    LOG.info("%s: %d rows from %d sites", mechanism, len(result), len(frames))


def import_mediation(config, mechanism, effects, paths):
    import re

    from first1000.analysis import associations as analyse
    from first1000.plan import mediation_paths
    from first1000.io.summary_statistics import site_table

    cfg = load_config(config)
    biomarkers = set(cfg["mechanisms"][mechanism]["biomarkers"])
    eff = [site_table(s, spec["path"], "mediation.tsv") for s, spec in sorted(cfg["sites"].items())]
    pth = [site_table(s, spec["path"], "mediation_paths.tsv") for s, spec in sorted(cfg["sites"].items())]
    eff = pd.concat([e for e in eff if len(e)], ignore_index=True)
    pth = pd.concat([p for p in pth if len(p)], ignore_index=True)
    from first1000.plan import mediators_of

    declared = [(p["exposure"], set(mediators_of(p)), p["outcome"]) for p in mediation_paths(cfg, mechanism)]

    def belongs(row) -> bool:  # a path's rows: its mediators one by one, jointly (m1+m2) or in sequence (m1>m2)
        parts = set(re.split(r"[+>]", str(row.mediator)))
        return any(row.exposure == x and row.outcome == y and parts <= ms for x, ms, y in declared)

    eff = analyse.combine_mediation(eff[[belongs(r) for r in eff.itertuples()]], cfg["meta_analysis"])
    write_tsv(eff, effects)
    write_tsv(pth[pth.mediator.isin(biomarkers)], paths)


# --------------------------------------------------------------------------- effect modification, missing data
def modify(config, mechanism, participants, biomarkers, output):
    """Effect modification of one mechanism's models (results/modification/{mechanism}.tsv)."""
    from first1000.analysis import modification as strata

    cfg, table, _, covariates = _analysis_inputs(config, mechanism, participants, biomarkers)
    strata.check_settings(cfg)
    models = strata.modification_models(cfg, mechanism)
    result = strata.modification(table, mechanism, models, covariates, cfg["_data_schema"],
                                 at=cfg["effect_modification"]["at"])
    write_tsv(suppress_small_counts(result, cfg["privacy"]["min_cell_size"]), output)
    tests = result[(result.part == "test") & (result.test == strata.PRIMARY_TEST)]
    LOG.info("%s: %d effect-modification models, %d interaction tests, %d not fitted", mechanism, len(models),
             len(tests), int((tests.status != "ok").sum()))


def strata_figure(config, mechanism, exposure, modifier, modification, png, svg):
    """Stratified forest plot of one exposure and modifier (pooled, or the only cohort)."""
    from first1000.figures import save_figure
    from first1000.figures.strata import strata_plot

    cfg = load_config(config)
    table = pd.read_csv(modification, sep="\t", dtype={"level": str})
    rows = table[(table.exposure == exposure) & (table.modifier == modifier)]
    cohorts = sorted(rows.cohort.unique())
    cohort = POOLED if POOLED in cohorts else cohorts[0]
    _, labels = _units_and_labels(cfg, [exposure, modifier, *rows.response.unique()])
    where = "all cohorts, pooled" if cohort == POOLED else study_labels(cfg).get(cohort, cohort)
    title = (f"{cfg['mechanisms'][mechanism].get('label', mechanism)}: {labels[exposure]} by "
             f"{labels[modifier]} ({where})")
    fig = strata_plot(rows, exposure=exposure, modifier=modifier, cohort=cohort, labels=labels, title=title)
    save_figure(fig, png, svg)


def missingness(config, mechanism, participants, biomarkers, output):
    """Missing values of the mechanism's model variables per cohort (results/missingness/{mechanism}.tsv)."""
    from first1000.analysis import modification as strata

    cfg = load_config(config)
    spec = cfg["mechanisms"][mechanism]
    covariates = spec.get("covariates", cfg["covariates"])
    # the join of analyse.analysis_table, without importing the models (statsmodels)
    table = pd.read_parquet(participants).merge(pd.read_parquet(biomarkers).drop(columns="cohort"), on="pseudo_id",
                                                how="left", validate="one_to_one")
    models = strata.modification_models(cfg, mechanism)
    missing_data = cfg["missing_data"]
    auxiliary = missing_data["auxiliary"] if missing_data["method"] == "multiple_imputation" else []
    result = strata.missingness(table, spec, covariates, cfg["_data_schema"], models, auxiliary)
    write_tsv(strata.suppress_missingness(result, cfg["privacy"]["min_cell_size"]), output)
    LOG.info("%s: missingness of %d variables in %d cohorts", mechanism, result.variable.nunique(),
             result.cohort.nunique())


# --------------------------------------------------------------------------- report tables
TABLE_TITLES = {"associations": "Associations", "mediation": "Mediation effects",
                "sensitivity": "Sensitivity analyses"}


def table_view(config, kind, mechanism, table, output):
    """A searchable, sortable HTML view of one result table (with its TSV embedded)."""
    from first1000.report.html_tables import html_table

    cfg = load_config(config)
    data = pd.read_csv(table, sep="\t", keep_default_na=False, na_values=[""])
    label = cfg["mechanisms"][mechanism].get("label", mechanism)
    caption = (f"{len(data)} rows. Click a column header to sort, type to filter; the full table "
               f"is {table} (download link).")
    write_text(html_table(data, f"{label}: {TABLE_TITLES[kind].lower()}", caption,
                          filename=f"{kind}_{mechanism}.tsv"), output)
