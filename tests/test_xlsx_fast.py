"""The fast workbook reader (python-calamine) gives exactly what the openpyxl reader gives.

``first1000.io._read_xlsx`` reads a workbook with python-calamine when the workbook holds
plain values only, and with openpyxl (which the checks for formulas, merged cells and
hidden rows or columns need) otherwise. Random workbooks written by openpyxl (text with
unicode and blanks, integers, floats, booleans, dates and date-times under date and number
formats, empty cells, tables that start below or right of A1, several sheets) must give
the same table (cells, row numbers, date flags, sheet chosen, or the same error) both ways;
what python-calamine reads differently must go to openpyxl.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from pathlib import Path

import numpy as np
import openpyxl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from first1000 import io as fio
from first1000.errors import InputTableError

SETTINGS = settings(max_examples=120, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
NUMBER_FORMATS = ["General", "0.00", "0%", "#,##0.00", "@", "0.00E+00"]
DATE_FORMATS = ["yyyy-mm-dd", "dd/mm/yyyy", "yyyy-mm-dd hh:mm:ss", "d-mmm-yy h:mm", "mmm yyyy"]
TIME_FORMATS = ["h:mm", "hh:mm:ss", "[h]:mm:ss", "mm:ss.0"]

TEXT = st.one_of(st.sampled_from(["id", "age", " pad ", "é", "e\u0301", "NA", "<LOD", "1,5", "0001", "#DIV/0", ""]),
                 st.text(alphabet=st.characters(blacklist_categories=["Cs", "Cc"]), max_size=8)
                 .filter(lambda t: not t.startswith("=")))
NUMBER = st.one_of(st.integers(-10**12, 10**12), st.floats(-1e12, 1e12, allow_nan=False, allow_infinity=False))
#: plain values: numbers under number formats, serial dates (1900-01-01 to 9999-12-31) under date formats
PLAIN = st.one_of(st.none(), TEXT, st.booleans(), st.tuples(NUMBER, st.sampled_from(NUMBER_FORMATS)),
                  st.tuples(st.floats(1.0, 2_958_465.0), st.sampled_from(DATE_FORMATS)),
                  st.dates(dt.date(1900, 3, 1), dt.date(2100, 1, 1)),
                  st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(2100, 1, 1)).map(
                      lambda d: d.replace(microsecond=d.microsecond // 1000 * 1000)))
#: anything: times of day, durations, numbers under any format (python-calamine panics on
#: some), integers beyond 2**53
ANY = st.one_of(PLAIN, st.tuples(st.one_of(NUMBER, st.floats(-1e300, 1e300), st.integers(-10**20, 10**20)),
                                 st.sampled_from(NUMBER_FORMATS + DATE_FORMATS + TIME_FORMATS)),
                st.tuples(st.floats(-3.0, 3.0), st.sampled_from(DATE_FORMATS + TIME_FORMATS)),
                st.times(), st.timedeltas(dt.timedelta(0), dt.timedelta(days=3)))


@st.composite
def workbooks(draw, cells=PLAIN):
    """Sheets of (offset, rows of cells, visible)."""
    sheets = []
    for k in range(draw(st.integers(1, 3))):
        width = draw(st.integers(1, 5))
        rows = draw(st.lists(st.lists(cells, min_size=width, max_size=width), min_size=0, max_size=8))
        header = draw(st.lists(st.sampled_from(["id", "age", "bw", "", "x"]), min_size=width, max_size=width))
        offset = (draw(st.integers(0, 2)), draw(st.integers(0, 2)))
        sheets.append((offset, [header] + rows, k == 0 or draw(st.booleans())))
    return sheets


def _write(sheets, path: Path) -> None:
    book = openpyxl.Workbook()
    book.remove(book.active)
    for k, ((r0, c0), rows, visible) in enumerate(sheets):
        ws = book.create_sheet(f"S{k}" if k else "data")
        ws.sheet_state = "visible" if visible else "hidden"
        for i, row in enumerate(rows, start=1 + r0):
            for j, value in enumerate(row, start=1 + c0):
                if isinstance(value, tuple):
                    ws.cell(row=i, column=j, value=value[0]).number_format = value[1]
                elif value is not None:
                    ws.cell(row=i, column=j, value=value)
    book.save(path)


def _table(reader, path: Path, sheet=None, expect=None):
    """What read_raw_table makes of a reader's cells (or its error)."""
    try:
        records, rows, where, dates, merged = reader(path, sheet, expect)
        raw = fio._frame(records, rows, path, where, dates=dates, merged=merged)
    except InputTableError as exc:
        return ("error", str(exc))
    return (raw.data.to_dict("list"), raw.row_numbers.tolist(), raw.where, raw.header_row,
            {k: v.tolist() for k, v in raw.native_dates.items()})


@SETTINGS
@given(sheets=workbooks(), sheet=st.sampled_from([None, "data", "S1", "s0"]), expect=st.sampled_from([None, ["id"]]))
def test_fast_reader_reads_plain_workbooks_as_openpyxl_does(sheets, sheet, expect):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.xlsx"
        _write(sheets, path)
        fast = _table(fio._read_xlsx_fast, path, sheet, expect)  # plain values: never left to openpyxl
        assert fast == _table(fio._read_xlsx_openpyxl, path, sheet, expect)
        assert _table(fio._read_xlsx, path, sheet, expect) == fast


@SETTINGS
@given(sheets=workbooks(ANY))
def test_any_workbook_reads_as_openpyxl_reads_it(sheets):
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "t.xlsx"
        _write(sheets, path)
        assert _table(fio._read_xlsx, path) == _table(fio._read_xlsx_openpyxl, path)


def _plain(ws):
    ws.append(["id", "when", "value"])
    ws.append(["a1", dt.datetime(2020, 5, 1, 8, 30), 1.5])
    ws.append(["a2", dt.date(2021, 1, 2), 2])


@pytest.mark.parametrize("variant", ["time", "negative_date", "duration", "big_integer", "escape", "formula", "error", "merged",
                                     "hidden_row", "hidden_column"])
def test_what_calamine_reads_differently_goes_to_openpyxl(tmp_path, variant):
    book = openpyxl.Workbook()
    ws = book.active
    ws.title = "data"
    _plain(ws)
    if variant == "time":
        ws.cell(row=3, column=4, value=0.35).number_format = "h:mm"
    elif variant == "negative_date":
        ws.cell(row=3, column=4, value=-1.0).number_format = "yyyy-mm-dd"  # openpyxl: 1899-12-29
    elif variant == "duration":
        ws.cell(row=3, column=4, value=dt.timedelta(hours=30))
    elif variant == "big_integer":
        ws.cell(row=3, column=3, value=12345678901234567890)
    elif variant == "escape":
        ws.cell(row=3, column=1, value="a_x0041_b")
    elif variant == "formula":
        ws.cell(row=3, column=3, value="=1+1")
    elif variant == "error":
        ws.cell(row=3, column=3, value="#N/A")
    elif variant == "merged":
        ws.merge_cells("A4:B4")
    elif variant == "hidden_row":
        ws.row_dimensions[3].hidden = True
    else:
        ws.column_dimensions["C"].hidden = True
    path = tmp_path / f"{variant}.xlsx"
    book.save(path)
    with pytest.raises(fio._NeedsOpenpyxl):
        fio._read_xlsx_fast(path, None, None)
    assert _table(fio._read_xlsx, path) == _table(fio._read_xlsx_openpyxl, path)


def test_fast_reader_is_used_and_matches_on_a_large_plain_workbook(tmp_path):
    rng = np.random.default_rng(7)
    book = openpyxl.Workbook()
    ws = book.active
    ws.append(["Plate", "Well", "Sample", "Ct", "Date"])
    for i in range(3000):
        ws.append([f"P{i // 96:02d}", f"{'ABCDEFGH'[i % 8]}{i % 12 + 1}", f"S-{i}", float(rng.normal(20, 2)),
                   dt.date(2020, 1, 1) + dt.timedelta(days=int(i % 700))])
    path = tmp_path / "plates.xlsx"
    book.save(path)
    fast = _table(fio._read_xlsx_fast, path)
    assert len(fast[0]["Ct"]) == 3000 and fast[4] == {"Date": [True] * 3000}
    assert fast == _table(fio._read_xlsx_openpyxl, path)


def test_a_file_calamine_cannot_read_gets_openpyxls_message(tmp_path):
    path = tmp_path / "broken.xlsx"
    path.write_bytes(b"PK\x03\x04 not really a workbook")
    with pytest.raises(fio._NeedsOpenpyxl):
        fio._read_xlsx_fast(path, None, None)
    with pytest.raises(InputTableError, match="cannot be opened as an Excel workbook"):
        fio._read_xlsx(path, None, None)
