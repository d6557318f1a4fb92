"""Stage 2 (workflow/rules/harmonise.smk): all cohorts on one scale, with the derived SES
variables, Table 1, the per-cohort summary and the maternal-mood questionnaires' QC."""

from __future__ import annotations

import numpy as np
import pandas as pd

from first1000.harmonise.characteristics import DEFAULT_VARIABLES, NOT_FORMED
from first1000.harmonise.characteristics import table1 as characteristics_table
from first1000.harmonise.ses import harmonise as harmonise_cohorts
from first1000.io import write_parquet, write_tsv
from first1000.labels import DERIVED_VARIABLES
from first1000.plan import study_labels
from first1000.privacy import protect, protect_quantiles, suppress_cells, suppress_small_counts
from first1000.scoring import questionnaires
from first1000.stages import LOG


def harmonise_params(cfg: dict) -> dict:
    """Table 1 describes the default characteristics and the config's ``study_variables``,
    the birth outcomes over the births (``analysis_population``)."""
    return {"ses_index": cfg["ses_index"], "data_schema": cfg["_data_schema"],
            "min_cell_size": cfg["privacy"]["min_cell_size"],
            "table1_variables": DEFAULT_VARIABLES + [v for v in cfg.get("study_variables") or {}
                                                     if v not in DEFAULT_VARIABLES],
            "births_from": cfg["analysis_population"]["birth_outcomes_from_gestational_age_days"]}


def mood_qc_params(cfg: dict) -> dict:
    return {"data_schema": cfg["_data_schema"], "min_cell_size": cfg["privacy"]["min_cell_size"],
            "cohort_labels": study_labels(cfg)}


def harmonised_summary(table: pd.DataFrame, data_schema: dict, min_cell: int) -> pd.DataFrame:
    """n, n missing, % missing, mean and SD of every harmonised variable per cohort, with
    the privacy rule set applied (:func:`first1000.privacy.protect`).

    Sums: ``n + n_missing`` = the cohort's participants (public), and for a binary (0/1)
    variable its 1s + 0s = ``n`` (the mean is the share of 1s: mean × n gives the 1s
    back). A suppressed ``n`` or ``n_missing`` takes ``pct_missing``, ``mean`` and ``sd``
    with it (mean × n would give back a sum of integer values, and so n); a suppressed
    count of 1s or 0s takes ``mean`` and ``sd``.
    """
    rows, values, relations = [], {}, []
    labels = {**{k: v.get("label", k) for k, v in data_schema.items()}, **DERIVED_VARIABLES}
    for cohort, group in table.groupby("cohort", sort=True):
        for column in table.columns.drop(["pseudo_id", "cohort"]):
            column_values = group[column]
            numeric = (pd.api.types.is_numeric_dtype(column_values)
                       and not pd.api.types.is_bool_dtype(column_values))
            i = len(rows)
            n, missing = int(column_values.notna().sum()), int(column_values.isna().sum())
            rows.append(dict(
                cohort=cohort, variable=column, label=labels.get(column, column), n=n, n_missing=missing,
                pct_missing=round(100 * float(column_values.isna().mean()), 1),
                mean=float(column_values.mean()) if numeric else None,
                sd=float(column_values.std(ddof=1)) if numeric else None,
            ))
            values[(i, "n")], values[(i, "n_missing")] = n, missing
            relations.append(([(i, "n"), (i, "n_missing")], len(group)))
            present = column_values.dropna()
            if numeric and n and present.isin([0, 1]).all():  # binary: the mean is a proportion
                values[(i, "ones")], values[(i, "zeros")] = int((present == 1).sum()), int((present == 0).sum())
                relations.append(([(i, "ones"), (i, "zeros")], (i, "n")))
    summary = pd.DataFrame(rows, columns=["cohort", "variable", "label", "n", "n_missing", "pct_missing", "mean",
                                          "sd"])
    shown = protect(values, relations, min_cell)
    summary = suppress_cells(summary, {k: t for k, t in shown.items() if k[1] in ("n", "n_missing")})
    stats = sorted({i for i, _ in shown}, key=int)
    summary.loc[stats, ["mean", "sd"]] = np.nan
    summary.loc[sorted({i for i, c in shown if c in ("n", "n_missing")}), "pct_missing"] = np.nan
    return summary


def harmonise(*, ses_index, data_schema, min_cell_size, table1_variables, births_from, participants, output, summary,
              table1, ses_weights):
    """``participants``: each cohort's ingested participants; ``output`` the harmonised
    participants of all cohorts, with Table 1 (of ``table1_variables``, the birth outcomes
    over births from ``births_from`` days), the summary and the SES index's weights."""
    frames = [pd.read_parquet(p) for p in participants]
    table, weights = harmonise_cohorts(frames, ses_index)
    write_parquet(table, output)
    LOG.info("%d participants from %d cohorts harmonised", len(table), len(frames))
    write_tsv(weights, ses_weights)
    characteristics = characteristics_table(table, data_schema, table1_variables, min_cell=min_cell_size,
                                            births_from=births_from)
    for row in characteristics[characteristics.variable == NOT_FORMED].itertuples():
        LOG.warning("Table 1, cohort %s: %s (%s); its Table 1 shows all participants only", row.cohort,
                    NOT_FORMED, row.level)
    write_tsv(characteristics, table1)
    write_tsv(harmonised_summary(table, data_schema, min_cell_size), summary)


def mood_qc(*, data_schema, min_cell_size, cohort_labels, participants, harmonisation, mood_qc, mood_png, mood_svg):
    """The maternal-mood QC table ``mood_qc`` and its figure (``mood_png``/``mood_svg``)
    from the harmonised ``participants`` and each cohort's ``harmonisation`` report (the
    questionnaires' scoring). The workflow makes them only when a cohort provides a mood
    score (:func:`first1000.plan.mood_available`)."""
    table = pd.read_parquet(participants)
    reports = pd.concat([pd.read_csv(p, sep="\t") for p in harmonisation], ignore_index=True)
    shown = suppress_small_counts(protect_quantiles(questionnaires.qc_table(table, reports, data_schema), min_cell_size),
                                  min_cell_size)
    write_tsv(shown, mood_qc)
    mood_figure(shown, cohort_labels, mood_png, mood_svg, min_cell_size)


def mood_figure(qc: pd.DataFrame, cohort_labels: dict, png, svg, min_cell: int):
    """Median and IQR of each mood score per cohort, with Cronbach's alpha in the panel title."""
    from first1000.figures import save_figure
    from first1000.figures.qc import measure_summary

    titles = {}
    for variable, rows in qc.groupby("variable", sort=False):
        alphas = [f"{cohort_labels.get(c, c)} {a:.2f}" for c, a in zip(rows.cohort, rows.alpha) if pd.notna(a)]
        label = str(rows.label.iloc[0])
        titles[variable] = f"{label}; Cronbach's α: {', '.join(alphas)}" if alphas else label
    fig = measure_summary(qc.assign(unit="points"), name_col="variable", labels=cohort_labels, name_labels=titles,
                          title="Maternal mood questionnaires", min_cell=min_cell)
    save_figure(fig, png, svg)
