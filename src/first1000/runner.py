"""`first1000 run` and `first1000 report`: Snakemake with a readable progress display.

Snakemake prints a block of about a dozen lines per job (3,000 lines for the demo); this
shows one line when a stage (a rule) starts its first job, first1000's own messages
(`first1000: warning:`/`error:`), one line per failed job with its log, and a closing line
with the jobs done and the time taken; on a terminal a progress line is redrawn in place.
`--verbose` passes Snakemake's own output through unchanged. The exit status is
Snakemake's.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

_JOB = re.compile(r"^(?:local)?rule (\w+):$")
_STEPS = re.compile(r"^(\d+) of (\d+) steps \((\d+)%\) done$")
_ERROR = re.compile(r"^Error in rule (\w+):$")
_LOG = re.compile(r"^\s+log: (.+?)(?: \(check log file\(s\) for error details\))?$")
_WILDCARDS = re.compile(r"^\s+wildcards: (.+)$")
_JOBID = re.compile(r"^\s+jobid: (\d+)$")
_NOTHING = "Nothing to be done"
_TOTAL = re.compile(r"^total\s+(\d+)$")


def _elapsed(start: float) -> str:
    seconds = int(time.monotonic() - start)
    return f"{seconds // 60}:{seconds % 60:02d}"


def snakemake_command(cores=None, profile=None, configfile=None, targets=(), report=None) -> list[str]:
    command = [sys.executable, "-m", "snakemake"]
    if cores is not None:
        command += ["--cores", str(cores)]
    if profile:
        command += ["--workflow-profile", profile]
    if configfile:
        command += ["--configfile", configfile]
    if report:
        command += ["--report", report]
    return command + list(targets)


def pending_jobs(configfile=None, run=subprocess.run) -> dict[str, int] | None:
    """The jobs a run of ``configfile`` would still do (rule -> count, from a dry run's job
    stats), empty when the results are up to date; None when the dry run itself fails (the
    report then says why). A report built after a config edit without a run mixed the new
    settings (captions, methods) with the old results (figures, tables)."""
    done = run(snakemake_command(configfile=configfile) + ["--dry-run", "--quiet", "rules"], capture_output=True,
               text=True)
    if done.returncode != 0:
        return None
    lines = done.stdout.splitlines()
    if "Job stats:" not in lines:
        return {}
    jobs = {}
    for line in lines[lines.index("Job stats:") + 3:]:
        parts = line.split()
        if len(parts) != 2 or not parts[1].isdigit() or parts[0] == "total":
            break
        if parts[0] != "all":
            jobs[parts[0]] = int(parts[1])
    return jobs


class Progress:
    """Turns Snakemake's output lines into the short display (:meth:`feed`, :meth:`close`)."""

    def __init__(self, out=None, live: bool | None = None, done_text: str | None = None):
        self.out = out or sys.stdout
        self.live = self.out.isatty() if live is None else live
        self.start = time.monotonic()
        self.done_text = done_text
        self.stages: list[str] = []
        self.failed: list[str] = []
        self.done = self.total = 0
        self.nothing = False
        self._error_rule = None
        self._error_wildcards = ""
        self._drawn = False
        self._block = None  # the job block being read: [jobid, wildcards]
        self._wildcards: dict[str, str] = {}  # jobid -> wildcards

    def _print(self, text: str) -> None:
        if self._drawn:
            self.out.write("\r\033[K")
            self._drawn = False
        self.out.write(text + "\n")
        self.out.flush()

    def _draw(self) -> None:
        if self.live and self.total:
            self.out.write(f"\r\033[K[{self.done}/{self.total}] {100 * self.done // self.total}% "
                           f"elapsed {_elapsed(self.start)}")
            self.out.flush()
            self._drawn = True

    def feed(self, line: str) -> None:
        line = line.rstrip("\n")
        if line.startswith("first1000: "):
            self._print(line)
        elif m := _JOB.match(line):
            self._block = [None, ""]
            if m.group(1) not in self.stages and m.group(1) != "all":
                self.stages.append(m.group(1))
                self._print(f"stage {m.group(1)} started (elapsed {_elapsed(self.start)})")
        elif m := _STEPS.match(line.strip()):
            self.done, self.total = int(m.group(1)), int(m.group(2))
            self._draw()
        elif m := _ERROR.match(line):
            self._error_rule, self._error_wildcards, self._block = m.group(1), "", None
        elif m := _JOBID.match(line):
            if self._error_rule:
                self._error_wildcards = self._wildcards.get(m.group(1), "")
            elif self._block is not None:
                self._block[0] = m.group(1)
        elif self._block is not None and (m := _WILDCARDS.match(line)):
            if self._block[0] is not None:
                self._wildcards[self._block[0]] = m.group(1)
        elif self._error_rule and (m := _LOG.match(line)):
            where = f" ({self._error_wildcards})" if self._error_wildcards else ""
            job = f"{self._error_rule}{where}"
            if job not in self.failed:  # a retried job fails again: said once
                self.failed.append(job)
                self._print(f"failed: {job}; its log: {m.group(1)}")
            self._error_rule = None
        elif _NOTHING in line:
            self.nothing = True
        elif (m := _TOTAL.match(line.strip())) and not self.total:
            self.total = int(m.group(1))

    def close(self, returncode: int) -> None:
        if self.done_text and returncode == 0:
            self._print(f"first1000: {self.done_text} ({_elapsed(self.start)})")
        elif self.nothing and returncode == 0:
            self._print("first1000: nothing to do: every result is up to date with the config and inputs")
        elif returncode == 0:
            self._print(f"first1000: done: {self.done} of {self.total} jobs in {_elapsed(self.start)}")
        else:
            failed = f"{len(self.failed)} job{'s' * (len(self.failed) != 1)} failed" if self.failed else "stopped"
            self._print(f"first1000: {failed} after {self.done} of {self.total} jobs ({_elapsed(self.start)}); "
                        "rerun with --verbose for Snakemake's full output")


def run(command: list[str], verbose: bool = False, out=None, done_text: str | None = None) -> int:
    """Run Snakemake (``command``) showing the short display (or everything with ``verbose``);
    ``done_text``: the closing line on success (default: the jobs done and the time)."""
    if verbose:
        return subprocess.call(command)
    progress = Progress(out, done_text=done_text)
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1)
    try:
        for line in proc.stdout:
            progress.feed(line)
    except KeyboardInterrupt:
        proc.terminate()
        proc.wait()
        raise
    code = proc.wait()
    progress.close(code)
    return code
