"""Shared fixtures: the repository root and a loaded demo config."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
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


# The demo workflow, run once per test session in a copy of the repository and shared by
# every end-to-end test (workflow, report in a browser, cluster comparison).
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
COPY = ["Snakefile", "config", "resources", "workflow", "profiles", "src"]


def workdir_copy(base: Path) -> Path:
    """A fresh copy of the workflow (no results, no .snakemake) under ``base``."""
    base.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, base / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, base / name)
    return base


def run_snakemake(workdir: Path, *args, timeout=900):
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run(SNAKEMAKE + list(args), cwd=workdir, capture_output=True, text=True, timeout=timeout,
                          env=env)


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """The demo workflow and its report, run once; returns the working directory."""
    workdir = workdir_copy(tmp_path_factory.mktemp("demo"))
    run = run_snakemake(workdir, "--cores", "2")
    assert run.returncode == 0, run.stderr[-4000:]
    report = run_snakemake(workdir, "--report", "results/report.html")
    assert report.returncode == 0, report.stderr[-4000:]
    return workdir


def pytest_collection_modifyitems(items):
    """The SLURM tier last (it reuses the session's demo run and takes longest)."""
    items.sort(key=lambda item: item.get_closest_marker("slurm") is not None)


_SCENARIOS: dict[str, Path] = {}


@pytest.fixture(scope="session")
def scenario_run(tmp_path_factory):
    """Run a .test/ scenario once per session (--cores 2); returns its working directory."""

    def run(name: str, *extra: str) -> Path:
        if name not in _SCENARIOS:
            workdir = workdir_copy(tmp_path_factory.mktemp(f"scenario-{name}"))
            shutil.copytree(ROOT / ".test", workdir / ".test")
            result = run_snakemake(workdir, "--cores", "2", "--configfile", f".test/config/{name}.yaml", *extra)
            assert result.returncode == 0, result.stderr[-4000:]
            _SCENARIOS[name] = workdir
        return _SCENARIOS[name]

    return run
