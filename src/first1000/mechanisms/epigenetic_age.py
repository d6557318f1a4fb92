"""Epigenetic age: a DNA methylation clock on the epigenome-wide matrix, and its acceleration.

Reads the clock's CpGs from each cohort's ``methylation_matrix`` (CpG x sample beta
values; only the clock's rows are read) and predicts DNAm age with
:mod:`first1000.mechanisms.clocks` (``clock``: ``knight2016`` (default; cord blood,
gestational weeks), ``bohlin2016`` (cord blood, gestational days), ``horvath2013`` or
``hannum2013`` (years; maternal blood)). Missing clock CpGs are imputed as biolearn does
(``impute: hybrid``) or by the cohort mean (``mean``).

Age acceleration is the residual of DNAm age regressed on the clinical age within the
cohort: gestational age (weeks) for the gestational-age clocks, maternal age (years) for
the adult clocks. Biomarkers:

* GA clocks: ``epigenetic_ga_weeks`` (DNAm GA in weeks; Bohlin's days / 7) and
  ``epigenetic_ga_acceleration`` (weeks);
* adult clocks: ``epigenetic_age_years`` and ``epigenetic_age_acceleration`` (years).

The QC table has per cohort the clock, its CpGs, how many were measured (present in >=
80 % of samples), taken from the reference medians or mean-imputed, the samples, and
the agreement of DNAm with clinical age (Pearson r, mean absolute error, median
difference).
"""

from __future__ import annotations

import pandas as pd

from first1000.errors import ConfigError
from first1000.mechanisms import clocks

#: The QC figure of this mechanism (first1000.figures.qc.QC_FIGURES).
QC_FIGURE = "clock_coverage"

#: The prepare stage passes the harmonised participants (clinical age) to this mechanism.
NEEDS_PARTICIPANTS = True
GA_CLOCKS = ("knight2016", "bohlin2016")


def definition_files(settings: dict) -> list:
    """The clock's coefficient file and, with ``impute: hybrid``, the reference medians."""
    clock = clocks.SPECS[settings.get("clock", "knight2016")]
    files = [clocks.clock_directory() / clock.file]
    if settings.get("impute", "hybrid") == "hybrid":
        files.append(clocks.clock_directory() / clocks.REFERENCE_FILE)
    return files


def read_table(path, settings: dict) -> pd.DataFrame:
    """Only the clock's rows of a (possibly very large) CpG x sample matrix."""
    from first1000.io.methylation import read_matrix_rows

    clock = clocks.load_clock(settings.get("clock", "knight2016"))
    return read_matrix_rows(path, clock.cpgs)


def prepare(tables: dict[str, pd.DataFrame], settings: dict, participants: pd.DataFrame | None = None):
    name = settings.get("clock", "knight2016")
    clock = clocks.load_clock(name)
    impute = settings.get("impute", "hybrid")
    if participants is None:
        raise ConfigError("epigenetic_age: the clinical ages (harmonised participants) are needed.")
    ga_clock = name in GA_CLOCKS
    age_column = "gestational_age" if ga_clock else "maternal_age"
    prefix = "epigenetic_ga" if ga_clock else "epigenetic_age"
    unit = "weeks" if ga_clock else "years"
    ages = participants.set_index("pseudo_id")[age_column].astype(float)
    if ga_clock:
        ages = ages / 7.0  # harmonised gestational age is in days
    frames, qc = [], []
    for cohort, matrix in tables.items():
        matrix = matrix[matrix.cpg.isin(clock.cpgs)]
        betas = matrix.set_index("cpg").T.astype(float)
        betas = betas.sort_index()
        betas.index.name = "pseudo_id"
        dnam = clocks.predict(betas, clock, impute=impute, where=f"{cohort} methylation_matrix")
        if clock.unit == "days":
            dnam = dnam / 7.0
        clinical = ages.reindex(betas.index).to_numpy(float)
        out = pd.DataFrame({"pseudo_id": betas.index.to_numpy(), "cohort": cohort,
                            f"{prefix}_{unit}": dnam.to_numpy(float)})
        out[f"{prefix}_acceleration"] = clocks.age_acceleration(out[f"{prefix}_{unit}"], clinical)
        frames.append(out)
        coverage = clocks.clock_coverage(betas, clock)
        agreement = clocks.clock_agreement(out[f"{prefix}_{unit}"], clinical)
        qc.append(dict(cohort=cohort, **coverage, clinical_age=age_column, unit=unit, n_samples=len(out),
                       n=agreement["n"], r=agreement["r"], mae=agreement["mae"],
                       median_difference=agreement["median_difference"]))
    return pd.concat(frames, ignore_index=True), pd.DataFrame(qc)
