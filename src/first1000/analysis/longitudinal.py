"""Repeated measures over the first two years: linear mixed models per cohort, pooled and
meta-analysed, and the model-predicted trajectories the figures draw.

For each declared score (a WHO z-score or a neurodevelopment score of the child follow-up)
and exposure, every visit of every child enters one model (:func:`first1000.stats.mixed.fit_lmm`,
REML):

    score_ij = b0 + b1 exposure_i + b2 age_ij + b3 exposure_i x age_ij + covariates_i
               + u_0i [+ u_1i age_ij] + e_ij

with age in years since birth (chronological), a random intercept per child and, with
``random_slope: true``, a random slope on age. Two rows per model: ``age_term`` =
``at_birth`` (b1: the exposure's association with the score extrapolated to birth) and
``per_year`` (b3: how much that association changes per year of age: a gradient that
widens or narrows over the first two years). The pooled model adds cohort as a fixed
effect; the meta-analysis combines the cohorts' estimates of each term as the association
stage does (random effects, REML). BH-FDR within cohort over all rows.

The trajectories are the pooled model's predicted mean score (covariates at their means,
dummies at their shares) from birth to 24 months for children of mothers at the exposure's
mean - 1 SD and mean + 1 SD (or at 0 and 1 for a binary exposure), with 95% CIs of the
fixed effects: model quantities, never a child's values.

Repeated biomarkers of pregnancy (hair cortisol of the HPA mechanism: one value per
mother and hair window) take the same model on the ``gestation`` time axis
(:data:`AXES`): the window's nominal midpoint in months of pregnancy, centred at
mid-pregnancy (4.5 months), with a fixed effect per window instead of the linear time
main effect (the windows' baseline levels differ, e.g. by wash-out of older hair)::

    ln cortisol_ij = b0 + b1 exposure_i + window_j + b3 exposure_i x (month_j - 4.5)
                     + covariates_i + u_0i [+ u_1i (month_j - 4.5)] + e_ij

Rows ``age_term`` = ``mid_pregnancy`` (b1: the exposure's association at 4.5 months,
the three trimesters in one model instead of three) and ``per_month`` (b3: its change per
month of pregnancy). Trajectories are predicted at each window's month.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from first1000.analysis.associations import cohort_subsets
from first1000.config import META, POOLED
from first1000.errors import ModelError
from first1000.labels import effect_unit
from first1000.privacy import hide_small_models
from first1000.stats.meta import meta_analyse
from first1000.stats.mixed import fit_lmm
from first1000.stats.multitest import bh_fdr
from first1000.stats.regression import check_column_types, design_matrix

LONGITUDINAL_COLUMNS = ["cohort", "mechanism", "predictor", "response", "age_term", "model", "n", "n_missing",
                        "estimate", "se", "ci_low", "ci_high", "p", "q", "covariates", "unit", "random_effects",
                        "n_obs", "n_participants", "status"]
TRAJECTORY_COLUMNS = ["cohort", "predictor", "response", "group", "exposure_value", "time_axis", "months",
                      "estimate", "ci_low", "ci_high", "n_participants", "n_obs"]
DAYS_PER_YEAR = 365.25
DAYS_PER_MONTH = 30.4375
Z95 = 1.959963984540054  # standard normal 97.5th percentile
#: Ages (months) at which the growth trajectories are predicted.
TRAJECTORY_MONTHS = np.arange(0, 25, 1.0)


@dataclass(frozen=True)
class TimeAxis:
    """How time enters the mixed models of one kind of repeated measure."""

    name: str  #: ``age`` (the child, from birth) or ``gestation`` (the mother, from conception)
    column: str  #: the model's time column, 0 at the reference time
    terms: tuple[str, str]  #: ``age_term`` of the exposure's main effect and of its interaction with time
    per: str  #: the interaction's unit suffix
    x_label: str  #: the trajectory figure's x axis
    months_per_unit: float  #: months in one unit of ``column``
    origin_months: float  #: months at ``column`` = 0
    #: ``None``: a linear time main effect; else a fixed effect per level of this column
    categorical: str | None = None


AXES = {
    "age": TimeAxis("age", "age_years", ("at_birth", "per_year"), "per year of age", "Age (months)",
                    DAYS_PER_YEAR / DAYS_PER_MONTH, 0.0),
    "gestation": TimeAxis("gestation", "pregnancy_month_c", ("mid_pregnancy", "per_month"),
                          "per month of pregnancy", "Month of pregnancy", 1.0, 4.5, categorical="window"),
}


def followup_table(participants: pd.DataFrame, followup: pd.DataFrame) -> pd.DataFrame:
    """Every visit of every child joined with the participant's harmonised variables
    (``followup``: the cohorts' ingested child follow-up tables, with ``cohort``)."""
    people = participants.drop(columns=[c for c in ("cohort",) if c in participants and c in followup])
    table = followup.merge(people, on="pseudo_id", how="left", validate="many_to_one")
    table["age_years"] = table["age_days"] / DAYS_PER_YEAR
    return table


def _fixed_time(axis: TimeAxis) -> str:
    """The time main effect's column: linear time, or the categorical column."""
    return axis.categorical or axis.column


def _model(data: pd.DataFrame, score: str, exposure: str, covs: list[str], random_slope: bool, axis: TimeAxis):
    """(fit, design names, complete rows) of one model."""
    time = axis.column
    used = list(dict.fromkeys([score, exposure, time, _fixed_time(axis), *covs]))
    complete = data.dropna(subset=used)
    x, names = design_matrix(complete, [exposure, _fixed_time(axis), *covs])
    interaction = x[:, names.index(exposure)] * complete[time].to_numpy(float)
    x = np.column_stack([x, interaction])
    names = [*names, f"{exposure}:{time}"]
    keep = np.ptp(x, axis=0) > 0
    keep[0] = True  # the intercept
    dropped = [n for n, k in zip(names, keep) if not k]
    if dropped and (exposure in dropped or f"{exposure}:{time}" in dropped):
        raise ValueError(f"{exposure} does not vary")
    x, names = x[:, keep], [n for n, k in zip(names, keep) if k]
    t = complete[time].to_numpy(float)
    z = np.column_stack([np.ones(len(complete)), t]) if random_slope else np.ones((len(complete), 1))
    fit = fit_lmm(complete[score].to_numpy(float), x, complete["pseudo_id"].to_numpy(), z, names=names)
    return fit, names, complete


def longitudinal_models(table: pd.DataFrame, mechanism: str, spec: dict, covariates: list[str],
                        data_schema: dict, meta: dict | None = None, fits: dict | None = None,
                        axis: TimeAxis = AXES["age"], optional_covariates=(), min_cell: int = 1) -> pd.DataFrame:
    """Mixed models of every score x exposure of ``spec`` (``scores``, ``exposures``,
    ``random_slope``) per cohort, pooled and meta-analysed (see the module doc), on the
    time ``axis``; ``optional_covariates`` are added where a cohort recorded them
    (:func:`first1000.analysis.associations.cohort_subsets`).

    ``fits``: a dict that receives, per (score, exposure), the summary level's fit (the
    pooled model, or the single cohort's) with its design names and data, for
    :func:`trajectories`.

    ``min_cell`` (config ``privacy.min_cell_size``): a model fitted on fewer children (or
    mothers) shows its n but no estimate, is not meta-analysed and draws no trajectory
    (:func:`first1000.privacy.hide_small_models`)."""
    random_slope = bool(spec.get("random_slope", True))
    who = "child" if axis.name == "age" else "mother"
    slope = "age" if axis.name == "age" else "month-of-pregnancy"
    effects = f"intercept + {slope} slope per {who}" if random_slope else f"intercept per {who}"
    rows = []
    subsets = list(cohort_subsets(table, covariates, optional_covariates))
    for index, (cohort, data, covs) in enumerate(subsets):
        n_children = data.pseudo_id.nunique()
        for score in spec["scores"]:
            for exposure in spec["exposures"]:
                base = dict(cohort=cohort, mechanism=mechanism, predictor=exposure, response=score,
                            model="linear mixed (REML)", covariates="+".join(covs),
                            unit=effect_unit(score, exposure, "gaussian", data_schema), random_effects=effects)
                try:
                    absent = [v for v in (score, exposure) if v not in data]
                    if absent:  # a cohort (or every cohort) without the measure
                        raise ValueError(f"{absent[0]} is not measured")
                    check_column_types(data, [score, exposure, *covs],
                                       where=f"longitudinal {mechanism}, cohort {cohort}")  # raises, never caught
                    if data[score].notna().sum() == 0 or data[exposure].notna().sum() == 0:
                        raise ValueError(f"{score if data[score].notna().sum() == 0 else exposure} is not measured")
                    if data.loc[data[score].notna(), "pseudo_id"].duplicated().sum() == 0:
                        raise ValueError(f"{score} is measured once per {'child' if axis.name == 'age' else 'mother'}"
                                         ": no repeated measures (its cross-sectional models are those of the "
                                         f"{'visits' if axis.name == 'age' else 'windows'})")
                    fit, names, complete = _model(data, score, exposure, covs, random_slope, axis)
                except (ValueError, np.linalg.LinAlgError, ModelError) as err:  # too few children, rank, ...
                    for term in axis.terms:
                        rows.append({**base, "age_term": term, "n": 0, "n_missing": n_children, "n_obs": 0,
                                     "n_participants": 0, "status": f"not fitted: {err}"})
                    continue
                n_part = int(fit["n_groups"])
                if fits is not None and index == len(subsets) - 1 and n_part >= min_cell:
                    fits[(score, exposure)] = (cohort, fit, names, complete, covs, axis)
                for term, name in zip(axis.terms, (exposure, f"{exposure}:{axis.column}")):
                    j = names.index(name)
                    rows.append({**base, "age_term": term, "n": n_part, "n_missing": n_children - n_part,
                                 "estimate": fit["params"][j], "se": fit["bse"][j], "ci_low": fit["ci_low"][j],
                                 "ci_high": fit["ci_high"][j], "p": fit["p"][j], "n_obs": int(fit["n_obs"]),
                                 "n_participants": n_part,
                                 "status": "ok" if fit["converged"] else "ok (optimiser did not confirm convergence)"})
                    if term == axis.terms[1]:
                        rows[-1]["unit"] = f"{base['unit']} {axis.per}"
    out = pd.DataFrame(rows)
    if out.empty:
        return pd.DataFrame(columns=LONGITUDINAL_COLUMNS)
    out = hide_small_models(out, min_cell)
    cohorts = sorted(c for c in out.cohort.unique() if c != POOLED)
    if len(cohorts) > 1:
        per = out[out.cohort.isin(cohorts)]
        m = meta or {"method": "REML", "knapp_hartung": False}
        res = meta_analyse(per, by=("predictor", "response", "age_term"), study="cohort", method=m["method"],
                           knapp_hartung=m.get("knapp_hartung", False), study_order=cohorts)
        first = per.drop_duplicates(["predictor", "response", "age_term"]).set_index(
            ["predictor", "response", "age_term"])
        keys = pd.MultiIndex.from_frame(res[["predictor", "response", "age_term"]])
        ok = per[per.status == "ok"].groupby(["predictor", "response", "age_term"])  # the rows meta_analyse pools
        out = pd.concat([out, pd.DataFrame({
            "cohort": META, "mechanism": mechanism, "predictor": res.predictor, "response": res.response,
            "age_term": res.age_term, "model": "meta-analysis of the cohorts' mixed models",
            "n": ok.n.sum().reindex(keys).fillna(0).astype(int).to_numpy(),
            "n_missing": ok.n_missing.sum().reindex(keys).fillna(0).astype(int).to_numpy(),
            "estimate": res.estimate, "se": res.se, "ci_low": res.ci_low, "ci_high": res.ci_high, "p": res.p,
            "covariates": first.covariates.reindex(keys).to_numpy(), "unit": first.unit.reindex(keys).to_numpy(),
            "random_effects": effects, "n_obs": ok.n_obs.sum().reindex(keys).fillna(0).astype(int).to_numpy(),
            "n_participants": ok.n_participants.sum().reindex(keys).fillna(0).astype(int).to_numpy(),
            "status": res.status,
        })], ignore_index=True)
    out["q"] = np.nan
    for _, index in out.groupby("cohort", sort=False).groups.items():
        out.loc[index, "q"] = bh_fdr(out.loc[index, "p"].to_numpy(dtype=float))
    return out.reindex(columns=LONGITUDINAL_COLUMNS)


def trajectories(fits: dict) -> pd.DataFrame:
    """Predicted mean score over time for two exposure groups (see the module doc), from
    the summary level's fits that :func:`longitudinal_models` kept: by month of age from
    birth to 24 months, or at each hair window's month of pregnancy."""
    rows = []
    for (score, exposure), (cohort, fit, names, complete, covs, axis) in fits.items():
        x, full_names = design_matrix(complete, [exposure, _fixed_time(axis), *covs])
        means = dict(zip(full_names, x.mean(axis=0)))
        values = pd.to_numeric(complete.drop_duplicates("pseudo_id")[exposure], errors="coerce")
        binary = set(values.dropna().unique()) <= {0.0, 1.0}
        groups = ([("0", 0.0), ("1", 1.0)] if binary else
                  [("mean \u2212 1 SD", values.mean() - values.std()), ("mean + 1 SD", values.mean() + values.std())])
        if axis.categorical is None:
            points = [(month, {axis.column: month / axis.months_per_unit}) for month in TRAJECTORY_MONTHS]
        else:  # each level (window) at its time, the other levels' indicators 0
            levels = complete.groupby(axis.categorical, sort=True)[axis.column].first()
            dummies = [n for n in full_names if n.startswith(f"{axis.categorical}[")]
            points = sorted(((t * axis.months_per_unit + axis.origin_months,
                              {axis.column: t, **{d: float(d == f"{axis.categorical}[{level}]") for d in dummies}})
                             for level, t in levels.items()), key=lambda p: p[0])
        for group, value in groups:
            for month, at in points:
                time = at[axis.column]
                point = {**means, **at, exposure: value, f"{exposure}:{axis.column}": value * time}
                x0 = np.array([point[n] for n in names])
                est = float(x0 @ fit["params"])
                se = float(np.sqrt(x0 @ fit["cov_fe"] @ x0))
                rows.append(dict(cohort=cohort, predictor=exposure, response=score, group=group,
                                 exposure_value=value, time_axis=axis.name, months=month, estimate=est,
                                 ci_low=est - Z95 * se, ci_high=est + Z95 * se,
                                 n_participants=int(fit["n_groups"]), n_obs=int(fit["n_obs"])))
    return pd.DataFrame(rows, columns=TRAJECTORY_COLUMNS)
