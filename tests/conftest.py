"""Shared fixtures: the repository root and a loaded demo config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(autouse=True)
def _repo_cwd(monkeypatch):
    """Config paths are relative to the repository root, as in a real run."""
    monkeypatch.chdir(ROOT)
    os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def demo_config():
    from first1000.config import load_config

    cwd = os.getcwd()
    os.chdir(ROOT)
    try:
        return load_config(ROOT / "config" / "config.yaml")
    finally:
        os.chdir(cwd)
