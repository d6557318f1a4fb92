"""Stage 4b (workflow/rules/longitudinal.smk): repeated measures of the child follow-up,
modelled over age with linear mixed models, and the trajectory figures."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from first1000.io import write_text, write_tsv
from first1000.labels import label_and_unit
from first1000.plan import analysed_mechanisms, mechanism_covariates, mechanism_label
from first1000.stages import LOG

#: Trajectory tables are written with every digit (figure source data round-trip exactly).
EXACT = "%.17g"


def longitudinal_mechanisms(cfg: dict) -> list[str]:
    """Mechanisms with declared longitudinal models whose table some cohort provides."""
    analysed = analysed_mechanisms(cfg) if cfg["_mode"] != "sites" else {}
    return [m for m in cfg.get("longitudinal", {}) if m in analysed]


def longitudinal_params(cfg: dict, mechanism: str) -> dict:
    spec = cfg["longitudinal"][mechanism]
    names = [*spec["scores"], *spec["exposures"]]
    found = {n: label_and_unit(n, cfg["_data_schema"], cfg["_declared_biomarkers"]) for n in names}
    covariates = mechanism_covariates(cfg, mechanism)
    return {"mechanism": mechanism, "mechanism_label": mechanism_label(cfg, mechanism),
            "spec": {"scores": list(spec["scores"]), "exposures": list(spec["exposures"]),
                     "random_slope": bool(spec["random_slope"])},
            "covariates": covariates, "meta": cfg["meta_analysis"],
            "variables": {n: cfg["_data_schema"][n] for n in [*names, *covariates] if n in cfg["_data_schema"]},
            "labels": {n: lab for n, (lab, _) in found.items()}, "units": {n: u for n, (_, u) in found.items()}}


def longitudinal_inputs(cfg: dict, mechanism: str) -> dict:
    """The harmonised participants and the ingested follow-up table of each cohort that has it."""
    tables = analysed_mechanisms(cfg)[mechanism]
    return {"participants": "results/harmonised/participants.parquet", "tables": [tables[c] for c in sorted(tables)]}


def longitudinal(*, mechanism, mechanism_label, spec, covariates, meta, variables, labels, units, participants,
                 tables, output, trajectories, figures):
    """Mixed models (``output``), the predicted trajectories (``trajectories``) and one figure
    per score and exposure in the folder ``figures`` (PNG and SVG, with a models note)."""
    from first1000.analysis.longitudinal import followup_table, longitudinal_models
    from first1000.analysis.longitudinal import trajectories as predict
    from first1000.figures import save_figure
    from first1000.figures.trajectory import trajectory_figure

    tables = [tables] if isinstance(tables, str) else list(tables)
    long = pd.concat([pd.read_parquet(path).assign(cohort=Path(path).parent.name) for path in tables],
                     ignore_index=True)
    table = followup_table(pd.read_parquet(participants), long)
    fits = {}
    models = longitudinal_models(table, mechanism, spec, covariates, variables, meta, fits=fits)
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
        fig = trajectory_figure(rows, response=response, predictor=predictor, labels=labels,
                                y_label=f"{labels.get(response, response)} ({unit})",
                                title=f"{mechanism_label}: {labels.get(response, response)} by "
                                      f"{labels.get(predictor, predictor)} ({where})")
        stem = folder / f"trajectory--{response}--{predictor}"
        save_figure(fig, f"{stem}.png", f"{stem}.svg")
        term = models[(models.cohort == level) & (models.response == response) & (models.predictor == predictor)]
        note = (f"Linear mixed model (REML), {term.random_effects.iloc[0]}; {int(rows.n_participants.iloc[0])} "
                f"children, {int(rows.n_obs.iloc[0])} measurements ({where}); adjusted for "
                f"{', '.join(covariates) or 'nothing'}; lines: predicted mean at the covariates' means for the "
                f"two exposure groups, bands: 95% CI of the fixed effects.")
        write_text(note + "\n", f"{stem}.models.txt")
        shown += 1
    LOG.info("%s: %d mixed models, %d not fitted; %d trajectory figures", mechanism, len(models) // 2,
             int((~models.status.astype(str).str.startswith("ok")).sum()) // 2, shown)
