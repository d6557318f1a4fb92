"""A Parquet methylation matrix is ingested without a copy (#19): the ingest job writes which
column is which participant (position -> pseudonym) and the file's fingerprint; the jobs read
the values from the cohort's own file (first1000.io.methylation.open_matrix).

The values they read must be those of the standardised copy a text matrix gets (same EWAS,
same clock rows), no participant ID may reach the ingested file, and a file changed after
its ingest must stop the job instead of being read unchecked.
"""

from __future__ import annotations

import os
import re

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from first1000 import ingest
from first1000.analysis.epigenome import fit_shard
from first1000.errors import InputTableError, ModelError
from first1000.io.methylation import (REFERENCE_KEY, MatrixSource, matrix_rows, matrix_samples, open_matrix,
                                      read_matrix_rows, read_methylation_chunks)

IDS = [f"MOTHER-{k:04d}" for k in range(40)]


def _id_map():
    return {i: f"p{k:03d}x" for k, i in enumerate(IDS)}


def _matrix(path, n_cpgs=700, rng=None, *, row_group=150):
    """A beta matrix with the IDs in shuffled column order, a participant-less column, CpG
    IDs with stray spaces, missing values (null and NaN) and a +inf (read as missing)."""
    rng = rng or np.random.default_rng(7)
    beta = rng.beta(2, 3, (n_cpgs, len(IDS)))
    beta[3, 5] = np.nan
    beta[10, 0] = np.inf
    order = rng.permutation(len(IDS))
    columns = {"cpg": pa.array([f" cg{k:08d} " if k % 7 == 0 else f"cg{k:08d}" for k in range(n_cpgs)])}
    for j in order:
        values = beta[:, j].copy()
        mask = np.zeros(n_cpgs, bool)
        if j == 2:
            mask[20] = True
        columns[IDS[j]] = pa.array(values, mask=mask)
    table = pa.table(columns)
    pq.write_table(table, path, row_group_size=row_group)
    return beta


def _design(n, rng):
    pseudo = list(_id_map().values())
    return pd.DataFrame({"Intercept": 1.0, "exposure": rng.normal(size=n), "age": rng.normal(30, 4, n)},
                        index=pseudo[:n])


def test_reference_holds_no_ids_and_reads_what_a_copy_holds(tmp_path):
    raw = tmp_path / "matrix.parquet"
    beta = _matrix(raw)
    out = tmp_path / "results" / "methylation_matrix.parquet"
    n = ingest.reference_matrix({"path": str(raw)}, _id_map(), out, metadata={b"first1000.key_fingerprint": b"k"})
    assert n == 700
    blob = out.read_bytes()
    assert b"MOTHER" not in blob  # positions and pseudonyms only
    meta = pq.read_schema(out).metadata
    assert REFERENCE_KEY in meta and meta[b"first1000.key_fingerprint"] == b"k"
    assert out.stat().st_size < 10_000

    # the standardised copy a text matrix gets, from the same values
    copy = tmp_path / "copy.parquet"
    assert ingest.stream_matrix({"path": str(raw)}, _id_map(), copy) == 700
    source = open_matrix(out, [str(raw)])
    assert isinstance(source, MatrixSource) and source.raw
    assert matrix_samples(source) == matrix_samples(copy)  # same pseudonyms, same (file) order
    assert matrix_rows(source) == matrix_rows(copy) == 700
    design = _design(35, np.random.default_rng(1))
    design = design.iloc[np.random.default_rng(2).permutation(35)]  # not the file's order
    got = list(read_methylation_chunks(source, list(design.index), chunk_cpgs=64, return_beta=True))
    want = list(read_methylation_chunks(copy, list(design.index), chunk_cpgs=64, return_beta=True))
    assert len(got) == len(want) == 11
    for a, b in zip(got, want):
        assert a.cpgs.tolist() == b.cpgs.tolist()
        np.testing.assert_array_equal(a.m_values, b.m_values)
        np.testing.assert_array_equal(a.beta, b.beta)
    assert got[0].cpgs[0] == "cg00000000"  # stripped, as the ingest check reads it
    # the value of a participant at a known cell: +inf and null are missing, others as written
    pseudo = _id_map()
    col = list(design.index).index(pseudo[IDS[1]])
    assert got[0].beta[7, col] == beta[7, 1]
    if pseudo[IDS[0]] in design.index:
        assert np.isnan(got[0].beta[10, list(design.index).index(pseudo[IDS[0]])])

    fit_a = fit_shard(source, design, "exposure", 1, 3, chunk_cpgs=50)
    fit_b = fit_shard(copy, design, "exposure", 1, 3, chunk_cpgs=50)
    pd.testing.assert_frame_equal(fit_a, fit_b)
    assert len(fit_a) == 233

    wanted = ["cg00000014", "cg00000003", "cg00000699", "cg_absent"]
    pd.testing.assert_frame_equal(read_matrix_rows(source, wanted, block_columns=7),
                                  read_matrix_rows(copy, wanted, block_columns=7))


def test_a_text_matrix_gives_the_same_values_as_parquet(tmp_path):
    """float64 copies: a CSV export of a matrix and its Parquet give the same M-values."""
    raw = tmp_path / "matrix.parquet"
    _matrix(raw, n_cpgs=120)
    frame = pd.read_parquet(raw)
    frame["cpg"] = frame["cpg"].str.strip()
    frame = frame.replace(np.inf, np.nan)
    csv = tmp_path / "matrix.csv"
    frame.to_csv(csv, index=False, float_format="%.17g", na_rep="NA")
    ref, copy = tmp_path / "ref.parquet", tmp_path / "copy.parquet"
    ingest.reference_matrix({"path": str(raw)}, _id_map(), ref)
    ingest.stream_matrix({"path": str(csv)}, _id_map(), copy)
    samples = list(_id_map().values())
    a = next(read_methylation_chunks(open_matrix(ref, [raw]), samples, chunk_cpgs=500))
    b = next(read_methylation_chunks(open_matrix(copy), samples, chunk_cpgs=500))
    assert a.cpgs.tolist() == b.cpgs.tolist()
    np.testing.assert_array_equal(a.m_values, b.m_values)


def test_a_matrix_changed_after_its_ingest_stops_the_job(tmp_path):
    raw = tmp_path / "matrix.parquet"
    _matrix(raw)
    out = tmp_path / "ingested.parquet"
    ingest.reference_matrix({"path": str(raw)}, _id_map(), out)
    with pytest.raises(ModelError, match="not among this job's inputs"):
        open_matrix(out, [])
    stat = os.stat(raw)
    _matrix(raw, rng=np.random.default_rng(8))  # other values, same layout
    os.utime(raw, ns=(stat.st_atime_ns, stat.st_mtime_ns))  # even with the old modification time
    with pytest.raises(InputTableError, match="changed after it was ingested") as err:
        open_matrix(out, [str(raw)])
    assert "MOTHER" not in str(err.value)


def test_reference_checks_the_header_and_cpg_column(tmp_path):
    raw = tmp_path / "matrix.parquet"
    table = pa.table({"cpg": ["cg1", "cg2", " cg1"], IDS[0]: [0.1, 0.2, 0.3], "STRANGER-1": [0.1, 0.2, 0.3]})
    pq.write_table(table, raw, row_group_size=2)
    with pytest.raises(InputTableError, match="match.*no participant ID") as err:
        ingest.reference_matrix({"path": str(raw)}, _id_map(), tmp_path / "o.parquet")
    assert "STRANGER" not in str(err.value)
    pq.write_table(table.drop(["STRANGER-1"]), raw, row_group_size=2)
    with pytest.raises(InputTableError, match=r"rows 2, 4: duplicated CpG"):  # across row groups, stripped
        ingest.reference_matrix({"path": str(raw)}, _id_map(), tmp_path / "o.parquet")
    assert not (tmp_path / "o.parquet").exists()


@pytest.mark.parametrize("fmt", ["parquet", "csv"])
def test_cpgs_repeated_across_batches_are_all_named(tmp_path, fmt):
    """A CpG repeated in another batch is found once every batch is read, and the message
    names every row of every repeated CpG (spreadsheet rows: the header is row 1); a CpG
    repeated within one batch stops the check at that batch. Batches: row groups of 20 of
    the Parquet file; the text file's first 100 rows, then the rest (Arrow's parser)."""
    n = 240
    cpgs = [f"cg{k:08d}" for k in range(n)]
    cpgs[150], cpgs[140] = cpgs[10], cpgs[3]  # rows 12 and 152, 5 and 142: in other batches

    def write(cpgs):
        frame = pd.DataFrame({"cpg": cpgs, **{IDS[j]: np.linspace(0.1, 0.9, n) for j in range(3)}})
        if fmt == "parquet":
            pq.write_table(pa.Table.from_pandas(frame, preserve_index=False), raw, row_group_size=20)
        else:
            frame.to_csv(raw, index=False)

    raw = tmp_path / f"m.{fmt}"
    write(cpgs)
    for output in (None, tmp_path / "copy.parquet"):
        with pytest.raises(InputTableError, match=r"column 'cpg', rows 5, 12, 142, 152: duplicated CpG identifier"):
            ingest.stream_matrix({"path": str(raw)}, _id_map(), output, batch_rows=20)
        assert output is None or not output.exists()
    if fmt == "parquet":
        with pytest.raises(InputTableError, match=r"rows 5, 12, 142, 152: duplicated CpG"):
            ingest.reference_matrix({"path": str(raw)}, _id_map(), tmp_path / "o.parquet")
    cpgs[15] = cpgs[12]  # rows 14 and 17, in the first batch: named with that batch
    write(cpgs)
    with pytest.raises(InputTableError, match=r"column 'cpg', rows 14, 17: duplicated CpG identifier"):
        ingest.stream_matrix({"path": str(raw)}, _id_map(), None, batch_rows=20)


def test_row_groups_read_through_a_memory_map_equal_a_plain_read(tmp_path, monkeypatch):
    """Whole row groups are read through a memory map of the file (one per group); the same
    table as ParquetFile.read_row_group, and a file that cannot be mapped is read plainly."""
    from first1000.io import methylation

    raw = tmp_path / "m.parquet"
    _matrix(raw)
    source = pq.ParquetFile(raw, pre_buffer=False)
    columns = source.schema_arrow.names
    plain = [t for _, t in methylation.row_pieces(source, columns, 10_000)]
    maps = []
    real_map = pa.memory_map
    monkeypatch.setattr(pa, "memory_map", lambda path: maps.append(path) or real_map(path))
    mapped = [t for _, t in methylation.row_pieces(source, columns, 10_000, path=raw)]
    assert len(mapped) == len(maps) == source.metadata.num_row_groups > 1
    for a, b in zip(plain, mapped):
        pd.testing.assert_frame_equal(a.to_pandas(), b.to_pandas())

    def unmappable(path):
        raise OSError("cannot map")

    # a file replaced between two groups (a re-export renamed into place) is an error, not
    # groups of the new file decoded with the old footer
    pieces = methylation.row_pieces(source, columns, 10_000, path=raw)
    next(pieces)
    _matrix(tmp_path / "new.parquet", rng=np.random.default_rng(8))
    os.replace(tmp_path / "new.parquet", raw)
    with pytest.raises(InputTableError, match="m.parquet: the file changed while it was being read"):
        next(pieces)
    source = pq.ParquetFile(raw, pre_buffer=False)
    plain = [t for _, t in methylation.row_pieces(source, columns, 10_000)]

    monkeypatch.setattr(pa, "memory_map", unmappable)
    again = [t for _, t in methylation.row_pieces(source, columns, 10_000, path=raw)]
    for a, b in zip(plain, again):
        pd.testing.assert_frame_equal(a.to_pandas(), b.to_pandas())


def test_a_standardised_copy_opens_as_itself(tmp_path):
    copy = tmp_path / "copy.parquet"
    pd.DataFrame({"cpg": ["cg1"], "p1": [0.5], "p2": [0.25]}).to_parquet(copy)
    source = open_matrix(copy, ["ignored.parquet"])
    assert source.path == copy and source.samples == ["p1", "p2"] and not source.raw


def test_every_reader_checks_the_values_it_reads(tmp_path):
    """A value outside [0, 1] in the cohort's file (which the pre-flight check refuses) also
    stops the job that reads it: the shard's reader and the clock's."""
    raw = tmp_path / "matrix.parquet"
    ids = IDS[:3]
    table = pa.table({"cpg": ["cg1", "cg2"], ids[0]: [0.1, 1.7], ids[1]: [0.2, 0.3], ids[2]: [0.3, 0.4]})
    pq.write_table(table, raw)
    out = tmp_path / "ingested.parquet"
    ingest.reference_matrix({"path": str(raw)}, _id_map(), out)  # the header and the CpGs pass
    source = open_matrix(out, [raw])
    samples = source.samples
    with pytest.raises(InputTableError, match="outside"):
        list(read_methylation_chunks(source, samples))
    with pytest.raises(InputTableError, match="outside"):
        read_matrix_rows(source, ["cg2"])
    assert read_matrix_rows(source, ["cg1"]).shape == (1, 4)


def test_a_file_of_one_large_row_group_is_read_in_bounded_batches(tmp_path, monkeypatch):
    """pandas and R arrow write up to a million rows per row group: a shard reads its rows
    batch by batch (never the whole group at once), with the numbers of a file of small
    row groups, and the clock's reader the same rows."""
    import first1000.io.methylation as methylation

    small, large = tmp_path / "small.parquet", tmp_path / "large.parquet"
    _matrix(small, n_cpgs=900, row_group=100)
    _matrix(large, n_cpgs=900, row_group=900)
    assert pq.ParquetFile(large).metadata.num_row_groups == 1
    refs = {}
    for name, raw in (("small", small), ("large", large)):
        out = tmp_path / f"{name}_ingested.parquet"
        ingest.reference_matrix({"path": str(raw)}, _id_map(), out)
        refs[name] = open_matrix(out, [raw])
    decoded = []
    original = methylation._batches_of_group

    def spy(pf, group, first, batch_rows, columns, stop):
        for item in original(pf, group, first, batch_rows, columns, stop):
            decoded.append(item[1].num_rows)
            yield item

    monkeypatch.setattr(methylation, "_batches_of_group", spy)
    design = _design(30, np.random.default_rng(3))
    for shard in range(3):
        a = fit_shard(refs["small"], design, "exposure", shard, 3, chunk_cpgs=64)
        b = fit_shard(refs["large"], design, "exposure", shard, 3, chunk_cpgs=64)
        pd.testing.assert_frame_equal(a, b)
    assert decoded and max(decoded) <= 64  # batches of a chunk, never the 900-row group
    wanted = ["cg00000005", "cg00000450", "cg00000899"]
    monkeypatch.setattr(methylation, "_ROWS_BLOCK_VALUES", 900 * 5)  # force batches for the clock's reader
    pd.testing.assert_frame_equal(read_matrix_rows(refs["small"], wanted, block_columns=7),
                                  read_matrix_rows(refs["large"], wanted, block_columns=7))


def test_a_shard_wanting_up_to_two_chunks_of_a_large_row_group_reads_it_in_fewer_batches(tmp_path, monkeypatch):
    """Each batch of a large row group decodes every column again (Arrow's fixed cost per
    column: seconds for 44,000 samples), so a shard whose rows of the group fit in two
    chunks reads batches of that many rows: fewer batches, none larger than two chunks,
    the same fits as from a file of small row groups."""
    import first1000.io.methylation as methylation

    small, large = tmp_path / "small.parquet", tmp_path / "large.parquet"
    _matrix(small, n_cpgs=900, row_group=100)
    _matrix(large, n_cpgs=900, row_group=900)
    refs = {}
    for name, raw in (("small", small), ("large", large)):
        out = tmp_path / f"{name}_ingested.parquet"
        ingest.reference_matrix({"path": str(raw)}, _id_map(), out)
        refs[name] = open_matrix(out, [raw])
    decoded: list[tuple[int, int]] = []
    original = methylation._batches_of_group

    def spy(pf, group, first, batch_rows, columns, stop):
        for item in original(pf, group, first, batch_rows, columns, stop):
            decoded.append((batch_rows, item[1].num_rows))
            yield item

    monkeypatch.setattr(methylation, "_batches_of_group", spy)
    design = _design(30, np.random.default_rng(4))
    for shard in range(8):  # 112-113 CpGs each, chunks of 64
        decoded.clear()
        a = fit_shard(refs["small"], design, "exposure", shard, 8, chunk_cpgs=64)
        b = fit_shard(refs["large"], design, "exposure", shard, 8, chunk_cpgs=64)
        pd.testing.assert_frame_equal(a, b)
        stop = 900 * (shard + 1) // 8
        assert {size for size, _ in decoded} == {900 * (shard + 1) // 8 - 900 * shard // 8}
        assert max(rows for _, rows in decoded) <= 2 * 64
        assert len(decoded) < -(-stop // 64)  # fewer batches than chunks of 64 to the shard's end
        assert len(decoded) == -(-stop // decoded[0][0])


def test_the_source_is_found_by_its_fingerprint_from_another_folder(tmp_path, monkeypatch):
    raw = tmp_path / "data" / "matrix.parquet"
    raw.parent.mkdir()
    _matrix(raw, n_cpgs=50)
    out = tmp_path / "ingested.parquet"
    monkeypatch.chdir(tmp_path)
    ingest.reference_matrix({"path": "data/matrix.parquet"}, _id_map(), out)
    monkeypatch.chdir(raw.parent)  # the recorded relative path resolves elsewhere now
    assert open_matrix(out, [str(raw)]).path == raw
    other = tmp_path / "other.parquet"
    _matrix(other, n_cpgs=50, rng=np.random.default_rng(9))
    with pytest.raises(ModelError, match="not among this job's inputs"):
        open_matrix(out, [str(other)])


def test_an_ingest_of_the_earlier_layout_reruns():
    """The matrix's ingest job carries the layout as a param: results of the float32-copy
    layout are ingested again, not read as they are."""
    from first1000.stages.ingest import MATRIX_LAYOUT, ingest_table_params

    cfg = {"cohorts": {"c": {"_mapping": {"tables": {"participants": {}, "methylation_matrix": {"path": "m.parquet"},
                                                     "immune": {"path": "i.csv"}},
                                          "missing_codes": []}}}}
    assert ingest_table_params(cfg, "c", "methylation_matrix")["matrix_layout"] == MATRIX_LAYOUT
    assert "matrix_layout" not in ingest_table_params(cfg, "c", "immune")


def test_a_file_of_huge_row_groups_is_copied(tmp_path, monkeypatch):
    """Arrow decodes a row group's column chunks whole: a file of row groups larger than
    REFERENCE_MAX_GROUP_ROWS is copied (in row groups of MATRIX_BATCH_ROWS), not read in place."""
    small, large = tmp_path / "small.parquet", tmp_path / "large.parquet"
    _matrix(small, n_cpgs=300, row_group=100)
    _matrix(large, n_cpgs=300, row_group=300)
    monkeypatch.setattr(ingest, "REFERENCE_MAX_GROUP_ROWS", 200)
    assert ingest.references_matrix({"path": str(small)})
    assert not ingest.references_matrix({"path": str(large)})
    assert not ingest.references_matrix({"path": str(tmp_path / "m.csv")})


def test_the_check_reuses_one_buffer_without_mixing_batches(tmp_path):
    """The Parquet check fills one buffer batch after batch (#19): a copy written from the
    batches holds every batch's own values (row groups of 1 to 3 batches, the last one
    short), infinities read as missing, and an all-missing CpG after complete batches is
    still named by its row."""
    raw = tmp_path / "matrix.parquet"
    beta = _matrix(raw, n_cpgs=700, row_group=150)
    spec = {"path": str(raw)}
    copy = tmp_path / "copy.parquet"
    assert ingest.stream_matrix(spec, _id_map(), copy, batch_rows=60) == 700
    got = pd.read_parquet(copy)
    pseudo = _id_map()
    expected = np.where(np.isfinite(beta), beta, np.nan)
    expected[20, 2] = np.nan  # the null
    for j, participant in enumerate(IDS):
        np.testing.assert_array_equal(got[pseudo[participant]].to_numpy(), expected[:, j], err_msg=participant)
    assert got.cpg.tolist()[:2] == ["cg00000000", "cg00000001"]

    rng = np.random.default_rng(1)
    values = rng.beta(2, 3, (400, 5))
    values[333] = np.nan  # one CpG without any value, in the 6th batch of 60
    table = pa.table({"cpg": [f"cg{k}" for k in range(400)], **{IDS[j]: values[:, j] for j in range(5)}})
    pq.write_table(table, tmp_path / "empty.parquet", row_group_size=120)
    with pytest.raises(InputTableError, match=r"row 335\b.*CpGs without any value"):
        ingest.stream_matrix({"path": str(tmp_path / "empty.parquet")}, _id_map(), batch_rows=60)


def test_a_parquet_matrix_read_whole_keeps_every_batch(tmp_path):
    """ingest_matrix (the whole matrix in memory) copies each batch out of the check's
    re-used buffer: 20,001 CpGs (two batches of MATRIX_BATCH_ROWS) come back as written."""
    n = ingest.MATRIX_BATCH_ROWS + 1
    values = np.random.default_rng(4).random((n, 2))
    table = pa.table({"cpg": [f"cg{k:08d}" for k in range(n)], IDS[0]: values[:, 0], IDS[1]: values[:, 1]})
    pq.write_table(table, tmp_path / "m.parquet", row_group_size=n)
    got = ingest.ingest_matrix({"path": str(tmp_path / "m.parquet")}, ("", "NA"), _id_map())
    assert len(got) == n and got.cpg.iloc[-1] == f"cg{n - 1:08d}"
    np.testing.assert_array_equal(got[[_id_map()[IDS[0]], _id_map()[IDS[1]]]].to_numpy(), values)


def test_the_check_of_a_wide_matrix_takes_fewer_rows_per_batch(tmp_path, monkeypatch):
    """A batch holds at most MATRIX_BATCH_VALUES values (20,000 CpGs x 36,000 samples would
    be 5.8 GB): with a limit of 1,000 values and 40 participants, batches of 25 CpGs, and
    every value still checked (a bad one in the last batch)."""
    raw = tmp_path / "matrix.parquet"
    _matrix(raw, n_cpgs=130, row_group=130)
    monkeypatch.setattr(ingest, "MATRIX_BATCH_VALUES", 1000)
    sizes = [values.shape for _, values, _ in ingest.matrix_batches({"path": str(raw)}, ("", "NA"), _id_map())]
    assert sizes == [(25, 40)] * 5 + [(5, 40)]
    table = pq.read_table(raw)
    bad = table.column(IDS[7]).to_numpy(zero_copy_only=False).copy()
    bad[128] = 1.5
    pq.write_table(table.set_column(table.schema.get_field_index(IDS[7]), IDS[7], pa.array(bad)), raw)
    with pytest.raises(InputTableError, match=r"row 130\b.*outside \[0, 1\]"):
        ingest.stream_matrix({"path": str(raw)}, _id_map())


def test_reading_ahead_changes_no_value_and_no_message(tmp_path, monkeypatch):
    """Pieces of at most MATRIX_PREFETCH_VALUES values are read one ahead in a thread (#19):
    the copy is the same bytes as without, a bad value in a middle row group gives the same
    message, and the reader thread is gone after the error."""
    import threading

    import first1000.io.methylation as reader

    started = []
    real_prefetch = reader.prefetch
    monkeypatch.setattr(reader, "prefetch", lambda *a, **k: started.append(1) or real_prefetch(*a, **k))
    raw = tmp_path / "matrix.parquet"
    _matrix(raw, n_cpgs=700, row_group=100)
    spec = {"path": str(raw)}
    ahead, alone = tmp_path / "ahead.parquet", tmp_path / "alone.parquet"
    ingest.stream_matrix(spec, _id_map(), ahead, batch_rows=60)
    assert started == [1]
    monkeypatch.setattr(ingest, "MATRIX_PREFETCH_VALUES", 100 * 40 - 1)  # one row group of 40 samples
    ingest.stream_matrix(spec, _id_map(), alone, batch_rows=60)
    assert started == [1]  # pieces too large: read in turn
    assert ahead.read_bytes() == alone.read_bytes()

    table = pq.read_table(raw)
    bad = table.column(IDS[3]).to_numpy(zero_copy_only=False).copy()
    bad[321] = -0.5
    pq.write_table(table.set_column(table.schema.get_field_index(IDS[3]), IDS[3], pa.array(bad)), raw,
                   row_group_size=100)
    messages = []
    for limit in (0, 2**24):
        monkeypatch.setattr(ingest, "MATRIX_PREFETCH_VALUES", limit)
        with pytest.raises(InputTableError, match=r"row 323\b.*outside \[0, 1\]") as err:
            ingest.stream_matrix(spec, _id_map(), batch_rows=60)
        messages.append(str(err.value))
    assert messages[0] == messages[1] and started == [1, 1]
    assert not [t for t in threading.enumerate() if t.name == "matrix-check-reader"]


def test_one_unsigned_maximum_tells_betas_in_range():
    """The check-only path's test (#19): a float column's values read as unsigned integers are
    at most 1.0's bits exactly when every value is in [0, 1] and none is NaN; anything else
    (-0.0 included, which the exact checks accept) goes to the exact checks."""
    def batch(*columns):
        return pa.record_batch([pa.array(["cg1", "cg2"])] + list(columns), names=["cpg"] + IDS[:len(columns)])

    assert ingest._complete_betas(batch(pa.array([0.0, 1.0]), pa.array([5e-324, 0.5])))
    assert ingest._complete_betas(batch(pa.array(np.array([0.0, 1.0], np.float32))))
    for column in ([0.5, np.nextafter(1.0, 2.0)], [0.5, -1e-300], [0.5, -0.0], [0.5, np.nan], [0.5, np.inf],
                   [0.5, -np.inf], np.array([0.5, np.nextafter(np.float32(1), np.float32(2))], np.float32)):
        assert not ingest._complete_betas(batch(pa.array([0.2, 0.4]), pa.array(column))), column
    assert not ingest._complete_betas(batch(pa.array([0.5, None], pa.float64())))  # a null: exact checks
    assert not ingest._complete_betas(batch(pa.array([0, 1], pa.int64())))  # integers: exact checks
    # a slice (a batch cut from a row group) is read at its offset, not the buffer's start
    assert ingest._complete_betas(batch(pa.array([7.0, 0.25, 0.5]).slice(1)))
    assert not ingest._complete_betas(batch(pa.array([0.25, 0.5, 7.0]).slice(1)))


@pytest.mark.parametrize("problem", [None, "above", "below", "minus_zero", "nan", "inf", "null", "empty_row",
                                     "float32", "integers", "duplicate_cpg", "blank_cpg"])
def test_the_check_alone_agrees_with_the_check_that_keeps_the_values(tmp_path, monkeypatch, problem):
    """The pre-flight check (stream_matrix without an output) skips the copy of batches whose
    values are all in [0, 1]; on every kind of value and CpG identifier it must end as the
    check that keeps the values does: the same CpG count, or the same message. Batches of 20
    rows cut from row groups of 40 (the second batch of a group starts at an offset)."""
    tested = []
    real = ingest._complete_betas
    monkeypatch.setattr(ingest, "_complete_betas", lambda batch: tested.append(real(batch)) or tested[-1])
    rng = np.random.default_rng(11)
    n = 90
    beta = rng.random((n, 4))
    dtype = np.float32 if problem == "float32" else np.float64
    cells = {"above": 1.25, "below": -0.25, "minus_zero": -0.0, "nan": np.nan, "inf": np.inf}
    if problem in cells:
        beta[70, 2] = cells[problem]
    if problem == "empty_row":
        beta[44] = np.nan
    cpgs = [f"cg{k:08d}" for k in range(n)]
    if problem == "duplicate_cpg":
        cpgs[70] = cpgs[10]
    elif problem == "blank_cpg":
        cpgs[70] = "  "
    columns = {"cpg": cpgs}
    for j in range(4):
        mask = np.arange(n) == 12 if (problem == "null" and j == 1) else None
        values = (beta[:, j] > 0.5).astype(np.int64) if problem == "integers" else beta[:, j].astype(dtype)
        columns[IDS[j]] = pa.array(values, mask=mask)
    raw = tmp_path / "m.parquet"
    pq.write_table(pa.table(columns), raw, row_group_size=40)
    spec = {"path": str(raw)}
    outcomes = []
    for output in (None, tmp_path / "copy.parquet"):
        try:
            outcomes.append(ingest.stream_matrix(spec, _id_map(), output, batch_rows=20))
        except InputTableError as exc:
            outcomes.append(str(exc))
    assert outcomes[0] == outcomes[1]
    if problem in ("above", "below"):
        assert re.search(r"column D, row 72: beta values outside \[0, 1\]", outcomes[0])
    elif problem == "empty_row":
        assert "row 46: CpGs without any value" in outcomes[0]
    elif problem == "duplicate_cpg":
        assert "column 'cpg', rows 12, 72: duplicated CpG identifier" in outcomes[0]
    elif problem == "blank_cpg":
        assert "column 'cpg', row 72: empty CpG identifier" in outcomes[0]
    else:
        assert outcomes[0] == n
    # only the check without an output asks; every batch of clean values passes the fast test
    if problem in (None, "float32", "duplicate_cpg"):
        # 90 rows: batches of 20, 20 | 20, 20 | 10; a CpG repeated in another batch is found
        # once every batch is read
        assert tested == [True] * 5
    elif problem == "blank_cpg":
        assert tested == [True] * 4  # stopped in the fourth batch (rows 61-80 of the data)
    else:
        assert False in tested


def test_a_shard_parses_the_raw_files_footer_once(tmp_path, monkeypatch):
    """The footer of a wide matrix is large (20 MB at 44,000 samples, ~0.3 s to parse): the
    MatrixSource carries the one open_matrix parsed, and counting rows or reading a shard's
    rows does not parse it again (#19)."""
    import pyarrow.parquet as pq_module

    raw = tmp_path / "matrix.parquet"
    _matrix(raw)
    out = tmp_path / "results" / "methylation_matrix.parquet"
    ingest.reference_matrix({"path": str(raw)}, _id_map(), out)
    source = open_matrix(out, [str(raw)])
    assert source.metadata is not None and source.metadata.num_rows == 700
    parsed = []
    real = pq_module.ParquetFile

    def counting(path, *args, metadata=None, **kwargs):
        parsed.append(metadata is None)
        return real(path, *args, metadata=metadata, **kwargs)

    monkeypatch.setattr(pq_module, "ParquetFile", counting)
    design = _design(35, np.random.default_rng(1))
    fit = fit_shard(source, design, "exposure", 1, 3, chunk_cpgs=50)
    assert len(fit) == 233 and parsed and not any(parsed)  # every open given the parsed footer
    monkeypatch.undo()
    copy = tmp_path / "copy.parquet"
    ingest.stream_matrix({"path": str(raw)}, _id_map(), copy)
    pd.testing.assert_frame_equal(fit, fit_shard(copy, design, "exposure", 1, 3, chunk_cpgs=50))
