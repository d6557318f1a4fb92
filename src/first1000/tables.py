"""Input tables as read, and the cell-level checks every table kind shares.

A :class:`Table` keeps the file's path and its rows as text; its checks report problems
with the file, the column and the rows as a spreadsheet numbers them (header = row 1)
and never quote a value from a row.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from first1000.errors import InputTableError, format_rows
from first1000.io import read_table

@dataclass
class Table:
    """A raw table as read, with what messages need to point at it."""

    path: Path
    data: pd.DataFrame
    missing_codes: list = field(default_factory=list)
    decimal: str = "."

    def rows(self, mask) -> str:
        return format_rows(np.flatnonzero(np.asarray(mask)) + 2)

    def fail(self, column: str | None, mask, problem: str, fix: str) -> InputTableError:
        where = f"{self.path}" + (f", column '{column}'" if column else "")
        return InputTableError(f"{where}, {self.rows(mask)}: {problem}. {fix}")

    def require(self, columns: dict[str, str], kind: str) -> None:
        missing = [src for src in columns.values() if src not in self.data.columns]
        if missing:
            raise InputTableError(
                f"{self.path}: missing column '{missing[0]}' (needed for the {kind} table). "
                f"Columns found: {', '.join(map(str, self.data.columns[:20]))}. Rename the column in the "
                "file or map it in the cohort's mapping file under `columns`.")

    def missing_mask(self, column: str) -> np.ndarray:
        values = self.data[column]
        numeric_codes = pd.to_numeric(pd.Series(self.missing_codes, dtype=object), errors="coerce").dropna()
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            return (values.isna() | values.isin(numeric_codes.tolist())).to_numpy(dtype=bool)
        text = values.astype("string").str.strip()
        mask = text.isin(self.missing_codes) | text.isna()
        if len(numeric_codes):  # "-9" also matches "-9.0" and "-9,0"
            as_number = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
            mask |= as_number.isin(numeric_codes.tolist())
        return mask.fillna(True).to_numpy(dtype=bool)

    def numeric(self, column: str, *, below_codes=(), label: str | None = None):
        """Parse a column as numbers; returns (values, below_limit mask).

        Missing codes become NaN; text that is neither a number, a missing code nor a
        declared below-limit code is an error naming the rows.
        """
        values = self.data[column]
        missing = self.missing_mask(column)
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            return np.where(missing, np.nan, values.astype(float).to_numpy()), np.zeros(len(values), bool)
        text = values.astype("string").str.strip()
        below = text.isin(list(below_codes)).to_numpy(dtype=bool) & ~missing
        if self.decimal == ",":
            text = text.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
        parsed = pd.to_numeric(text.where(~(missing | below)), errors="coerce").to_numpy(dtype=float)
        bad = np.isnan(parsed) & ~missing & ~below
        if bad.any():
            allowed = f" or a below-limit code ({', '.join(below_codes)})" if below_codes else ""
            decimal_hint = ""
            if text[bad].str.contains(r"^\s*-?\d+,\d+\s*$", regex=True).any():
                decimal_hint = " Some values use a decimal comma: declare `decimal: \",\"` for this table."
            raise self.fail(column, bad, f"expected a number{allowed}, found text",
                            f"Fix these cells or add the code to `missing_codes`.{decimal_hint}")
        return parsed, below

    def check_range(self, column: str, values: np.ndarray, spec: dict, what: str = "") -> None:
        lo, hi = spec.get("minimum"), spec.get("maximum")
        xlo = spec.get("exclusiveMinimum")
        with np.errstate(invalid="ignore"):
            bad = np.zeros(len(values), bool)
            if lo is not None:
                bad |= values < lo
            if xlo is not None:
                bad |= values <= xlo
            if hi is not None:
                bad |= values > hi
        if bad.any():
            bounds = []
            if lo is not None:
                bounds.append(f">= {lo:g}")
            if xlo is not None:
                bounds.append(f"> {xlo:g}")
            if hi is not None:
                bounds.append(f"<= {hi:g}")
            raise self.fail(column, bad, f"value out of range{what}: expected {' and '.join(bounds)}",
                            "Check the unit declared in the mapping file and the values in these rows.")

    def ids(self, column: str, *, unique: bool) -> pd.Series:
        if column not in self.data.columns:
            raise InputTableError(
                f"{self.path}: missing ID column '{column}'. Columns found: "
                f"{', '.join(map(str, self.data.columns[:20]))}. Fix `id` in the cohort's mapping file.")
        ids = self.data[column].astype("string").str.strip()
        empty = (ids.isna() | (ids == "")).to_numpy(dtype=bool)
        if empty.any():
            raise self.fail(column, empty, "empty participant ID", "Every row needs an ID.")
        if unique:
            folded = ids.str.casefold()
            dup = folded.duplicated(keep=False).to_numpy(dtype=bool)
            if dup.any():
                exact = ids.duplicated(keep=False).to_numpy(dtype=bool)
                kind = "duplicated participant ID" if exact[dup].all() else (
                    "participant IDs that differ only by letter case or surrounding spaces")
                raise self.fail(column, dup, kind, "Each participant must appear once; remove or merge the rows.")
        return ids


def open_table(spec: dict, missing_codes) -> Table:
    data = read_table(spec["path"], delimiter=spec.get("delimiter"), decimal=spec.get("decimal", "."),
                      sheet=spec.get("sheet"), encoding=spec.get("encoding", "utf-8"))
    if len(data) == 0:
        raise InputTableError(f"{spec['path']}: the table has a header but no rows.")
    return Table(Path(spec["path"]), data, list(missing_codes), spec.get("decimal", "."))


