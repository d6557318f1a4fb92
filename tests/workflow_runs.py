"""The workflow runs the end-to-end tests share, and how tests start Snakemake.

Imported by conftest.py (fixtures) and by the tests (``from workflow_runs import ...``;
``tests/`` is on pytest's ``pythonpath``), so that there is one registry of runs.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


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


SHARED = _SharedRuns()


def demo(workdir: Path, env=None):
    run = run_snakemake(workdir, "--cores", "2", env=env)
    report = run_snakemake(workdir, "--report", "results/report.html", env=env) if run.returncode == 0 else None
    return workdir, run, report


def scenario_workdir(base: Path) -> Path:
    workdir = workdir_copy(base)
    shutil.copytree(ROOT / ".test", workdir / ".test")
    return workdir


def scenario(workdir: Path, name: str, extra=(), env=None):
    result = run_snakemake(workdir, "--cores", "2", "--configfile", f".test/config/{name}.yaml", *extra, env=env)
    return workdir, result


# ---------------------------------------------------------------------------------------------
# The rerun tests (tests/workflow/test_reruns.py): each edit of tests/config_edits.py made on a
# finished run of the scenario, rerun incrementally, and compared with a run from scratch of
# the edited config. The from-scratch runs go through tests/workflow/inprocess.py (every job
# of Snakemake's DAG in one process), and so do the incremental reruns of all but the edits in
# config_edits.REAL_RERUNS: Snakemake decides what reruns (its dry run's plan, from the
# finished run's metadata), the jobs run in one process. That an in-process run equals a real
# one is checked on the baseline; the REAL_RERUNS edits rerun through the snakemake command.
INPROCESS = Path(__file__).resolve().parent / "workflow" / "inprocess.py"
NOT_COMPARED = ("report.html",)


def result_files(workdir: Path) -> dict[str, bytes]:
    results = Path(workdir) / "results"
    # .snakemake_timestamp: the empty marker Snakemake keeps in a directory() output (its mtime)
    return {str(p.relative_to(results)): p.read_bytes() for p in sorted(results.rglob("*"))
            if p.is_file() and p.name not in NOT_COMPARED and not p.name.startswith(".snakemake_timestamp")}


def differences(expected: Path, got: Path) -> list[str]:
    a, b = result_files(expected), result_files(got)
    return sorted({name for name in a.keys() | b.keys() if a.get(name) != b.get(name)})


def executed_rules(output: str) -> list[str]:
    import re

    return re.findall(r"^(?:local)?rule (\w+):$", output, flags=re.M)


class _Worker:
    """A tests/workflow/inprocess.py --serve process: in-process runs, one after the other."""

    def __init__(self, src_dir: Path, env=None):
        self.proc = subprocess.Popen([sys.executable, str(INPROCESS), "--serve"], stdin=subprocess.PIPE,
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                     env=snakemake_env(src_dir, env), start_new_session=True)
        _RUNNING.add(self.proc)

    def start(self, workdir: Path, configfile: str, mode: str) -> None:
        self.proc.stdin.write(f"{workdir}\t{configfile}\t{mode}\n")
        self.proc.stdin.flush()

    def result(self) -> tuple[int, str]:
        """The return code and the output of the task started last."""
        lines = []
        for line in self.proc.stdout:
            if line.startswith("inprocess-done:"):
                return int(line.split()[1]), "".join(lines)
            lines.append(line)
        return 1, "".join(lines) + "\n(the in-process worker exited)"

    def close(self) -> None:
        self.proc.stdin.close()
        self.proc.wait(timeout=60)
        _RUNNING.discard(self.proc)


def _scratch_copy(base: Path, key: Path) -> Path:
    """A fresh copy of the sources (no results) with the baseline's pseudonym key and its
    pre-flight cache (the input checks are skipped while the files they read are unchanged)."""
    workdir = scenario_workdir(base)
    (workdir / ".first1000").mkdir(exist_ok=True)
    shutil.copy2(key, workdir / ".first1000" / key.name)
    cache = key.parents[1] / ".snakemake" / "first1000-preflight.json"
    (workdir / ".snakemake").mkdir(exist_ok=True)
    shutil.copy2(cache, workdir / ".snakemake" / cache.name)
    return workdir


def reruns(base: Path, env=None) -> dict:
    """The baseline run, its in-process reference, the no-op edit and every edit of
    config_edits.EDITS; returns what the tests assert on."""
    from config_edits import EDITS, REAL_RERUNS, RERUNS_CONFIG

    base = Path(base)
    baseline = scenario_workdir(base / "baseline")
    first = run_snakemake(baseline, "--cores", "2", "--configfile", RERUNS_CONFIG, env=env)
    out = {"baseline": first, "edits": {}}
    if first.returncode:
        return out
    key = baseline / ".first1000" / "pseudonym.key"
    # Two in-process workers, importing first1000 from the baseline's sources (which stay put).
    scratch_lane, rerun_lane = _Worker(baseline, env), _Worker(baseline, env)
    reference = _scratch_copy(base / "reference", key)
    scratch_lane.start(reference, RERUNS_CONFIG, "scratch")
    code, log = scratch_lane.result()
    out["reference"] = {"returncode": code, "log": log,
                        "differences": differences(baseline, reference) if code == 0 else None}
    shutil.rmtree(reference)
    # An edit of comments and key order only.
    noop = base / "noop"
    shutil.copytree(baseline, noop, symlinks=True)
    config = noop / RERUNS_CONFIG
    lines = config.read_text(encoding="utf-8").splitlines(keepends=True)
    first_key = next(i for i, line in enumerate(lines) if line.startswith("seed:"))
    fdr = next(i for i, line in enumerate(lines) if line.startswith("fdr:"))
    lines[first_key], lines[fdr] = lines[fdr], lines[first_key]  # top-level keys swapped
    text = "".join(lines).replace("  n_boot: 100\n  ci_method: percentile\n",
                                  "  # resamples per path and cohort\n  ci_method: percentile\n  n_boot: 100\n")
    config.write_text(text + "# the end\n", encoding="utf-8")
    out["noop"] = run_snakemake(noop, "--dry-run", "--configfile", RERUNS_CONFIG, env=env)
    shutil.rmtree(noop)
    for edit in EDITS:
        incremental = base / "incremental"
        shutil.copytree(baseline, incremental, symlinks=True)
        edit.apply(incremental)
        scratch = _scratch_copy(base / "scratch", key)
        edit.apply(scratch)
        scratch_lane.start(scratch, RERUNS_CONFIG, "scratch")  # on the other core meanwhile
        if edit.name in REAL_RERUNS:
            rerun = run_snakemake(incremental, "--cores", "2", "--configfile", RERUNS_CONFIG, env=env)
        else:
            rerun_lane.start(incremental, RERUNS_CONFIG, "incremental")
            code, log = rerun_lane.result()
            rerun = subprocess.CompletedProcess(["inprocess", "--incremental"], code, log, "")
        scratch_code, scratch_log = scratch_lane.result()
        ok = rerun.returncode == 0 and scratch_code == 0
        out["edits"][edit.name] = {
            "rerun": rerun, "scratch_log": scratch_log, "scratch_returncode": scratch_code,
            "rules": executed_rules(rerun.stdout + rerun.stderr),
            "differences": differences(scratch, incremental) if ok else None,
        }
        shutil.rmtree(incremental)
        shutil.rmtree(scratch)
    scratch_lane.close()
    rerun_lane.close()
    return out


#: The demo's config files: the config, the mappings, the data schema and the category maps.
DEMO_CONFIG_FILES = ("config/config.yaml", "config/cohorts/ghent.yaml", "config/cohorts/rotterdam.yaml",
                     "resources/harmonised_variables.yaml", "resources/education/flanders.yaml",
                     "resources/education/netherlands_cbs.yaml")


def demo_config_copy(base: Path) -> Path:
    """A copy of the demo's config files under ``base``, the demo tables linked (for tests
    that edit a config or a mapping without running the workflow)."""
    for rel in DEMO_CONFIG_FILES:
        (base / rel).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(ROOT / rel, base / rel)
    os.symlink(ROOT / "resources/demo", base / "resources/demo")
    return base
