"""Child growth and development to age 2, from the child follow-up table.

A cohort's ``child_followup`` table holds one row per child and visit (ingest computed the
WHO 2006 z-scores, :mod:`first1000.scoring.growth`, at the age corrected for prematurity
and refused ages outside 0-24 months, repeated visits and WHO-flagged values). For the
cross-sectional models (exposure -> the child's z-score at 12 months, or a later outcome
of a mediation path) each child gets, per declared visit, the measurement nearest the
visit's target age within its window (chronological age in months, WHO's 30.4375 days
per month; the earlier of two equally near):

``preparation.growth.visits``: visit -> [target month, window start, window end], months
(default 6: [6, 3, 9], 12: [12, 9, 18], 24: [24, 18, 24]; a window includes its start and
excludes its end, except an end at 24: up to the follow-up's last day, 731 days).

Biomarkers, per visit ``{v}`` (e.g. ``12m``) and score the cohort measured:
``waz_{v}``, ``laz_{v}``, ``wlz_{v}``, ``bmiz_{v}``, ``hcz_{v}`` (WHO z-scores) and the
neurodevelopment scores ``asq_communication_{v}``, ... ``bayley_motor_{v}`` (points).

The QC table has, per cohort, visit and score: label, unit, n (children with a value),
the median, q1 and q3, and the median age at the measurement (months). Per cohort, visit
and ASQ-3 domain whose children include some with a published cut-off
(:mod:`first1000.scoring.asq`; shipped today: the 12-month questionnaire, from
Environ Health Prev Med 2020, doi:10.1186/s12199-020-00873-6, Table 2; the config's
``preparation.growth.asq_cutoffs`` adds or replaces intervals) a row
``asq_{domain}_below_cutoff_{visit}`` describes the children below the cut-off: ``n``
(their number), ``pct_below_cutoff`` (their share of the children classified),
``cutoff`` (the cut-off(s) used, with their questionnaire) and the median, q1, q3 of
their scores and their median age. The questionnaire is the ASQ-3 interval nearest the
age at the measurement, corrected for prematurity where ingest stored a corrected age
(``age_corrected_days``); a child whose interval has no shipped cut-off is not
classified. The prepare stage suppresses a small ``n`` with every statistic of its row
(``first1000.privacy``). Below-cut-off indicators are not biomarkers: the association
stage models a biomarker as binary only when its name or the data schema says so
(:func:`first1000.labels.model_family`). The repeated measures themselves (every visit
of every child) are modelled by the longitudinal stage.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from first1000.errors import ConfigError
from first1000.labels import FOLLOWUP_SCORES as SCORES
from first1000.labels import followup_label
from first1000.scoring import asq
from first1000.scoring.growth import DAYS_PER_MONTH

#: visit name -> (target month, window start, window end)
DEFAULT_VISITS = {"6m": (6.0, 3.0, 9.0), "12m": (12.0, 9.0, 18.0), "24m": (24.0, 18.0, 24.0)}
LAST_MONTH = 24.0
LAST_DAY = 731  # the follow-up table's last day of age
QC_COLUMNS = ["cohort", "measure", "label", "unit", "n", "median", "q1", "q3", "median_age_months",
              "pct_below_cutoff", "n_not_below_cutoff", "cutoff"]


def definition_files(settings: dict) -> list:
    """The ASQ-3 cut-off table the QC reads (a change reruns the preparation)."""
    return [asq.cutoff_path()]


def check_settings(settings: dict, where) -> None:
    """Each declared visit's window holds its target: start <= target <= end, start < end
    (``where(keys)`` locates a key in the config file)."""
    for name, (target, start, end) in visits(settings).items():
        if not (start <= target <= end and start < end):
            raise ConfigError(f"{where(['preparation', 'growth', 'visits', name])}: expected [target month, window "
                              f"start, window end] with start <= target <= end and start < end, got "
                              f"[{target:g}, {start:g}, {end:g}].")


def visits(settings: dict) -> dict[str, tuple[float, float, float]]:
    """The declared visits (``preparation.growth.visits``) or the defaults."""
    declared = settings.get("visits")
    if not declared:
        return dict(DEFAULT_VISITS)
    return {str(name): tuple(float(v) for v in spec) for name, spec in declared.items()}


def at_visits(long: pd.DataFrame, settings: dict) -> pd.DataFrame:
    """One row per child: each score at each visit (the measurement nearest the target);
    columns starting with ``_`` hold the age (months) of each: ``_age_{score}_{visit}``
    chronological, ``_corrected_{score}_{visit}`` corrected for prematurity (ASQ-3
    scores; the chronological age where ingest stored no corrected age)."""
    months = long.age_days.to_numpy(float) / DAYS_PER_MONTH
    corrected = (long.age_corrected_days.to_numpy(float) / DAYS_PER_MONTH if "age_corrected_days" in long
                 else months)
    scores = [s for s in SCORES if s in long.columns]
    wide = pd.DataFrame(index=pd.Index(sorted(long.pseudo_id.unique()), name="pseudo_id"))
    for name, (target, start, end) in visits(settings).items():
        # a window ending at 24 months keeps the follow-up's last day (731 days, 24.02 months)
        inside = (months >= start) & ((months < end) | ((end >= LAST_MONTH) & (months <= LAST_DAY / DAYS_PER_MONTH)))
        rows = long.loc[inside].assign(_distance=np.abs(months[inside] - target), _age=months[inside],
                                       _corrected=corrected[inside])
        rows = rows.sort_values(["pseudo_id", "_distance", "_age"], kind="stable")
        for score in scores:
            # the nearest visit that measured this score
            have = rows[rows[score].notna()].drop_duplicates("pseudo_id").set_index("pseudo_id")
            wide[f"{score}_{name}"] = have[score].reindex(wide.index)
            wide[f"_age_{score}_{name}"] = have["_age"].reindex(wide.index)
            if score.startswith("asq_"):
                wide[f"_corrected_{score}_{name}"] = have["_corrected"].reindex(wide.index)
    return wide


def _cutoff_text(used: pd.DataFrame) -> str:
    """The cut-offs a row used, e.g. ``15.64 (12-month questionnaire)``."""
    pairs = used.drop_duplicates().sort_values("interval_months")
    return "; ".join(f"{c:.2f} ({i:g}-month questionnaire)" for i, c in zip(pairs.interval_months, pairs.cutoff))


def below_cutoff_row(cohort: str, wide: pd.DataFrame, score: str, visit: str,
                     declared: dict | None = None) -> dict | None:
    """The QC row ``asq_{domain}_below_cutoff_{visit}`` of an ASQ-3 score at a visit: the
    children below the cut-off (aggregates only), or None when no child's questionnaire
    interval has a cut-off (shipped, or ``declared``: ``preparation.growth.asq_cutoffs``)."""
    column = f"{score}_{visit}"
    value = wide[column].to_numpy(float)
    found = asq.classify(value, wide[f"_corrected_{column}"].to_numpy(float), score, declared=declared)
    classified = found.below_cutoff.notna().to_numpy()
    if not classified.any():
        return None
    below = (found.below_cutoff == 1).to_numpy()
    x = pd.Series(value[below])
    age = pd.Series(wide[f"_age_{column}"].to_numpy(float)[below])
    measure = f"{score}_below_cutoff_{visit}"
    label, unit = followup_label(measure)
    # n + n_not_below_cutoff = the children with a score at the visit (the score's own row):
    # the privacy rules suppress both when either is small
    scored = int(np.isfinite(value).sum())
    return dict(cohort=cohort, measure=measure, label=label, unit=unit, n=int(below.sum()),
                n_not_below_cutoff=scored - int(below.sum()),
                median=float(x.median()), q1=float(x.quantile(0.25)), q3=float(x.quantile(0.75)),
                median_age_months=float(age.median()), pct_below_cutoff=100.0 * below.sum() / classified.sum(),
                cutoff=_cutoff_text(found.loc[classified, ["interval_months", "cutoff"]]))


def prepare(tables: dict[str, pd.DataFrame], settings: dict):
    frames, qc = [], []
    for cohort, long in tables.items():
        wide = at_visits(long, settings)
        values = [c for c in wide.columns if not c.startswith("_")]
        for name in visits(settings):
            for score, (label, unit) in SCORES.items():
                column = f"{score}_{name}"
                if column not in wide:
                    continue
                x = wide[column].dropna()
                if not x.size:  # not measured at this visit
                    continue
                age = wide[f"_age_{score}_{name}"].dropna()
                qc.append(dict(cohort=cohort, measure=column, label=followup_label(column)[0], unit=unit,
                               n=int(x.size),
                               median=float(x.median()), q1=float(x.quantile(0.25)), q3=float(x.quantile(0.75)),
                               median_age_months=float(age.median())))
                if score.startswith("asq_") and (row := below_cutoff_row(cohort, wide, score, name, settings.get("asq_cutoffs"))):
                    qc.append(row)
        out = wide[values].copy()
        out.insert(0, "cohort", cohort)
        frames.append(out.reset_index())
    return pd.concat(frames, ignore_index=True), pd.DataFrame(qc, columns=QC_COLUMNS)
