"""Input tables as read, and the cell-level checks every table kind shares.

A :class:`Table` keeps the file's path and its rows as text; its checks report problems
with the file, the column and the rows as a spreadsheet numbers them (header = row 1)
and never quote a value from a row. (Hints about undeclared missing-value codes or Excel
errors are fixed sentences, not quotes of the cells.)

Participant IDs are compared as text after removing surrounding spaces; an ID that is a
whole number written as a float (``1001.0``, as Excel or pandas write a numeric ID
column that had an empty cell) is read as that whole number (``1001``), so that the
same participant matches across tables whatever program wrote them. IDs in scientific
notation (``1.00123E+11``: digits already lost) are an error.
"""

from __future__ import annotations

import difflib
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from first1000.errors import InputTableError, format_rows
from first1000.io import header_looks_like_data, id_like_names, listed_names, names_like_values, read_raw_table

#: Spellings of "missing" that exports use; quoted in hints when a table has them undeclared.
MISSING_SPELLINGS = ("NA", "N/A", "n/a", "na", "n.a.", "N.A.", "NaN", "nan", "-", "--", ".", "?", "missing",
                     "unknown", "onbekend", "niet gekend", "null", "NULL", "None", "none", "#N/A",
                     "Undetermined", "undetermined", "No Ct", "N.D.", "n.d.", "ND", "nd")
#: Excel error values as exported in cells.
EXCEL_ERRORS = ("#DIV/0!", "#N/A", "#NAME?", "#NULL!", "#NUM!", "#REF!", "#VALUE!", "#SPILL!", "#CALC!",
                "#GETTING_DATA")
_DECIMAL_COMMA = r"^\s*[-+]?\d+,\d+\s*$"
_THOUSANDS_COMMA = r"^\s*[-+]?\d{1,3}(?:,\d{3})+(?:\.\d+)?\s*$"
_INTEGRAL_FLOAT = re.compile(r"^([-+]?\d+)\.0+$")
_SCIENTIFIC = re.compile(r"^[-+]?\d(\.\d+)?[eE][-+]?\d+$")


#: Unicode dashes and minus signs that exports (Word, Excel autocorrect, macOS) put in IDs.
_DASHES = re.compile("[\u2010-\u2015\u2212\u2043\ufe58\ufe63\uff0d\u00ad]")
#: Invisible characters: Unicode's default-ignorable code points (zero-width space and
#: joiners, direction marks and isolates, word joiner, BOM, variation selectors, the combining
#: grapheme joiner, Hangul fillers, tags; not the soft hyphen, read as a dash above), and
#: every other format character (category Cf) in :func:`_unicode_id`.
_FORMAT_CHARS = re.compile("[\u034f\u061c\u115f\u1160\u17b4\u17b5\u180b-\u180f\u200b-\u200f\u202a-\u202e"
                           "\u2060-\u206f\u3164\ufe00-\ufe0f\ufeff\uffa0\ufff0-\ufff8\U0001bca0-\U0001bca3"
                           "\U0001d173-\U0001d17a\U000e0000-\U000e0fff]")
#: Leading-zero policies of a table's IDs (`id_leading_zeros` in the mapping file).
LEADING_ZEROS = ("keep", "strip")


def _unicode_id(text: str) -> str:
    text = _FORMAT_CHARS.sub("", unicodedata.normalize("NFKC", text))
    text = "".join(c for c in text if c == "\u00ad" or unicodedata.category(c) != "Cf")
    return _DASHES.sub("-", text)


def normalise_ids(values: pd.Series, leading_zeros: str = "keep") -> pd.Series:
    """Participant IDs as compared: text, Unicode NFKC (full-width letters and digits become
    ASCII), invisible characters (zero-width space/joiner, BOM, direction isolates, variation
    selectors, any format character) removed, Unicode
    dashes and minus signs written '-', stripped, integral floats without ``.0``; with
    ``leading_zeros="strip"`` the leading zeros of all-digit IDs are removed (``0242071`` is
    ``242071``)."""
    if pd.api.types.is_bool_dtype(values):
        values = values.astype(object)
    ids = values.astype("string")
    odd = ids.notna() & ~ids.fillna("").map(str.isascii).astype(bool)
    if odd.any():
        ids = ids.copy()
        ids[odd] = [_unicode_id(v) for v in ids[odd]]
    ids = ids.str.strip().str.replace(_INTEGRAL_FLOAT, r"\1", regex=True)
    if leading_zeros == "strip":
        ids = ids.str.replace(r"^0+(?=\d)(?=\d+$)", "", regex=True)
    return ids


def _fold(ids: pd.Series) -> pd.Series:
    """IDs with letter case and every space removed (for 'differ only by' checks)."""
    return ids.str.casefold().str.replace(r"[\s\u200b]+", "", regex=True)


def _unzero(ids: pd.Series) -> pd.Series:
    """All-digit IDs without their leading zeros (for 'differ only by leading zeros' checks)."""
    return ids.str.replace(r"^0+(?=\d+$)", "", regex=True)


@dataclass
class Table:
    """A raw table as read, with what messages need to point at it."""

    path: Path
    data: pd.DataFrame
    missing_codes: list = field(default_factory=list)
    decimal: str = "."
    #: Spreadsheet row of each data row (default: position + 2, header = row 1).
    row_numbers: np.ndarray | None = None
    #: Column -> mask of cells that were real dates in the file (XLSX/Parquet).
    native_dates: dict = field(default_factory=dict)
    #: Path (and sheet) as messages name it; defaults to the path.
    where: str = ""
    #: The column names are participant IDs (methylation matrix): never quote them.
    ids_in_header: bool = False
    #: `id_leading_zeros` of the table's mapping entry: "keep" (default) or "strip".
    leading_zeros: str = "keep"
    #: `column_missing_codes` of the table's mapping entry: column -> codes meaning "missing"
    #: in that column only (sentinels such as -999), on top of ``missing_codes``.
    column_codes: dict = field(default_factory=dict)

    def __post_init__(self):
        self.path = Path(self.path)
        self.where = self.where or str(self.path)
        self.missing_codes = [str(c).strip() for c in self.missing_codes]
        self.column_codes = {str(k): [str(c).strip() for c in v] for k, v in (self.column_codes or {}).items()}

    def codes(self, column: str) -> list:
        """The missing codes of a column: the table's plus the column's own."""
        return self.missing_codes + self.column_codes.get(column, [])

    # ------------------------------------------------------------------ messages
    def row_list(self, mask) -> np.ndarray:
        positions = np.flatnonzero(np.asarray(mask, dtype=bool))
        if self.row_numbers is None:
            return positions + 2
        return np.asarray(self.row_numbers)[positions]

    def rows(self, mask, limit: int = 10) -> str:
        return format_rows(self.row_list(mask), limit=limit)

    def fail(self, column: str | None, mask, problem: str, fix: str) -> InputTableError:
        where = self.where + (f", column '{column}'" if column else "")
        return InputTableError(f"{where}, {self.rows(mask)}: {problem}. {fix}")

    def _first_cells(self) -> list[list[str]]:
        body = self.data.head(50)
        return [body.iloc[:, j].dropna().astype(str).tolist() for j in range(body.shape[1])]

    def header_looks_like_data(self) -> bool:
        """True when the first row looks like a data row, not names (:func:`first1000.io.header_looks_like_data`)."""
        return header_looks_like_data([str(c) for c in self.data.columns], self._first_cells())

    def _value_like_names(self) -> set[str]:
        """Names that look like a value of their own column (:func:`first1000.io.names_like_values`)."""
        like_ids, equal = names_like_values([str(c) for c in self.data.columns], self._first_cells())
        return like_ids | equal

    def columns_found(self, limit: int = 20) -> str:
        """'Columns found: a, b, c.' — or why they are not listed."""
        if self.ids_in_header:
            return f"The file has {len(self.data.columns)} columns (not listed: their names are participant IDs)."
        if self.header_looks_like_data():
            return ("Row 1 looks like data, not column names (its cells are numbers, dates, or shaped like or "
                    "equal to the values below them), so its cells are not listed here: export the table with its column "
                    "names in row 1.")
        hidden = self._value_like_names()
        shown = [c for c in map(str, self.data.columns) if c not in hidden]
        note = (f" ({len(hidden)} more not listed: {'it looks' if len(hidden) == 1 else 'they look'} like a value "
                "of its column)") if hidden else ""
        return f"Columns found: {listed_names(shown, limit)}{note}."

    def suggest(self, column: str) -> str:
        """' Did you mean 'X'?' for a column that is not in the table."""
        if self.ids_in_header or self.header_looks_like_data():
            return ""
        hidden = id_like_names(self.data.columns) | self._value_like_names()
        names = [n for n in map(str, self.data.columns) if n not in hidden]
        folded = {n.casefold().replace(" ", "_"): n for n in names}
        key = str(column).casefold().replace(" ", "_")
        if key in folded:
            return f" Did you mean '{folded[key]}'?"
        close = difflib.get_close_matches(str(column), names, n=1, cutoff=0.8)
        return f" Did you mean '{close[0]}'?" if close else ""

    def require(self, columns: dict[str, str], kind: str) -> None:
        missing = [src for src in columns.values() if src not in self.data.columns]
        if missing:
            raise InputTableError(
                f"{self.where}: missing column '{missing[0]}' (needed for the {kind} table).{self.suggest(missing[0])} "
                f"{self.columns_found()} Rename the column in the file or map it in the cohort's mapping file "
                "under `columns`.")

    # ------------------------------------------------------------------ cells
    def missing_mask(self, column: str) -> np.ndarray:
        values = self.data[column]
        codes = self.codes(column)
        numeric_codes = pd.to_numeric(pd.Series(codes, dtype=object), errors="coerce").dropna()
        if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
            return (values.isna() | values.isin(numeric_codes.tolist())).to_numpy(dtype=bool)
        text = values.astype("string").str.strip()
        mask = text.isin(codes) | text.isna()
        if len(numeric_codes):  # "-9" also matches "-9.0" and "-9,0"
            as_number = pd.to_numeric(text.str.replace(",", ".", regex=False), errors="coerce")
            mask |= as_number.isin(numeric_codes.tolist())
        return mask.fillna(True).to_numpy(dtype=bool)

    def parse_numbers(self, column: str, *, below_codes=()):
        """Parse a column as numbers without raising.

        Returns ``(values, below, bad, problem, fix)``: ``bad`` marks cells that are neither
        a finite number, a missing code nor a below-limit code (``problem``/``fix`` then
        describe them; otherwise both are empty).
        """
        values = self.data[column]
        missing = self.missing_mask(column)
        n = len(values)
        if pd.api.types.is_bool_dtype(values):
            values = values.astype("float64")
        if pd.api.types.is_numeric_dtype(values):
            parsed = np.where(missing, np.nan, values.astype("float64").to_numpy(dtype=float, na_value=np.nan))
            bad = np.isinf(parsed)
            problem = "expected a finite number, found an infinite value" if bad.any() else ""
            fix = "Fix these cells (or code them as missing)." if bad.any() else ""
            return np.where(bad, np.nan, parsed), np.zeros(n, bool), bad, problem, fix
        text = values.astype("string").str.strip()
        below = text.isin(list(below_codes)).fillna(False).to_numpy(dtype=bool) & ~missing
        clean = text.where(pd.Series(~(missing | below), index=text.index))
        hints = []
        ambiguous = np.zeros(n, bool)
        if self.decimal == ",":
            # "1.234,5" (thousands grouped) is unambiguous; "3.354" or "3.5" is not.
            dotted = clean.str.contains(".", regex=False).fillna(False).to_numpy(dtype=bool)
            grouped = clean.str.fullmatch(r"[-+]?\d{1,3}(\.\d{3})+(,\d+)?").fillna(False).to_numpy(dtype=bool)
            has_comma = clean.str.contains(",", regex=False).fillna(False).to_numpy(dtype=bool)
            ambiguous = dotted & ~(grouped & has_comma)
            clean = clean.str.replace(".", "", regex=False).str.replace(",", ".", regex=False)
        parsed = pd.to_numeric(clean, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        text_bad = np.isnan(parsed) & ~missing & ~below
        infinite = np.isinf(parsed)
        if (ambiguous & ~text_bad).any():
            bad = ambiguous & ~missing & ~below
            return (np.where(bad, np.nan, parsed), below, bad,
                    "a '.' in a table declared with `decimal: \",\"` (mixed decimal separators: '.' could be a "
                    "decimal point or a thousands separator here)",
                    "Use one decimal separator throughout the table (and declare it with `decimal`).")
        if text_bad.any():
            bad_text = text[text_bad]
            allowed = f" or a below-limit code ({', '.join(below_codes)})" if below_codes else ""
            codes = [c for c in MISSING_SPELLINGS if c in set(bad_text)]
            errors = [c for c in EXCEL_ERRORS if c in set(bad_text)]
            if codes:
                hints.append("Some of these cells hold a usual missing-value code (such as NA, n.a. or -) that "
                             "is not declared: add the code to `missing_codes` in the cohort's mapping file.")
            if errors:
                hints.append("Some of these cells hold Excel formula errors: fix the formulas in the workbook "
                             "and export again.")
            if self.decimal != "," and bad_text.str.contains(_DECIMAL_COMMA, regex=True).any():
                hints.append('Some values use a decimal comma: declare `decimal: ","` for this table.')
            if bad_text.str.contains(_THOUSANDS_COMMA, regex=True).any():
                hints.append("Some values use ',' as a thousands separator: export numbers without "
                             "thousands separators.")
            dates = self.native_dates.get(column)
            if dates is not None and (np.asarray(dates) & text_bad).any():
                hints.append("Some of these cells are Excel dates (Excel can turn numbers such as 3.5 into "
                             "dates): format the column as numbers and enter the values again.")
            fix = "Fix these cells or add the code to `missing_codes`."
            return (np.where(text_bad, np.nan, parsed), below, text_bad,
                    f"expected a number{allowed}, found text", " ".join([fix, *hints]))
        if infinite.any():
            return (np.where(infinite, np.nan, parsed), below, infinite,
                    "expected a finite number, found a number too large to represent",
                    "Fix these cells (or code them as missing).")
        return parsed, below, np.zeros(n, bool), "", ""

    def numeric(self, column: str, *, below_codes=(), label: str | None = None):
        """Parse a column as numbers; returns (values, below_limit mask).

        Missing codes become NaN; text that is neither a number, a missing code nor a
        declared below-limit code is an error naming the rows.
        """
        values, below, bad, problem, fix = self.parse_numbers(column, below_codes=below_codes)
        if bad.any():
            raise self.fail(column, bad, problem, fix)
        return values, below

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

    def ids(self, column: str, *, unique: bool, what: str = "participant ID") -> pd.Series:
        """The ID column, normalised (:func:`normalise_ids`) and checked.

        Empty IDs (blank or a missing code) and IDs in scientific notation are errors; with
        ``unique``, so are IDs that repeat, also when they differ only by letter case or
        spaces.
        """
        if column not in self.data.columns:
            raise InputTableError(
                f"{self.where}: missing ID column '{column}'.{self.suggest(column)} {self.columns_found()} "
                "Fix `id` in the cohort's mapping file.")
        raw = self.data[column]
        ids = normalise_ids(raw, self.leading_zeros)
        codes = [c for c in self.missing_codes if c]
        empty = (ids.isna() | (ids == "") | ids.isin(codes)).fillna(True).to_numpy(dtype=bool)
        if empty.any():
            raise self.fail(column, empty, f"empty {what}" + (" (blank or a missing code)" if codes else ""),
                            "Every row needs an ID: fill it in or delete the row.")
        scientific = ids.str.fullmatch(_SCIENTIFIC).fillna(False).to_numpy(dtype=bool)
        if scientific.any():
            raise self.fail(column, scientific, f"{what} in scientific notation (a spreadsheet turned a long "
                            "numeric ID into a number and dropped digits)",
                            "Format the ID column as text in the spreadsheet, restore the IDs and export again.")
        if unique:
            self._check_unique(column, raw, ids)
        return ids

    def _check_unique(self, column: str, raw: pd.Series, ids: pd.Series) -> None:
        """IDs that repeat, exactly or nearly (case, spaces, Unicode look-alikes, leading zeros)."""
        folded = _fold(ids)
        dup = folded.duplicated(keep=False).to_numpy(dtype=bool)
        fix = "Each participant must appear once; remove or merge the rows."
        if dup.any():
            def repeats(series):
                return series.duplicated(keep=False).to_numpy(dtype=bool)[dup].all()

            text = raw.astype("string")
            basic = text.str.strip().str.replace(_INTEGRAL_FLOAT, r"\1", regex=True)
            if repeats(text):
                kind = "duplicated participant ID"
            elif repeats(basic):
                kind = ("participant IDs that differ only by surrounding spaces or a trailing '.0' "
                        "(the same ID twice)")
            elif repeats(normalise_ids(raw)):
                kind = ("participant IDs that differ only by Unicode look-alikes (a Unicode dash, an invisible "
                        "character such as a zero-width joiner, full-width letters or digits): the same ID twice")
            elif repeats(ids):
                kind = ("participant IDs that are the same once leading zeros are removed (`id_leading_zeros: "
                        "strip`)")
            else:
                kind = "participant IDs that differ only by letter case or spaces"
            raise self.fail(column, dup, kind, fix)
        zeros = _unzero(folded).duplicated(keep=False).to_numpy(dtype=bool)
        if zeros.any():
            raise self.fail(column, zeros, "participant IDs that differ only by leading zeros",
                            "Write each participant's ID the same way in every table: if a spreadsheet dropped "
                            "the zeros, format the ID column as text and restore them; if the zeros carry no "
                            "meaning, declare `id_leading_zeros: strip` for the cohort's tables in the mapping "
                            "file (then these rows are the same participant, which must appear once).")


def open_table(spec: dict, missing_codes, *, ids_in_header: bool = False) -> Table:
    """Read the table a mapping entry points to (see :func:`first1000.io.read_raw_table`)."""
    expect = [spec.get("id"), *spec.get("columns", {}).values()]
    raw = read_raw_table(spec["path"], delimiter=spec.get("delimiter"), decimal=spec.get("decimal", "."),
                         sheet=spec.get("sheet"), encoding=spec.get("encoding", "utf-8"),
                         expect=[e for e in expect if e], ids_in_header=ids_in_header)
    if len(raw.data) == 0:
        raise InputTableError(f"{raw.where}: the table has a header but no rows (no data below row "
                              f"{raw.header_row}). Export the table again with its rows, or remove it from the "
                              "cohort's mapping file.")
    if len(raw.data.columns) == 0:
        raise InputTableError(f"{raw.where}: the table has no named columns. Export it again with its header row.")
    return Table(Path(spec["path"]), raw.data, list(missing_codes), spec.get("decimal", "."),
                 row_numbers=raw.row_numbers, native_dates=raw.native_dates, where=raw.where,
                 ids_in_header=ids_in_header, leading_zeros=spec.get("id_leading_zeros", "keep"),
                 column_codes=spec.get("column_missing_codes", {}))


def parse_dates(table: Table, column: str, fmt: str | None, missing: np.ndarray | None = None):
    """A date column: ``(parsed, bad)``. Text cells are parsed with ``fmt`` (strftime codes),
    real date cells of a workbook / Parquet file (``table.native_dates``) need no format;
    missing cells are ``NaT``; ``bad`` marks the other cells that are not a date in the format.
    A ``fmt`` pandas cannot use raises ValueError or TypeError."""
    if missing is None:
        missing = table.missing_mask(column)
    text = table.data[column].astype("string").str.strip().where(~pd.Series(missing, index=table.data.index))
    native = pd.Series(np.asarray(table.native_dates.get(column, np.zeros(len(text), bool)), dtype=bool),
                       index=text.index)
    if fmt is None:
        parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    else:
        parsed = pd.to_datetime(text.where(~native), format=fmt, errors="coerce")
    if native.any():  # real date cells of a workbook / Parquet file: no format needed
        iso = pd.to_datetime(text.where(native), format="ISO8601", errors="coerce")
        parsed = parsed.where(~native, iso)
    bad = parsed.isna().to_numpy() & ~missing
    return parsed, bad
