"""Shared handling of per-participant marker tables (metabolites, immune markers)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from first1000.errors import First1000Error


#: Default share (%) of a marker's values at one single value above which a pile-up is
#: reported (an assay floor or a fill-in value reported as a number).
PILE_UP_PCT = 10.0


def numeric_below_limit(values, below, limit: float | None):
    """``below`` (bool array) with the values at or below a declared ``limit`` added: labs
    often report the assay's floor (or the LOD itself) as a number, not as ``<LOD``."""
    below = np.asarray(below, bool).copy()
    if limit is not None and np.isfinite(limit):
        x = np.asarray(values, float)
        with np.errstate(invalid="ignore"):
            below |= ~np.isnan(x) & (x <= float(limit))
    return below


def pile_up(values, below, *, pile_up_pct: float = PILE_UP_PCT) -> dict:
    """The largest share of a marker's measured values (not below the limit) that equal one
    single value: ``n_at_one_value``, ``pct_at_one_value``, ``at_minimum`` (that value is the
    smallest measured: an assay floor) and ``pile_up`` (share above ``pile_up_pct``). The
    value itself is not reported."""
    x = np.asarray(values, float)
    b = np.asarray(below, bool)
    n = int((b | ~np.isnan(x)).sum())
    measured = x[~b & ~np.isnan(x)]
    if not len(measured) or not n:
        return dict(n_at_one_value=0, pct_at_one_value=np.nan, at_minimum=False, pile_up=False,
                    limit_pct=pile_up_pct)
    levels, counts = np.unique(measured, return_counts=True)
    top = int(np.argmax(counts))  # the smallest of equally frequent values
    share = 100.0 * counts[top] / n
    return dict(n_at_one_value=int(counts[top]), pct_at_one_value=share, at_minimum=bool(top == 0),
                pile_up=bool(share > pile_up_pct and counts[top] > 1), limit_pct=pile_up_pct)


def pile_up_warning(mechanism: str, marker: str, found: dict, limit_declared: bool) -> str:
    """The QC table's warning for a pile-up (empty when there is none); no value quoted, and
    no count or share either (the threshold ``pile_up_pct`` instead): the table's
    ``n_at_one_value`` and ``pct_at_one_value`` are blanked below ``privacy.min_cell_size``,
    and a share in the text would give them back with ``n``."""
    if not found["pile_up"]:
        return ""
    where = " (the smallest measured value: an assay floor?)" if found["at_minimum"] else ""
    fix = (f"declare the marker's detection limit (preparation.{mechanism}.lod.{marker}) so that values at or "
           "below it count as below the limit" if not limit_declared else
           f"check preparation.{mechanism}.lod.{marker}: values at or below it already count as below the limit")
    return (f"warning: more than {found['limit_pct']:g}% of the measured values equal one single value{where}; "
            f"{fix}")


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
