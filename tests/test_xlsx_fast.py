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
#: below 9999-12-31's serial: a larger number in a workbook with date formats goes to openpyxl
SMALL = st.one_of(st.integers(-2_958_465, 2_958_465), st.floats(-2_958_465, 2_958_465))
#: plain values: numbers under number formats, serial dates (1900-01-01 to 9999-12-31, in quarter
#: days) under date formats
PLAIN = st.one_of(st.none(), TEXT, st.booleans(), st.tuples(SMALL, st.sampled_from(NUMBER_FORMATS)),
                  st.tuples(st.integers(4, 4 * 2_958_465).map(lambda q: q / 4), st.sampled_from(DATE_FORMATS)),
                  st.dates(dt.date(1900, 3, 1), dt.date(2100, 1, 1)),
                  st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(2100, 1, 1)).map(
                      lambda d: d.replace(microsecond=0)))
#: anything: times of day, durations, numbers under any format (python-calamine panics on
#: some), integers beyond 2**53, date-times to the microsecond, text with white space at an end
ANY = st.one_of(PLAIN, st.tuples(st.one_of(NUMBER, st.floats(-1e300, 1e300), st.integers(-10**20, 10**20)),
                                 st.sampled_from(NUMBER_FORMATS + DATE_FORMATS + TIME_FORMATS)),
                st.tuples(st.floats(-3.0, 3.0), st.sampled_from(DATE_FORMATS + TIME_FORMATS)),
                st.tuples(st.floats(2_958_000.0, 1e8), st.sampled_from(DATE_FORMATS)),  # past 9999-12-31
                st.datetimes(dt.datetime(1900, 3, 1), dt.datetime(2100, 1, 1)),  # fractions of a second
                st.sampled_from(["a\n", " \t", "\nb", "x\ty", " "]),
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


# ---- workbooks as other programs write them (shared strings, quoting, other part names)
_CONTENT_TYPES = (
    '<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    '<Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    '<Default Extension="xml" ContentType="application/xml"/>'
    '<Override PartName="/xl/workbook.xml" '
    'ContentType="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml"/>{overrides}</Types>')
_NS = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
_R = "http://schemas.openxmlformats.org/officeDocument/2006/relationships"


def _handmade(path: Path, sheets: dict[str, tuple[str, str]], shared: str | None = None, styles: str | None = None,
              shared_name: str = "xl/sharedStrings.xml") -> Path:
    """An .xlsx from XML: ``sheets`` maps a sheet's name to (part name, <sheetData> and after)."""
    import zipfile

    ct = "application/vnd.openxmlformats-officedocument.spreadsheetml"
    overrides = "".join(f'<Override PartName="/{part}" ContentType="{ct}.worksheet+xml"/>'
                        for part, _ in sheets.values())
    rels = "".join(f'<Relationship Id="rId{k}" Type="{_R}/worksheet" Target="/{part}"/>'
                   for k, (part, _) in enumerate(sheets.values(), start=1))
    if shared is not None:
        overrides += f'<Override PartName="/{shared_name}" ContentType="{ct}.sharedStrings+xml"/>'
        rels += f'<Relationship Id="rId90" Type="{_R}/sharedStrings" Target="/{shared_name}"/>'
    if styles is not None:
        overrides += f'<Override PartName="/xl/styles.xml" ContentType="{ct}.styles+xml"/>'
        rels += f'<Relationship Id="rId91" Type="{_R}/styles" Target="/xl/styles.xml"/>'
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("[Content_Types].xml", _CONTENT_TYPES.format(overrides=overrides))
        z.writestr("_rels/.rels", '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://schemas.'
                   f'openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="{_R}/'
                   'officeDocument" Target="xl/workbook.xml"/></Relationships>')
        z.writestr("xl/workbook.xml", f'<?xml version="1.0" encoding="UTF-8"?><workbook {_NS} xmlns:r="{_R}"><sheets>'
                   + "".join(f'<sheet name="{n}" sheetId="{k}" r:id="rId{k}"/>' for k, n in enumerate(sheets, 1))
                   + "</sheets></workbook>")
        z.writestr("xl/_rels/workbook.xml.rels", '<?xml version="1.0" encoding="UTF-8"?><Relationships xmlns="http://'
                   f'schemas.openxmlformats.org/package/2006/relationships">{rels}</Relationships>')
        for part, body in sheets.values():
            z.writestr(part, f'<?xml version="1.0" encoding="UTF-8"?><worksheet {_NS}>{body}</worksheet>')
        if shared is not None:
            z.writestr(shared_name, f'<?xml version="1.0" encoding="UTF-8"?><sst {_NS}>{shared}</sst>')
        if styles is not None:
            z.writestr("xl/styles.xml", f'<?xml version="1.0" encoding="UTF-8"?><styleSheet {_NS}>{styles}</styleSheet>')
    return path


_SST = '<si><t>id</t></si><si><t>value</t></si><si><t>a1</t></si><si><t>a2</t></si>'
_ROWS = ('<row r="1"><c r="A1" t="s"><v>0</v></c><c r="B1" t="s"><v>1</v></c></row>'
         '<row r="2"{hidden}><c r="A2" t="s"><v>2</v></c><c r="B2"{style}><v>{value}</v></c></row>'
         '<row r="3"><c r="A3" t="s"><v>3</v></c><c r="B3"><v>2</v></c></row>')
_XFS = ('<numFmts count="1"><numFmt numFmtId="164" formatCode="{code}"/></numFmts><cellXfs count="2">'
        '<xf numFmtId="0"/><xf numFmtId="{id}" applyNumberFormat="1"/></cellXfs>')


def _excel_like(path, *, hidden="", value="1.5", cell="", code=None, fmt_id=164, shared=_SST, names=("data",),
                part="xl/worksheets/sheet1.xml", shared_name="xl/sharedStrings.xml", extra=""):
    style = ' s="1"' if code or fmt_id != 164 else ""
    body = "<sheetData>" + _ROWS.format(hidden=hidden, value=value, style=style + cell)
    styles = _XFS.format(code=code or "0.00", id=fmt_id)
    sheets = {n: (part if k == 0 else f"xl/worksheets/sheet{k + 1}.xml", body + "</sheetData>" + extra)
              for k, n in enumerate(names)}
    return _handmade(path, sheets, shared, styles, shared_name)


def test_an_excel_like_workbook_of_shared_strings_is_read_fast_and_alike(tmp_path):
    path = _excel_like(tmp_path / "plain.xlsx", shared=_SST.replace("<t>a2</t>", '<t xml:space="preserve"> a2 </t>')
                       + '<si><r><t>rich</t></r><r><t xml:space="preserve"> text</t></r></si>')
    fast = _table(fio._read_xlsx_fast, path)
    assert fast[0] == {"id": ["a1", " a2 "], "value": ["1.5", "2"]}
    assert fast == _table(fio._read_xlsx_openpyxl, path)
    dated = _excel_like(tmp_path / "dated.xlsx", value="44000.5", code="yyyy-mm-dd hh:mm")
    fast = _table(fio._read_xlsx_fast, dated)
    assert fast[0]["value"] == ["2020-06-18 12:00:00", "2"] and fast == _table(fio._read_xlsx_openpyxl, dated)


HANDMADE = {
    # hidden rows however the attribute is written: the check must still stop the run
    "hidden_single_quotes": dict(hidden=" hidden='1'"),
    "hidden_spaces": dict(hidden=' hidden = "1"'),
    "hidden_True": dict(hidden=' hidden="True"'),
    # text python-calamine trims without xml:space="preserve"
    "leading_space": dict(shared=_SST.replace("<t>a1</t>", "<t> a1</t>")),
    "blank_text": dict(shared=_SST.replace("<t>a1</t>", "<t> </t>")),
    "rich_runs": dict(shared=_SST.replace("<t>a1</t>", "<r><t>a</t></r><r><t> 1</t></r>")),
    "newline_reference": dict(shared=_SST.replace("<t>a1</t>", "<t>a1&#10;</t>")),
    "escape_in_capitalised_part": dict(shared=_SST.replace("<t>a1</t>", "<t>a_x0041_1</t>"),
                                       shared_name="xl/SharedStrings.xml"),
    "sheet_elsewhere_with_hidden_row": dict(hidden=' hidden="1"', part="xl/sheetA.xml"),
    "error_single_quotes": dict(value="#N/A", cell=" t='e'"),
    "control_character": dict(shared=_SST.replace("<t>a1</t>", "<t>\x0ca1</t>")),  # not XML: damaged
    "space_reference": dict(shared=_SST.replace("<t>a1</t>", "<t>&#x20;a1</t>")),
    "names_differing_in_case": dict(names=("data", "DATA")),
    "date_past_9999": dict(value="20200115", code="yyyy-mm-dd"),
    "fill_character": dict(code="0*d"),
    "quoted_text": dict(code="&quot;dept;&quot;0"),
    "general_slash": dict(code="General/"),
    "am_pm": dict(code="0 a/p"),
    "locale_builtin": dict(fmt_id=27),
}


@pytest.mark.parametrize("sheet", [None, "data"])
@pytest.mark.parametrize("case", sorted(HANDMADE))
def test_workbooks_other_programs_write_go_to_openpyxl_where_the_readers_differ(tmp_path, case, sheet):
    path = _excel_like(tmp_path / f"{case}.xlsx", **HANDMADE[case])
    if not (sheet and case == "names_differing_in_case"):  # decided before the cells are read
        with pytest.raises(fio._NeedsOpenpyxl):
            fio._read_xlsx_fast(path, sheet, None)
    assert _table(fio._read_xlsx, path, sheet) == _table(fio._read_xlsx_openpyxl, path, sheet)
    if case.startswith(("hidden", "sheet_elsewhere")):
        assert "hidden rows hold values" in _table(fio._read_xlsx, path)[1]
