"""The pseudonymisation key: created once, explicitly; checked on every run.

Participant IDs become keyed hashes at ingest (:func:`first1000.privacy.pseudonymise`,
HMAC-SHA256). The same ID gets the same pseudonym only with the same key, so the key is
part of the study's data:

* it is created once, by ``first1000 init-key`` or on the first run of the workflow
  (with a printed notice), as 32 random bytes (64 hexadecimal characters) in a file only
  its owner can read, never under ``results/``; no job ever creates one;
* a key file must hold at least 32 bytes of key material written as hexadecimal (an
  empty, short, whitespace-only or low-variety key would let anyone rebuild the
  pseudonyms from IDs alone);
* its *fingerprint*, an HMAC of a fixed text under the key (it does not reveal the key),
  is recorded in every ingested table (Parquet metadata); a run whose key has another
  fingerprint than the existing results, or whose key is missing while results made with
  one exist, stops before any job runs (:func:`check_results_key`), so results never mix
  pseudonyms of two keys.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from pathlib import Path

from first1000.errors import ConfigError

#: Bytes of key material (written as twice as many hexadecimal characters).
KEY_BYTES = 32
#: The Parquet metadata key under which ingested tables record the key's fingerprint.
METADATA_KEY = b"first1000.key_fingerprint"
_FINGERPRINT_TEXT = b"first1000 pseudonymisation key fingerprint, version 1"
_HEX = re.compile(r"[0-9a-fA-F]+\Z")
HOW_TO_CREATE = ("Create a key with `first1000 init-key <config>` (or `python -c \"import secrets; "
                 f"print(secrets.token_hex({KEY_BYTES}))\" > <key file>`)")


def _under_results(path: Path) -> bool:
    """As written, through a link, or through another spelling of the same folder (a
    case-insensitive file system): compared by device and inode."""
    resolved = path.resolve()
    results = (Path.cwd() / "results").resolve()
    if "results" in path.parts or resolved == results or results in resolved.parents:
        return True
    if results.is_dir():
        return any(parent.is_dir() and os.path.samefile(parent, results) for parent in resolved.parents)
    return False


def _check_location(path: Path) -> None:
    if _under_results(path):
        raise ConfigError(f"privacy.key_file `{path}` lies under results/ (as written or through a link); "
                          "keep the key outside results/, which is shared with the results.")


def read_key(path) -> bytes:
    """The key of ``privacy.key_file`` (the text's bytes), after checking it holds a key.

    Never creates one: see :func:`init_key`."""
    path = Path(path)
    _check_location(path)
    if not path.exists():
        raise ConfigError(f"privacy.key_file `{path}` does not exist. {HOW_TO_CREATE}; if results/ were made "
                          "with a key, restore that key file instead.")
    if path.is_dir():
        raise ConfigError(f"privacy.key_file `{path}` is a directory; name the key file itself.")
    if not path.is_file():  # a FIFO or device would block or never end
        raise ConfigError(f"privacy.key_file `{path}` is not a regular file (a device or pipe); name the key file.")
    try:
        text = path.read_bytes().decode("ascii").strip()
    except UnicodeDecodeError:
        raise ConfigError(f"privacy.key_file `{path}`: not a key (a key is {2 * KEY_BYTES} hexadecimal "
                          f"characters on one line). {HOW_TO_CREATE}.") from None
    except OSError as exc:
        raise ConfigError(f"privacy.key_file `{path}` cannot be read ({exc.strerror}).") from None
    if not text:
        raise ConfigError(f"privacy.key_file `{path}` is empty: with an empty key anyone could rebuild the "
                          f"pseudonyms from the IDs. {HOW_TO_CREATE}.")
    if not _HEX.match(text) or len(text) < 2 * KEY_BYTES or len(set(text.lower())) < 8:
        raise ConfigError(f"privacy.key_file `{path}`: the key must be at least {KEY_BYTES} random bytes written "
                          f"as {2 * KEY_BYTES} or more hexadecimal characters (0-9, a-f) on one line. "
                          f"{HOW_TO_CREATE}.")
    return text.encode("ascii")


def key_fingerprint(key: bytes) -> str:
    """An HMAC of a fixed text under the key: identifies the key without revealing it."""
    return hmac.new(key, _FINGERPRINT_TEXT, hashlib.sha256).hexdigest()[:16]


def init_key(path) -> str:
    """Create the key file (32 random bytes as hex, mode 0600); return its fingerprint.

    Refuses to overwrite an existing file: replacing the key changes every pseudonym."""
    path = Path(path)
    _check_location(path)
    if path.exists() or path.is_symlink():
        raise ConfigError(f"privacy.key_file `{path}` already exists; a new key would change every pseudonym. "
                          "Delete it first only if no results made with it are to be kept.")
    path.parent.mkdir(parents=True, exist_ok=True)
    text = secrets.token_hex(KEY_BYTES)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except FileExistsError:  # made meanwhile by another process
        raise ConfigError(f"privacy.key_file `{path}` was created by another run at the same time; run again "
                          "(with that key).") from None
    with os.fdopen(fd, "w", encoding="ascii") as fh:
        fh.write(text + "\n")
    return key_fingerprint(text.encode("ascii"))


def recorded_fingerprints(paths) -> dict[str, list[str]]:
    """fingerprint -> the Parquet files (of ``paths`` that exist) that record it."""
    import pyarrow.parquet as pq

    found: dict[str, list[str]] = {}
    for path in sorted(map(str, paths)):
        if not os.path.isfile(path):
            continue
        try:
            metadata = pq.read_schema(path).metadata or {}
        except Exception:  # noqa: BLE001 - an unreadable result is rebuilt by its job
            continue
        if METADATA_KEY in metadata:
            found.setdefault(metadata[METADATA_KEY].decode("ascii"), []).append(path)
    return found


def check_results_key(path, ingested, *, create: bool = True) -> str:
    """Before any job runs: the key matches the existing ingested tables (``ingested``:
    their paths), or there are none and a missing key is created (when ``create``).

    Returns the key's fingerprint; prints a notice when it creates the key."""
    import sys

    recorded = recorded_fingerprints(ingested)
    if not Path(path).exists() and not Path(path).is_symlink():
        if recorded:
            fingerprint, files = next(iter(recorded.items()))
            raise ConfigError(
                f"privacy.key_file `{path}` is missing, but {len(files)} ingested table(s) (e.g. {files[0]}) were "
                f"pseudonymised with the key of fingerprint {fingerprint}. Restore that key file from your backup, "
                "or delete results/ to rebuild every result with a new key (all pseudonyms change).")
        if not create:
            read_key(path)  # the message that says how to create one
        fingerprint = init_key(path)
        sys.stderr.write(f"first1000: created the pseudonymisation key {path} (fingerprint {fingerprint}). Keep it "
                         "and a backup outside results/: the same IDs get the same pseudonyms only with this key.\n")
        return fingerprint
    fingerprint = key_fingerprint(read_key(path))
    other = {f: files for f, files in recorded.items() if f != fingerprint}
    if other:
        old, files = next(iter(other.items()))
        raise ConfigError(
            f"privacy.key_file `{path}` has fingerprint {fingerprint}, but {len(files)} ingested table(s) (e.g. "
            f"{files[0]}) were pseudonymised with the key of fingerprint {old}: the results would mix pseudonyms. "
            "Restore the key they were made with, or delete results/ to rebuild every result with this key.")
    return fingerprint


def job_key(path, expected: str | None) -> bytes:
    """The key an ingest job pseudonymises with: the one pre-flight approved (``expected``,
    its fingerprint; None when run outside the workflow), so a key replaced while the
    workflow runs stops the job instead of mixing pseudonyms. (A cluster job re-runs the
    pre-flight on its node, which compares the key it sees with the ingested tables.)"""
    key = read_key(path)
    found = key_fingerprint(key)
    if expected and found != expected:
        raise ConfigError(f"privacy.key_file `{path}` has fingerprint {found}, but the run started with the key of "
                          f"fingerprint {expected}: it was replaced while the workflow ran. Restore the key and run the workflow again.")
    return key
