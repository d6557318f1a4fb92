"""NMR metabolites: dilution normalisation, detection limits, log scale.

Matrices are *wide*: one row per sample (index = pseudo_id, in the source file's row
order so that messages can name spreadsheet rows = position + 2), one column per
metabolite, concentrations (serum/plasma umol/L; urine any unit).

* :func:`pqn` -- probabilistic quotient normalisation (Dieterle et al. 2006, Anal Chem
  78:4281): reference = median profile over the samples (or over a declared reference
  set, e.g. pooled QC or control samples); per sample the quotients x_ij / ref_j over
  the features with a value and a positive reference; dilution factor = median
  quotient; normalised = x / factor. Dieterle first scale every spectrum to the same
  total area (integral normalisation): ``integral=True`` does that, scaling each sample
  to the median total area so the data keep their scale (the result differs from
  Dieterle's fixed total of 100 only by a constant factor). Default ``integral=False``:
  for quantified concentration tables with a few dozen metabolites the total is
  dominated by the largest metabolites (glucose, lactate), so the integral step is an
  option to follow the paper, not the default.
* :func:`creatinine_normalise` -- urine per mmol creatinine: x (umol/L) / creatinine
  (mmol/L) = umol/mmol creatinine; a sensitivity analysis beside PQN.
* :func:`apply_lod_rule` -- values below the limit of detection: when a metabolite has
  <= ``max_pct`` % (default 20 %) of its values below the LOD, they become LOD/sqrt(2)
  (Hornung & Reed 1990); above that the metabolite is analysed as detected/not detected
  (1/0) only -- 20-50 % would call for censored (Tobit) models, which this step does
  not fit. The QC table says which rule each metabolite got.
* :func:`log_values`, :func:`lactate_pyruvate` (ln L - ln P). The season of sampling
  (sin and cos terms) is a harmonised covariate: :mod:`first1000.scoring.season`.

Negative concentrations are an :class:`InputTableError` naming the column, the rule and
the rows (never participant IDs or values).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from first1000.errors import ConfigError, InputTableError, format_rows
from first1000.mechanisms._markers import numeric_below_limit, pile_up, pile_up_warning

SUBSTITUTION_MAX_PCT = 20.0


def check_concentrations(values: pd.DataFrame, *, where: str = "metabolites", rule: str = "nmr") -> None:
    """Concentrations must be numbers >= 0 (missing allowed)."""
    for col in values.columns:
        raw = values[col]
        x = pd.to_numeric(raw, errors="coerce").to_numpy(float)
        not_number = np.isnan(x) & raw.notna().to_numpy()
        if not_number.any():
            raise InputTableError(f"{where}, column '{col}', {format_rows(np.flatnonzero(not_number) + 2)}: not a "
                                  f"number (rule: {rule}). Concentrations must be numeric; mark values below the "
                                  "detection limit in the below-limit mask, not in the value.")
        negative = x < 0
        if negative.any():
            raise InputTableError(f"{where}, column '{col}', {format_rows(np.flatnonzero(negative) + 2)}: negative "
                                  f"concentration (rule: {rule}). Concentrations cannot be below 0; values below "
                                  "detection should be flagged as such, not exported as negative numbers.")


def pqn(values: pd.DataFrame, *, reference_samples=None, integral: bool = False, where: str = "metabolites"):
    """Probabilistic quotient normalisation. Returns ``(normalised, dilution_factor)``.

    ``dilution_factor`` = original / normalised per sample (with ``integral=True`` it
    includes the total-area scaling).

    ``reference_samples``: index labels (or a boolean mask) of the samples whose median
    profile is the reference; all samples when None.
    """
    check_concentrations(values, where=where, rule="pqn")
    x = values.astype(float)
    scale = pd.Series(1.0, index=x.index)
    if integral:
        total = x.sum(axis=1, skipna=True)
        if (total <= 0).any():
            raise InputTableError(f"{where}, {format_rows(np.flatnonzero((total <= 0).to_numpy()) + 2)}: total "
                                  "area 0, cannot do integral normalisation (rule: pqn).")
        scale = total / float(total.median())
        x = x.div(scale, axis=0)
    ref_rows = x if reference_samples is None else (
        x[np.asarray(reference_samples, bool)] if np.asarray(reference_samples).dtype == bool
        else x.loc[list(reference_samples)])
    if ref_rows.empty:
        raise ConfigError("pqn: the declared reference set has no samples.")
    reference = ref_rows.median(axis=0, skipna=True)
    usable = reference > 0
    quotients = x.loc[:, usable].div(reference[usable], axis=1)
    factor = quotients.median(axis=1, skipna=True)
    # Reported factor: original / normalised, i.e. including the integral step.
    return x.div(factor, axis=0), (factor * scale).rename("dilution_factor")


def creatinine_normalise(values: pd.DataFrame, creatinine_mmol_l, *, where: str = "metabolites"):
    """Urine concentrations per mmol creatinine: umol/L / (mmol/L) = umol/mmol."""
    creat = pd.Series(np.asarray(creatinine_mmol_l, float), index=values.index)
    bad = ~(creat > 0) & creat.notna()
    if bad.any():
        raise InputTableError(f"{where}, column 'creatinine', {format_rows(np.flatnonzero(bad.to_numpy()) + 2)}: "
                              "creatinine must be above 0 to normalise by it (rule: creatinine).")
    return values.astype(float).div(creat, axis=0)


def apply_lod_rule(values: pd.DataFrame, below: pd.DataFrame, lod: Mapping[str, float], *,
                   max_pct: float = SUBSTITUTION_MAX_PCT, where: str = "metabolites", pile_up_pct: float = 10.0):
    """Below-LOD handling per metabolite. Returns ``(continuous, detected, qc)``.

    ``below``: same shape as ``values``, True where the value was reported below the
    LOD (a numeric value at or below the declared LOD counts as below it too). ``continuous``: metabolites with <= ``max_pct`` % below LOD, those values set to
    LOD/sqrt(2). ``detected``: the others as ``{metabolite}_detected`` (1 detected, 0 below
    LOD, NaN missing). ``qc``: metabolite, n, n_below_lod, pct_below_lod, lod, rule
    ("lod_sqrt2", "detected_binary" or "none"), and the pile-up of measured values at one
    single value (n_at_one_value, pct_at_one_value, pile_up above ``pile_up_pct``, warning).
    """
    below = below.reindex_like(values).fillna(False).astype(bool)
    check_concentrations(values.where(~below), where=where, rule="lod")
    continuous, detected, qc = {}, {}, []
    for col in values.columns:
        x = values[col].astype(float).to_numpy()
        b = numeric_below_limit(x, below[col].to_numpy(), lod.get(col))  # a numeric floor at or below the LOD
        piled = pile_up(x, b, pile_up_pct=pile_up_pct)
        observed = b | ~np.isnan(x)
        n = int(observed.sum())
        n_below = int(b.sum())
        pct = 100.0 * n_below / n if n else np.nan
        if n_below == 0:
            rule = "none"
            continuous[col] = x
        elif col not in lod:
            raise ConfigError(f"metabolites: `{col}` has values below the detection limit but no limit is declared; "
                              f"add `preparation.metabolites.lod.{col}` to the config.")
        elif pct <= max_pct:
            rule = "lod_sqrt2"
            continuous[col] = np.where(b, float(lod[col]) / np.sqrt(2), x)
        else:
            rule = "detected_binary"
            detected[f"{col}_detected"] = np.where(b, 0.0, np.where(np.isnan(x), np.nan, 1.0))
        qc.append(dict(metabolite=col, n=n, n_below_lod=n_below, pct_below_lod=pct,
                       lod=float(lod[col]) if col in lod else np.nan, rule=rule,
                       n_at_one_value=piled["n_at_one_value"], pct_at_one_value=piled["pct_at_one_value"],
                       pile_up=piled["pile_up"], warning=pile_up_warning("metabolites", col, piled, col in lod)))
    return (pd.DataFrame(continuous, index=values.index), pd.DataFrame(detected, index=values.index),
            pd.DataFrame(qc))


def log_values(values: pd.DataFrame, suffix: str = "_ln") -> pd.DataFrame:
    """Natural log; 0 becomes NaN (apply the LOD rule first)."""
    x = values.astype(float)
    with np.errstate(divide="ignore"):
        out = np.log(x.where(x > 0))
    return out.add_suffix(suffix)


def lactate_pyruvate(lactate, pyruvate):
    """Lactate/pyruvate ratio on the log scale: ln L - ln P."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(np.asarray(lactate, float)) - np.log(np.asarray(pyruvate, float))
