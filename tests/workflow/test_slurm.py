"""SLURM tier: a workflow run through snakemake-executor-plugin-slurm on a real one-node SLURM
cluster on localhost (tests/slurm/localslurm.py), byte-compared with a local run.

The run is the multi-cohort scenario (.test/config/multi-cohort.yaml: two cohorts, meta-analysis,
EWAS in shards, mediation, effect modification), not the whole demo: it runs every kind of job
(rule) the demo runs, a third as many jobs, and test_scenarios.py has already run it locally
(the session's `scenario_run`), so the comparison needs no extra local run. That every rule of the
demo went through sbatch is checked (test_every_rule_of_the_demo_ran_through_slurm), so a rule
added to the workflow but not to the scenario fails here instead of going untested on SLURM.

Needs root and the Debian packages slurm-wlm, munge and slurm-client (`make slurm-deps`);
skipped, with the reason, where the cluster cannot be installed or started, unless
FIRST1000_REQUIRE_SLURM=1 (set by .ci/run), which turns the skip into a failure.
FIRST1000_SLURM_TIMEOUT (seconds, default 1800) bounds each workflow run; on expiry the
whole process group is killed and the cluster's queue cancelled.
"""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "slurm"))
from localslurm import ClusterUnavailable, LocalSlurm  # noqa: E402

SCENARIO = "multi-cohort"
pytestmark = [pytest.mark.slurm, pytest.mark.e2e, pytest.mark.scenario(SCENARIO)]

SNAKEMAKE = [sys.executable, "-m", "snakemake"]
SOURCES = ["Snakefile", "config", "resources", "workflow", "profiles", "src", ".test"]
CONFIG = f".test/config/{SCENARIO}.yaml"
TIMEOUT = int(os.environ.get("FIRST1000_SLURM_TIMEOUT", "1800"))
# Not results of the analysis: timings, the run date, the report.
NOT_COMPARED_DIRS = {"benchmarks"}
NOT_COMPARED_NAMES = {"report.html"}


@pytest.fixture(scope="module")
def cluster():
    try:
        slurm = LocalSlurm.start()
    except ClusterUnavailable as exc:
        if os.environ.get("FIRST1000_REQUIRE_SLURM") == "1":
            pytest.fail(f"SLURM tier required (FIRST1000_REQUIRE_SLURM=1) but unavailable: {exc}")
        pytest.skip(f"SLURM tier skipped: {exc}")
    yield slurm
    slurm.stop(remove=True)


def _copy_sources(src: Path, dest: Path) -> Path:
    dest.mkdir(parents=True, exist_ok=True)
    for name in SOURCES:
        if (src / name).is_dir():
            shutil.copytree(src / name, dest / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src / name, dest / name)
    return dest


def _run(argv: list[str], cwd: Path, env: dict, log: Path, timeout: int = TIMEOUT) -> tuple[int, str]:
    """Run with a hard timeout: on expiry kill the whole process group (snakemake and its children)."""
    with open(log, "w") as out:
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
        try:
            rc = proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
            rc = None
    text = log.read_text(errors="replace")
    if rc is None:
        pytest.fail(f"`{' '.join(argv[2:])}` still running after {timeout} s (killed); last output:\n{text[-4000:]}")
    return rc, text


def _results(workdir: Path) -> dict[str, Path]:
    files = {}
    for path in (workdir / "results").rglob("*"):
        rel = path.relative_to(workdir / "results")
        if path.is_dir() or rel.parts[0] in NOT_COMPARED_DIRS or rel.name in NOT_COMPARED_NAMES:
            continue
        if rel.name.startswith(".snakemake_timestamp"):  # directory() outputs: a marker with the mtime
            continue
        files[rel.as_posix()] = path
    return files


def _planned_rules(output: str) -> set[str]:
    """The rules of the 'Job stats' table of a dry run."""
    lines = output.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("Job stats"))
    rules = set()
    for line in lines[start + 3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit():
            break
        rules.add(parts[0])
    return rules


@pytest.fixture(scope="module")
def runs(cluster, scenario_run, tmp_path_factory):
    """The same sources, scenario and pseudonym key run twice: locally (the test session's run
    of the scenario, tests/conftest.py), then through SLURM."""
    base = tmp_path_factory.mktemp("slurm-tier")
    env = dict(os.environ, MPLBACKEND="Agg")
    # The jobs start `python -m snakemake` with this interpreter (the plugin passes sys.executable
    # on a shared file system); its bin/ on PATH as well, for anything that looks there.
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"

    # Each run imports first1000 from its own copy (PYTHONPATH, inherited by the SLURM jobs through
    # sbatch's --export=ALL), not from the editable install: both run exactly the copied sources.
    local = scenario_run(SCENARIO)  # a copy of the repository's sources, run with --cores 2
    cluster_run = _copy_sources(local, base / "slurm")  # from the local copy: identical sources
    (cluster_run / ".first1000").mkdir()
    shutil.copy2(local / ".first1000/pseudonym.key", cluster_run / ".first1000/pseudonym.key")
    env = dict(env, PYTHONPATH=str(cluster_run / "src"))
    # The rules the demo (config/config.yaml) runs, from a dry run of these sources (a few seconds).
    rc, text = _run(SNAKEMAKE + ["--dry-run", "--forceall", "--quiet", "rules"], cluster_run, env,
                    base / "demo-dry-run.log", timeout=300)
    assert rc == 0, text[-4000:]
    demo_rules = _planned_rules(text) - {"all", "total"}  # `all` has no job of its own
    rc, text = _run(SNAKEMAKE + ["--workflow-profile", "profiles/slurm-local", "--configfile", CONFIG], cluster_run,
                    cluster.env(env), base / "slurm.log")
    assert rc == 0, f"{text[-6000:]}\n\ncluster logs:\n{cluster.log_tails()}"
    return local, cluster_run, text, demo_rules


def test_jobs_ran_through_slurm(runs, cluster):
    _, workdir, log, _ = runs
    run_id = re.search(r"SLURM run ID: (\S+)", log)
    assert run_id, "no `SLURM run ID` in the snakemake log: did the slurm executor run?"
    submitted = set(re.findall(r"has been submitted with SLURM jobid (\d+)", log))
    assert len(submitted) >= 10, f"only {len(submitted)} sbatch submissions"
    # The controller's record: every job of this run ended with exit status 0 ...
    finished = cluster.finished_jobs()
    assert submitted <= set(finished), f"not seen by slurmctld: {sorted(submitted - set(finished))}"
    assert not [job for job in submitted if finished[job] != 0], {job: finished[job] for job in submitted}
    # ... and those still listed by squeue (jobs leave it MinJobAge=300 s after they end; the plugin
    # names them after the run ID) are COMPLETED and belong to this run.
    queue = subprocess.run(["squeue", "--noheader", "--states=all", "--format=%i|%T", "--name", run_id.group(1)],
                           capture_output=True, text=True, timeout=30, env=cluster.env())
    assert queue.returncode == 0, queue.stderr
    states = dict(line.split("|", 1) for line in queue.stdout.split())
    assert set(states) <= submitted, sorted(set(states) - submitted)
    assert set(states.values()) <= {"COMPLETED"}, states
    # and each one left its SLURM log (slurm-keep-successful-logs in the profile).
    logs = {p.stem for p in (workdir / ".snakemake/slurm_logs").rglob("*.log")}
    assert submitted <= logs, sorted(submitted - logs)


def test_every_rule_of_the_demo_ran_through_slurm(runs):
    """Every kind of job of the demo was submitted with sbatch at least once (and ran: its SLURM
    log is there). A rule missing here: give the scenario (.test/config/multi-cohort.yaml) what
    the rule needs, so that the SLURM tier runs it."""
    _, workdir, log, demo_rules = runs
    assert {"ingest_participants", "harmonise", "prepare", "associate", "mediate", "ewas_shard", "ewas_gather",
            "ewas_meta", "mechanism_figures"} <= demo_rules, sorted(demo_rules)
    submitted = {p.name.removeprefix("rule_") for p in (workdir / ".snakemake/slurm_logs").glob("rule_*")
                 if any(p.rglob("*.log"))}
    missing = sorted(demo_rules - submitted)
    assert not missing, f"rules of the demo not run through SLURM by the {SCENARIO} scenario: {missing}"
    # Each rule's job carried the rule's resources (workflow/rules/*.smk: mem_mb, runtime) and the
    # profile's partition (default-resources), from which the plugin builds its sbatch arguments.
    for rule in sorted(demo_rules):
        job_log = next((workdir / f".snakemake/slurm_logs/rule_{rule}").rglob("*.log")).read_text(errors="replace")
        line = re.search(r"^\s*resources: (.*)$", job_log, re.MULTILINE)
        assert line, (rule, job_log[-2000:])
        resources = dict(item.split("=", 1) for item in line.group(1).split(", ") if "=" in item)
        assert resources.get("slurm_partition") == "first1000", (rule, resources)
        assert resources.get("mem_mb", "").isdigit() and resources.get("runtime", "").isdigit(), (rule, resources)


def test_results_identical_to_local_run(runs):
    local, cluster_run, _, _ = runs
    expected, got = _results(local), _results(cluster_run)
    assert len(expected) > 30
    missing = sorted(set(expected) - set(got))
    extra = sorted(set(got) - set(expected))
    differ = sorted(rel for rel in set(expected) & set(got)
                    if not filecmp.cmp(expected[rel], got[rel], shallow=False))
    problems = [f"differs: {rel}" for rel in differ] + [f"missing in the SLURM run: {rel}" for rel in missing] \
        + [f"only in the SLURM run: {rel}" for rel in extra]
    assert not problems, f"{len(problems)} of {len(expected)} result files:\n" + "\n".join(problems)
