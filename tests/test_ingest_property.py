"""Property: whatever table arrives, ingest gives a clean error or a valid standard table.

Random tables (column names with duplicates, blanks and unicode; cells with text,
numbers with decimal commas, huge numbers, NaN/inf, missing codes, IDs that differ by
case or spaces) are written as CSV/TSV (random delimiter, declared or not; UTF-8, with
BOM or Windows-1252), XLSX or Parquet and read with a fixed mapping. Ingest must either
raise one :class:`First1000Error` whose message names the file and holds no participant
ID, or return the standardised table (right columns, types and ranges). Any other
exception is a bug.
"""

from __future__ import annotations

import csv
import io
import re
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from first1000 import ingest, privacy
from first1000.stages import ingest as ingest_stage
from first1000.config import load_config
from first1000.errors import First1000Error

KEY = b"property-key"
IDS = [f"PID{i:04d}" for i in range(12)]  # at least as many as the largest table has rows
NO_IDS = re.compile(r"pid\s*0*\d{1,4}", re.IGNORECASE)  # PID0003, pid 3, ...
SETTINGS = settings(max_examples=150, deadline=None, derandomize=True, database=None,
                    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])

MAPPING = {
    "label": "property test cohort",
    "missing_codes": ["", "NA"],
    "tables": {"participants": {"path": None, "id": "pid"}},
    "variables": {
        "maternal_age": {"rule": "direct", "column": "age", "unit": "years"},
        "child_sex": {"rule": "recode", "column": "sex", "map": {"f": "female", "m": "male"}},
        "birth_weight": {"rule": "direct", "column": "bw", "unit": "kg"},
    },
    "_source": "property.yaml",
    "_cohort": "prop",
}


@pytest.fixture(scope="module")
def data_schema():
    from workflow_runs import ROOT

    return load_config(ROOT / "config" / "config.yaml")["_data_schema"]


def _no_pid(text: str) -> bool:
    return "pid" not in text.casefold()


NAMES = st.one_of(
    st.sampled_from(["pid", "age", "sex", "bw", "il6", "crp", "", " age", "AGE", "pid ", "\ufeffpid", "é", "1"]),
    st.text(max_size=6).filter(_no_pid),
)
ID_CELLS = st.one_of(
    st.sampled_from(IDS),
    st.sampled_from(IDS).map(str.lower),
    st.sampled_from(IDS).map(lambda i: f" {i} "),
    st.integers(0, 11).map(lambda i: f"{7000 + i}.0"),
    st.sampled_from(["", "NA", " ", "1.5E+11"]),
    st.sampled_from(IDS).map(lambda i: i.replace("P", "\uff30")),  # full-width P
    st.sampled_from(IDS).map(lambda i: f"{i[:3]}\u200d{i[3:]}"),  # zero-width joiner
)
CELLS = st.one_of(
    st.sampled_from(["", "NA", "n.a.", "-", "<LOD", "<LOQ", "1,5", "3.354", "3,354", "f", "m", " f ", "M", "1e400",
                     "nan", "inf", "-inf", "#DIV/0!", "30", "2.9", "0", "-1", "12,5", "1.234,5"]),
    st.floats(allow_nan=True, allow_infinity=True).map(repr),
    st.integers(-(10**30), 10**30).map(str),
    st.decimals(allow_nan=False, allow_infinity=False, places=3).map(lambda d: str(d).replace(".", ",")),
    st.text(max_size=8).filter(_no_pid),
)


#: Mostly valid cells per mapped column (so that examples also reach the mapping rules).
PLAUSIBLE = {
    "age": st.one_of(st.sampled_from(["31.2", "25", "40", "31,2", "NA", "", "11", "61"]),
                     st.floats(10, 70).map(lambda x: f"{x:.1f}")),
    "sex": st.sampled_from(["f", "m", " f", "m ", "F", "NA", "", "x"]),
    "bw": st.one_of(st.sampled_from(["3.4", "2,9", "3359", "0.2", "NA", ""]),
                    st.floats(0.2, 7).map(lambda x: f"{x:.3f}")),
    "il6": st.sampled_from(["0.8", "<LOD", "1,5", "-1", "NA", "", "12"]),
    "crp": st.sampled_from(["13.9", "<LOQ", "0", "NA", "", "2.1"]),
}


@st.composite
def tables(draw, id_column="pid"):
    if draw(st.booleans()):  # a plausible table: the mapped columns, shuffled, plus noise
        names = draw(st.permutations([id_column, "age", "sex", "bw", "il6", "crp"]))
        names = names[:draw(st.integers(3, 6))] + draw(st.lists(NAMES, max_size=2))
    else:
        names = draw(st.lists(NAMES, min_size=1, max_size=6))
        if draw(st.booleans()) and id_column not in [n.strip() for n in names]:
            names.insert(draw(st.integers(0, len(names))), id_column)
    n_rows = draw(st.integers(0, 7))
    columns = []
    for name in names:
        key = name.strip().lstrip("\ufeff")
        if key == id_column:
            strategy = ID_CELLS if draw(st.booleans()) else st.sampled_from(IDS)
            if strategy is not ID_CELLS:  # unique IDs, so that the rest of the table is checked
                columns.append(draw(st.permutations(IDS))[:n_rows])
                continue
        else:
            strategy = st.one_of(PLAUSIBLE[key], CELLS) if key in PLAUSIBLE else CELLS
        columns.append(draw(st.lists(strategy, min_size=n_rows, max_size=n_rows)))
    fmt = draw(st.sampled_from(["csv", "tsv", "xlsx", "parquet"]))
    written = draw(st.sampled_from([",", ";", "\t", "|"])) if fmt in ("csv", "tsv") else None
    declared = draw(st.sampled_from([None, written, ";", ","])) if fmt in ("csv", "tsv") else None
    encoding = draw(st.sampled_from(["utf-8", "utf-8-sig", "cp1252"]))
    declared_encoding = draw(st.sampled_from([None, "cp1252"]))
    decimal = draw(st.sampled_from([".", ","]))
    typed = draw(st.booleans())
    return dict(names=names, columns=columns, fmt=fmt, written=written, declared=declared, encoding=encoding,
                declared_encoding=declared_encoding, decimal=decimal, typed=typed)


def _write(table: dict, folder: Path) -> Path:
    fmt, names, columns = table["fmt"], table["names"], table["columns"]
    path = folder / f"table.{fmt}"
    n_rows = len(columns[0]) if columns else 0
    rows = [[col[r] for col in columns] for r in range(n_rows)]
    if fmt in ("csv", "tsv"):
        buffer = io.StringIO(newline="")
        writer = csv.writer(buffer, delimiter=table["written"], lineterminator="\n")
        writer.writerow(names)
        writer.writerows(rows)
        path.write_bytes(buffer.getvalue().encode(table["encoding"], errors="replace"))
    elif fmt == "xlsx":
        import openpyxl
        from openpyxl.cell.cell import ILLEGAL_CHARACTERS_RE

        book = openpyxl.Workbook()
        ws = book.active
        for r, values in enumerate([names, *rows], start=1):
            for c, value in enumerate(values, start=1):
                value = ILLEGAL_CHARACTERS_RE.sub("", value)
                if value:
                    number = pd.to_numeric(value, errors="coerce") if table["typed"] and r > 1 else np.nan
                    ws.cell(row=r, column=c, value=float(number) if np.isfinite(number) else value)
        book.save(path)
    else:
        arrays = []
        for col in columns:
            numbers = pd.to_numeric(pd.Series(col, dtype=object), errors="coerce")
            if table["typed"] and len(col) and numbers.notna().all():
                arrays.append(pa.array(numbers.to_numpy(dtype=float)))
            else:
                arrays.append(pa.array([c.encode("utf-8", "replace").decode("utf-8") for c in col], type=pa.string()))
        pq.write_table(pa.Table.from_arrays(arrays, names=names), path)
    return path


def _spec(table: dict, path: Path, **extra) -> dict:
    spec = {"path": str(path), "decimal": table["decimal"], **extra}
    if table["declared"]:
        spec["delimiter"] = table["declared"]
    if table["declared_encoding"]:
        spec["encoding"] = table["declared_encoding"]
    return spec


def _check_error(exc: First1000Error, path: Path):
    message = str(exc)
    assert str(path) in message, message
    assert "\n" not in message and "Traceback" not in message
    assert not NO_IDS.search(message.replace(str(path), "")), f"an ID in: {message}"


@given(table=tables(), on_invalid=st.sampled_from(["error", "missing"]))
@SETTINGS
def test_ingest_participants_never_crashes(table, on_invalid, data_schema):
    with tempfile.TemporaryDirectory() as folder:
        path = _write(table, Path(folder))
        mapping = dict(MAPPING, on_invalid=on_invalid,
                       tables={"participants": _spec(table, path, id="pid")})
        try:
            people, report, categories, id_map = ingest_stage.cohort_participants("prop", mapping, data_schema, KEY)
        except First1000Error as exc:
            _check_error(exc, path)
            return
    assert list(people.columns) == ["pseudo_id", "cohort", *data_schema]
    assert len(people) >= 1 and people.pseudo_id.str.fullmatch(r"P[0-9a-f]{16}").all()
    assert people.pseudo_id.is_unique and (people.cohort == "prop").all()
    age = people.maternal_age.to_numpy(dtype=float)
    assert np.all(np.isnan(age) | ((age >= 12) & (age <= 60)))
    weight = people.birth_weight.to_numpy(dtype=float)
    assert np.all(np.isnan(weight) | ((weight >= 300) & (weight <= 6500)))
    assert set(people.child_sex.dropna()) <= {"female", "male"}
    assert set(id_map.values()) == set(people.pseudo_id)
    assert all(k == k.strip() and k for k in id_map)
    assert not report.rejected.str.contains(NO_IDS).any()
    assert set(categories.source_category) <= {"f", "m", "(missing)", "(undeclared)"}  # never a cell's text


#: Ways exports write the same ID: Unicode dashes, invisible characters, full-width forms.
DASHES = ["-", "\u2010", "\u2011", "\u2012", "\u2013", "\u2014", "\u2212", "\ufe63", "\uff0d"]
INVISIBLE = ["", "\u200b", "\u200c", "\u200d", "\u2060", "\ufeff", "\u2066", "\u2069", "\u061c", "\u180e",
             "\u034f", "\ufe0f", "\u3164", "\U000e0041"]


def _full_width(text: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


@given(parts=st.lists(st.text("ABCDEFGHJKXZ0123456789", min_size=1, max_size=5), min_size=1, max_size=3),
       dashes=st.lists(st.sampled_from(DASHES), min_size=2, max_size=2),
       invisible=st.sampled_from(INVISIBLE), wide=st.booleans(), spaces=st.booleans())
@SETTINGS
def test_id_normalisation_is_the_same_for_every_way_of_writing_an_id(parts, dashes, invisible, wide, spaces):
    """An ID written with any Unicode dash, with zero-width characters, in full-width
    forms or with surrounding spaces normalises to the same text as the plain ID, and
    normalising twice changes nothing (every table and matrix header uses normalise_ids)."""
    from first1000.io.input_tables import normalise_ids

    plain = "-".join(parts)
    written = dashes[0].join(p[:1] + invisible + p[1:] for p in parts)
    if wide:
        written = _full_width(written)
    if spaces:
        written = f" {written}\u00a0"
    ids = normalise_ids(pd.Series([plain, written], dtype=object))
    assert ids[0] == ids[1] == plain
    assert normalise_ids(ids).tolist() == ids.tolist()
    stripped = normalise_ids(pd.Series([plain, "00" + plain], dtype=object), "strip")
    if plain.isdigit():
        assert stripped[0] == stripped[1] == (plain.lstrip("0") or "0")
    else:
        assert stripped[0] == plain


@given(table=tables(), declared=st.booleans())
@SETTINGS
def test_ingest_wide_never_crashes(table, declared, data_schema):
    id_map = dict(zip(IDS, privacy.pseudonymise(pd.Series(IDS), "prop", KEY)))
    with tempfile.TemporaryDirectory() as folder:
        path = _write(table, Path(folder))
        columns = {"columns": {"il6": "il6", "crp": "crp"}} if declared else {}
        spec = _spec(table, path, id="pid", below_limit=["<LOD", "<LOQ"], **columns)
        try:
            long = ingest.ingest_wide("immune", spec, ["", "NA"], id_map)
        except First1000Error as exc:
            _check_error(exc, path)
            return
    assert list(long.columns) == ["pseudo_id", "marker", "value", "below_limit"]
    assert set(long.pseudo_id) <= set(id_map.values())
    values = long.value.to_numpy(dtype=float)
    assert np.all(np.isnan(values) | (np.isfinite(values) & (values >= 0)))
    assert long.marker.str.fullmatch(r"[a-z][a-z0-9_]*").all()
    assert long.below_limit.dtype == bool
    if declared:
        assert set(long.marker) <= {"il6", "crp"}
