"""first1000.io.write_parquet: the values, the metadata and the column encodings."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow.parquet as pq

from first1000.io import write_parquet


def _frame(n: int = 500) -> pd.DataFrame:
    rng = np.random.default_rng(5)
    return pd.DataFrame({
        "cpg": [f"cg{k:08d}" for k in range(n)],
        "term": pd.Categorical(["epds"] * n),
        "n": np.full(n, 480),
        "coef": rng.standard_normal(n),
        "p": rng.random(n).astype(np.float32),
        "significant": rng.random(n) < 0.1,
        "gene": [None if k % 3 else "NR3C1" for k in range(n)],
    }, index=np.arange(n) + 7)


def test_values_read_back_and_floats_are_written_without_a_dictionary(tmp_path):
    frame = _frame()
    path = tmp_path / "t.parquet"
    write_parquet(frame, path)
    pd.testing.assert_frame_equal(pd.read_parquet(path), frame.reset_index(drop=True))
    meta = pq.ParquetFile(path).metadata
    encodings = {meta.schema.column(i).name: meta.row_group(0).column(i).encodings for i in range(meta.num_columns)}
    for name in ("coef", "p"):
        assert not any("DICTIONARY" in e for e in encodings[name]), (name, encodings[name])
    for name in ("cpg", "term", "n", "gene"):
        assert any("DICTIONARY" in e for e in encodings[name]), (name, encodings[name])
    assert meta.row_group(0).column(0).compression == "ZSTD"


def test_metadata_is_added_and_bytes_repeat(tmp_path):
    frame = _frame()
    write_parquet(frame, tmp_path / "a.parquet", metadata={b"first1000.key": b"abc"})
    write_parquet(frame, tmp_path / "b.parquet", metadata={b"first1000.key": b"abc"})
    schema = pq.read_schema(tmp_path / "a.parquet")
    assert schema.metadata[b"first1000.key"] == b"abc" and b"pandas" in schema.metadata
    assert (tmp_path / "a.parquet").read_bytes() == (tmp_path / "b.parquet").read_bytes()
    empty = frame.iloc[:0]
    write_parquet(empty, tmp_path / "e.parquet")
    assert list(pd.read_parquet(tmp_path / "e.parquet").columns) == list(frame.columns)
