"""Stage 4b (workflow/rules/longitudinal.smk): repeated measures modelled over time with
linear mixed models, and the trajectory figures: the child follow-up over age (``growth``)
and hair cortisol over the pregnancy's windows (``hpa``)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from first1000.io import write_text, write_tsv
from first1000.labels import label_and_unit
from first1000.plan import analysed_mechanisms, mechanism_covariates, mechanism_label, optional_covariates
from first1000.stages import LOG

#: Mechanisms with repeated measures -> the time axis of their models
#: (:data:`first1000.analysis.longitudinal.AXES`).
REPEATED = {"growth": "age", "hpa": "gestation"}

#: Trajectory tables are written with every digit (figure source data round-trip exactly).
EXACT = "%.17g"


def longitudinal_mechanisms(cfg: dict) -> list[str]:
    """Mechanisms with declared longitudinal models whose table some cohort provides."""
    analysed = analysed_mechanisms(cfg) if cfg["_mode"] != "sites" else {}
    return [m for m in cfg.get("longitudinal", {}) if m in analysed]


def longitudinal_params(cfg: dict, mechanism: str) -> dict:
    spec = cfg["longitudinal"][mechanism]
    scores = list(spec["scores"])
    names = [*scores, *spec["exposures"]]
    found = {n: label_and_unit(n, cfg["_data_schema"], cfg["_declared_biomarkers"]) for n in names}
    covariates = mechanism_covariates(cfg, mechanism)
    optional = optional_covariates(cfg, mechanism)
    out = {"mechanism": mechanism, "mechanism_label": mechanism_label(cfg, mechanism), "axis": REPEATED[mechanism],
           "spec": {"scores": scores, "exposures": list(spec["exposures"]),
                    "random_slope": bool(spec["random_slope"])},
           "covariates": covariates, "optional_covariates": optional, "meta": cfg["meta_analysis"],
           "min_cell_size": cfg["privacy"]["min_cell_size"],
           "variables": {n: cfg["_data_schema"][n] for n in [*names, *covariates, *optional]
                         if n in cfg["_data_schema"]},
           "labels": {n: lab for n, (lab, _) in found.items()}, "units": {n: u for n, (_, u) in found.items()}}
    if mechanism == "hpa":  # the windows' months of pregnancy
        out["settings"] = dict(cfg["preparation"].get("hpa", {}))
    return out


def longitudinal_inputs(cfg: dict, mechanism: str) -> dict:
    """The harmonised participants and the ingested follow-up table of each cohort that has
    it (``growth``), or the prepared table (``hpa``: one column per hair window)."""
    if mechanism == "hpa":
        return {"participants": "results/harmonised/participants.parquet",
                "tables": f"results/prepared/{mechanism}.parquet"}
    tables = analysed_mechanisms(cfg)[mechanism]
    return {"participants": "results/harmonised/participants.parquet", "tables": [tables[c] for c in sorted(tables)]}


def repeated_table(axis: str, participants: pd.DataFrame, tables, settings: dict | None) -> pd.DataFrame:
    """Every repeated measure of every participant, joined with the harmonised variables."""
    from first1000.analysis.longitudinal import AXES, followup_table

    tables = [tables] if isinstance(tables, str) else list(tables)
    if axis == "age":
        long = pd.concat([pd.read_parquet(path).assign(cohort=Path(path).parent.name) for path in tables],
                         ignore_index=True)
        return followup_table(participants, long)
    from first1000.mechanisms.hpa import repeated_measures

    long = repeated_measures(pd.read_parquet(tables[0]), settings or {}, AXES[axis].origin_months)
    people = participants.drop(columns=[c for c in ("cohort",) if c in participants])
    return long.merge(people, on="pseudo_id", how="left", validate="many_to_one")


def longitudinal(*, mechanism, mechanism_label, axis, spec, covariates, optional_covariates, meta, min_cell_size,
                 variables, labels, units, participants, tables, output, trajectories, figures, settings=None):
    """Mixed models (``output``), the predicted trajectories (``trajectories``) and one figure
    per score and exposure in the folder ``figures`` (PNG and SVG, with a models note)."""
    from first1000.analysis.longitudinal import AXES, longitudinal_models
    from first1000.analysis.longitudinal import trajectories as predict
    from first1000.figures import save_figure
    from first1000.figures.trajectory import trajectory_figure
    from first1000.report.captions import trajectory_note

    time = AXES[axis]
    table = repeated_table(axis, pd.read_parquet(participants), tables, settings)
    fits = {}
    models = longitudinal_models(table, mechanism, spec, covariates, variables, meta, fits=fits, axis=time,
                                 optional_covariates=optional_covariates, min_cell=min_cell_size)
    write_tsv(models, output)
    traj = predict(fits)
    write_tsv(traj, trajectories, float_format=EXACT)
    folder = Path(figures)
    folder.mkdir(parents=True, exist_ok=True)
    shown = 0
    for (response, predictor), rows in traj.groupby(["response", "predictor"], sort=False):
        level = rows.cohort.iloc[0]
        where = "all cohorts, pooled" if level == "pooled" else level
        unit = units.get(response) or "units"
        fig = trajectory_figure(rows, response=response, predictor=predictor, labels=labels, x_label=time.x_label,
                                y_label=f"{labels.get(response, response)} ({unit})",
                                title=f"{mechanism_label}: {labels.get(response, response)} by "
                                      f"{labels.get(predictor, predictor)} ({where})")
        stem = folder / f"trajectory--{response}--{predictor}"
        save_figure(fig, f"{stem}.png", f"{stem}.svg")
        term = models[(models.cohort == level) & (models.response == response) & (models.predictor == predictor)]
        adjusted = [c for c in str(term.covariates.iloc[0]).split("+") if c and c != "nan"]
        who = "children" if axis == "age" else "mothers"
        time_effect = "" if time.categorical is None else "a fixed effect per hair window, "
        note = trajectory_note(term.random_effects.iloc[0], int(rows.n_participants.iloc[0]), who,
                               int(rows.n_obs.iloc[0]), where, time_effect, adjusted)
        write_text("\n\n" + note + "\n", f"{stem}.models.rst")  # read by the caption (trajectory.rst)
        shown += 1
    LOG.info("%s: %d mixed models, %d not fitted; %d trajectory figures", mechanism, len(models) // 2,
             int((~models.status.astype(str).str.startswith("ok")).sum()) // 2, shown)
