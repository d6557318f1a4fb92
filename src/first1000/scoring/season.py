"""Season of sampling as two harmonic terms (a covariate of season-dependent biomarkers,
e.g. NMR metabolites), derived from a sampling date by the mapping rule ``season``."""

from __future__ import annotations

import numpy as np
import pandas as pd

from first1000.errors import InputTableError, format_rows


def season_terms(dates, period: float = 365.25, *, where: str = "metabolites",
                 column: str = "sampling_date") -> pd.DataFrame:
    """season_sin = sin(2 pi doy / period), season_cos = cos(...); doy 1 = 1 January.

    Enter both terms in a model (and exposure x both for season-dependent effects).
    Missing dates give NaN.
    """
    raw = pd.Series(dates).reset_index(drop=True)
    d = pd.to_datetime(raw, errors="coerce")
    bad = (d.isna() & raw.notna()).to_numpy()
    if bad.any():
        raise InputTableError(f"{where}, column '{column}', {format_rows(np.flatnonzero(bad) + 2)}: not a date "
                              "(rule: season). Give sampling dates as YYYY-MM-DD.")
    angle = 2 * np.pi * d.dt.day_of_year.to_numpy(float) / period
    index = dates.index if isinstance(dates, pd.Series) else None
    return pd.DataFrame({"season_sin": np.sin(angle), "season_cos": np.cos(angle)}, index=index)
