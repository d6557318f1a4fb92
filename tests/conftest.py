"""Shared fixtures: the repository root and a loaded demo config."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
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
# every end-to-end test of it (workflow, report in a browser). The .test/ scenarios are run
# once each as well (scenario_run); the SLURM tier compares with the multi-cohort one.
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
COPY = ["Snakefile", "config", "resources", "workflow", "profiles", "src"]


def workdir_copy(base: Path, source: Path = ROOT) -> Path:
    """A fresh copy of the workflow (no results, no .snakemake) under ``base``: of the
    repository, or of the sources of an earlier run's workdir (``source``), so that a run
    compared with that earlier one runs the same sources even if the repository changed since."""
    base.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        src = Path(source) / name
        if src.is_dir():
            shutil.copytree(src, base / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, base / name)
    return base


def snakemake_env(workdir: Path, base: dict | None = None) -> dict:
    """The environment of a workflow run in ``workdir``: its jobs import first1000 from the
    workdir's own copy of src/ (not from the editable install, i.e. the repository's src/,
    which may change while the session runs), so a run and any rerun or comparison run made
    from a copy of its workdir (the SLURM tier) run exactly the same sources."""
    env = dict(os.environ if base is None else base, MPLBACKEND="Agg")
    if (Path(workdir) / "src").is_dir():
        env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(workdir) / "src"), env.get("PYTHONPATH")]))
    return env


def run_snakemake(workdir: Path, *args, timeout=900, env=None):
    """Snakemake in ``workdir``; ``env``: the environment to start from (default: os.environ now)."""
    proc = subprocess.Popen(SNAKEMAKE + list(args), cwd=workdir, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=snakemake_env(workdir, env), start_new_session=True)
    _RUNNING.add(proc)
    try:
        stdout, stderr = proc.communicate(timeout=timeout)
    except BaseException:  # timeout, or the session is being stopped: the whole process group goes
        _kill(proc)
        raise
    finally:
        _RUNNING.discard(proc)
    return subprocess.CompletedProcess(proc.args, proc.returncode, stdout, stderr)


_RUNNING: set[subprocess.Popen] = set()


def _kill(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait()


# ---------------------------------------------------------------------------------------------
# The workflow runs the end-to-end tests share: the demo (and its report) and the .test/
# scenarios, each run once per session. The unit tests run first (pytest_collection_modifyitems)
# in one process and leave the second core idle; the runs the collected tests will need are
# started meanwhile, one after the other, in a background thread (_prefetch_workflow_runs). A
# fixture that needs a run waits for it, or runs it itself if it has not started yet. The runs
# and their checks are the same as without prefetching; FIRST1000_TEST_PREFETCH=0 turns it off.


class _SharedRuns:
    def __init__(self):
        self.lock = threading.Lock()
        self.jobs: dict[str, dict] = {}
        self.queue: list[str] = []
        self.thread: threading.Thread | None = None
        self.stopping = False

    def add(self, name: str, fn) -> None:
        """Register a run (not started): ``fn()`` does it and returns its result."""
        with self.lock:
            if name not in self.jobs:
                self.jobs[name] = {"fn": fn, "state": "queued", "done": threading.Event()}
                self.queue.append(name)

    def _claim(self, name: str) -> bool:
        with self.lock:
            job = self.jobs[name]
            if job["state"] != "queued" or self.stopping:
                return False
            job["state"] = "running"
            return True

    def _do(self, name: str) -> None:
        job = self.jobs[name]
        try:
            job["result"] = job["fn"]()
        except BaseException as exc:  # re-raised in the fixture that needs the run
            job["error"] = exc
        finally:
            job["state"] = "done"
            job["done"].set()

    def get(self, name: str, fn):
        """The result of run ``name``: prefetched, being prefetched (wait), or run here now."""
        self.add(name, fn)
        if self._claim(name):
            self._do(name)
        job = self.jobs[name]
        job["done"].wait()
        if "error" in job:
            raise job["error"]
        return job["result"]

    def start(self) -> None:
        def work():
            for name in list(self.queue):
                if self.stopping:
                    return
                if self._claim(name):
                    self._do(name)

        self.thread = threading.Thread(target=work, name="first1000-prefetch", daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.stopping = True
        for proc in list(_RUNNING):
            _kill(proc)
        if self.thread is not None:
            self.thread.join(timeout=60)


_SHARED = _SharedRuns()


def _demo(workdir: Path, env=None):
    run = run_snakemake(workdir, "--cores", "2", env=env)
    report = run_snakemake(workdir, "--report", "results/report.html", env=env) if run.returncode == 0 else None
    return workdir, run, report


def _scenario_workdir(base: Path) -> Path:
    workdir = workdir_copy(base)
    shutil.copytree(ROOT / ".test", workdir / ".test")
    return workdir


def _scenario(workdir: Path, name: str, extra=(), env=None):
    result = run_snakemake(workdir, "--cores", "2", "--configfile", f".test/config/{name}.yaml", *extra, env=env)
    return workdir, result


@pytest.fixture(scope="session", autouse=True)
def _prefetch_workflow_runs(request, tmp_path_factory):
    """Start, in the background, the runs that the collected tests need, in the order they need them."""
    if os.environ.get("FIRST1000_TEST_PREFETCH", "1") != "0":
        env = dict(os.environ)  # as at the start: not what a test's monkeypatch sets meanwhile
        items = request.session.items
        if any("demo_run" in getattr(item, "fixturenames", ()) for item in items):  # the biggest, needed first
            workdir = workdir_copy(tmp_path_factory.mktemp("demo"))
            _SHARED.add("demo", lambda workdir=workdir: _demo(workdir, env))
        scenarios = [name for item in items for mark in item.iter_markers("scenario") for name in mark.args]
        for name in dict.fromkeys(scenarios):
            workdir = _scenario_workdir(tmp_path_factory.mktemp(f"scenario-{name}"))
            _SHARED.add(f"scenario:{name}", lambda workdir=workdir, name=name: _scenario(workdir, name, env=env))
        if _SHARED.queue:
            _SHARED.start()
    yield
    _SHARED.stop()


@pytest.fixture(scope="session")
def demo_run(tmp_path_factory):
    """The demo workflow and its report, run once; returns the working directory."""
    workdir, run, report = _SHARED.get("demo", lambda: _demo(workdir_copy(tmp_path_factory.mktemp("demo"))))
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
    (tests/test_scenarios.py, and the SLURM tier as its local reference run). Mark a test
    that uses it with ``@pytest.mark.scenario(name)`` to have the run started early."""

    def run(name: str, *extra: str) -> Path:
        workdir, result = _SHARED.get(
            f"scenario:{name}", lambda: _scenario(_scenario_workdir(tmp_path_factory.mktemp(f"scenario-{name}")), name,
                                                  extra))
        assert result.returncode == 0, result.stderr[-4000:]
        return workdir

    return run
