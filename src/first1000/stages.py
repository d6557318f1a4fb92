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
from first1000.harmonise import harmonise as harmonise_cohorts
from first1000.io import sha256sum, write_parquet, write_text, write_tsv
from first1000.mechanisms import PREPARERS

#: Report tables: counts below the privacy threshold in these columns are suppressed.
COUNT_COLUMNS = ("n", "n_missing", "n_below_loq", "n_below_lod", "n_outliers", "n_failed_replicate_qc",
                 "n_samples", "n_clipped", "n_segments_outside_windows")


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
    """Replace counts 1..min_cell-1 by '<min_cell' in report-facing aggregate tables."""
    table = table.copy()
    for column in COUNT_COLUMNS:
        if column in table:
            small = table[column].notna() & (table[column] > 0) & (table[column] < min_cell)
            if small.any():
                table[column] = table[column].astype(object)
                table.loc[small, column] = f"<{min_cell}"
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
    *_, id_map = ingest.ingest_participants(cohort, mapping, cfg["_data_schema"], key)
    spec = mapping["tables"][table]
    if table == "methylation_matrix" and str(spec["path"]).lower().endswith(".parquet"):
        n_cpgs = ingest.stream_matrix(spec, id_map, output)  # bounded memory, batch by batch
        LOG.info("cohort %s, methylation matrix: %d CpGs standardised", cohort, n_cpgs)
        return
    frame = ingest.INGESTERS[table](spec, mapping["missing_codes"], id_map)
    write_parquet(frame, output)
    LOG.info("cohort %s, table %s: %d rows x %d columns standardised", cohort, table, *frame.shape)


def check_inputs(cfg, key_file) -> None:
    """Run every cohort's ingest in memory: the pre-flight check before any job runs."""
    key = ingest.load_or_create_key(key_file)
    for cohort, spec in cfg["cohorts"].items():
        ingest.ingest_cohort(cohort, spec["_mapping"], cfg["_data_schema"], key)


# --------------------------------------------------------------------------- harmonise
def harmonise(config, participants, output, summary, table1, ses_weights):
    from first1000.table1 import table1 as make_table1

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


# --------------------------------------------------------------------------- mechanisms
def prepare(config, mechanism, tables: dict, output, qc):
    """``tables``: cohort -> ingest parquet of the mechanism's raw table."""
    cfg = load_config(config)
    module, _ = PREPARERS[mechanism]
    frames = {cohort: pd.read_parquet(path) for cohort, path in sorted(tables.items())}
    biomarkers, qc_table = module.prepare(frames, cfg["preparation"].get(mechanism, {}))
    write_parquet(biomarkers, output)
    LOG.info("%s: %d participants with %d biomarkers", mechanism, len(biomarkers), biomarkers.shape[1] - 2)
    write_tsv(suppress_small_counts(qc_table, cfg["privacy"]["min_cell_size"]), qc)


def _analysis_inputs(config, mechanism, participants, biomarkers):
    from first1000 import analyse

    cfg = load_config(config)
    table = analyse.analysis_table(pd.read_parquet(participants), pd.read_parquet(biomarkers))
    spec = cfg["mechanisms"][mechanism]
    covariates = spec.get("covariates", cfg["covariates"])
    return cfg, table, spec, covariates


def associate(config, mechanism, participants, biomarkers, output):
    from first1000 import analyse

    cfg, table, spec, covariates = _analysis_inputs(config, mechanism, participants, biomarkers)
    result = analyse.associations(table, mechanism, spec, covariates, cfg["_data_schema"], cfg["meta_analysis"])
    write_tsv(result, output)
    LOG.info("%s: %d models, %d not fitted", mechanism, len(result), int((result.status != "ok").sum()))


def mediate(config, mechanism, participants, biomarkers, effects, paths):
    from first1000 import analyse

    cfg, table, spec, covariates = _analysis_inputs(config, mechanism, participants, biomarkers)
    declared = [p for p in cfg["mediation"]["paths"] if p["mediator"] in spec["biomarkers"]]
    med = cfg["mediation"]
    eff, pth = analyse.mediation(table, declared, cfg["covariates"], med["n_boot"], cfg["seed"],
                                 med["ci_method"])
    write_tsv(eff, effects)
    write_tsv(pth, paths)


# --------------------------------------------------------------------------- provenance
def provenance(config, inputs: list, config_out, checksums, versions, run_info, git_commit="unknown"):
    from importlib import metadata

    import yaml

    cfg = load_config(config)
    clean = {k: v for k, v in cfg.items() if not k.startswith("_")}
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
    labels.update({name: spec.get("label", name) for name, spec in cfg["cohorts"].items()})
    labels[POOLED] = "Pooled"
    labels["meta"] = "Meta-analysis (RE)"
    title = f"{cfg['mechanisms'][mechanism].get('label', mechanism)}: {labels.get(variable, variable)}"
    colours = cohort_colours([*sorted(cfg["cohorts"]), POOLED, "meta"])
    fig = forest_plot(rows, title=title, labels=labels, colours=colours)
    save_figure(fig, png, svg)


def mediation_figure(config, effects, paths, exposure, mediator, outcome, png, svg):
    from first1000.figures import mediation_diagram, save_figure

    cfg = load_config(config)
    eff = pd.read_csv(effects, sep="\t")
    pth = pd.read_csv(paths, sep="\t")
    chosen = POOLED if (eff.cohort == POOLED).any() else sorted(eff.cohort.unique())[0]

    def pick(frame):
        return frame[(frame.cohort == chosen) & (frame.exposure == exposure) & (frame.mediator == mediator)
                     & (frame.outcome == outcome)]

    fig = mediation_diagram(pick(eff), pick(pth), labels=_labels(cfg, eff),
                            title=f"{exposure} → {mediator} → {outcome} ({chosen})")
    save_figure(fig, png, svg)


def model_figure(config, associations: list, mediation: list, png, svg):
    """The article's model filled in with this run's pooled (or single-cohort) results."""
    from first1000.figures import model_diagram, save_figure

    cfg = load_config(config)
    assoc = pd.concat([pd.read_csv(p, sep="\t") for p in associations], ignore_index=True)
    med = pd.concat([pd.read_csv(p, sep="\t") for p in mediation], ignore_index=True) if mediation else None
    cohort = POOLED if (assoc.cohort == POOLED).any() else sorted(cfg["cohorts"])[0]
    exposures = list(dict.fromkeys(e for spec in cfg["mechanisms"].values() for e in spec["exposures"]))
    outcomes = list(dict.fromkeys(o for spec in cfg["mechanisms"].values() for o in spec.get("outcomes", [])))
    mechanisms = {m: spec.get("label", m) for m, spec in cfg["mechanisms"].items() if (assoc.mechanism == m).any()}
    labels = _labels(cfg, assoc)
    fig = model_diagram(assoc, med, exposures=exposures, mechanisms=mechanisms, outcomes=outcomes,
                        cohort=cohort, fdr=cfg["fdr"], labels=labels)
    save_figure(fig, png, svg)


# --------------------------------------------------------------------------- epigenome-wide
def ewas_shard(config, cohort, exposure, shard, matrix, participants, output):
    from first1000 import epigenome

    cfg = load_config(config)
    spec = cfg["epigenome_wide"]
    covariates = spec.get("covariates", cfg["covariates"])
    samples = [c for c in pq_columns(matrix) if c != "cpg"]
    design = epigenome.ewas_design(pd.read_parquet(participants), cohort, exposure, covariates, samples)
    fit = epigenome.fit_shard(matrix, design, exposure, int(shard), spec["shards"], chunk_cpgs=spec["chunk_cpgs"],
                              remove_outliers=spec["remove_outliers"], outlier_k=spec["outlier_k"])
    write_parquet(fit, output)
    LOG.info("EWAS %s/%s shard %s: %d CpGs fitted on %d samples", cohort, exposure, shard, len(fit), len(design))


def pq_columns(path) -> list[str]:
    import pyarrow.parquet as pq

    return list(pq.ParquetFile(path).schema_arrow.names)


def ewas_gather(config, shards: list, table_out, top_out, summary_out):
    from first1000 import epigenome

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


def ewas_figures(config, cohort, exposure, table, summary, qq_png, qq_svg, manhattan_png, manhattan_svg):
    from first1000.figures import manhattan_plot, qq_plot, save_figure

    cfg = load_config(config)
    results = pd.read_parquet(table)
    info = pd.read_csv(summary, sep="\t").iloc[0]
    labels = _labels(cfg, pd.DataFrame({"predictor": [exposure]}))
    title = f"{labels.get(exposure, exposure)}, {cfg['cohorts'][cohort].get('label', cohort)}"
    save_figure(qq_plot(results, lambda_gc=float(info["lambda"]), title=title), qq_png, qq_svg)
    threshold = info.get("array_threshold")
    threshold = float(threshold) if pd.notna(threshold) else None
    save_figure(manhattan_plot(results, threshold=threshold, title=title), manhattan_png, manhattan_svg)


def ewas_candidates(config, cohort, exposure, biomarkers, participants, output):
    from first1000 import epigenome

    cfg = load_config(config)
    covariates = cfg["epigenome_wide"].get("covariates", cfg["covariates"])
    table = epigenome.candidate_ewas(pd.read_parquet(biomarkers), pd.read_parquet(participants), cohort, exposure,
                                     covariates)
    write_tsv(table, output)
    LOG.info("candidate CpGs of %s, %s: %d CpGs", cohort, exposure, len(table))
