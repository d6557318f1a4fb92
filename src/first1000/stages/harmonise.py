"""Stage 2 (workflow/rules/harmonise.smk): all cohorts on one scale, with the derived SES
variables, Table 1, the per-cohort summary and the maternal-mood questionnaires' QC."""

from __future__ import annotations

import pandas as pd

from first1000.harmonise.characteristics import table1 as characteristics_table
from first1000.harmonise.ses import harmonise as harmonise_cohorts
from first1000.io import write_parquet, write_tsv
from first1000.labels import DERIVED_VARIABLES
from first1000.plan import study_labels
from first1000.privacy import suppress_small_counts
from first1000.scoring import questionnaires
from first1000.stages import LOG


def harmonise_params(cfg: dict) -> dict:
    return {"ses_index": cfg["ses_index"], "data_schema": cfg["_data_schema"],
            "min_cell_size": cfg["privacy"]["min_cell_size"], "cohort_labels": study_labels(cfg)}


def harmonised_summary(table: pd.DataFrame, data_schema: dict) -> pd.DataFrame:
    """n, % missing, mean and SD of every harmonised variable per cohort (not suppressed)."""
    rows = []
    labels = {**{k: v.get("label", k) for k, v in data_schema.items()}, **DERIVED_VARIABLES}
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
    return pd.DataFrame(rows)


def harmonise(*, ses_index, data_schema, min_cell_size, cohort_labels, participants, harmonisation, output, summary,
              table1, ses_weights, mood_qc, mood_png, mood_svg):
    """``participants``, ``harmonisation``: each cohort's ingested participants and its
    harmonisation report (the questionnaires' scoring, for the mood QC table ``mood_qc``
    and its figure ``mood_png``/``mood_svg``)."""
    frames = [pd.read_parquet(p) for p in participants]
    table, weights = harmonise_cohorts(frames, ses_index)
    write_parquet(table, output)
    LOG.info("%d participants from %d cohorts harmonised", len(table), len(frames))
    write_tsv(weights, ses_weights)
    write_tsv(characteristics_table(table, data_schema, min_cell=min_cell_size), table1)
    write_tsv(suppress_small_counts(harmonised_summary(table, data_schema), min_cell_size), summary)
    reports = pd.concat([pd.read_csv(p, sep="\t") for p in harmonisation], ignore_index=True)
    shown = suppress_small_counts(questionnaires.qc_table(table, reports, data_schema), min_cell_size)
    write_tsv(shown, mood_qc)
    mood_figure(shown, cohort_labels, mood_png, mood_svg)


def mood_figure(qc: pd.DataFrame, cohort_labels: dict, png, svg):
    """Median and IQR of each mood score per cohort, with Cronbach's alpha in the panel title."""
    from first1000.figures import save_figure
    from first1000.figures.qc import measure_summary

    titles = {}
    for variable, rows in qc.groupby("variable", sort=False):
        alphas = [f"{cohort_labels.get(c, c)} {a:.2f}" for c, a in zip(rows.cohort, rows.alpha) if pd.notna(a)]
        label = str(rows.label.iloc[0])
        titles[variable] = f"{label}; Cronbach's α: {', '.join(alphas)}" if alphas else label
    fig = measure_summary(qc.assign(unit="points"), name_col="variable", labels=cohort_labels, name_labels=titles,
                          title="Maternal mood questionnaires")
    save_figure(fig, png, svg)
