"""Shared handling of per-participant marker tables (metabolites, immune markers)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from first1000.errors import First1000Error


def substitute_below_limit(long: pd.DataFrame, lod: dict[str, float], mechanism: str) -> pd.DataFrame:
    """Values reported below the limit of detection become LOD/sqrt(2) (Hornung & Reed 1990)."""
    long = long.copy()
    needs = sorted(set(long.marker[long.below_limit]) - set(lod))
    if needs:
        raise First1000Error(
            f"{mechanism}: `{needs[0]}` has values below the detection limit but no limit is declared; "
            f"add `preparation.{mechanism}.lod.{needs[0]}` to the config.")
    limit = long.marker.map(lod).astype(float)
    long["value"] = np.where(long.below_limit, limit / np.sqrt(2), long.value)
    return long


def wide_ln(long: pd.DataFrame, cohort: str) -> pd.DataFrame:
    """Long (pseudo_id, marker, value) -> one row per participant with ln(marker) columns."""
    with np.errstate(divide="ignore"):
        long = long.assign(value=np.log(long.value.where(long.value > 0)))
    wide = long.pivot(index="pseudo_id", columns="marker", values="value")
    wide = wide.sort_index(axis=1)
    wide.columns = [f"{m}_ln" for m in wide.columns]
    wide = wide.reset_index()
    wide.insert(1, "cohort", cohort)
    wide.columns.name = None
    return wide


def marker_qc(long: pd.DataFrame, cohort: str) -> pd.DataFrame:
    grouped = long.groupby("marker", sort=True)
    return pd.DataFrame({
        "cohort": cohort,
        "marker": list(grouped.groups),
        "n": grouped.value.apply(lambda v: int(v.notna().sum())).to_numpy(),
        "n_below_lod": grouped.below_limit.sum().astype(int).to_numpy(),
        "pct_below_lod": (100 * grouped.below_limit.mean()).to_numpy(),
        "median": grouped.value.median().to_numpy(),
    })
