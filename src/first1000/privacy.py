"""Disclosure control and pseudonymisation: what keeps participants out of every output.

Cohort data are health data on pregnant women and newborns. No participant ID or
row-level value ever reaches a result table, figure, log or the report:

* IDs become keyed hashes at ingest (:func:`pseudonymise`, HMAC-SHA256 with a key kept
  outside ``results/``, :func:`load_or_create_key`); the cohort's own IDs never leave
  memory;
* aggregate tables shown in the report suppress small counts (:func:`suppress_small_counts`,
  :func:`suppress_missingness`): a count of 1 to ``privacy.min_cell_size`` - 1 becomes
  ``<min_cell_size``, and a percentage or a complement that would give it back is blanked
  or shown as a bound.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from pathlib import Path

import numpy as np
import pandas as pd

from first1000.errors import ConfigError
from first1000.io import atomic_path

#: Report tables: counts below the privacy threshold in these columns are suppressed.
COUNT_COLUMNS = ("n", "n_missing", "n_below_loq", "n_below_lod", "n_outliers", "n_failed_replicate_qc",
                 "n_samples", "n_clipped", "n_segments_outside_windows", "n_segments_postpartum",
                 "n_segments_before_pregnancy", "n_segments_undated", "n_dropped_replicates",
                 "n_single_replicate", "n_repeated", "n_prorated", "n_values_mean_imputed",
                 "n_samples_removed", "n_samples_kept", "n_samples_in", "n_above_limit")


#: part -> (its complement, the total): when the part is suppressed the complement would
#: give it back (total - complement), so it is shown as a bound instead.
COMPLEMENTS = {"n_samples_removed": ("n_samples_kept", "n_samples_in")}


def suppress_small_counts(table: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """Replace counts 1..min_cell-1 by '<min_cell' in report-facing aggregate tables.

    The percentage that goes with a suppressed count (``pct_x`` of ``n_x``) is blanked
    too, since count = percentage × n would give the count back.
    """
    table = table.copy()
    for part, (complement, total) in COMPLEMENTS.items():  # secondary suppression, before the counts change
        if {part, complement, total} <= set(table.columns):
            small = table[part].notna() & (table[part] > 0) & (table[part] < min_cell)
            if small.any():
                table[complement] = table[complement].astype(object)
                table.loc[small, complement] = [f">{int(t) - min_cell}" for t in table.loc[small, total]]
    for column in COUNT_COLUMNS:
        if column in table:
            counts = pd.to_numeric(table[column], errors="coerce")  # bounds already set stay
            small = counts.notna() & (counts > 0) & (counts < min_cell)
            if small.any():
                table[column] = table[column].astype(object)
                table.loc[small, column] = f"<{min_cell}"
                share = "pct_" + column.removeprefix("n_")
                if share in table:
                    table.loc[small, share] = float("nan")
    return table


def suppress_missingness(table: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """Small-cell suppression of a :func:`first1000.analysis.modification.missingness` table.

    Counts 1..min_cell-1 become ``<min_cell`` (:func:`suppress_small_counts`
    for ``n_missing`` and its ``pct_missing``, the same rule for the other counts). The
    observed and missing counts add up to ``n_total``, so when either is suppressed the
    other and the percentage are blanked too.
    """
    table = table.copy()
    small = {c: table[c].notna() & (table[c] > 0) & (table[c] < min_cell) for c in ("n_observed", "n_missing")}
    either = small["n_observed"] | small["n_missing"]
    out = suppress_small_counts(table, min_cell)  # n_missing (and pct_missing)
    for column in ("n_total", "n_observed", "n_complete_cases"):
        renamed = suppress_small_counts(out[[column]].rename(columns={column: "n"}), min_cell)
        out[column] = renamed["n"]
    for column in ("n_observed", "n_missing", "pct_missing"):
        if either.any():
            out[column] = out[column].astype(object)
            out.loc[either & ~small.get(column, pd.Series(False, index=out.index)), column] = np.nan
    return out


def load_or_create_key(path) -> bytes:
    """The pseudonymisation key; created (random, 32 bytes) on first use."""
    path = Path(path)
    if "results" in path.parts:
        raise ConfigError(f"privacy.key_file `{path}` lies under results/; keep the key outside results/.")
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        with atomic_path(path) as tmp:
            tmp.write_text(secrets.token_hex(32) + "\n", encoding="ascii")
            tmp.chmod(0o600)
    return path.read_text(encoding="ascii").strip().encode()


def pseudonymise(ids: pd.Series, cohort: str, key: bytes) -> pd.Series:
    """Keyed hash of cohort + ID: stable for a key, not reversible without it."""
    return ids.map(
        lambda i: "P" + hmac.new(key, f"{cohort}\x1f{i}".encode(), hashlib.sha256).hexdigest()[:16]
    )
