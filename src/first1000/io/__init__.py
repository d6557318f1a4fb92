"""Reading input tables and writing outputs atomically.

Every output is written to a temporary file in the destination folder and then
``os.replace``d into place, so an interrupted job never leaves a half-written file
under its final name.
"""

from __future__ import annotations

import codecs
import contextlib
import csv
import datetime
import hashlib
import io
import os
import re
import tempfile
import unicodedata
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from first1000.errors import InputTableError, format_rows

_UMASK = os.umask(0)
os.umask(_UMASK)

#: File formats first1000 reads, by file extension.
TABLE_FORMATS = {".csv": "csv", ".tsv": "tsv", ".txt": "tsv", ".xlsx": "xlsx", ".parquet": "parquet"}


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path next to ``path``; move it into place on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp creates 0600; results are ordinary files
    try:
        yield Path(tmp)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)


#: Text starting with a sign that is known not to be a formula: a METAL-style direction
#: (``--+?``, ``0`` for an effect of exactly 0), a mean (SD) such as ``-0.9 (0.4)`` and a
#: median [IQR] such as ``-1.2 [-2.0, 0.3]`` of Table 1. Anything else that starts with a
#: sign is neutralised (``-1-1`` would be computed by a spreadsheet).
_NUMBER = r"-?\d+(?:\.\d+)?"
_NOT_A_FORMULA = re.compile(rf"[+\-?0]+\Z|{_NUMBER} \({_NUMBER}\)\Z|{_NUMBER} \[{_NUMBER}, {_NUMBER}\]\Z")
#: First characters a spreadsheet runs as a formula, also in their full-width forms.
_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\uff1d", "\uff0b", "\uff0d", "\uff20")


def write_tsv(df: pd.DataFrame, path, float_format: str = "%.10g") -> None:
    """Write a results table as TSV, deterministically (fixed float format, no index).

    Formula injection (OWASP "CSV injection"): a text cell or column name that starts
    (after spaces) with ``=``, ``+``, ``-``, ``@`` (or their full-width forms), a tab or a
    carriage return and does not read as a number gets a leading single quote, so a
    spreadsheet shows it as text instead of running it. Numbers (numeric columns, and numbers held as text such as ``"-0.5"``) and text
    starting with a sign made of numerals, signs and brackets only (a meta-analysis
    direction ``--+``, a mean (SD) ``-0.9 (0.4)``), from which no function or reference
    can be formed, are written unchanged.
    """

    def neutral(value):
        if not isinstance(value, str) or not value.lstrip(" ").startswith(_FORMULA_START):
            return value
        if _NOT_A_FORMULA.match(value):  # e.g. a direction "+-?", a mean (SD) "-0.9 (0.4)"
            return value
        try:
            float(value)
        except ValueError:
            return "'" + value
        return value

    text = [c for c in df.columns if not (pd.api.types.is_numeric_dtype(df[c]) or pd.api.types.is_bool_dtype(df[c])
                                          or pd.api.types.is_datetime64_any_dtype(df[c]))]
    flagged = [c for c in text if any(neutral(v) is not v for v in df[c].tolist())]
    names = [neutral(c) for c in df.columns]
    if flagged or names != list(df.columns):
        df = df.copy()
        for c in flagged:
            df[c] = pd.Series([neutral(v) for v in df[c].tolist()], index=df.index, dtype=object)
        df.columns = names
    with atomic_path(path) as tmp:
        df.to_csv(tmp, sep="\t", index=False, float_format=float_format, lineterminator="\n")


def write_parquet(df: pd.DataFrame, path, metadata: dict[bytes, bytes] | None = None) -> None:
    """Write a Parquet file without the pandas index, deterministically; ``metadata`` is
    added to the file's schema metadata (e.g. the key fingerprint of ingested tables).

    Floating-point columns are written without a dictionary: Arrow otherwise tries one for
    every column and falls back once it outgrows a page, which for estimates, standard
    errors and p-values (rarely repeated) is wasted work (a 450,000-CpG EWAS table: 0.15 s
    instead of 0.26 s, 38 instead of 41 MB, #19). The values read back are the same."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    table = pa.Table.from_pandas(df.reset_index(drop=True), preserve_index=False)
    if metadata:
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), **metadata})
    dictionary = [field.name for field in table.schema if not pa.types.is_floating(field.type)]
    with atomic_path(path) as tmp:
        pq.write_table(table, tmp, compression="zstd", use_dictionary=dictionary)


def write_text(text: str, path) -> None:
    with atomic_path(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8")


def write_yaml(obj, path) -> None:
    write_text(yaml.safe_dump(obj, sort_keys=False, allow_unicode=True), path)


def read_yaml(path):
    """Load YAML safely (never constructs Python objects)."""
    with open(path, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def sha256sum(path, chunk: int = 1 << 20) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(chunk), b""):
            h.update(block)
    return h.hexdigest()


def table_format(path) -> str:
    suffix = Path(path).suffix.lower()
    if suffix not in TABLE_FORMATS:
        raise InputTableError(
            f"{path}: unsupported file type '{suffix}'. first1000 reads "
            f"{', '.join(sorted(TABLE_FORMATS))}; export the table in one of these formats."
        )
    return TABLE_FORMATS[suffix]


# --------------------------------------------------------------------------- reading input tables
#: Candidate delimiters of text tables (for "wrong delimiter" diagnostics).
_DELIMITERS = {",": "comma", ";": "semicolon", "\t": "tab", "|": "vertical bar"}
#: Byte-order marks, longest first (UTF-32 LE starts with the UTF-16 LE mark).
_BOMS = ((codecs.BOM_UTF32_LE, "utf-32"), (codecs.BOM_UTF32_BE, "utf-32"), (codecs.BOM_UTF8, "utf-8-sig"),
         (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))
#: Cells a text table cannot hold: NUL, bytes invalid in the encoding (decoded as lone
#: surrogates by ``surrogateescape``), C1 control codes (Windows-1252 text read as Latin-1).
_NUL = re.compile("\x00")
_SURROGATES = re.compile("[\udc80-\udcff]")
_C1_CONTROLS = re.compile("[\x80-\x9f]")
#: Invisible characters some exporters leave in header cells.
_INVISIBLE = dict.fromkeys(map(ord, "\ufeff\u200b\u200c\u200d\u2060"), None)


@dataclass
class RawTable:
    """A table as read, with what error messages need to point into the file.

    ``row_numbers[i]`` is the row (as a spreadsheet numbers it) of data row ``i``:
    blank rows are dropped but keep their place in the numbering, and a header found
    below blank rows in a sheet keeps its real row number. ``native_dates`` marks, per
    column, the cells that were real dates (Excel date cells, Parquet date/timestamp
    columns), written as ISO text ``YYYY-MM-DD``. ``where`` is the path, plus the sheet
    when the workbook has several.
    """

    data: pd.DataFrame
    row_numbers: np.ndarray
    where: str
    header_row: int = 1
    native_dates: dict = field(default_factory=dict)


def column_letter(index: int) -> str:
    """Spreadsheet letter of a 0-based column index: 0 -> A, 26 -> AA."""
    letters = ""
    index += 1
    while index:
        index, rest = divmod(index - 1, 26)
        letters = chr(65 + rest) + letters
    return letters


def _letters(indices, limit: int = 10) -> str:
    indices = list(indices)
    more = f" (and {len(indices) - limit} more)" if len(indices) > limit else ""
    return ", ".join(column_letter(i) for i in indices[:limit]) + more


def _nfc(text: str) -> str:
    return text if text.isascii() else unicodedata.normalize("NFC", text)


def _clean_name(name) -> str:
    """A column name as compared and shown: stripped, NFC, no invisible or line-breaking characters."""
    if name is None or (isinstance(name, float) and np.isnan(name)):
        return ""
    text = str(name).translate(_INVISIBLE)
    if not text.isprintable():
        text = "".join(" " if unicodedata.category(c) in ("Cc", "Zl", "Zp") else c for c in text)
    return _nfc(text.strip())


def _decode(path: Path, encoding: str) -> str:
    """Decode a text table: a byte-order mark wins over the declared encoding."""
    raw = path.read_bytes()
    # Undecodable bytes become lone surrogates; the cells holding them are reported below.
    return raw.decode(text_encoding(path, encoding, raw), errors="surrogateescape")


#: The text encodings a table may declare (Python's names for them; any spelling Python
#: knows, e.g. ``latin-1`` or ``windows-1252``): Unicode, and the 8-bit code pages of
#: exports from Windows, Mac and ISO 8859 systems. Not Python's other codecs (``rot13``,
#: ``hex``, ``unicode_escape``: transformations, not text encodings).
TEXT_ENCODINGS = ({"ascii", "utf-8", "utf-8-sig", "utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le",
                   "utf-32-be", "mac-roman"}
                  | {f"cp{n}" for n in (437, 850, 852, 1250, 1251, 1252, 1253, 1254, 1255, 1256, 1257, 1258)}
                  | {f"iso8859-{n}" for n in range(1, 17) if n != 12})


def encoding_problem(encoding) -> str | None:
    """Why a declared encoding cannot be used (None when it can)."""
    try:
        name = codecs.lookup(str(encoding)).name
    except LookupError:
        return (f"unknown encoding `{encoding}` declared for this table. Use a Python codec name such as utf-8, "
                "cp1252 (Windows Western European) or latin-1 in the mapping file.")
    if name not in TEXT_ENCODINGS:
        return (f"`{encoding}` is not a text encoding first1000 reads. Use utf-8 (also with a byte-order mark), "
                "utf-16, cp1252 (Windows), latin-1, mac-roman or another ISO 8859 or Windows code page in the "
                "mapping file.")
    return None


def text_encoding(path, encoding: str, head: bytes) -> str:
    """The encoding a text table is read with, from its first bytes ``head``: a byte-order
    mark wins over the declared ``encoding``; an unknown codec or one that is not a text
    encoding (:data:`TEXT_ENCODINGS`), or NUL bytes in a file not declared UTF-16/32 (UTF-16
    without a mark, a binary file), is an error."""
    problem = encoding_problem(encoding)
    if problem:
        raise InputTableError(f"{path}: {problem}")
    for bom, codec in _BOMS:
        if head.startswith(bom):
            return codec
    wide = codecs.lookup(encoding).name.startswith(("utf-16", "utf-32"))
    if not wide and head.count(b"\x00") > len(head) // 4:
        raise InputTableError(
            f"{path}: the file holds NUL bytes, as UTF-16 text without a byte-order mark or a binary file "
            "renamed to a text extension do. Save the table as 'CSV UTF-8' (or declare "
            "`encoding: utf-16` for this table in the mapping file).")
    return encoding


def _records(text: str, sep: str, path: Path) -> list[list[str]]:
    try:
        return list(csv.reader(io.StringIO(text, newline=""), delimiter=sep, quotechar='"', doublequote=True,
                               strict=False))
    except csv.Error as exc:  # e.g. a cell larger than the csv module's field limit
        raise InputTableError(f"{path}: cannot be split into cells ({exc}). Check the delimiter and the quoting "
                              "of the file, or export it again.") from None


def _read_text(path: Path, sep: str, encoding: str):
    text = _decode(path, encoding)
    records = _records(text, sep, path)
    rows = list(range(1, len(records) + 1))
    return records, rows


def _cell_text(value) -> str:
    """A workbook cell as the text a CSV export would hold (dates as ISO text)."""
    if value is None:
        return ""
    if isinstance(value, str):
        return _nfc(value)
    if isinstance(value, bool):
        return "TRUE" if value else "FALSE"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not np.isfinite(value):
            return ""
        if value.is_integer() and abs(value) < 2**53:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime.datetime):
        if value.time() == datetime.time(0):
            return value.date().isoformat()
        return value.isoformat(sep=" ")
    if isinstance(value, datetime.date):
        return value.isoformat()
    return _nfc(str(value))


#: What only the openpyxl reader handles as first1000 must, found in the XML of a workbook's
#: cells (sheets, shared strings): formulas (``<f>``), merged cells, phonetic runs (``<rPh>``),
#: hidden rows or columns however the attribute is written, error and ISO-date cells
#: (``t="e"``, ``t="d"``), ``_xHHHH_`` escapes (decoded by python-calamine, not by openpyxl)
#: and text that python-calamine trims (a ``<t>`` without ``xml:space="preserve"`` that starts
#: or ends with a space, tab or line break, written or as a character reference).
_XLSX_NEEDS_OPENPYXL = [  # (substrings, one of which every match holds: tested first, ~10x faster; pattern)
    ((b"<f", b":f", b"mergeCell", b"rPh"), re.compile(rb"<(?:\w+:)?(?:f|mergeCell|rPh)[\s>/]")),
    ((b"hidden",), re.compile(rb"\shidden\s*=\s*(?![\"'](?:0|[Ff][Aa][Ll][Ss][Ee])[\"'])")),
    ((b'"e"', b"'e'", b'"d"', b"'d'"), re.compile(rb"\st\s*=\s*[\"'][ed][\"']")),
    ((b"_x",), re.compile(rb"_x[0-9A-Fa-f]{4}_")),
    ((b"t> ", b"t>\t", b"t>\n", b"t>\r", b"t>&#", b" </", b"\t</", b"\n</", b"\r</", b";</"),
     re.compile(rb"<(?:\w+:)?t>(?:[ \t\r\n]|&#(?:9|10|13|32|x0*(?:9|[aA]|[dD]|20));)"
                rb"|<(?:\w+:)?t>[^<]*(?:[ \t\r\n]|&#(?:9|10|13|32|x0*(?:9|[aA]|[dD]|20));)</")),
]


def _xlsx_needs_openpyxl(xml: bytes) -> bool:
    return any(any(hint in xml for hint in hints) and pattern.search(xml) for hints, pattern in _XLSX_NEEDS_OPENPYXL)


#: Parts of a workbook that hold no cells (their ``hidden`` or ``<f>`` mean something else);
#: every other ``.xml`` part is scanned, wherever the workbook stores its sheets.
_XLSX_NOT_CELLS = ("[content_types].xml", "docprops/", "customxml/", "xl/styles.xml", "xl/workbook.xml",
                   "xl/theme/", "xl/drawings/", "xl/charts/", "xl/comments", "xl/threadedcomments/",
                   "xl/persons/", "xl/tables/", "xl/pivot", "xl/externallinks/", "xl/calcchain.xml",
                   "xl/printersettings/", "xl/media/", "xl/ctrlprops/", "xl/connections.xml",
                   "xl/querytables/", "xl/metadata.xml")

#: Number formats python-calamine and openpyxl classify alike (as a date or not): the built-in
#: ones other than the locale-specific 23-36 and 50-163, and custom codes of plain digit,
#: date and time characters. Anything else (fill characters ``*``, literal text, colours,
#: ``AM/PM``, currency symbols) goes to openpyxl.
_XLSX_FORMAT_CODE = re.compile(rb"""formatCode\s*=\s*(["'])(.*?)\1""", re.S)
_XLSX_FORMAT_ID = re.compile(rb"""numFmtId\s*=\s*["'](\d+)["']""")
_XLSX_PLAIN_CODE = re.compile(rb"[0#?.,%Ee+\-ymdhsYMDHS:/ \[\]$@;]*")
_XLSX_DATE_IDS = set(range(14, 23)) | {45, 46, 47}


def _xlsx_styles(archive) -> bool:
    """Whether the workbook's styles may format a cell as a date; :class:`_NeedsOpenpyxl`
    for a number format the two readers may classify differently."""
    name = next((n for n in archive.namelist() if n.lower() == "xl/styles.xml"), None)
    if name is None:
        return False
    xml = archive.read(name)
    codes = [m.group(2) for m in _XLSX_FORMAT_CODE.finditer(xml)]
    if not all(_XLSX_PLAIN_CODE.fullmatch(code) for code in codes):
        raise _NeedsOpenpyxl
    ids = {int(m.group(1)) for m in _XLSX_FORMAT_ID.finditer(xml)}
    custom = {int(m.group(1)) for m in re.finditer(rb"<(?:\w+:)?numFmt\s[^>]*?numFmtId\s*=\s*[\"'](\d+)", xml)}
    if any((23 <= i <= 36 or 50 <= i <= 163) and i not in custom for i in ids):
        raise _NeedsOpenpyxl
    return bool(ids & _XLSX_DATE_IDS) or any(re.search(rb"[dmyhsDMYHS]", code) for code in codes)


class _NeedsOpenpyxl(Exception):
    """The workbook holds something the fast reader leaves to openpyxl."""


_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _calamine_value(value, dates: bool):
    """A cell as python-calamine gives it, as openpyxl would give it (None for an empty cell).

    python-calamine gives some values differently from openpyxl; those are left to openpyxl:
    a time of day or a duration (a value under one day with a date format is a time for
    python-calamine, a datetime in 1899 for openpyxl), a date-time with a fraction of a
    second (the two round to the millisecond differently), an integral float beyond 2**53
    (``12345678901234567890``) and, when the workbook has date formats (``dates``), a number
    past 9999-12-31 (a date format python-calamine ignores there; openpyxl gives an error).
    """
    if isinstance(value, str):
        if not value.isprintable() and _XML_ILLEGAL.search(value):
            raise _NeedsOpenpyxl  # not XML: openpyxl refuses the file as damaged
        return value or None
    if isinstance(value, float):
        if (abs(value) >= 2**53 and value.is_integer()) or (dates and abs(value) >= 2_958_466):
            raise _NeedsOpenpyxl
        return value
    if isinstance(value, (datetime.time, datetime.timedelta)):
        raise _NeedsOpenpyxl
    if isinstance(value, datetime.datetime) and value.microsecond:
        raise _NeedsOpenpyxl
    return value


def _reraise_unless_panic(exc: BaseException):
    """python-calamine panics (pyo3's PanicException, a BaseException) on e.g. a number far
    outside the dates Excel can show under a date format: openpyxl reads such a workbook.
    (Rust prints the panic's message, which holds no cell value, to stderr.)"""
    if type(exc).__name__ != "PanicException":
        raise exc
    raise _NeedsOpenpyxl from None


def _read_xlsx_fast(path: Path, sheet, expect):
    """_read_xlsx with python-calamine (~30x faster than openpyxl), for the workbooks that hold
    plain values only; :class:`_NeedsOpenpyxl` for anything else (see ``_XLSX_NEEDS_OPENPYXL``
    and :func:`_calamine_value`), and for any workbook python-calamine cannot read, so that
    every check and message stays openpyxl's."""
    import zipfile

    from python_calamine import CalamineWorkbook, SheetTypeEnum, SheetVisibleEnum

    book = None
    try:
        with zipfile.ZipFile(path) as archive:
            names = archive.namelist()
            if any(n.lower().startswith(("xl/chartsheets/", "xl/dialogsheets/", "xl/macrosheets/")) for n in names):
                raise _NeedsOpenpyxl
            has_dates = _xlsx_styles(archive)
            for name in names:
                low = name.lower()
                if not low.endswith(".xml") or low.startswith(_XLSX_NOT_CELLS):
                    continue
                with archive.open(name) as part:
                    tail = b""
                    while chunk := part.read(1 << 22):
                        if not tail and (chunk[:2] in (b"\xff\xfe", b"\xfe\xff") or b"\x00" in chunk[:4]):
                            raise _NeedsOpenpyxl  # UTF-16 XML: the pattern would not see it
                        chunk = tail + chunk
                        if _xlsx_needs_openpyxl(chunk):
                            raise _NeedsOpenpyxl
                        tail = chunk[-64:]
        book = CalamineWorkbook.from_path(str(path))
        names = list(book.sheet_names)
        meta = {m.name: m for m in book.sheets_metadata}
        if any(m.typ != SheetTypeEnum.WorkSheet for m in meta.values()):
            raise _NeedsOpenpyxl
        if len({n.casefold() for n in names}) < len(names):
            raise _NeedsOpenpyxl  # openpyxl renames 'DATA' beside 'data' to 'DATA1'

        grids = {}

        def grid(name):
            if name in grids:
                return grids[name]
            rows = [[_calamine_value(v, has_dates) for v in r]
                    for r in book.get_sheet_by_name(name).to_python(skip_empty_area=False)]
            # as openpyxl's grid: bounded by the cells that hold a value
            used = [(i, max(j for j, v in enumerate(r) if v is not None)) for i, r in enumerate(rows)
                    if any(v is not None for v in r)]
            width = max((j for _, j in used), default=-1) + 1
            grids[name] = [(r + [None] * width)[:width] for r in rows[:used[-1][0] + 1]] if used else []
            return grids[name]

        if sheet is not None:
            chosen = _chosen_sheet(path, names, sheet)
        else:
            for n in names:
                grid(n)
            visible = {n for n in names if meta[n].visible == SheetVisibleEnum.Visible}
            chosen = _guess_sheet(path, names, grids, visible, expect)
        records, dates = [], []
        for values in grid(chosen):
            records.append([_cell_text(v) for v in values])
            dates.append([isinstance(v, (datetime.date, datetime.datetime)) for v in values])
    except (_NeedsOpenpyxl, InputTableError):
        raise
    except Exception:  # noqa: BLE001 - openpyxl reads it again and says what is wrong
        raise _NeedsOpenpyxl from None
    except BaseException as exc:
        _reraise_unless_panic(exc)
    finally:
        if book is not None:
            book.close()
    where = f"{path}, sheet '{chosen}'" if len(names) > 1 else str(path)
    return records, list(range(1, len(records) + 1)), where, dates, set()


def _header_of(rows):
    for values in rows:
        if any(v is not None and str(v).strip() for v in values):
            return {_clean_name(v) for v in values}
    return None


def _chosen_sheet(path: Path, names: list[str], sheet) -> str:
    chosen = next((n for n in names if n == sheet), None) or next(
        (n for n in names if n.casefold() == str(sheet).casefold()), None)
    if chosen is None:
        raise InputTableError(
            f"{path}: sheet '{sheet}' not found. Sheets found: {listed_names(names, quote=True)}. "
            "Fix `sheet` for this table in the mapping file.")
    return chosen


def _guess_sheet(path: Path, names: list[str], grids: dict, visible: set, expect) -> str:
    """The sheet that holds the table when the mapping names none (see read_raw_table)."""
    headers = {n: _header_of(rows) for n, rows in grids.items()}
    filled = [n for n in names if headers[n] is not None and n in visible]
    if not filled:
        raise InputTableError(f"{path}: the workbook has no data (every sheet is empty). Export the table "
                              "again with its header row.")
    expected = [e for e in (expect or []) if e]
    holding = [n for n in filled if expected and set(expected) <= headers[n]]
    if len(filled) == 1:
        return filled[0]
    if names[0] in filled and holding == [names[0]]:
        return names[0]  # the first sheet is obviously the table: only it has the columns
    found = listed_names(filled, quote=True)
    if expected:
        cols = ", ".join(f"'{e}'" for e in expected)
        which = (f"Sheets with the column(s) {cols}: {listed_names(holding, quote=True)}." if holding
                 else f"No sheet has the column(s) {cols}.")
    else:
        which = ""
    raise InputTableError(
        f"{path}: the workbook has {len(filled)} sheets with data ({found}) and first1000 cannot tell "
        f"which one holds the table. {which} Declare `sheet: <name>` for this table in the mapping "
        "file.".replace("  ", " "))


#: A row of a worksheet's XML with its number (``<row r="5" ...>``).
_XLSX_ROW = re.compile(rb'<row\b[^>]*?\br="([0-9]{1,7})"')
#: Cells whose reference has this many column letters (3: beyond column ZZ, 2: beyond Z).
#: (Only a cell's ``r`` holds letters: a row's holds its number.)
_XLSX_LETTERS = {n: re.compile(rb' r="[A-Z]{%d}[0-9]' % n) for n in (3, 2)}
#: The columns 1, 2 and 3 letters reach (Z, ZZ, XFD: Excel's last).
_XLSX_COLUMNS = {1: 26, 2: 702, 3: 16384}
#: A sheet's used range may hold this many cells more than the sheet's cells times
#: :data:`_XLSX_SPARSE`: a value far from the table (a stray cell in XFD1048576) would make
#: both readers build a grid of billions of cells (calamine aborts the process asking for
#: 512 GB, openpyxl walks 1.7e10 cells for hours). A dense table always passes: its width
#: is bounded by the letters of its references, at most 26 times its real width.
_XLSX_SLACK_CELLS = 10_000_000
_XLSX_SPARSE = 50


def _xlsx_rows_beyond(text: bytes, rows: int, end: int) -> int:
    """The largest row number of a cell reference in ``text[:end]`` above ``rows`` (searched
    only among references with more digits than ``rows``: a row's cells normally sit in
    their row, so this finds nothing and costs one scan)."""
    digits = len(str(rows)) + 1
    if digits > 7:
        return rows
    found = re.compile(rb' r="[A-Z]{1,3}([0-9]{%d,7})"' % digits).findall(text, 0, end)
    return max([rows, *map(int, found)])


def _check_xlsx_extent(path: Path) -> None:
    """Refuse a worksheet whose cells reach far beyond the cells it holds (a stray value or
    formatted cell far from the table), before a reader builds its grid; one streaming
    scan of each sheet's XML counting its cells, its rows and the letters of its columns."""
    import zipfile

    try:
        archive = zipfile.ZipFile(path)
    except (zipfile.BadZipFile, OSError):
        return  # the readers report an unreadable workbook
    with archive:
        for name in archive.namelist():
            if not (name.lower().startswith("xl/worksheets/") and name.lower().endswith(".xml")):
                continue
            cells, rows, letters = 0, 0, 1
            with archive.open(name) as part:
                tail = b""
                while True:
                    chunk = part.read(1 << 22)
                    text = tail + chunk
                    # a tag cut by the chunk's end is read with the next chunk (a "tag" longer than
                    # 4 KB, or text without any, is not carried over: the tail stays small)
                    cut = text.rfind(b"<") if chunk else len(text)
                    if cut < 0 or len(text) - cut > 4096:
                        cut = max(len(text) - 64, 0)
                    cells += text.count(b"<c ", 0, cut) + text.count(b"<c>", 0, cut)
                    rows = max([rows, *map(int, _XLSX_ROW.findall(text, 0, cut))])
                    rows = _xlsx_rows_beyond(text, rows, cut)
                    letters = max([letters, *(n for n, pattern in _XLSX_LETTERS.items()
                                              if n > letters and pattern.search(text, 0, cut))])
                    tail = text[cut:]
                    if not chunk:
                        break
            cols = _XLSX_COLUMNS[letters]
            if rows * cols > _XLSX_SLACK_CELLS + _XLSX_SPARSE * cells:
                raise InputTableError(
                    f"{path}: a worksheet ({name.rsplit('/', 1)[-1]}) reaches row {rows:,}"
                    + (f" and columns beyond {column_letter(_XLSX_COLUMNS[letters - 1] - 1)}" if letters > 1 else "")
                    + f" but holds only {cells:,} cells: a value or a formatted cell far from the table. Delete "
                    "the rows and columns beyond the table (in Excel, Ctrl+End shows the last used cell) and save.")


def _read_xlsx(path: Path, sheet, expect):
    _check_xlsx_extent(path)
    with contextlib.suppress(_NeedsOpenpyxl):
        return _read_xlsx_fast(path, sheet, expect)
    return _read_xlsx_openpyxl(path, sheet, expect)


def _read_xlsx_openpyxl(path: Path, sheet, expect):
    import openpyxl

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # openpyxl warns about styles, data validation, ...
            book = openpyxl.load_workbook(path, read_only=False, data_only=True)
    except Exception as exc:  # noqa: BLE001 - any failure to open the workbook is the file's problem
        raise InputTableError(
            f"{path}: cannot be opened as an Excel workbook ({type(exc).__name__}). Is it an .xlsx file (not "
            ".xls, .csv or a password-protected workbook renamed to .xlsx)? Save it again as 'Excel Workbook "
            "(.xlsx)'.") from None
    names = book.sheetnames

    def grid(ws):
        # Bound the grid by the cells that hold a value: a formatted but empty cell far away
        # (e.g. in column XFD) must not make the sheet a billion cells wide.
        cells = getattr(ws, "_cells", None)
        if cells is None:
            max_row, max_col = ws.max_row, ws.max_column
        else:
            used = [key for key, cell in cells.items() if cell.value is not None]
            if not used:
                return []
            max_row, max_col = max(r for r, _ in used), max(c for _, c in used)
        return [list(values) for values in ws.iter_rows(min_row=1, min_col=1, max_row=max_row, max_col=max_col,
                                                        values_only=True)]

    if sheet is not None:
        chosen = _chosen_sheet(path, names, sheet)
    else:
        grids = {n: grid(book[n]) for n in names}
        chosen = _guess_sheet(path, names, grids, {n for n in names if book[n].sheet_state == "visible"}, expect)
    ws = book[chosen]
    where = f"{path}, sheet '{chosen}'" if len(names) > 1 else str(path)
    records, dates = [], []
    for values in grid(ws):
        records.append([_cell_text(v) for v in values])
        dates.append([isinstance(v, (datetime.date, datetime.datetime)) for v in values])
    merged_rows = {row for r in ws.merged_cells.ranges for row in range(r.min_row, r.max_row + 1)}
    _check_sheet(path, ws, chosen, where, records)
    return records, list(range(1, len(records) + 1)), where, dates, merged_rows


def _cell_ranges(cells, limit: int = 5) -> str:
    """Cells (row, column), 1-based, as spreadsheet ranges by column: 'C2:C381, E7'."""
    by_column: dict[int, list[int]] = {}
    for r, c in sorted(cells, key=lambda rc: (rc[1], rc[0])):
        by_column.setdefault(c, []).append(r)
    ranges = []
    for c, rows in by_column.items():
        start = prev = rows[0]
        for r in rows[1:] + [None]:
            if r is not None and r == prev + 1:
                prev = r
                continue
            a, b = f"{column_letter(c - 1)}{start}", f"{column_letter(c - 1)}{prev}"
            ranges.append(a if a == b else f"{a}:{b}")
            if r is not None:
                start = prev = r
    more = f" (and {len(ranges) - limit} more)" if len(ranges) > limit else ""
    return ", ".join(ranges[:limit]) + more


def _has_formulas(path: Path) -> bool:
    """Whether any worksheet of an .xlsx file holds a formula (an ``<f>`` element)."""
    import zipfile

    pattern = re.compile(rb"<(?:\w+:)?f[\s>/]")
    try:
        with zipfile.ZipFile(path) as book:
            return any(pattern.search(book.read(name)) for name in book.namelist()
                       if name.startswith("xl/worksheets/") and name.endswith(".xml"))
    except (OSError, zipfile.BadZipFile, KeyError):
        return True  # let openpyxl tell


def _check_sheet(path: Path, ws, title: str, where: str, records: list[list[str]]) -> None:
    """What a workbook shows differently from what its cells hold, each refused with its cells:
    formulas without a saved value (read as empty), merged cells below the header (only the
    first cell holds the value) and hidden rows or columns that hold values (rows someone
    filtered out or hid are read like any other, so they are never silently in or out)."""
    import openpyxl

    header = next((i + 1 for i, r in enumerate(records) if any(c.strip() for c in r)), None)
    if header is None:
        return
    height, width = len(records), max((len(r) for r in records), default=0)
    filled = {(i + 1, j + 1) for i, r in enumerate(records) for j, c in enumerate(r) if c.strip()}
    uncached = []
    if _has_formulas(path):  # the workbook again, with formulas instead of their saved values
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            formulas = openpyxl.load_workbook(path, read_only=False, data_only=False)[title]
        uncached = [(cell.row, cell.column) for cell in getattr(formulas, "_cells", {}).values()
                    if cell.data_type == "f" and (cell.row, cell.column) not in filled]
    if uncached:
        raise InputTableError(
            f"{where}, cells {_cell_ranges(uncached)}: formulas without saved values (the program that wrote "
            "the file did not calculate them, so they would be read as empty). Open the file in Excel and save it "
            "(or copy the columns and paste them as values), then export again.")
    body_merged = [r for r in ws.merged_cells.ranges if r.max_row > header]
    if body_merged:
        shown = ", ".join(r.coord for r in body_merged[:5]) + (
            f" (and {len(body_merged) - 5} more)" if len(body_merged) > 5 else "")
        raise InputTableError(
            f"{where}, cells {shown}: merged cells in the table's rows (only the first cell of a merged range "
            "holds the value; the others would be read as empty). Unmerge them and fill every cell, then save.")
    hidden_rows = [r for r in range(header, height + 1) if ws.row_dimensions[r].hidden
                   and any((r, c) in filled for c in range(1, width + 1))]
    if hidden_rows:
        raise InputTableError(
            f"{where}, {format_rows(hidden_rows)}: hidden rows hold values (hidden or filtered out in Excel). "
            "first1000 reads every row, so a row hidden to exclude it would be used: unhide the rows (clear "
            "filters), delete those that do not belong in the table, and save.")
    hidden_columns = set()
    for dim in ws.column_dimensions.values():
        if dim.hidden and dim.min:
            hidden_columns.update(range(dim.min, (dim.max or dim.min) + 1))
    hidden_columns = sorted(c for c in hidden_columns if c <= width and any((r, c) in filled
                                                                           for r in range(1, height + 1)))
    if hidden_columns:
        raise InputTableError(
            f"{where}, column{'s' if len(hidden_columns) > 1 else ''} {_letters(c - 1 for c in hidden_columns)}: "
            "hidden columns hold values. first1000 reads every column: unhide them, delete those that do not "
            "belong in the table, and save.")


def _read_parquet(path: Path):
    """(frame, None), or (None, column names) when names repeat (reported by the caller)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    try:
        names = [_clean_name(n) for n in pq.read_schema(path).names]
        if len(set(names)) < len(names):
            return None, names  # duplicated names are reported by the caller
        arrow = pq.read_table(path)
    except Exception as exc:  # noqa: BLE001 - a file pyarrow cannot read is the file's problem
        raise InputTableError(f"{path}: cannot be read as Parquet ({type(exc).__name__}). The file is damaged or "
                              "not a Parquet file; export the table again.") from None
    try:
        frame = arrow.to_pandas()
    except (pa.ArrowException, ValueError, OverflowError, TypeError) as exc:
        raise InputTableError(f"{path}: cannot be converted to a table ({type(exc).__name__}): a column has a "
                              "type first1000 cannot read (e.g. dates out of range or nested values). Export "
                              "numbers, text and dates only.") from None
    return frame, None


def _shape(text: str) -> str:
    """A cell's shape: runs of letters -> 'a', runs of digits -> '9', spaces dropped."""
    return re.sub(r"[^\W\d_]+", "a", re.sub(r"\d+", "9", str(text).strip())).replace(" ", "")


_DIGIT_RUN = re.compile(r"\d{3}")


def id_like_names(names) -> set[str]:
    """The names a message must not list because they look like participant IDs (a table
    with one column per sample, a workbook with one sheet per participant): names with a
    run of three or more digits of which at least three share one shape ('GH-0001',
    'GH-0002', 'GH-0003'; letters -> a, digits -> 9). Item columns (``epds_1``) and a few
    years (``income_2019``, ``income_2020``) are listed; three such years are not."""
    names = [str(n) for n in names]
    shapes: dict[str, int] = {}
    for name in names:
        if _DIGIT_RUN.search(name):
            shapes[_shape(name)] = shapes.get(_shape(name), 0) + 1
    alike = {s for s, k in shapes.items() if k >= 3}
    return {n for n in names if _DIGIT_RUN.search(n) and _shape(n) in alike}


def listed_names(names, limit: int = 20, quote: bool = False) -> str:
    """Names for a message, at most ``limit``, with those that look like participant IDs
    (:func:`id_like_names`) counted, not listed."""
    names = [str(n) for n in names]
    hidden = id_like_names(names)
    shown = [n for n in names if n not in hidden]
    text = ", ".join((repr(n) if quote else n) for n in shown[:limit])
    more = [f"{len(shown) - limit} more"] if len(shown) > limit else []
    more += [f"{len(hidden)} named like participant IDs, not listed"] if hidden else []
    return (text + (f" (and {'; '.join(more)})" if text else "; ".join(more))) if more else text


def header_looks_like_data(names: list[str], columns: list[list[str]]) -> bool:
    """True when a table's first row looks like a data row, not column names (a file
    exported without its header): a third of the names are numbers or dates, one is a
    decimal number, a third of them are shaped like the values below them (letters ->
    a, digits -> 9: 'GH-0354' over 'GH-0355', 'P01' over 'P02'), one is an ID over the IDs
    below it, or two and a third of them equal a value below them
    (:func:`names_like_values`). ``columns``: the first
    non-blank cells of each column, as text. A message then names columns by their letter,
    never by that row's text, which is a participant's values (or ID)."""
    names = pd.Series([str(c) for c in names], dtype=object)
    if len(names) == 0:
        return False
    numeric = pd.to_numeric(names.str.replace(",", ".", regex=False), errors="coerce").notna()
    dates = names.str.fullmatch(r"\d{1,4}[-/.]\d{1,2}[-/.]\d{1,4}( .*)?").fillna(False)
    decimals = names.str.fullmatch(r"[-+]?\d*[.,]\d+").fillna(False)
    if (numeric | dates).sum() * 3 >= len(names) or decimals.any():
        return True
    alike = 0
    for name, cells in zip(names, columns):
        shape = _shape(name)
        if "9" not in shape:
            continue
        shapes = [_shape(c) for c in cells[:50]]
        alike += bool(shapes) and sum(s == shape for s in shapes) / len(shapes) >= 0.5
    if alike * 3 >= len(names):
        return True
    # one ID over the IDs below it ('GH-0012' over 'GH-0013', 'GH-0014') is enough: a mostly
    # text first row (sex, yes/no, country) passed the rules above with its ID (#19 review)
    like_ids, equal = names_like_values(list(names), columns)
    return bool(like_ids) or (len(equal) >= 2 and len(equal) * 3 >= len(names))


def names_like_values(names: list[str], columns: list[list[str]]) -> tuple[set[str], set[str]]:
    """The names a message must not print because they look like a value of their own
    column: (names with a digit shaped like most of the cells below them, in a column of
    distinct values, of one cell or holding the name itself: a participant ID over the IDs
    below; names equal, letter case and
    spaces folded, to a cell below them: 'female' over 'male', 'female'). ``columns``: the
    first non-blank cells of each column, as text."""
    like_ids, equal = set(), set()
    for name, cells in zip(map(str, names), columns):
        cells = [str(c) for c in cells[:50]]
        if not cells:
            continue
        shape = _shape(name)
        folded = name.strip().casefold()
        below = {c.strip().casefold() for c in cells}
        # an ID over the IDs below it: over one row (a table of one participant), over IDs
        # that differ, or over IDs that repeat, its own among them (a long table: rows per visit)
        if ("9" in shape and sum(_shape(c) == shape for c in cells) * 2 >= len(cells)
                and (len(cells) == 1 or len(set(cells)) >= 0.9 * len(cells) or folded in below)):
            like_ids.add(name)
        if folded and folded in below:
            equal.add(name)
    return like_ids, equal


def _first_cells(body: list[list[str]], width: int, limit: int = 50) -> list[list[str]]:
    """The first ``limit`` non-blank cells of each of ``width`` columns of raw rows."""
    return [[r[i] for r in body[:limit] if i < len(r) and str(r[i]).strip()] for i in range(width)]


def _check_header(where: str, header: list[str], body: list[list[str]], header_row: int, ids_in_header: bool,
                  merged=None) -> list[int]:
    """Columns to keep; raise for unnamed columns holding values and duplicated names."""
    width = len(header)
    used = [any(i < len(r) and str(r[i]).strip() for r in body) for i in range(width)]
    unnamed = [i for i in range(width) if not header[i] and used[i]]
    n_named = sum(1 for h in header if h)
    n_used = sum(used)
    if unnamed:
        merged_note = ""
        if merged and header_row in merged:
            merged_note = f" Row {header_row} has merged cells."
        if n_named * 2 <= n_used:
            raise InputTableError(
                f"{where}, row {header_row}: row {header_row} does not look like the header: only {n_named} of "
                f"the {n_used} columns holding values {'has' if n_named == 1 else 'have'} a name.{merged_note} "
                "If a title or a merged group header sits above the column names, delete those rows so that the "
                "first row holds one name per column.")
        raise InputTableError(
            f"{where}, row {header_row}: column{'s' if len(unnamed) > 1 else ''} {_letters(unnamed)} "
            f"hold{'' if len(unnamed) > 1 else 's'} values but {'have' if len(unnamed) > 1 else 'has'} no name "
            f"in the header.{merged_note} Name every column in the header row, or delete the column (a "
            "row index written by the exporting program has no name).")
    keep = [i for i in range(width) if header[i]]
    seen = {}
    for i in keep:
        seen.setdefault(header[i], []).append(i)
    dups = {name: cols for name, cols in seen.items() if len(cols) > 1}
    if dups:
        name, cols = next(iter(dups.items()))
        # the name only when the row is names: without a header row it is a participant's values
        cells = _first_cells(body, width)
        anonymous = (ids_in_header or name in id_like_names(header) or header_looks_like_data(header, cells)
                     or name in set().union(*names_like_values(header, cells)))
        label = "A column name" if anonymous else f"Column name '{name}'"
        others = f" ({len(dups) - 1} more name(s) are duplicated too)" if len(dups) > 1 else ""
        raise InputTableError(
            f"{where}, row {header_row}: {label} appears {len(cols)} times (columns {_letters(cols)}){others}. "
            "Column names must be unique; rename or delete the duplicates.")
    return keep


def _frame(records, rows, path: Path, where: str, *, sep=None, encoding="utf-8", ids_in_header=False, dates=None,
           merged=None) -> RawTable:
    """Header + body -> RawTable; blank rows dropped (numbering kept); layout problems raised."""
    blank = [not any(str(c).strip() for c in r) for r in records]
    kept = [i for i, b in enumerate(blank) if not b]
    if not kept:
        raise InputTableError(f"{where}: the file is empty (no header row). Export the table again with its "
                              "header row.")
    h = kept[0]
    header_row = rows[h]
    raw_header = records[h]
    body_idx = kept[1:]
    body = [records[i] for i in body_idx]
    if sep is not None:  # text tables: delimiter, encoding and ragged rows
        if len(raw_header) == 1:
            others = [d for d in _DELIMITERS if d != sep and d in raw_header[0]]
            if others:
                d = max(others, key=raw_header[0].count)
                shown = "\\t" if d == "\t" else d
                raise InputTableError(
                    f"{where}, row {header_row}: the header is one single column, but it contains "
                    f"{_DELIMITERS[d]}s: the file seems to be {_DELIMITERS[d]}-separated, not "
                    f"{_DELIMITERS.get(sep, repr(sep))}-separated. Declare `delimiter: \"{shown}\"` for "
                    "this table in the mapping file (or export it again with the expected delimiter).")
        def first_column_with(pattern):
            """(column index, row numbers, in header) of the first column whose cells match, else None."""
            found = {}
            for j, r in enumerate([raw_header] + body):
                for c, value in enumerate(r):
                    if pattern.search(value):
                        found.setdefault(c, []).append(j)
            if not found:
                return None
            c, hits = min(found.items())
            row_numbers = [header_row if j == 0 else rows[body_idx[j - 1]] for j in hits]
            name = _clean_name(_SURROGATES.sub("", raw_header[c])) if c < len(raw_header) else ""
            named = name and hits[0] != 0 and not ids_in_header and not header_looks_like_data(
                raw_header, _first_cells(body, len(raw_header)))
            label = f"column '{name}'" if named else f"column {column_letter(c)}"
            return label, format_rows(row_numbers)

        hit = first_column_with(_NUL)
        if hit:
            raise InputTableError(
                f"{where}, {hit[0]}, {hit[1]}: cells hold NUL characters, which a text table cannot hold (a "
                "damaged export, or a binary file). Export the table again.")
        hit = first_column_with(_SURROGATES)
        if hit:
            raise InputTableError(
                f"{where}, {hit[0]}, {hit[1]}: text cannot be decoded as {encoding} (the file is probably "
                "Windows-1252/Latin-1, as Excel writes 'CSV' on Windows). Declare `encoding: cp1252` for this "
                "table in the mapping file, or save the file as 'CSV UTF-8'.")
        hit = first_column_with(_C1_CONTROLS) if codecs.lookup(encoding).name == "iso8859-1" else None
        if hit:
            raise InputTableError(
                f"{where}, {hit[0]}, {hit[1]}: characters that Latin-1 reads as control codes (the file is "
                "probably Windows-1252, which adds characters such as the dash '–' and curly quotes to "
                "Latin-1). Declare `encoding: cp1252` for this table in the mapping file.")
        width = len(raw_header)
        n_fields = np.array([len(r) for r in body], dtype=int)
        if len(body) and width * 2 <= int(np.median(n_fields)):
            raise InputTableError(
                f"{where}, row {header_row}: row {header_row} does not look like the header: it has {width} "
                f"cell{'s' if width > 1 else ''} while most rows have {int(np.median(n_fields))}. If a title "
                "sits above the column names, delete it so that the first row holds one name per column.")
        unclosed = [k for k, r in enumerate(body) if any("\n" in v and (sep in v or len(r) != width) for v in r)]
        if unclosed:
            raise InputTableError(
                f"{where}, {format_rows([rows[body_idx[k]] for k in unclosed])}: a cell opens a quote (\") that "
                "is not closed where the cell ends, so the rows after it are read as part of that cell. Remove "
                "the stray quote or quote the whole cell.")
        long = [k for k, r in enumerate(body) if len(r) > width and any(v.strip() for v in r[width:])]
        short = [k for k, r in enumerate(body) if len(r) < width]
        if long:
            hint = (" Unquoted decimal commas split numbers into two cells: declare `delimiter: \";\"` with "
                    "`decimal: \",\"` if the file is semicolon-separated, or quote such cells."
                    if sep == "," else "")
            raise InputTableError(
                f"{where}, {format_rows([rows[body_idx[k]] for k in long])}: more cells than the header has "
                f"names ({width}). Check the delimiter and quoting of these rows.{hint}")
        if short:
            raise InputTableError(
                f"{where}, {format_rows([rows[body_idx[k]] for k in short])}: fewer cells than the header has "
                f"names ({width}). Check the delimiter and quoting of these rows, and remove notes or footers "
                "below the table.")
        body = [r[:width] for r in body]
    header = [_clean_name(x) for x in raw_header]
    keep = _check_header(where, header, body, header_row, ids_in_header, merged)
    columns = {}
    for i in keep:
        columns[header[i]] = [_nfc(r[i]) if i < len(r) else "" for r in body]
    data = pd.DataFrame(columns, dtype=str) if columns else pd.DataFrame(index=range(len(body)))
    if len(body) == 0:
        data = pd.DataFrame({header[i]: pd.Series([], dtype=str) for i in keep})
    native = {}
    if dates is not None:
        for i in keep:
            mask = np.array([i < len(dates[b]) and dates[b][i] for b in body_idx], dtype=bool)
            if mask.any():
                native[header[i]] = mask
    row_numbers = np.array([rows[i] for i in body_idx], dtype=int)
    return RawTable(data, row_numbers, where, header_row, native)


def read_raw_table(path, *, delimiter=None, decimal=".", sheet=None, encoding="utf-8", expect=None,
                   ids_in_header=False) -> RawTable:
    """Read an input table as text (CSV/TSV/XLSX) or typed (Parquet), never guessing types.

    Text formats are read with every cell as text so that the schema check, not the
    reader, decides what a value means (a stray "<LOD" or "n.a." is reported, not
    silently turned into NaN). Every way a file can be broken raises one
    :class:`InputTableError` naming the file (and sheet), the row and column where
    possible, and the fix; no exception of the underlying readers escapes.

    * Text: a byte-order mark (UTF-8, UTF-16, UTF-32) is honoured whatever ``encoding``
      says and never ends up in a column name; bytes invalid in ``encoding`` are reported
      with their column and rows. A one-column header that contains another delimiter, a
      title line above the header, rows with more or fewer cells than the header and
      unclosed quotes are reported with their rows.
    * XLSX: ``sheet`` picks the sheet; without it, the only sheet with data is read, or the
      first sheet when it is the only one holding the ``expect``\\ ed columns; otherwise the
      sheets found are reported. The header is the first non-blank row (its real row
      number is kept); date cells become ISO text, numbers their shortest text
      (integral floats without ``.0``). What Excel shows but the cells do not hold is
      refused with its cells: formulas without a saved value, merged cells below the
      header, hidden (or filtered-out) rows and hidden columns that hold values.
    * All: blank rows are dropped but keep their number; column names are stripped
      (also of invisible characters) and Unicode-normalised (NFC), as are text cells;
      empty-named columns without values are dropped; a named column must be unique,
      and an unnamed column holding values is an error. ``ids_in_header``: the column
      names are participant IDs (methylation matrix), so messages never quote them.
    """
    path = Path(path)
    if not path.exists():
        raise InputTableError(f"{path}: file not found. Check the path in the config.")
    if path.is_dir():
        raise InputTableError(f"{path}: is a folder, not a table. Check the path in the mapping file.")
    fmt = table_format(path)
    if path.stat().st_size == 0:
        raise InputTableError(f"{path}: the file is empty. Export the table again with its header row.")
    try:
        if fmt in ("csv", "tsv"):
            sep = delimiter or ("," if fmt == "csv" else "\t")
            records, rows = _read_text(path, sep, encoding)
            if all(not any(c.strip() for c in r) for r in records):
                raise InputTableError(f"{path}: the file is empty. Export the table again with its header row.")
            return _frame(records, rows, path, str(path), sep=sep, encoding=encoding, ids_in_header=ids_in_header)
        if fmt == "xlsx":
            records, rows, where, dates, merged = _read_xlsx(path, sheet, expect)
            return _frame(records, rows, path, where, ids_in_header=ids_in_header, dates=dates, merged=merged)
        frame, duplicated = _read_parquet(path)
        return _parquet_table(path, frame, duplicated, ids_in_header)
    except OSError as exc:
        raise InputTableError(f"{path}: cannot be read ({exc.strerror or type(exc).__name__}). Check the "
                              "file's permissions and that it is not open in another program.") from None
    except MemoryError:
        raise InputTableError(f"{path}: too large to read into memory.") from None


def _parquet_table(path: Path, frame, duplicated, ids_in_header: bool) -> RawTable:
    where = str(path)
    if frame is None:
        names = duplicated
        seen = {}
        for i, n in enumerate(names):
            seen.setdefault(n, []).append(i)
        name, cols = next((n, c) for n, c in seen.items() if len(c) > 1)
        label = "A column name" if ids_in_header or not name else f"Column name '{name}'"
        raise InputTableError(f"{where}, row 1: {label} appears {len(cols)} times (columns {_letters(cols)}). "
                              "Column names must be unique; rename or delete the duplicates.")
    frame = frame.reset_index(drop=True)
    names = [_clean_name(c) for c in frame.columns]
    if not names:
        raise InputTableError(f"{where}: the file has no columns. Export the table again with its header row.")
    unnamed = [i for i, n in enumerate(names) if not n]
    if unnamed:
        raise InputTableError(f"{where}, row 1: column{'s' if len(unnamed) > 1 else ''} {_letters(unnamed)} "
                              f"{'have' if len(unnamed) > 1 else 'has'} no name. Name every column before exporting.")
    frame.columns = names
    native = {}
    for name in names:
        col = frame[name]
        if pd.api.types.is_datetime64_any_dtype(col):
            native[name] = col.notna().to_numpy()
            frame[name] = col.dt.strftime("%Y-%m-%d").where(col.notna(), None).astype(object)
        elif col.dtype == object:
            values = col.to_numpy(dtype=object)
            is_date = np.array([isinstance(v, (datetime.date, datetime.datetime)) for v in values], dtype=bool)
            if is_date.any():
                native[name] = is_date
                values = values.copy()
                values[is_date] = [v.isoformat()[:10] for v in values[is_date]]
            is_text = np.array([isinstance(v, str) and not v.isascii() for v in values], dtype=bool)
            if is_text.any():
                values = values.copy()
                values[is_text] = [unicodedata.normalize("NFC", v) for v in values[is_text]]
            if is_date.any() or is_text.any():
                frame[name] = pd.Series(values, index=frame.index, dtype=object)
    return RawTable(frame, np.arange(len(frame), dtype=int) + 2, where, 1, native)


def read_table(path, *, delimiter=None, decimal=".", sheet=None, encoding="utf-8") -> pd.DataFrame:
    """The data of :func:`read_raw_table` (text cells, or typed columns for Parquet)."""
    return read_raw_table(path, delimiter=delimiter, decimal=decimal, sheet=sheet, encoding=encoding).data


def to_jsonable(obj):
    """Convert numpy scalars in nested structures to plain Python for YAML/JSON."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj
