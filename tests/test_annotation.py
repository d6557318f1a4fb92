"""The array annotation (config ``epigenome_wide.annotation``, #19): checked by the
pre-flight check before any job runs and by every job that reads it, one message naming the
file, the column and the rows; looked up by hash (``annotate``) as the merge it replaces."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from first1000.errors import InputTableError
from first1000.io.methylation import annotate, read_annotation

from workflow_runs import ROOT

DEMO = ROOT / "resources" / "demo" / "methylation_annotation.tsv"
HEADER = "cpg\tchr\tpos\tgene\n"


def _write(tmp_path, text, name="annotation.tsv"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def test_the_demo_annotation_reads_as_the_plain_reader_does():
    got = read_annotation(DEMO)
    plain = pd.read_csv(DEMO, sep="\t", dtype={"cpg": str, "chr": str})[["cpg", "chr", "pos", "gene"]]
    pd.testing.assert_frame_equal(got, plain)
    assert got["cpg"].is_unique and len(got) > 1000


def test_missing_values_spaces_and_extra_columns(tmp_path):
    path = _write(tmp_path, "strand\tgene\tcpg\tpos\tchr\n"
                            "F\tNR3C1\t cg01 \t142780000\t5\n"
                            "R\t\tcg02\t\tX\n"
                            "\t\t\t\t\n"  # a blank row: dropped, the next keeps its number
                            "F\tBDNF\tcg03\t27700000\t\n")
    got = read_annotation(path)
    assert list(got.columns) == ["cpg", "chr", "pos", "gene"]
    assert got["cpg"].tolist() == ["cg01", "cg02", "cg03"]
    assert got["chr"].tolist()[:2] == ["5", "X"] and pd.isna(got["chr"].iloc[2])
    assert got["pos"].dtype == np.float64 and np.isnan(got["pos"].iloc[1]) and got["pos"].iloc[2] == 27700000
    assert pd.isna(got["gene"].iloc[1])


@pytest.mark.parametrize("text, fragments", [
    ("cpg\tchr\tposition\tgene\ncg01\t1\t5\tA\n", ["no column 'pos'", "MAPINFO -> pos"]),
    (HEADER + "cg01\t1\t5\tA\ncg02\t1\t6\tB\ncg01\t2\t7\tC\n", ["column 'cpg', rows 2, 4", "'cg01'", "once"]),
    (HEADER + "cg01\t1\t5\tA\n \t1\t6\tB\n", ["column 'cpg', row 3", "no CpG ID"]),
    (HEADER + "cg01\t1\t5.5\tA\ncg02\t1\t-3\tB\ncg03\t1\tchr1:5\tC\ncg04\t1\t7\tD\n",
     ["column 'pos', rows 2, 3, 4", "whole number"]),
    (HEADER + "cg01\t1\t5\tA\n\ncg02\t1\tx\tB\n", ["column 'pos', row 4"]),  # the blank row counts
    (HEADER + "cg01\t1\t1.31081E+06\tA\ncg02\t1\t1e30\tB\ncg03\t1\t99999999999\tC\ncg04\t1\t12.0\tD\n",
     ["column 'pos', rows 2, 3, 4:", "1.2E+06"]),  # rounded by a spreadsheet, too large; 12.0 is 12
    ("cpg\tchr\t cpg\tpos\tgene\ncg01\t1\tcg01\t5\tA\n", ["names 'cpg' more than once"]),
    ("", ["cannot be read as a tab-separated table"]),
    ("cpg,chr,pos,gene\ncg01,1,5,A\n", ["no column 'cpg', 'chr', 'pos', 'gene'", "separated by tabs"]),
])
def test_a_broken_annotation_gets_one_message_naming_file_column_and_rows(tmp_path, text, fragments):
    path = _write(tmp_path, text)
    with pytest.raises(InputTableError) as caught:
        read_annotation(path)
    message = str(caught.value)
    assert message.startswith(str(path)) and "\n" not in message
    for fragment in fragments:
        assert fragment in message, message


def test_an_unreadable_or_absent_annotation(tmp_path):
    latin = tmp_path / "latin.tsv"
    latin.write_bytes(HEADER.encode() + "cg01\t1\t5\tG\xe8ne\n".encode("latin-1"))
    with pytest.raises(InputTableError, match="not UTF-8"):
        read_annotation(latin)
    with pytest.raises(InputTableError, match="file not found"):
        read_annotation(tmp_path / "gone.tsv")


def test_annotate_equals_the_left_merge_it_replaces():
    rng = np.random.default_rng(3)
    annotation = read_annotation(DEMO)
    table = pd.DataFrame({"cpg": np.r_[annotation["cpg"].sample(300, random_state=1).to_numpy(), ["cg_absent"]],
                          "p": rng.random(301)}).astype({"cpg": str}).iloc[rng.permutation(301)]
    table.index = np.arange(301) * 3  # not a range: both give a fresh one
    merged = table.merge(annotation, on="cpg", how="left")
    got = annotate(table, annotation)
    pd.testing.assert_frame_equal(got, merged)
    assert got["pos"].isna().sum() == 1 and got["pos"].dtype == np.float64  # the absent CpG
    placed = annotate(table[table.cpg != "cg_absent"], annotation)
    pd.testing.assert_frame_equal(placed, table[table.cpg != "cg_absent"].merge(annotation, on="cpg", how="left"))
    assert placed["pos"].dtype == np.int64
    pd.testing.assert_frame_equal(annotate(table.iloc[:0], annotation), table.iloc[:0].merge(annotation, on="cpg",
                                                                                              how="left"))


def test_the_preflight_check_refuses_a_broken_annotation_before_the_tables(tmp_path, monkeypatch):
    from first1000 import preflight as pf
    from first1000.config import load_yaml

    broken = _write(tmp_path, HEADER + "cg01\t1\t5\tA\ncg01\t1\t6\tB\n")
    config = load_yaml(ROOT / "config" / "config.yaml")
    config["epigenome_wide"]["annotation"] = str(broken)
    checked = []
    monkeypatch.setattr(pf, "check_results_key", lambda *a, **k: "fingerprint")
    monkeypatch.setattr(pf, "check_inputs", lambda *a, **k: checked.append(a))
    monkeypatch.chdir(ROOT)
    cache = tmp_path / "preflight.json"
    with pytest.raises(InputTableError, match="column 'cpg', rows 2, 3"):
        pf.preflight(config, cache=str(cache), create_key=False)
    assert not checked and not cache.exists()  # nothing checked after it, nothing cached
    config["epigenome_wide"]["annotation"] = str(DEMO)
    pf.preflight(config, cache=str(cache), create_key=False)
    assert checked and cache.exists()


def test_row_names_written_by_r_and_trailing_tabs_are_read_as_meant(tmp_path):
    """R's write.table(sep = "\\t") writes a row name before each row (one field more than
    the header), and some exports end every row with a tab; both read as the plain file."""
    plain = read_annotation(_write(tmp_path, HEADER + "cg01\t1\t5\tA\ncg02\tX\t12.0\t\n", "plain.tsv"))
    assert plain["pos"].tolist() == [5, 12] and plain["pos"].dtype == np.int64
    r_names = _write(tmp_path, HEADER + "1\tcg01\t1\t5\tA\n2\tcg02\tX\t12\t\n", "r.tsv")
    pd.testing.assert_frame_equal(read_annotation(r_names), plain)
    trailing = _write(tmp_path, HEADER + "cg01\t1\t5\tA\t\ncg02\tX\t12\t\t\n", "trailing.tsv")
    pd.testing.assert_frame_equal(read_annotation(trailing), plain)
    bom = tmp_path / "bom.tsv"
    bom.write_bytes(b"\xef\xbb\xbf" + (HEADER + "cg01\t1\t5\tA\ncg02\tX\t12\t\n").encode())
    pd.testing.assert_frame_equal(read_annotation(bom), plain)


def test_annotate_takes_an_empty_or_object_table():
    annotation = read_annotation(DEMO)
    for table in (pd.DataFrame({"cpg": pd.Series([], dtype=object), "p": pd.Series([], dtype=float)}),
                  pd.DataFrame({"cpg": np.array(annotation["cpg"].iloc[:5].tolist() + ["cg_absent"], dtype=object),
                                "p": np.linspace(0, 1, 6)})):
        got = annotate(table, annotation)
        assert list(got.columns) == ["cpg", "p", "chr", "pos", "gene"] and len(got) == len(table)
        if len(table):
            np.testing.assert_array_equal(got["pos"].to_numpy()[:5], annotation["pos"].iloc[:5].to_numpy())
            assert np.isnan(got["pos"].iloc[5])


def test_an_edited_annotation_is_checked_again_despite_the_cache(tmp_path, monkeypatch):
    from first1000 import preflight as pf
    from first1000.config import load_yaml

    path = _write(tmp_path, HEADER + "cg01\t1\t5\tA\n")
    config = load_yaml(ROOT / "config" / "config.yaml")
    config["epigenome_wide"]["annotation"] = str(path)
    monkeypatch.setattr(pf, "check_results_key", lambda *a, **k: "fingerprint")
    monkeypatch.setattr(pf, "check_inputs", lambda *a, **k: None)
    monkeypatch.chdir(ROOT)
    cache = str(tmp_path / "preflight.json")
    pf.preflight(config, cache=cache, create_key=False)
    path.write_text(HEADER + "cg01\t1\t5\tA\ncg01\t1\t6\tB\n", encoding="utf-8")  # a new size
    with pytest.raises(InputTableError, match="more than once"):
        pf.preflight(config, cache=cache, create_key=False)
