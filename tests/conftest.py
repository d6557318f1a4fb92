"""Shared fixtures: the repository root and a loaded demo config."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from workflow_runs import ROOT, SHARED, demo, reruns, scenario, scenario_workdir, workdir_copy


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


@pytest.fixture(scope="session", autouse=True)
def _prefetch_workflow_runs(request, tmp_path_factory):
    """Start, in the background, the runs that the collected tests need, in the order they need them."""
    if os.environ.get("FIRST1000_TEST_PREFETCH", "1") != "0":
        env = dict(os.environ)  # as at the start: not what a test's monkeypatch sets meanwhile
        items = request.session.items
        if any("demo_run" in getattr(item, "fixturenames", ()) for item in items):  # the biggest, needed first
            workdir = workdir_copy(tmp_path_factory.mktemp("demo"))
            SHARED.add("demo", lambda workdir=workdir: demo(workdir, env))
        if any("rerun_results" in getattr(item, "fixturenames", ()) for item in items):
            base = tmp_path_factory.mktemp("reruns")
            SHARED.add("reruns", lambda base=base: reruns(base, env))
        scenarios = [name for item in items for mark in item.iter_markers("scenario") for name in mark.args]
        for name in dict.fromkeys(scenarios):
            workdir = scenario_workdir(tmp_path_factory.mktemp(f"scenario-{name}"))
            SHARED.add(f"scenario:{name}", lambda workdir=workdir, name=name: scenario(workdir, name, env=env))
        if SHARED.queue:
            SHARED.start()
    yield
    SHARED.stop()


@pytest.fixture(scope="session")
def rerun_results(tmp_path_factory):
    """The rerun tests' runs (workflow_runs.reruns), made once per session."""
    return SHARED.get("reruns", lambda: reruns(tmp_path_factory.mktemp("reruns")))


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """The demo workflow and its report, run once; returns the working directory."""
    workdir, run, report = SHARED.get("demo", lambda: demo(workdir_copy(tmp_path_factory.mktemp("demo"))))
    assert run.returncode == 0, run.stderr[-4000:]
    assert report.returncode == 0, report.stderr[-4000:]
    return workdir


def pytest_configure(config):
    config.addinivalue_line("markers", "scenario(name, ...): uses the session's run of .test/config/{name}.yaml "
                                       "(the scenario_run fixture), started early in the background")


def pytest_collection_modifyitems(items):
    """Unit tests first, then the end-to-end tests (their workflow runs are started in the
    background meanwhile), the SLURM tier last (it reuses the session's multi-cohort run)."""
    items.sort(key=lambda item: (item.get_closest_marker("slurm") is not None,
                                 item.get_closest_marker("e2e") is not None))


@pytest.fixture(scope="session")
def scenario_run(tmp_path_factory):
    """Run a .test/ scenario once per session (--cores 2); returns its working directory
    (tests/workflow/test_scenarios.py, and the SLURM tier as its local reference run). Mark a test
    that uses it with ``@pytest.mark.scenario(name)`` to have the run started early."""

    def run(name: str, *extra: str) -> Path:
        workdir, result = SHARED.get(
            f"scenario:{name}", lambda: scenario(scenario_workdir(tmp_path_factory.mktemp(f"scenario-{name}")), name,
                                                  extra))
        assert result.returncode == 0, result.stderr[-4000:]
        return workdir

    return run
