"""Ingest: bad input gets one message naming file, column and rows; IDs are pseudonymised."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from first1000 import ingest, privacy
from first1000.stages import ingest as ingest_stage
from first1000.errors import InputTableError
from first1000.units import parse_weeks_days

KEY = b"test-key"


def _cohort(tmp_path, demo_config, edit=None, cohort="ghent"):
    """The demo cohort's participants table, optionally edited, with its mapping."""
    mapping = copy.deepcopy(demo_config["cohorts"][cohort]["_mapping"])
    src = mapping["tables"]["participants"]["path"]
    table = pd.read_csv(src, dtype=str, keep_default_na=False, sep="," if src.endswith(".csv") else "\t")
    if edit:
        table = edit(table)
    path = tmp_path / "participants.csv"
    table.to_csv(path, index=False)
    mapping["tables"] = {"participants": dict(mapping["tables"]["participants"], path=str(path))}
    return mapping, path


def _ingest(mapping, demo_config):
    return ingest_stage.ingest_cohort("ghent", mapping, demo_config["_data_schema"], KEY)


def _set(column, rows, value):
    def edit(table):
        table.loc[rows, column] = value
        return table
    return edit


def test_demo_participants_harmonise(tmp_path, demo_config):
    mapping, _ = _cohort(tmp_path, demo_config)
    out = _ingest(mapping, demo_config)["participants"]
    assert len(out) == 450
    assert set(out.child_sex.dropna()) == {"female", "male"}
    assert out.bmi.isna().sum() > 0  # "-9" is a missing code
    assert out.preterm.eq(out.gestational_age < 259).all()


def test_missing_column_names_mapping_line_and_file(tmp_path, demo_config):
    from first1000.errors import ConfigError

    mapping, path = _cohort(tmp_path, demo_config, lambda t: t.drop(columns="parity"))
    line = next(i for i, l in enumerate(open("config/cohorts/ghent.yaml"), 1) if l.startswith("  parity:"))
    with pytest.raises(ConfigError, match=rf"config/cohorts/ghent.yaml, line {line}: key `variables.parity.column`: "
                                          rf"column 'parity' is not in {path}"):
        _ingest(mapping, demo_config)


def test_duplicated_id_names_rows(tmp_path, demo_config):
    mapping, path = _cohort(tmp_path, demo_config, _set("participant_id", [3], "GH-0001"))
    with pytest.raises(InputTableError) as err:
        _ingest(mapping, demo_config)
    # Data row 0 is spreadsheet row 2.
    assert str(err.value).startswith(f"{path}, column 'participant_id', rows 2, 5: duplicated participant ID")
    assert "GH-0001" not in str(err.value)


def test_ids_differing_only_by_case_or_space(tmp_path, demo_config):
    mapping, path = _cohort(tmp_path, demo_config, _set("participant_id", [9], "gh-0001 "))
    with pytest.raises(InputTableError, match=r"rows 2, 11: participant IDs that differ only by letter case"):
        _ingest(mapping, demo_config)


def test_text_in_numeric_column(tmp_path, demo_config):
    mapping, path = _cohort(tmp_path, demo_config, _set("maternal_age_y", [4, 7], "unknown"))
    with pytest.raises(InputTableError) as err:
        _ingest(mapping, demo_config)
    assert f"{path}, column 'maternal_age_y', rows 6, 9: expected a number, found text" in str(err.value)
    assert "unknown" not in str(err.value)  # no row-level values in messages


def test_decimal_comma_gets_a_hint(tmp_path, demo_config):
    mapping, path = _cohort(tmp_path, demo_config, _set("bmi_kg_m2", [0], "24,5"))
    with pytest.raises(InputTableError, match=r"rows? 2: expected a number.*decimal comma"):
        _ingest(mapping, demo_config)


def test_impossible_value_out_of_range(tmp_path, demo_config):
    mapping, path = _cohort(tmp_path, demo_config, _set("birth_weight_g", [2], "40000"))
    with pytest.raises(InputTableError, match=r"column 'birth_weight_g', row 4: value out of range for birth_weight \(g\): expected >= 300 and <= 6500"):
        _ingest(mapping, demo_config)


def test_unmapped_category_names_category_cohort_rows(tmp_path, demo_config):
    """A code of 5 rows (privacy.min_cell_size) is named; one of 1 row is counted."""
    mapping, path = _cohort(tmp_path, demo_config, _set("education", [5, 6, 7, 8, 9], "universiteit"))
    with pytest.raises(InputTableError) as err:
        _ingest(mapping, demo_config)
    message = str(err.value)
    assert "column 'education', rows 7, 8, 9, 10, 11" in message
    assert "'universiteit'" in message and "cohort ghent" in message
    mapping, path = _cohort(tmp_path, demo_config, _set("education", [5], "universiteit"))
    with pytest.raises(InputTableError) as err:
        _ingest(mapping, demo_config)
    message = str(err.value)
    assert "column 'education', row 7: 1 distinct value (held by fewer than 5 rows, not quoted)" in message
    assert "universiteit" not in message and "cohort ghent" in message


def test_impossible_variable_is_reported_not_silent(tmp_path, demo_config):
    mapping, _ = _cohort(tmp_path, demo_config)
    mapping["variables"]["employment"] = {"rule": "impossible", "reason": "not asked in this cohort"}
    out = _ingest(mapping, demo_config)
    report = out["harmonisation"].set_index("variable")
    assert report.loc["employment", "rule"] == "impossible"
    assert report.loc["employment", "note"] == "not asked in this cohort"
    assert report.loc["employment", "n_missing"] == 450


def test_empty_and_header_only_files(tmp_path, demo_config):
    mapping, path = _cohort(tmp_path, demo_config)
    path.write_text("")
    with pytest.raises(InputTableError, match="the file is empty"):
        _ingest(mapping, demo_config)
    path.write_text("participant_id,parity\n")
    with pytest.raises(InputTableError, match="header but no rows"):
        _ingest(mapping, demo_config)


def test_latin1_file_is_reported(tmp_path, demo_config):
    mapping, path = _cohort(tmp_path, demo_config)
    path.write_bytes(path.read_bytes().replace(b"lager onderwijs", "lager onderwijs \u00e9".encode("latin-1"), 1))
    with pytest.raises(InputTableError, match="cannot be decoded as utf-8"):
        _ingest(mapping, demo_config)


def test_pseudonyms_are_keyed_and_stable():
    ids = pd.Series(["GH-0001", "GH-0002"])
    a = privacy.pseudonymise(ids, "ghent", b"k1")
    assert a.tolist() == privacy.pseudonymise(ids, "ghent", b"k1").tolist()
    assert a.tolist() != privacy.pseudonymise(ids, "ghent", b"k2").tolist()
    assert a.str.match(r"^P[0-9a-f]{16}$").all()
    import hashlib, hmac
    assert a[0] == "P" + hmac.new(b"k1", b"ghent\x1fGH-0001", hashlib.sha256).hexdigest()[:16]


def test_biomarker_ids_must_match_participants(tmp_path, demo_config):
    people = _ingest(_cohort(tmp_path, demo_config)[0], demo_config)["participants"]
    spec = copy.deepcopy(demo_config["cohorts"]["ghent"]["_mapping"]["tables"]["immune"])
    table = pd.read_csv(spec["path"], dtype=str)
    table.loc[[0, 1], "participant_id"] = ["XX-1", "XX-2"]
    path = tmp_path / "immune.csv"
    table.to_csv(path, index=False)
    spec["path"] = str(path)
    id_map = {f"GH-{i + 1:04d}": p for i, p in enumerate(people.pseudo_id)}
    with pytest.raises(InputTableError, match=rf"{path}, column 'participant_id', rows 2, 3: ID matches no participant"):
        ingest.ingest_wide("immune", spec, ["", "NA"], id_map)
    table["participant_id"] = [f"ZZ-{i}" for i in range(len(table))]
    table.to_csv(path, index=False)
    with pytest.raises(InputTableError, match="none of the IDs matches a participant"):
        ingest.ingest_wide("immune", spec, ["", "NA"], id_map)


def test_negative_concentration_and_ct_zero(tmp_path, demo_config):
    spec = copy.deepcopy(demo_config["cohorts"]["ghent"]["_mapping"]["tables"]["telomere_qpcr"])
    table = pd.read_csv(spec["path"], dtype=str)
    table.loc[7, "ct"] = "0"
    path = tmp_path / "qpcr.csv"
    table.to_csv(path, index=False)
    spec["path"] = str(path)
    ids = pd.read_csv("resources/demo/ghent/participants.csv", dtype=str).participant_id
    id_map = dict(zip(ids, privacy.pseudonymise(ids, "ghent", KEY)))
    with pytest.raises(InputTableError, match=rf"{path}, column 'ct', row 9: value out of range: expected > 0 and <= 40"):
        ingest.ingest_qpcr(spec, [""], id_map)


def test_methylation_beta_outside_unit_interval(tmp_path, demo_config):
    spec = copy.deepcopy(demo_config["cohorts"]["ghent"]["_mapping"]["tables"]["methylation_candidates"])
    table = pd.read_csv(spec["path"], dtype=str)
    table.loc[3, "cg04111177"] = "1.7"
    path = tmp_path / "meth.csv"
    table.to_csv(path, index=False)
    spec["path"] = str(path)
    ids = pd.read_csv("resources/demo/ghent/participants.csv", dtype=str).participant_id
    id_map = dict(zip(ids, privacy.pseudonymise(ids, "ghent", KEY)))
    with pytest.raises(InputTableError, match=r"column 'cg04111177', row 5: value out of range for a beta value"):
        ingest.ingest_candidates(spec, [""], id_map)


def test_weeks_plus_days():
    days = parse_weeks_days(pd.Series(["39+4", "40+0", " 27+6 ", "39", "40+9"]))
    assert days.tolist()[:3] == [277.0, 280.0, 195.0]
    assert np.isnan(days.iloc[3]) and np.isnan(days.iloc[4])
