"""NMR metabolites: dilution normalisation, detection limits, log scale, lactate/pyruvate.

Per cohort, the long ingest table is pivoted to one row per participant and one column
per metabolite, then (kernels in :mod:`first1000.mechanisms.nmr`):

1. detection limits (:func:`~first1000.mechanisms.nmr.apply_lod_rule`): a metabolite
   with at most ``lod_max_pct`` % (default 20 %) of its values below the LOD gets
   LOD/sqrt(2) for them (Hornung & Reed 1990); above that it is analysed as detected /
   not detected only (``{metabolite}_detected``, 1/0);
2. optional dilution normalisation of the continuous metabolites (``normalisation``):
   ``none`` (serum/plasma, the default), ``pqn`` (probabilistic quotient
   normalisation, Dieterle et al. 2006) or ``creatinine`` (urine: umol per mmol
   creatinine; the creatinine column, ``creatinine`` by default, is then used up);
3. natural log (``{metabolite}_ln``) and the lactate/pyruvate ratio as
   ``lactate_pyruvate_ln_ratio`` = ln L - ln P.

The QC table has per cohort and metabolite n, the count and % below the LOD, the LOD,
the rule applied (``none``, ``lod_sqrt2``, ``detected_binary``), the normalisation and
the median (umol/L, before normalisation); with PQN also the median and IQR of the
dilution factors.
"""

from __future__ import annotations

import pandas as pd

from first1000.errors import ConfigError
from first1000.mechanisms import nmr

#: The QC figure of this mechanism (first1000.figures.qc.QC_FIGURES).
QC_FIGURE = "below_limit_bars"

SUBSTITUTION_MAX_PCT = nmr.SUBSTITUTION_MAX_PCT
NORMALISATIONS = ("none", "pqn", "creatinine")


def wide_tables(long: pd.DataFrame):
    """Long (pseudo_id, marker, value, below_limit) -> (values, below) wide, rows by pseudo_id."""
    values = long.pivot(index="pseudo_id", columns="marker", values="value").sort_index(axis=1).astype(float)
    below = long.pivot(index="pseudo_id", columns="marker", values="below_limit").reindex_like(values)
    below = below.fillna(False).astype(bool)
    values.columns.name = below.columns.name = None
    return values, below


def prepare(tables: dict[str, pd.DataFrame], settings: dict):
    method = settings.get("normalisation", "none")
    if method not in NORMALISATIONS:
        raise ConfigError(f"preparation.metabolites.normalisation: `{method}` is not one of "
                          f"{', '.join(NORMALISATIONS)}.")
    lod = settings.get("lod", {})
    max_pct = float(settings.get("lod_max_pct", SUBSTITUTION_MAX_PCT))
    creatinine = settings.get("creatinine", "creatinine")
    frames, qc = [], []
    for cohort, long in tables.items():
        where = f"{cohort} metabolites"
        values, below = wide_tables(long)
        medians = values.median(axis=0)
        continuous, detected, rules = nmr.apply_lod_rule(values, below, lod, max_pct=max_pct, where=where,
                                                         pile_up_pct=float(settings.get("pile_up_pct", 10.0)))
        factors = None
        if method == "creatinine":
            if creatinine not in continuous.columns:
                raise ConfigError(f"preparation.metabolites: normalisation `creatinine` needs the metabolite "
                                  f"`{creatinine}` (measured, with at most {max_pct:g} % below the LOD) in every "
                                  f"cohort; cohort {cohort} has none. Set `creatinine` to its column name.")
            # Standard table in umol/L: creatinine / 1000 is mmol/L, so the result is umol/mmol creatinine.
            creat = continuous.pop(creatinine) / 1000.0
            continuous = nmr.creatinine_normalise(continuous, creat, where=where)
        elif method == "pqn":
            continuous, factors = nmr.pqn(continuous, where=where)
        wide = nmr.log_values(continuous)
        if {"lactate", "pyruvate"} <= set(continuous.columns):
            wide["lactate_pyruvate_ln_ratio"] = nmr.lactate_pyruvate(continuous["lactate"], continuous["pyruvate"])
        wide = pd.concat([wide, detected], axis=1)
        wide.insert(0, "cohort", cohort)
        wide = wide.rename_axis("pseudo_id").reset_index()
        frames.append(wide)
        table = rules.assign(normalisation=method, median_umol_l=rules.metabolite.map(medians).astype(float),
                             substitution_flag=rules.rule == "detected_binary")
        if factors is not None:
            table["dilution_factor_median"] = float(factors.median())
            table["dilution_factor_iqr"] = float(factors.quantile(0.75) - factors.quantile(0.25))
        table.insert(0, "cohort", cohort)
        qc.append(table)
    return pd.concat(frames, ignore_index=True), pd.concat(qc, ignore_index=True)
