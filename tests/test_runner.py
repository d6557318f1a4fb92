"""`first1000 run`: one line per stage, first1000's messages, one line per failed job with
its log, and a closing line, out of Snakemake's ~12 lines per job."""

from __future__ import annotations

import io
import sys

import pytest

from first1000.runner import Progress, run, snakemake_command

SNAKEMAKE_OUTPUT = """\
Using workflow specific profile profiles/default for setting default command line arguments.
first1000: warning: cohort trial: its SES index is formed from one discrete indicator (education_isced).
Building DAG of jobs...
Job stats:
job          count
---------  -------
associate        2
harmonise        1
total            3

Select jobs to execute...
Execute 1 jobs...

[Wed Dec  2 20:09:28 2026]
localrule harmonise:
    input: results/ingest/trial/participants.parquet
    output: results/harmonised/participants.parquet
    log: logs/harmonise/harmonise.log
    jobid: 3
    reason: Missing output files: results/harmonised/participants.parquet
    resources: tmpdir=/tmp
Shell command: None
[Wed Dec  2 20:09:30 2026]
Finished jobid: 3 (Rule: harmonise)
1 of 3 steps (33%) done
Select jobs to execute...

[Wed Dec  2 20:09:31 2026]
localrule associate:
    input: results/harmonised/participants.parquet, results/prepared/immune.parquet
    output: results/associations/immune.tsv
    log: logs/associate/immune.log
    jobid: 1
    wildcards: mechanism=immune
Shell command: None
[Wed Dec  2 20:09:31 2026]
localrule associate:
    input: results/harmonised/participants.parquet, results/prepared/hpa.parquet
    output: results/associations/hpa.tsv
    log: logs/associate/hpa.log
    jobid: 2
    wildcards: mechanism=hpa
first1000: error: results/prepared/hpa.parquet, an input of stage associate (mechanism hpa), cannot be read.
RuleException:
CalledProcessError in file "workflow/rules/analyse.smk", line 30:
[Wed Dec  2 20:09:33 2026]
Error in rule associate:
    message: None
    jobid: 2
    input: results/harmonised/participants.parquet, results/prepared/hpa.parquet
    output: results/associations/hpa.tsv
    log: logs/associate/hpa.log (check log file(s) for error details)
[Wed Dec  2 20:09:34 2026]
Finished jobid: 1 (Rule: associate)
2 of 3 steps (67%) done
Exiting because a job execution failed. Look above for error messages
"""


def _shown(returncode: int) -> list[str]:
    out = io.StringIO()
    progress = Progress(out, live=False)
    for line in SNAKEMAKE_OUTPUT.splitlines(keepends=True):
        progress.feed(line)
    progress.close(returncode)
    return out.getvalue().splitlines()


def test_one_line_per_stage_messages_failures_and_the_end():
    lines = _shown(1)
    assert lines[0] == ("first1000: warning: cohort trial: its SES index is formed from one discrete indicator "
                        "(education_isced).")
    assert lines[1].startswith("stage harmonise started (elapsed ")
    assert lines[2].startswith("stage associate started (elapsed ")  # once, though two associate jobs ran
    assert lines[3] == ("first1000: error: results/prepared/hpa.parquet, an input of stage associate (mechanism "
                        "hpa), cannot be read.")
    assert lines[4] == "failed: associate (mechanism=hpa); its log: logs/associate/hpa.log"
    assert lines[5].startswith("first1000: 1 job failed after 2 of 3 jobs (")
    assert len(lines) == 6  # out of 60 lines of Snakemake output


def test_a_live_terminal_gets_a_progress_line_redrawn_in_place():
    out = io.StringIO()
    progress = Progress(out, live=True)
    for line in SNAKEMAKE_OUTPUT.splitlines(keepends=True):
        progress.feed(line)
    assert "\r\033[K[2/3] 66% elapsed " in out.getvalue()


def test_run_returns_the_commands_status_and_verbose_passes_everything(capfd):
    out = io.StringIO()
    code = run([sys.executable, "-c", "print('2 of 2 steps (100%) done'); import sys; sys.exit(3)"], out=out)
    assert code == 3 and out.getvalue().startswith("first1000: stopped after 2 of 2 jobs")
    assert run([sys.executable, "-c", "print('raw line')"], verbose=True) == 0
    assert capfd.readouterr().out == "raw line\n"


def test_the_snakemake_command():
    assert snakemake_command(2, "profiles/slurm", "lab/config.yaml", ["results/methods.md"])[1:] == [
        "-m", "snakemake", "--cores", "2", "--workflow-profile", "profiles/slurm", "--configfile", "lab/config.yaml",
        "results/methods.md"]
    assert snakemake_command(report="results/report.html")[-2:] == ["--report", "results/report.html"]


def test_the_report_is_refused_while_jobs_are_pending(monkeypatch, capsys):
    """`first1000 report` after a config edit without a run built a report whose captions
    and methods followed the new config and whose figures and tables the old one (found by
    a newcomer): it now says which jobs would run and stops, before Snakemake's report."""
    import subprocess

    from first1000 import cli, runner

    pending = ("Building DAG of jobs...\nJob stats:\njob                  count\n-----------------  -------\n"
               "mechanism_figures       10\nprovenance               1\nall                      1\n"
               "total                   12\n\nJob stats:\njob  count\n")
    outputs = {"pending": pending, "done": "Building DAG of jobs...\nNothing to be done (all requested files are "
                                          "present and up to date).\n"}
    calls = []

    def fake(command, **kwargs):
        calls.append(command)
        return subprocess.CompletedProcess(command, 0, stdout=outputs[state], stderr="")

    state = "pending"
    assert runner.pending_jobs("c.yaml", run=fake) == {"mechanism_figures": 10, "provenance": 1}
    assert calls[0][-5:] == ["--configfile", "c.yaml", "--dry-run", "--quiet", "rules"]
    state = "done"
    assert runner.pending_jobs(run=fake) == {}
    assert runner.pending_jobs(run=lambda c, **k: subprocess.CompletedProcess(c, 1, "", "boom")) is None
    monkeypatch.setattr(runner, "pending_jobs", lambda configfile=None: {"mechanism_figures": 10, "provenance": 1})
    monkeypatch.setattr(runner, "run", lambda *a, **k: pytest.fail("the report was built"))
    monkeypatch.setattr("first1000.config.refuse_unsafe_config", lambda path: None)
    assert cli.main(["report"]) == 1
    err = capsys.readouterr().err
    assert "not up to date with config/config.yaml: 11 jobs would run (mechanism_figures, provenance)" in err
    assert "Run `first1000 run` first" in err
