"""Reading input tables and writing outputs atomically.

Every output is written to a temporary file in the destination folder and then
``os.replace``d into place, so an interrupted job never leaves a half-written file
under its final name.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from first1000.errors import InputTableError

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


def write_tsv(df: pd.DataFrame, path, float_format: str = "%.10g") -> None:
    """Write a results table as TSV, deterministically (fixed float format, no index)."""
    with atomic_path(path) as tmp:
        df.to_csv(tmp, sep="\t", index=False, float_format=float_format, lineterminator="\n")


def write_parquet(df: pd.DataFrame, path) -> None:
    """Write a Parquet file without the pandas index, deterministically."""
    with atomic_path(path) as tmp:
        df.reset_index(drop=True).to_parquet(tmp, index=False, compression="zstd")


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


def read_table(path, *, delimiter=None, decimal=".", sheet=None, encoding="utf-8") -> pd.DataFrame:
    """Read a table as strings (CSV/TSV/XLSX) or typed (Parquet), never guessing types.

    Text formats are read with every column as text so that the schema check, not the
    reader, decides what a value means (a stray "<LOD" or "n.a." is reported, not
    silently turned into NaN).
    """
    path = Path(path)
    if not path.exists():
        raise InputTableError(f"{path}: file not found. Check the path in the config.")
    fmt = table_format(path)
    if path.stat().st_size == 0:
        raise InputTableError(f"{path}: the file is empty. Export the table again with its header row.")
    try:
        if fmt in ("csv", "tsv"):
            sep = delimiter or ("," if fmt == "csv" else "\t")
            df = pd.read_csv(
                path, sep=sep, dtype=str, keep_default_na=False, encoding=encoding, decimal=decimal
            )
        elif fmt == "xlsx":
            df = pd.read_excel(path, sheet_name=sheet or 0, dtype=str, keep_default_na=False)
        else:
            df = pd.read_parquet(path)
    except UnicodeDecodeError as exc:
        raise InputTableError(
            f"{path}: cannot be decoded as {encoding} ({exc.reason} at byte {exc.start}). "
            "Save the file as UTF-8 or declare its encoding in the config."
        ) from None
    except (ValueError, OSError, pd.errors.ParserError) as exc:
        raise InputTableError(f"{path}: cannot be read as {fmt}: {exc}") from None
    df.columns = [str(c).strip() for c in df.columns]
    return df


def to_jsonable(obj):
    """Convert numpy scalars in nested structures to plain Python for YAML/JSON."""
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, np.generic):
        return obj.item()
    return obj
