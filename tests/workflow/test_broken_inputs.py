"""Every rule's script, given a deliberately broken input, stops with one `first1000: error:`
message and leaves no partial output (issue #16).

On a copy of the finished demo run, one job of every rule is chosen from Snakemake's own
`--detailed-summary` (its outputs, log and input files); one input file of each chosen job
is overwritten with garbage of the same size (binary bytes with NUL and invalid UTF-8), its
modification time restored, so that the pre-flight check's cache (keyed on size and
modification time) still holds and the job itself meets the broken file, as it would if
the file changed after pre-flight or were damaged on disk. Then one Snakemake run forces
all chosen jobs (`--force` on one output of each, `--keep-going`): every one must fail with
a `first1000: error:` line in its log and on Snakemake's stderr, no traceback on stderr,
and none of its outputs left behind.
"""

from __future__ import annotations

import os
import shutil
from collections import defaultdict
from pathlib import Path

import pytest

from workflow_runs import run_snakemake

pytestmark = pytest.mark.e2e

#: Rules whose job reads its inputs as opaque bytes: any content is valid for them.
OPAQUE = {
    "provenance": "checksums its inputs (any bytes are a valid input) and records the config",
}
#: Rules Snakemake runs itself (no script).
NO_SCRIPT = {"all"}


def _garbage(size: int) -> bytes:
    pattern = b"\x00\xff\xfe garbage \x80\x81<LOD>\t;,\n"
    return (pattern * (size // len(pattern) + 1))[:max(size, len(pattern))]


def _jobs(summary: str) -> dict[str, list[dict]]:
    """rule -> its jobs, each {outputs, log, inputs}, from `snakemake --detailed-summary`."""
    lines = summary.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("output_file\t"))
    jobs: dict[tuple, dict] = {}
    for line in lines[start + 1:]:
        fields = line.split("\t")
        if len(fields) < 8:
            continue
        output, _, rule, log, inputs = fields[:5]
        job = jobs.setdefault((rule, log), {"rule": rule, "log": log, "outputs": [], "inputs": set()})
        job["outputs"].append(output)
        job["inputs"].update(i for i in inputs.split(",") if i and i != "-")
    out = defaultdict(list)
    for job in jobs.values():
        out[job["rule"]].append(job)
    return out


def _choose(jobs: dict[str, list[dict]], workdir: Path) -> list[tuple[dict, str]]:
    """One (job, input to break) per rule; no broken input is an output of a chosen job
    (a chosen job's failure must not hide another's)."""
    chosen, broken, made = [], set(), set()
    for rule in sorted(jobs, key=lambda r: (len(jobs[r]), r)):  # rules of one job first: their outputs stay
        if rule in OPAQUE or rule in NO_SCRIPT:
            continue
        pick = None
        for job in sorted(jobs[rule], key=lambda j: j["outputs"][0]):
            if set(job["outputs"]) & broken:
                continue
            files = sorted(i for i in job["inputs"] if (workdir / i).is_file() and i not in made
                           and not i.startswith(("src/", "workflow/")))
            # prefer a results table; an ingest job's input is a raw table
            files.sort(key=lambda i: (not i.startswith("results/"), i.endswith((".yaml", ".key"))))
            if files:
                pick = (job, files[0])
                break
        assert pick, f"no job of rule {rule} with a breakable input"
        chosen.append(pick)
        broken.add(pick[1])
        made.update(pick[0]["outputs"])
    return chosen


def _waves(jobs: dict[str, list[dict]], chosen) -> list[list[tuple[dict, str]]]:
    """The chosen jobs grouped by their depth in the DAG: no job of a wave is an ancestor of
    another (a forced ancestor's failure would keep its descendants from running)."""
    producer = {o: job for rule_jobs in jobs.values() for job in rule_jobs for o in job["outputs"]}
    depth: dict[int, int] = {}

    def level(job) -> int:
        if id(job) not in depth:
            depth[id(job)] = 1 + max((level(producer[i]) for i in job["inputs"] if i in producer), default=-1)
        return depth[id(job)]

    waves = defaultdict(list)
    for job, path in chosen:
        waves[level(job)].append((job, path))
    return [waves[k] for k in sorted(waves)]


def test_every_rule_stops_with_one_message_and_no_output(demo_run, tmp_path):
    pristine = tmp_path / "pristine"
    shutil.copytree(demo_run, pristine, symlinks=True)
    shutil.rmtree(pristine / "logs", ignore_errors=True)
    summary = run_snakemake(pristine, "--detailed-summary")
    assert summary.returncode == 0, summary.stderr[-3000:]
    jobs = _jobs(summary.stdout)
    chosen = _choose(jobs, pristine)
    assert {job["rule"] for job, _ in chosen} == set(jobs) - set(OPAQUE) - NO_SCRIPT
    assert len(chosen) >= 20  # every rule of the demo's DAG but provenance (the figures: one rule)
    failures, messages_on_stderr, damaged = [], 0, []
    for wave in _waves(jobs, chosen):
        workdir = tmp_path / "walk"
        shutil.rmtree(workdir, ignore_errors=True)
        shutil.copytree(pristine, workdir, symlinks=True)  # copy2: modification times kept
        for _, path in wave:
            target = workdir / path
            stat = target.stat()
            target.write_bytes(_garbage(stat.st_size))
            os.utime(target, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        targets = [job["outputs"][0] for job, _ in wave]
        run = run_snakemake(workdir, "--workflow-profile", "none", "--cores", "2", "--keep-going", "--retries", "0",
                            "--force", *targets)
        assert run.returncode != 0
        assert "Traceback" not in run.stderr, run.stderr[-3000:]
        # counted, not matched at line starts: two jobs' stderr may interleave on one line
        messages_on_stderr += run.stderr.count("first1000: error:")
        for job, path in wave:
            log = workdir / job["log"]
            text = log.read_text(encoding="utf-8", errors="replace") if log.exists() else ""
            messages = [line for line in text.splitlines() if "first1000: error:" in line]
            if messages:  # the file named is one this wave broke (a job may read two of them)
                named = any(f"{p}, an input of " in messages[0] for _, p in wave)
                damaged.append((named, job["rule"], path, messages[0][-300:]))
            left = [o for o in job["outputs"] if (workdir / o).exists()]
            if len(messages) != 1 or left:
                failures.append(f"{job['rule']} ({path} broken): {len(messages)} messages in {job['log']}, "
                                f"left {left}")
    assert not failures, "\n".join(failures)
    assert messages_on_stderr == len(chosen)
    # a damaged results file is named as such (not reported as a bug); a job whose input is a
    # user's own file (a cohort's raw table, the array annotation) says what is wrong with it
    raw = [(rule, path) for named, rule, path, _ in damaged if not named]
    assert sorted(rule for rule, _ in raw) == ["ewas_gather", "ingest_participants"], damaged
    assert all(not path.startswith("results/") for _, path in raw), raw
    gather = next(text for named, rule, _, text in damaged if rule == "ewas_gather")
    assert "methylation_annotation.tsv: not UTF-8 text" in gather, gather
