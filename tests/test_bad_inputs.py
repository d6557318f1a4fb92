"""The bad-input corpus: every broken export gets one message naming file, column and rows.

``tests/data/bad/cases.yaml`` lists each broken file (written by
``tests/data/bad/make_bad.py``), the table it is read as and the exact fragment its
message must contain. Every message must be one line, name the file, never hold a
participant ID or the offending cell's text, and be a :class:`First1000Error` (never a
raw pandas/openpyxl/pyarrow exception). Files that look broken but are valid (a BOM,
UTF-16, a declared encoding or decimal comma, IDs written as 1001.0, real Excel dates)
must be read correctly.

The last part feeds valid data that no model can be fitted on to the statistics engines
and checks that they answer with a ``status`` instead of a number (or raising).
"""

from __future__ import annotations

import copy
import re
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import yaml

from first1000 import ingest, privacy
from first1000.stages import ingest as ingest_stage
from first1000.config import attach_cns_measures, load_config, load_mapping
from first1000.errors import ConfigError, First1000Error, InputTableError

from workflow_runs import ROOT

BAD = Path("tests/data/bad")  # relative, as paths in a config are (tests run from the root)
CASES = yaml.safe_load((ROOT / BAD / "cases.yaml").read_text(encoding="utf-8"))["cases"]
KEY = b"bad-input-corpus"
#: No message may hold an ID of the corpus (BX-101, bx-101, "BX- 102", ZZ-901, 7001, 07001, 1.00123E+11).
NO_IDS = re.compile(r"BX[- ]*\d|bx-\d|ZZ-\d|(?<![\d.])0?700\d(?!\d)|1\.0012")


@pytest.fixture(scope="module")
def data_schema():
    return load_config(ROOT / "config" / "config.yaml")["_data_schema"]


def _merge(base: dict, extra: dict) -> dict:
    for key, value in extra.items():
        if isinstance(value, dict) and isinstance(base.get(key), dict):
            _merge(base[key], value)
        else:
            base[key] = value
    return base


def _mapping(tmp_path, data_schema, case: dict):
    """The corpus mapping with the case's file and overrides, loaded as a real run would."""
    path = _write_mapping(tmp_path, case)
    return load_mapping(path, data_schema, "bad"), path


def _write_mapping(tmp_path, case: dict) -> Path:
    raw = yaml.safe_load((BAD / "mapping.yaml").read_text(encoding="utf-8"))
    _merge(raw, copy.deepcopy(case.get("mapping", {})))
    if "variables" in case:
        raw["variables"] = copy.deepcopy(case["variables"])
    if "participants" in case:
        raw["tables"]["participants"]["path"] = str(BAD / case["participants"])
    spec = raw["tables"][case["table"]]
    spec["path"] = str(BAD / case["file"])
    spec.update(case.get("spec", {}))
    path = tmp_path / "bad.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _ingest(mapping, data_schema, table: str):
    people, report, categories, id_map = ingest_stage.cohort_participants("bad", mapping, data_schema, KEY)
    if table == "participants":
        return people
    if table == "child_followup":  # z-scores need each child's sex and gestational age
        return ingest.ingest_followup(mapping["tables"][table], mapping["missing_codes"], id_map, people)
    return ingest.INGESTERS[table](mapping["tables"][table], mapping["missing_codes"], id_map)


def _id(case):
    extra = "-".join(f"{k}={v}" for k, v in case.get("spec", {}).items())
    return case["file"] + (f"[{extra}]" if extra else "")


def test_corpus_is_large_and_every_file_exists():
    assert len(CASES) >= 40
    for case in CASES:
        if case["file"] != "p_missing.csv":
            assert (ROOT / BAD / case["file"]).exists(), case["file"]
    assert not (ROOT / BAD / "p_missing.csv").exists()


@pytest.mark.parametrize("case", CASES, ids=[_id(c) for c in CASES])
def test_bad_input_gets_one_clear_message(case, tmp_path, data_schema):
    mapping_path = _write_mapping(tmp_path, case)
    with pytest.raises(First1000Error) as err:  # loading the mapping file may already find the problem
        mapping = load_mapping(mapping_path, data_schema, "bad")
        attach_cns_measures(mapping, case.get("cns_measures", {}))  # as load_config does with the config's
        _ingest(mapping, data_schema, case["table"])
    message = str(err.value)
    path = str(BAD / case["file"])
    expected = case["message"].replace("{path}", path).replace("{mapping}", str(mapping_path))
    assert expected in message, f"\nexpected: {expected}\nmessage:  {message}"
    if "hint" in case:
        hint = case["hint"].replace("{path}", path).replace("{mapping}", str(mapping_path))
        assert hint in message, f"\nhint:    {hint}\nmessage: {message}"
    if path not in message:  # names the file, or (a problem of the mapping) the mapping file
        assert isinstance(err.value, ConfigError) and str(mapping_path) in message
    assert "\n" not in message and "Traceback" not in message
    assert not NO_IDS.search(message), f"message quotes an ID: {message}"
    leaked = [text for text in case.get("never", []) if str(text) in message]
    assert not leaked, f"message quotes cell text {leaked}: {message}"
    assert isinstance(err.value, (InputTableError, ConfigError))


# --------------------------------------------------------------------------- valid after all
def _read(tmp_path, data_schema, file, table="participants", **case):
    mapping, _ = _mapping(tmp_path, data_schema, {"file": file, "table": table, **case})
    return _ingest(mapping, data_schema, table)


AGE = {"maternal_age": {"rule": "direct", "column": "age", "unit": "years"}}


def test_base_corpus_cohort_is_valid(tmp_path, data_schema):
    """Each broken file differs from these valid tables by its one problem."""
    mapping, _ = _mapping(tmp_path, data_schema, {"file": "participants.csv", "table": "participants"})
    out = ingest_stage.ingest_cohort("bad", mapping, data_schema, KEY)
    people = out["participants"]
    assert people.maternal_age.tolist() == [31.2, 34.1, 28.0, 36.5, 25.3, 30.0]
    assert people.education_isced.tolist() == [6, 3, 7, 1, 6, 7]
    assert people.delivery_date.iloc[0] == pd.Timestamp("2024-07-17")
    assert out["hair_cortisol"].below_limit.tolist() == [False, False, True, False]
    assert set(out["telomere_qpcr"].pseudo_id) == {"calibrator", *people.pseudo_id[:2]}
    assert out["methylation_matrix"] == 3  # a CSV matrix: checked batch by batch, its CpGs counted
    assert sorted(out["metabolites"].marker.unique()) == ["lactate", "pyruvate"]


@pytest.mark.parametrize("file, case", [
    ("p_bom.csv", {}),                                   # UTF-8 byte-order mark: not part of 'pid'
    ("p_bom.csv", {"spec": {"encoding": "cp1252"}}),     # the mark wins over a declared encoding
    ("p_utf16.txt", {}),                                 # Excel "Unicode text": UTF-16 + BOM, tabs, CRLF
    ("p_crlf.csv", {}),
    ("p_cp1252.csv", {"spec": {"encoding": "cp1252"}}),  # declared Windows-1252
    ("p_nfd.csv", {}),                                   # decomposed ë (macOS) matches the map's ë
    ("p_decimal_comma_ok.csv", {"spec": {"delimiter": ";", "decimal": ","}}),
    ("x_first_sheet_is_data.xlsx", {}),                  # a notes sheet after the data sheet
    ("x_empty_first_sheet.xlsx", {}),                    # an empty Sheet1 before the data sheet
    ("x_two_sheets.xlsx", {"spec": {"sheet": "Data"}}),
    ("x_two_sheets.xlsx", {"spec": {"sheet": "data"}}),  # sheet names compare as Excel does (no case)
])
def test_valid_exports_are_read_exactly(file, case, tmp_path, data_schema):
    people = _read(tmp_path, data_schema, file, **case)
    assert len(people) == 6
    assert people.maternal_age.tolist() == pytest.approx([31.2, 34.1, 28.0, 36.5, 25.3, 30.0])
    assert people.education_isced.tolist() == [6, 3, 7, 1, 6, 7]
    assert people.child_sex.tolist() == ["female", "male"] * 3
    reference = _read(tmp_path, data_schema, "participants.csv")
    assert people.pseudo_id.tolist() == reference.pseudo_id.tolist()


def test_declared_missing_codes_are_missing(tmp_path, data_schema):
    people = _read(tmp_path, data_schema, "p_missing_codes.csv", mapping={"missing_codes": ["", "NA", "n.a.", "-"]})
    assert people.maternal_age.isna().tolist() == [True, False, True, False, True, False]


def test_declared_metabolite_unit_is_converted(tmp_path, data_schema):
    umol = _read(tmp_path, data_schema, "metabolites.csv", table="metabolites")
    mmol = _read(tmp_path, data_schema, "mb_mmol.csv", table="metabolites", spec={"unit": "mmol/L"})
    assert mmol.value.to_numpy() == pytest.approx(umol.value.to_numpy(), nan_ok=True)
    assert mmol.below_limit.tolist() == umol.below_limit.tolist()


def test_spaces_around_categories_are_ignored(tmp_path, data_schema):
    people = _read(tmp_path, data_schema, "p_category_spaces.csv")
    assert people.child_sex.tolist() == ["female", "male"] * 3
    assert people.education_isced.tolist() == [6, 3, 7, 1, 6, 7]


def test_excel_dates_need_no_format(tmp_path, data_schema):
    people = _read(tmp_path, data_schema, "x_dates_ok.xlsx")
    assert people.delivery_date.tolist()[:3] == [pd.Timestamp("2024-07-17"), pd.Timestamp("2023-08-22"),
                                                  pd.Timestamp("2024-02-01")]
    assert people.delivery_date.notna().all()


def test_parquet_dates_need_no_format(tmp_path, data_schema):
    variables = {**AGE, "delivery_date": {"rule": "direct", "column": "delivery", "format": "%d/%m/%Y"}}
    people = _read(tmp_path, data_schema, "q_dates.parquet", variables=variables)
    assert people.delivery_date.tolist() == [pd.Timestamp("2024-07-17"), pd.Timestamp("2023-08-22")]


def test_integral_float_ids_match_integer_ids(tmp_path, data_schema):
    """IDs written as 7001.0 (Excel, pandas after a NaN) are the participants 7001."""
    csv_people = _read(tmp_path, data_schema, "p_float_ids.csv", variables=AGE)
    xlsx_people = _read(tmp_path, data_schema, "x_float_ids.xlsx", variables=AGE)
    assert csv_people.pseudo_id.tolist() == xlsx_people.pseudo_id.tolist()
    assert csv_people.pseudo_id.tolist() == privacy.pseudonymise(pd.Series(["7001", "7002", "7003"]), "bad",
                                                                KEY).tolist()
    immune = _read(tmp_path, data_schema, "i_float_ids.csv", table="immune", variables=AGE,
                   participants="p_float_ids.csv")
    assert set(immune.pseudo_id) == {csv_people.pseudo_id[0], csv_people.pseudo_id[2]}


def test_rows_are_counted_as_the_spreadsheet_shows_them(tmp_path, data_schema):
    """A blank line in a CSV or blank rows above a sheet's header keep their row numbers."""
    with pytest.raises(InputTableError, match=r"column 'age', row 6: "):
        _read(tmp_path, data_schema, "p_blank_line_numbering.csv")
    with pytest.raises(InputTableError, match=r"column 'age', row 6: "):
        _read(tmp_path, data_schema, "x_header_on_row3.xlsx")


def test_on_invalid_missing_reports_rows_without_values(tmp_path, data_schema):
    people_rows = _read(tmp_path, data_schema, "p_text_in_numeric.csv", mapping={"on_invalid": "missing"})
    assert people_rows.maternal_age.isna().tolist() == [False, True, False, True, False, False]
    mapping, _ = _mapping(tmp_path, data_schema, {"file": "p_text_in_numeric.csv", "table": "participants",
                                                  "mapping": {"on_invalid": "missing"}})
    _, report, _, _ = ingest_stage.cohort_participants("bad", mapping, data_schema, KEY)
    rejected = report.set_index("variable").loc["maternal_age", "rejected"]
    assert rejected.startswith("expected a number, found text")
    assert report.set_index("variable").loc["maternal_age", "rejected_rows"] == "rows 3, 5"
    assert "unknown" not in rejected


# --------------------------------------------------------------------------- issue #17: hostile tables
NSES = {**AGE, "neighbourhood_ses": {"rule": "direct", "column": "nses"}}


def _participants(tmp_path, data_schema, file, **case):
    mapping, _ = _mapping(tmp_path, data_schema, {"file": file, "table": "participants", **case})
    people, report, categories, _ = ingest_stage.cohort_participants("bad", mapping, data_schema, KEY)
    return people, report.set_index("variable"), categories


def test_unicode_ids_are_the_same_participants_in_every_table(tmp_path, data_schema):
    """A Unicode hyphen, full-width letters or a zero-width space in a biomarker table's IDs,
    or in a matrix's sample names, still name the participant BX-101 ... of the participants table."""
    people = _read(tmp_path, data_schema, "participants.csv")
    immune = _read(tmp_path, data_schema, "i_ids_unicode.csv", table="immune")
    assert immune.pseudo_id.unique().tolist() == people.pseudo_id[:3].tolist()
    matrix = _read(tmp_path, data_schema, "mx_unicode_samples.csv", table="methylation_matrix")
    assert matrix.columns.tolist() == ["cpg", *people.pseudo_id[:3]]


def test_leading_zero_policy_strip_matches_ids_without_zeros(tmp_path, data_schema):
    """Participants 07001, 07003 and a biomarker table with 7001, 7003: an error by default
    (the corpus case i_leading_zeros.csv), matched with `id_leading_zeros: strip`."""
    people = _read(tmp_path, data_schema, "participants_numeric.csv", variables=AGE)
    immune = _read(tmp_path, data_schema, "i_leading_zeros.csv", table="immune", variables=AGE,
                   participants="participants_numeric.csv", spec={"id_leading_zeros": "strip"})
    assert immune.pseudo_id.unique().tolist() == [people.pseudo_id[0], people.pseudo_id[2]]
    stripped = _read(tmp_path, data_schema, "participants_numeric.csv", variables=AGE,
                     spec={"id_leading_zeros": "strip"})  # pseudonyms of 7001 ...: stable whichever way written
    assert stripped.pseudo_id.tolist() == privacy.pseudonymise(pd.Series(["7001", "7002", "7003"]), "bad",
                                                               KEY).tolist()


def test_hidden_column_without_values_is_read(tmp_path, data_schema):
    people = _read(tmp_path, data_schema, "x_hidden_empty_column.xlsx")
    assert people.maternal_age.tolist() == [31.2, 34.1, 28.0, 36.5, 25.3, 30.0]


def test_column_missing_codes_make_sentinels_missing(tmp_path, data_schema):
    people, report, _ = _participants(tmp_path, data_schema, "p_ses_sentinel.csv", variables=NSES,
                                      spec={"column_missing_codes": {"nses": ["-999"]}})
    assert people.neighbourhood_ses.isna().tolist() == [False, True, False, False, True, False]
    assert report.loc["neighbourhood_ses", "n_rejected"] == 0
    matrix = _read(tmp_path, data_schema, "mx_sentinel.csv", table="methylation_matrix",
                   mapping={"missing_codes": ["", "NA", "-999"]})
    assert np.isnan(matrix.iloc[0, 2]) and matrix.iloc[0, 1] == pytest.approx(0.44)


def test_sentinels_with_on_invalid_missing_are_rejected_with_rows(tmp_path, data_schema):
    people, report, _ = _participants(tmp_path, data_schema, "p_ses_sentinel.csv", variables=NSES,
                                      mapping={"on_invalid": "missing"})
    assert people.neighbourhood_ses.isna().tolist() == [False, True, False, False, True, False]
    rejected = report.loc["neighbourhood_ses", "rejected"]
    assert rejected.startswith("values equal to a typical missing-value code")
    assert report.loc["neighbourhood_ses", "rejected_rows"] == "rows 3, 6"
    assert "-999" not in rejected.replace("such as -999", "")


def test_outliers_of_a_variable_without_range_are_noted_not_quoted(tmp_path, data_schema):
    people, report, _ = _participants(tmp_path, data_schema, "p_ses_outlier.csv", variables=NSES)
    assert people.neighbourhood_ses.iloc[5] == 48.0  # kept: it may be real
    note = report.loc["neighbourhood_ses", "note"]
    assert note == ("warning: values beyond 5 SD of the median (n_outliers; kept: check them in the cohort's file, "
                    "or declare a range)")
    assert report.loc["neighbourhood_ses", "n_outliers"] == 1  # a count: suppressed in results like every count


@pytest.mark.parametrize("file, mapping, never", [
    ("participants.csv", {"variables": {"child_sex": {"rule": "recode", "column": "pid",
                                                      "map": {"jongen": "male", "meisje": "female"}}}},
     ["BX-"]),
    ("p_recode_formula.csv", {}, ["HYPERLINK", "cmd", "@SUM", "="]),
    ("p_recode_free_text.csv", {}, ["verhuisd"]),
    ("p_recode_distinct.csv", {}, ["note "]),
])
def test_category_report_lists_declared_categories_only(tmp_path, data_schema, file, mapping, never):
    """With `on_invalid: missing`, the categories report (written to results/harmonisation/)
    lists the map's categories and counts the other values as '(undeclared)': an ID, a
    free-text answer or a formula is never written, nor quoted in the harmonisation report."""
    _, report, categories = _participants(tmp_path, data_schema, file,
                                          mapping={**copy.deepcopy(mapping), "on_invalid": "missing"})
    allowed = {"jongen", "meisje", "lager onderwijs", "hoger secundair onderwijs – geëxamineerd", "bachelor",
               "master", "(missing)", "(undeclared)"}
    assert set(categories.source_category) <= allowed
    assert "(undeclared)" in set(categories.source_category)
    written = categories.to_csv(sep="\t") + report.to_csv(sep="\t")
    assert not [t for t in never if t in written], written


def test_ranges_recode_reports_bands_not_values(tmp_path, data_schema):
    recode = {"rule": "recode", "column": "bw_g", "ranges": [{"max": 2500, "value": 1}, {"min": 2500, "value": 0}]}
    _, _, categories = _participants(tmp_path, data_schema, "participants.csv",
                                     mapping={"variables": {"smoking": recode}})
    rows = categories[categories.variable == "smoking"]
    assert rows.source_category.tolist() == ["[2500, inf)"] and rows.n.tolist() == [6]


@pytest.mark.parametrize("file, message", [
    ("mx_beta_outside.parquet", r"mx_beta_outside.parquet, column C, row 3: beta values outside \[0, 1\]"),
    ("mx_duplicated_cpg.parquet", r"mx_duplicated_cpg.parquet, column 'cpg', rows 2, 4: duplicated CpG"),
    ("mx_sentinel.csv", r"mx_sentinel.csv, column C, row 2: beta values outside \[0, 1\]"),
])
def test_preflight_checks_every_value_of_a_matrix(tmp_path, data_schema, file, message):
    """The pre-flight check (ingest_cohort, before any job runs) reads a Parquet or CSV
    matrix batch by batch, not only its header: a beta of 1.7 or a CpG twice stops the run."""
    mapping, _ = _mapping(tmp_path, data_schema, {"file": file, "table": "methylation_matrix"})
    with pytest.raises(InputTableError, match=message):
        ingest_stage.ingest_cohort("bad", mapping, data_schema, KEY)


def _csv_matrix(path, n=300, problem=None, sep=","):
    """A CpG x 3 matrix of n rows; ``problem`` in data row 245 (spreadsheet row 247): past the
    first 100 rows read with the exact checks, so Arrow's reader meets it first."""
    ids = ["BX-101", "BX-102", "BX-103"]
    frame = pd.DataFrame(np.full((n, 3), 0.5), columns=ids)
    frame.insert(0, "cpg", [f"cg{k:08d}" for k in range(n)])
    frame = frame.astype(str)
    frame.loc[7, "BX-101"] = "NA"
    if problem == "outside":
        frame.loc[245, "BX-102"] = "1.7"
    elif problem == "duplicate":
        frame.loc[245, "cpg"] = "cg00000003"
    elif problem in ("text", "nan"):
        frame.loc[245, "BX-103"] = "failed" if problem == "text" else "nan"
    elif problem == "empty":
        frame.loc[245, ids] = ""
    lines = frame.to_csv(index=False, sep=sep, lineterminator="\n").splitlines()
    if problem == "short":
        lines[246] = lines[246].rsplit(sep, 1)[0]
    elif problem == "quote":
        lines[246] = lines[246].replace(f"{sep}0.5", f'{sep}"0.5', 1)
    elif problem == "blank":
        lines.insert(246, "")
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("problem, message", [
    ("outside", r"m.csv, column C, row 247: beta values outside \[0, 1\]"),
    ("duplicate", r"m.csv, column 'cpg', rows 5, 247: duplicated CpG identifier"),
    ("text", r"m.csv, column D, row 247: expected a number, found text"),
    ("nan", r"m.csv, column D, row 247: expected a number, found text"),
    ("empty", r"m.csv, column 'cpg', row 247: CpGs without any value"),
    ("short", r"m.csv, row 247: fewer cells than the header has names \(4\)"),
    ("quote", r"m.csv, row 247: a cell opens a quote"),
    ("blank", r"m.csv, column 'cpg', rows 5, 248: duplicated CpG identifier"),  # a blank line keeps its number
])
def test_csv_matrix_streams_and_names_rows_across_batches(tmp_path, data_schema, problem, message):
    people = _read(tmp_path, data_schema, "participants.csv")
    id_map = dict(zip(["BX-101", "BX-102", "BX-103"], people.pseudo_id[:3]))
    path = _csv_matrix(tmp_path / "m.csv", problem="duplicate" if problem == "blank" else problem)
    if problem == "blank":
        lines = path.read_text().splitlines()
        path.write_text("\n".join(lines[:200] + [""] + lines[200:]) + "\n")
    out = tmp_path / "results" / "m.parquet"
    with pytest.raises(InputTableError, match=message) as err:
        ingest.stream_matrix({"path": str(path)}, id_map, out, batch_rows=10)
    assert not NO_IDS.search(str(err.value))
    assert not out.exists() and not list((tmp_path / "results").glob("*"))  # nothing half-written


def test_csv_matrix_streamed_equals_in_memory(tmp_path, data_schema):
    people = _read(tmp_path, data_schema, "participants.csv")
    id_map = dict(zip(["BX-101", "BX-102", "BX-103"], people.pseudo_id[:3]))
    path = _csv_matrix(tmp_path / "m.tsv", n=357, sep="\t")
    assert ingest.streams_matrix({"path": str(path)})
    n = ingest.stream_matrix({"path": str(path)}, id_map, tmp_path / "out.parquet", batch_rows=10,
                             metadata={b"first1000": b"test"})
    assert pq.read_schema(tmp_path / "out.parquet").metadata[b"first1000"] == b"test"
    assert n == 357 and ingest.stream_matrix({"path": str(path)}, id_map, batch_rows=7) == 357
    streamed = pd.read_parquet(tmp_path / "out.parquet")
    assert streamed.columns.tolist() == ["cpg", *people.pseudo_id[:3]]
    in_memory = ingest.ingest_matrix({"path": str(path)}, ["", "NA"], id_map)
    pd.testing.assert_frame_equal(streamed, in_memory)
    expected = pd.read_csv(path, sep="\t", dtype={"cpg": str}).rename(columns=id_map)
    assert streamed.cpg.tolist() == expected.cpg.tolist()
    np.testing.assert_array_equal(streamed.iloc[:, 1:].to_numpy(), expected.iloc[:, 1:].to_numpy(np.float64))
    assert np.isnan(streamed.iloc[7, 1]) and streamed.iloc[:, 1:].notna().sum().sum() == 357 * 3 - 1


# --------------------------------------------------------------------------- models that cannot be fitted
def _analysis_table(n=30, seed=1):
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "pseudo_id": [f"P{i:04d}" for i in range(n)], "cohort": "a",
        "education_group": "high", "ses_index": rng.normal(size=n), "epds": rng.normal(8, 3, n),
        "maternal_age": rng.normal(31, 4, n), "bmi": rng.normal(24, 3, n), "parity": rng.integers(0, 3, n),
        "smoking": rng.integers(0, 2, n).astype(float), "child_sex": rng.choice(["female", "male"], n),
        "il6_ln": rng.normal(size=n), "birth_weight": rng.normal(3400, 400, n),
    })


SCHEMA = {"birth_weight": {"type": "continuous", "unit": "g"}, "preterm": {"type": "binary"},
          "epds": {"type": "continuous"}}


def _assoc(table, spec, covariates=()):
    from first1000.analysis.associations import associations

    return associations(table, "immune", spec, list(covariates), SCHEMA)


def test_single_ses_category_gives_a_status():
    out = _assoc(_analysis_table(), {"biomarkers": ["il6_ln"], "exposures": ["education_group"]})
    assert out.status.tolist() == ["predictor 'education_group' has zero variance in the 30 complete rows"]
    assert out.estimate.isna().all()


def test_more_covariates_than_participants_gives_a_status():
    table = _analysis_table(n=6)
    out = _assoc(table, {"biomarkers": ["il6_ln"], "exposures": ["epds"]},
                 ["maternal_age", "bmi", "parity", "smoking", "child_sex"])
    assert out.status.tolist() == ["too few complete rows: n=6 for a model with 7 parameters (needs at least 8)"]


def test_perfect_separation_gives_a_status():
    table = _analysis_table(n=40)
    table["preterm"] = (table.il6_ln > 0).astype(float)
    out = _assoc(table, {"biomarkers": ["il6_ln"], "exposures": ["epds"], "outcomes": ["preterm"]})
    row = out[out.response == "preterm"].iloc[0]
    assert row.model == "logistic"
    assert row.status.startswith("perfect or quasi-perfect separation")
    assert np.isnan(row.estimate)


def test_outcome_of_one_value_gives_a_status():
    table = _analysis_table(n=20)
    table["preterm"] = 0.0
    out = _assoc(table, {"biomarkers": ["il6_ln"], "exposures": ["epds"], "outcomes": ["preterm"]})
    assert out[out.response == "preterm"].status.tolist() == ["binary response 'preterm' takes one value in all 20 complete rows"]


def test_unmeasured_biomarker_gives_a_status():
    table = _analysis_table()
    table["il6_ln"] = np.nan
    out = _assoc(table, {"biomarkers": ["il6_ln"], "exposures": ["epds"]})
    assert out.status.tolist() == ["il6_ln is not measured in cohort a"]


def test_zero_variance_mediator_gives_a_status():
    from first1000.stats.mediation import mediation_linear

    table = _analysis_table()
    table["il6_ln"] = 1.5
    effects, paths = mediation_linear(table, "ses_index", "il6_ln", "birth_weight", n_boot=100, seed=1)
    assert set(effects.status) == {"mediator 'il6_ln' has zero variance in the 30 complete rows"}
    assert set(paths.status) == set(effects.status)
    assert effects.estimate.isna().all()


def test_mediation_with_more_covariates_than_participants_gives_a_status():
    from first1000.stats.mediation import mediation_linear

    table = _analysis_table(n=6)
    effects, _ = mediation_linear(table, "ses_index", "il6_ln", "birth_weight",
                                  ["maternal_age", "bmi", "parity", "smoking"], n_boot=100, seed=1)
    assert set(effects.status) == {"too few complete rows: n=6 for an outcome model with 7 parameters "
                                   "(needs at least 8)"}


def _harmonise_input(name, n, constant, rng):
    return pd.DataFrame({
        "pseudo_id": [f"{name}{i}" for i in range(n)], "cohort": name,
        "education_isced": np.full(n, 3.0) if constant else rng.integers(1, 8, n).astype(float),
        "household_income": rng.uniform(1000, 5000, n), "household_adults": 2.0, "household_children": 1.0,
        "neighbourhood_ses": np.full(n, 0.5) if constant else rng.normal(size=n),
        "material_deprivation_items": np.nan,
    })


INDICATORS = {"education_isced": 1, "income_equivalised_ln": 1, "neighbourhood_ses": 1}


def test_cohort_with_a_single_ses_category_gets_no_index_and_is_reported():
    from first1000.harmonise.ses import harmonise, single_category_problems

    rng = np.random.default_rng(3)
    frames = [_harmonise_input("a", 20, False, rng), _harmonise_input("b", 15, True, rng)]
    table, _ = harmonise(frames, {"method": "zmean", "min_indicators": 2, "indicators": INDICATORS})
    assert table[table.cohort == "a"].ses_index.notna().all()
    assert table[table.cohort == "b"].ses_index.isna().all()  # z-scores of a constant are undefined
    assert single_category_problems(table, list(INDICATORS)) == [
        "cohort b: SES indicator `education_isced` has fewer than two distinct values",
        "cohort b: SES indicator `neighbourhood_ses` has fewer than two distinct values",
    ]


def test_pca_ses_index_without_complete_participants_does_not_raise():
    from first1000.harmonise.ses import harmonise

    rng = np.random.default_rng(4)
    table, _ = harmonise([_harmonise_input("b", 15, True, rng)],
                         {"method": "pca", "min_indicators": 2, "indicators": INDICATORS})
    assert table.ses_index.isna().all()


def test_associations_on_a_table_without_rows_do_not_raise():
    out = _assoc(_analysis_table().iloc[:0], {"biomarkers": ["il6_ln"], "exposures": ["epds"]})
    assert out.empty or (out.status != "ok").all()


def test_an_unmapped_answer_is_never_quoted_in_the_results_report(tmp_path, data_schema):
    """A one-off free-text answer in a mostly coded column may be quoted in the error
    message (mode error), never in the harmonisation report, a result table."""
    text = (BAD / "participants.csv").read_text(encoding="utf-8").replace("jongen", "HIV+ disclosed", 1)
    (tmp_path / "p.csv").write_text(text, encoding="utf-8")
    case = {"file": str(tmp_path / "p.csv"), "table": "participants", "mapping": {"on_invalid": "missing"}}
    mapping, _ = _mapping(tmp_path, data_schema, case)
    people, report, cats, _ = ingest_stage.cohort_participants("bad", mapping, data_schema, KEY)
    row = report.set_index("variable").loc["child_sex"]
    assert row.n_rejected == 1 and row.rejected_rows == "row 3"
    assert row.rejected == "values without an entry in the recode of `child_sex` (not quoted in results)"
    for table in (report, cats):
        assert not table.astype(str).apply(lambda c: c.str.contains("HIV")).any().any()
    shown, _ = privacy.protect_harmonisation(report, cats, 5)
    shown = shown.set_index("variable").loc["child_sex"]
    assert (shown.n_rejected, shown.rejected_rows) == ("<5", "")  # the rows listed would give the count back


def test_a_workbook_with_a_stray_cell_far_from_its_table_is_refused_before_it_is_read(tmp_path):
    """One value in XFD1048576 beside a small table: calamine would ask for 512 GB (and end
    the process), openpyxl walk 1.7e10 cells. Refused first, in milliseconds, naming the
    sheet and how far it reaches; with a merged cell (openpyxl's path) too."""
    import time

    import openpyxl

    from first1000.io import read_raw_table

    for merged in (False, True):
        book = openpyxl.Workbook()
        sheet = book.active
        sheet.append(["participant_id", "bmi"])
        sheet.append(["GH-0001", 23.4])
        if merged:
            sheet.merge_cells("C1:D1")
        sheet["XFD1048576"] = 1
        path = tmp_path / f"stray_{merged}.xlsx"
        book.save(path)
        start = time.perf_counter()
        with pytest.raises(InputTableError) as err:
            read_raw_table(path)
        assert time.perf_counter() - start < 5
        assert str(err.value).startswith(f"{path}: a worksheet (sheet1.xml) reaches row 1,048,576 and columns beyond "
                                         "ZZ but holds only ")
        assert "Ctrl+End" in str(err.value) and "GH-" not in str(err.value)
