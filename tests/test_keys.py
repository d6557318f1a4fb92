"""The pseudonymisation key: created once and explicitly, checked, and recorded (as a
fingerprint) in every ingested table, so that results never mix pseudonyms of two keys."""

from __future__ import annotations

import hashlib
import hmac
import os
import stat

import pandas as pd
import pyarrow.parquet as pq
import pytest

from first1000 import keys
from first1000.cli import main
from first1000.errors import ConfigError
from first1000.io import write_parquet
from first1000.preflight import preflight
from workflow_runs import workdir_copy

GOOD = "3f1c9a7be2d84c6f0a5e9b1d7c3f2e8a6b4d0c9e1f7a3b5d8c2e6f0a4b9d1c7e"
OTHER = "a9e1f7c3b5d8026e4a1c9f3b7d5e2c8a0f6b4d9e1c3a7f5b2d8e0c6a4f9b1d3e"


def test_init_key_writes_32_random_bytes_readable_by_its_owner_only(tmp_path):
    path = tmp_path / "secret" / "pseudonym.key"
    fingerprint = keys.init_key(path)
    text = path.read_text(encoding="ascii")
    assert text.endswith("\n") and len(text.strip()) == 64 and int(text, 16) >= 0
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert keys.read_key(path) == text.strip().encode()
    assert fingerprint == keys.key_fingerprint(text.strip().encode())
    assert keys.init_key(tmp_path / "second.key") != fingerprint  # random
    with pytest.raises(ConfigError, match=r"already exists; a new key would change every pseudonym"):
        keys.init_key(path)
    assert path.read_text(encoding="ascii") == text


def test_fingerprint_is_an_hmac_of_a_fixed_text_not_the_key():
    expected = hmac.new(GOOD.encode(), b"first1000 pseudonymisation key fingerprint, version 1",
                        hashlib.sha256).hexdigest()[:16]
    assert keys.key_fingerprint(GOOD.encode()) == expected
    assert keys.key_fingerprint(OTHER.encode()) != expected
    assert expected not in GOOD


@pytest.mark.parametrize("content, message", [
    (b"", "is empty: with an empty key anyone could rebuild the pseudonyms"),
    (b"   \n\t\n", "is empty"),
    (b"0123456789abcdef\n", "at least 32 random bytes written as 64 or more hexadecimal characters"),
    (b"correct horse battery staple correct horse battery staple 12345\n", "64 or more hexadecimal"),
    (b"0" * 64 + b"\n", "at least 32 random bytes"),  # 64 hex characters, but no key
    (b"\xff\xfe" + GOOD.encode("utf-16-le"), "not a key (a key is 64 hexadecimal characters on one line)"),
    (GOOD.encode()[:32] + b"\n" + GOOD.encode()[32:], "on one line"),
])
def test_a_key_file_without_a_key_is_refused(tmp_path, content, message):
    path = tmp_path / "key"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match="privacy.key_file") as err:
        keys.read_key(path)
    assert message in str(err.value)
    assert "first1000 init-key" in str(err.value)
    assert GOOD not in str(err.value) and "\n" not in str(err.value)


def test_a_key_with_surrounding_whitespace_is_the_same_key(tmp_path):
    (tmp_path / "a").write_text(GOOD)
    (tmp_path / "b").write_text(f"  {GOOD}\r\n")
    assert keys.read_key(tmp_path / "a") == keys.read_key(tmp_path / "b") == GOOD.encode()


def test_a_missing_key_or_a_directory_is_refused_and_never_created_by_reading(tmp_path):
    with pytest.raises(ConfigError, match=r"`.*nokey` does not exist\. Create a key with `first1000 init-key"):
        keys.read_key(tmp_path / "nokey")
    assert not (tmp_path / "nokey").exists()
    (tmp_path / "dir").mkdir()
    with pytest.raises(ConfigError, match="is a directory; name the key file itself"):
        keys.read_key(tmp_path / "dir")


def test_the_key_never_lies_under_results(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "results").mkdir()
    with pytest.raises(ConfigError, match="lies under results/"):
        keys.init_key("results/key")
    (tmp_path / "results" / "key").write_text(GOOD)
    with pytest.raises(ConfigError, match="lies under results/"):
        keys.read_key(tmp_path / "results" / "key")
    (tmp_path / "secrets").symlink_to(tmp_path / "results")  # a link into results/
    with pytest.raises(ConfigError, match=r"lies under results/ \(as written or through a link\)"):
        keys.read_key("secrets/key")
    with pytest.raises(ConfigError, match="lies under results/"):
        keys.init_key("secrets/new.key")
    assert not (tmp_path / "results" / "new.key").exists()


def _ingested(path, key: str):
    write_parquet(pd.DataFrame({"pseudo_id": ["Pa", "Pb"], "x": [1.0, 2.0]}), path,
                  metadata={keys.METADATA_KEY: keys.key_fingerprint(key.encode()).encode()})


def test_results_made_with_a_key_need_that_key(tmp_path, capsys):
    key, table = tmp_path / "key", tmp_path / "results/ingest/a/participants.parquet"
    # the first run: no key, no results -> the key is created, with a notice
    fingerprint = keys.check_results_key(key, [table])
    assert f"created the pseudonymisation key {key} (fingerprint {fingerprint})" in capsys.readouterr().err
    secret = key.read_text().strip()
    _ingested(table, secret)
    assert pq.read_schema(table).metadata[keys.METADATA_KEY].decode() == fingerprint
    assert keys.check_results_key(key, [table]) == fingerprint
    # deleted: not silently replaced
    key.unlink()
    with pytest.raises(ConfigError, match=rf"is missing, but 1 ingested table\(s\) \(e\.g\. {table}\) were "
                                          rf"pseudonymised with the key of fingerprint {fingerprint}\. Restore"):
        keys.check_results_key(key, [table])
    assert not key.exists()
    # emptied
    key.write_text("")
    with pytest.raises(ConfigError, match="is empty"):
        keys.check_results_key(key, [table])
    # another key
    key.write_text(OTHER + "\n")
    with pytest.raises(ConfigError, match=rf"has fingerprint {keys.key_fingerprint(OTHER.encode())}, but 1 ingested "
                                          rf"table\(s\) .* fingerprint {fingerprint}: the results would mix"):
        keys.check_results_key(key, [table])
    key.write_text(secret + "\n")  # restored
    assert keys.check_results_key(key, [table]) == fingerprint


def test_a_job_never_creates_the_key(tmp_path):
    with pytest.raises(ConfigError, match="does not exist"):
        keys.check_results_key(tmp_path / "key", [], create=False)
    assert not (tmp_path / "key").exists()


def test_init_key_command_creates_the_configs_key(tmp_path, monkeypatch, capsys):
    workdir = workdir_copy(tmp_path / "w")
    monkeypatch.chdir(workdir)
    key = workdir / ".first1000" / "pseudonym.key"
    if key.exists():
        key.unlink()
    assert main(["init-key", "config/config.yaml"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("first1000: created the pseudonymisation key .first1000/pseudonym.key (fingerprint ")
    assert key.read_text().strip() not in out
    assert main(["init-key"]) == 1
    assert "already exists" in capsys.readouterr().err


def test_preflight_stops_a_rerun_whose_key_was_deleted_or_replaced(tmp_path, monkeypatch, capsys):
    """The issue's scenario: results exist, the key is deleted (or emptied, or replaced),
    the workflow is run again: pre-flight stops before any job, and makes no new key."""
    workdir = workdir_copy(tmp_path / "w")
    monkeypatch.chdir(workdir)
    key = workdir / ".first1000" / "pseudonym.key"
    if key.exists():
        key.unlink()
    cfg = preflight("config/config.yaml")
    assert "created the pseudonymisation key" in capsys.readouterr().err
    secret = key.read_text().strip()
    _ingested(workdir / "results/ingest/ghent/participants.parquet", secret)
    key.unlink()
    with pytest.raises(ConfigError, match="is missing, but 1 ingested table"):
        preflight("config/config.yaml")
    assert not key.exists()
    key.write_text("\n")
    with pytest.raises(ConfigError, match="is empty"):
        preflight("config/config.yaml")
    key.unlink()
    keys.init_key(key)
    with pytest.raises(ConfigError, match="the results would mix pseudonyms"):
        preflight("config/config.yaml")
    key.write_text(secret)
    assert preflight("config/config.yaml")["privacy"] == cfg["privacy"]


def test_an_ingest_job_refuses_a_key_replaced_after_pre_flight(tmp_path):
    key = tmp_path / "key"
    key.write_text(GOOD)
    approved = keys.key_fingerprint(GOOD.encode())
    assert keys.job_key(key, approved) == GOOD.encode()
    assert keys.job_key(key, None) == GOOD.encode()  # outside the workflow
    key.write_text(OTHER)
    with pytest.raises(ConfigError, match=rf"has fingerprint {keys.key_fingerprint(OTHER.encode())}, but the run "
                                          rf"started with the key of fingerprint {approved}: it was replaced"):
        keys.job_key(key, approved)
