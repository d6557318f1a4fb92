"""Epigenetic clocks: DNAm age from published CpG coefficients, and age acceleration.

A linear clock predicts ``transform(intercept + sum_j coef_j * beta_j)`` over its CpGs.
The coefficients are the files biolearn 0.9.1 ships (``biolearn/data/*.csv``), copied
verbatim to ``first1000/data/clocks/`` (shipped in the wheel) (source, version and licence in its README):

=============  ==========================  ============  =====  ====================
clock          paper                       tissue        CpGs   output
=============  ==========================  ============  =====  ====================
horvath2013    Horvath 2013 Genome Biol     multi-tissue  353    years; F^-1 transform
hannum2013     Hannum 2013 Mol Cell         blood         71     years
knight2016     Knight 2016 Genome Biol      cord blood    148    gestational weeks
bohlin2016     Bohlin 2016 Genome Biol      cord blood    251    gestational days
=============  ==========================  ============  =====  ====================

Horvath's clock is fitted on F(age) with F(a) = ln(a + 1) - ln(21) for a <= 20 and
(a - 20) / 21 above, so the linear predictor x goes back to years through
F^-1(x) = 21 e^x - 1 (x < 0) or 21 x + 20 (x >= 0); the intercept is 0.696. Bohlin's
intercept is 277.2421 days; Knight's (41.7 weeks) is the ``intercept`` row of its file;
biolearn's Hannum model has no intercept. These are biolearn's definitions.

Missing CpGs (``impute=``) follow biolearn's ``ModelGallery`` default ("sesame_450k",
:func:`biolearn.imputation.hybrid_impute`, threshold 0.8):

* a clock CpG present in >= 80 % of the samples: its missing values become the mean of
  that CpG over the samples of the data set (cohort) that have it;
* a clock CpG absent from the data, or present in < 80 % of samples: every sample gets
  the reference value, the median beta of the sesame-processed 450K reference biolearn
  ships (``sesame_450k_median.csv``; the clock CpGs are copied to
  ``first1000/data/clocks/reference_medians_sesame_450k.csv``).

``impute="mean"`` fills missing values with the CpG's cohort mean only (biolearn's
"averaging") and refuses a CpG absent from the data. The share of clock CpGs measured
(present in >= 80 % of samples) is reported by :func:`clock_coverage`: a clock run on a
small share of its CpGs predicts the reference profile, not the sample.

Age acceleration is the residual of DNAm age regressed (OLS, with intercept) on
chronological age -- or on clinical gestational age for the cord-blood clocks -- within
a cohort; :func:`clock_agreement` gives r and the mean absolute error of DNAm vs clinical
age, which reviewers expect beside it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from first1000.errors import ConfigError, InputTableError, format_rows

#: Fraction of samples with a value above which a CpG's gaps are filled by the cohort
#: mean rather than replaced wholesale by the reference (biolearn's hybrid_impute).
PRESENT_THRESHOLD = 0.8
REFERENCE_FILE = "reference_medians_sesame_450k.csv"


def horvath_log(age, adult_age: float = 20.0):
    """Horvath's F: ln(age + 1) - ln(adult_age + 1) up to ``adult_age``, linear above."""
    age = np.asarray(age, float)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(age <= adult_age, np.log(age + 1) - np.log(adult_age + 1),
                        (age - adult_age) / (adult_age + 1))


def horvath_anti_log(x, adult_age: float = 20.0):
    """Horvath's F^-1 (biolearn ``anti_trafo``): years from the linear predictor."""
    x = np.asarray(x, float)
    return np.where(x < 0, (1 + adult_age) * np.exp(x) - 1, (1 + adult_age) * x + adult_age)


def _identity(x):
    return np.asarray(x, float)


@dataclass(frozen=True)
class ClockSpec:
    file: str
    offset: float  # added to the linear predictor before the transform
    transform: Callable
    unit: str
    tissue: str
    reference: str


SPECS = {
    "horvath2013": ClockSpec("Horvath1.csv", 0.696, horvath_anti_log, "years", "multi-tissue",
                             "Horvath 2013, Genome Biol 14:R115"),
    "hannum2013": ClockSpec("Hannum.csv", 0.0, _identity, "years", "blood",
                            "Hannum et al. 2013, Mol Cell 49:359"),
    "knight2016": ClockSpec("Knight.csv", 0.0, _identity, "weeks", "cord blood",
                            "Knight et al. 2016, Genome Biol 17:206"),
    "bohlin2016": ClockSpec("Bohlin.csv", 277.2421, _identity, "days", "cord blood",
                            "Bohlin et al. 2016, Genome Biol 17:207"),
}


@dataclass(frozen=True)
class Clock:
    name: str
    coefficients: pd.Series  # CpG -> weight (no intercept)
    intercept: float  # file's intercept row + the spec's offset
    transform: Callable
    unit: str

    @property
    def cpgs(self) -> list[str]:
        return list(self.coefficients.index)


def clock_directory() -> Path:
    """Where the coefficient files are: the package's ``data/clocks`` if installed there,
    else the repository's ``resources/clocks``."""
    packaged = Path(__file__).resolve().parents[1] / "data" / "clocks"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[3] / "resources" / "clocks"


def load_clock(name: str, directory: Path | str | None = None) -> Clock:
    if name not in SPECS:
        raise ConfigError(f"unknown epigenetic clock `{name}`; choose one of {', '.join(sorted(SPECS))}.")
    spec = SPECS[name]
    path = Path(directory or clock_directory()) / spec.file
    table = pd.read_csv(path, index_col=0)
    weights = table.iloc[:, 0].astype(float)
    intercept = float(weights.get("intercept", 0.0)) + spec.offset
    weights = weights.drop("intercept", errors="ignore")
    return Clock(name, weights, intercept, spec.transform, spec.unit)


def load_reference(directory: Path | str | None = None) -> pd.Series:
    path = Path(directory or clock_directory()) / REFERENCE_FILE
    return pd.read_csv(path, index_col=0).iloc[:, 0].astype(float)


def _check_betas(betas: pd.DataFrame, cpgs, where: str, rule: str) -> None:
    cols = [c for c in cpgs if c in betas.columns]
    values = betas[cols].apply(pd.to_numeric, errors="coerce").to_numpy(float)
    raw = betas[cols].to_numpy(object)
    not_number = pd.isna(values) & ~pd.isna(raw)
    outside = (values < 0) | (values > 1)
    for bad, problem in ((not_number, "not a number"), (outside, "beta value outside [0, 1]")):
        if bad.any():
            rows = np.flatnonzero(bad.any(axis=1)) + 2
            col = cols[int(np.flatnonzero(bad.any(axis=0))[0])]
            raise InputTableError(f"{where}, column '{col}', {format_rows(rows)}: {problem} ({rule}). "
                                  "Clocks need beta values (M/(M+U+100)) between 0 and 1.")


def impute_betas(betas: pd.DataFrame, cpgs, *, method: str = "hybrid", reference: pd.Series | None = None,
                 threshold: float = PRESENT_THRESHOLD) -> pd.DataFrame:
    """Samples x ``cpgs`` matrix without gaps (see the module docstring for the rules)."""
    cpgs = list(cpgs)
    present = betas.reindex(columns=cpgs).astype(float)
    share = present.notna().mean(axis=0)
    if method == "hybrid":
        if reference is None:
            reference = load_reference()
        from_reference = share.index[share < threshold]
        lacking = [c for c in from_reference if c not in reference.index or pd.isna(reference[c])]
        if lacking:
            raise ConfigError(f"clock CpG {lacking[0]} (and {len(lacking) - 1} more) is missing from the data "
                              "and from the reference medians; provide it or choose another clock.")
        filled = present.fillna(present.mean(axis=0))
        for c in from_reference:
            filled[c] = reference[c]
        return filled
    if method == "mean":
        absent = share.index[share == 0]
        if len(absent):
            raise InputTableError(f"clock CpG {absent[0]} (and {len(absent) - 1} more) has no value in any sample "
                                  "(rule: clocks, impute = mean). Use impute = hybrid to fill it from the "
                                  "reference medians.")
        return present.fillna(present.mean(axis=0))
    raise ConfigError(f"unknown imputation `{method}` for epigenetic clocks; use `hybrid` or `mean`.")


def clock_coverage(betas: pd.DataFrame, clock: Clock, threshold: float = PRESENT_THRESHOLD) -> dict:
    """How much of the clock was measured: counts only, no sample values."""
    present = betas.reindex(columns=clock.cpgs).astype(float)
    share = present.notna().mean(axis=0)
    measured = share >= threshold
    return dict(clock=clock.name, n_cpgs=len(clock.cpgs), n_present=int((share > 0).sum()),
                n_measured=int(measured.sum()), share_measured=float(measured.mean()),
                n_from_reference=int((~measured).sum()),
                n_values_mean_imputed=int(present.loc[:, measured].isna().to_numpy().sum()))


def predict(betas: pd.DataFrame, clock: Clock | str, *, impute: str = "hybrid",
            reference: pd.Series | None = None, where: str = "methylation", rule: str = "clocks") -> pd.Series:
    """DNAm age per sample. ``betas``: samples (rows) x CpGs (columns), beta values.

    A CpG x sample matrix (the EWAS layout) needs ``.T`` first.
    """
    if isinstance(clock, str):
        clock = load_clock(clock)
    _check_betas(betas, clock.cpgs, where, rule)
    filled = impute_betas(betas, clock.cpgs, method=impute, reference=reference)
    linear = clock.intercept + filled.to_numpy(float) @ clock.coefficients.to_numpy(float)
    return pd.Series(clock.transform(linear), index=betas.index, name=f"{clock.name}_{clock.unit}")


def age_acceleration(dnam_age, age) -> np.ndarray:
    """Residual of DNAm age on (gestational) age by OLS with intercept; NaN where either is missing."""
    dnam_age = np.asarray(dnam_age, float)
    age = np.asarray(age, float)
    ok = ~np.isnan(dnam_age) & ~np.isnan(age)
    out = np.full(dnam_age.shape, np.nan)
    if ok.sum() < 3:
        return out
    slope, intercept = np.polyfit(age[ok], dnam_age[ok], 1)
    out[ok] = dnam_age[ok] - (intercept + slope * age[ok])
    return out


def clock_agreement(dnam_age, age) -> dict:
    """Pearson r, mean absolute error and median error (DNAm - clinical) over complete pairs."""
    dnam_age = np.asarray(dnam_age, float)
    age = np.asarray(age, float)
    ok = ~np.isnan(dnam_age) & ~np.isnan(age)
    diff = dnam_age[ok] - age[ok]
    r = float(np.corrcoef(dnam_age[ok], age[ok])[0, 1]) if ok.sum() >= 3 else np.nan
    return dict(n=int(ok.sum()), r=r, mae=float(np.mean(np.abs(diff))) if ok.any() else np.nan,
                median_difference=float(np.median(diff)) if ok.any() else np.nan)
