"""The workflow as users run it, on the simulated demo cohort at several sizes (not a timed test).

For each size N (participants, split between the demo's two cohorts as the demo is: 45%
Ghent, 55% Rotterdam), a fresh copy of the workflow gets the demo cohort simulated at N
(``first1000.simulate.simulate`` with the demo's seed) in place of resources/demo, and runs
``snakemake --cores C`` with the demo config (every mechanism, associations, mediation with
the config's resamples, the EWAS of the demo's CpGs, figures, tables). Printed per size:

* wall time of the whole run (parse + pre-flight + every job) and of a no-op rerun;
* the number of jobs and their summed time, and how long after the launch the first job
  started (parse and pre-flight check of every input table);
* peak RSS: the largest of any job (Snakemake's ``benchmark:`` files, logs/benchmarks/)
  and of the Snakemake process itself with its children (``resource.getrusage``);
* the slowest jobs with their time and peak RSS.

With two sizes or more, every job's time at each size divided by its time at the next
smaller size (1,000 -> 10,000 -> 100,000), against the ratio of the sizes: a job whose
ratio is above the sizes' grew faster than linearly, or shared the cores more at the larger
size (jobs under 1 s at the smaller size are start-up bound and listed apart).

    PYTHONPATH=src python benchmarks/workflow_scale.py                       # 1,000 and 10,000
    PYTHONPATH=src python benchmarks/workflow_scale.py --sizes 10000 100000 --keep /tmp/scale

Each run happens in its own folder under ``--keep`` (default: a temporary folder deleted at
the end). The machine is what it is: close other work, or read the ratios.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
COPY = ["Snakefile", "config", "resources", "workflow", "profiles", "src"]
DEMO_SHARES = {"ghent": 0.45, "rotterdam": 0.55}


def workflow_copy(base: Path) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, base / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, base / name)
    # as `make demo` does: with PYTHONDONTWRITEBYTECODE=1 no job would cache the bytecode
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(base / "src")], check=True)
    return base


def simulate_demo(workdir: Path, n: int) -> None:
    sys.path.insert(0, str(workdir / "src"))
    from first1000.simulate import DEMO_SEED, simulate

    sizes = {cohort: round(n * share) for cohort, share in DEMO_SHARES.items()}
    sizes["rotterdam"] = n - sizes["ghent"]
    demo = workdir / "resources" / "demo"
    shutil.rmtree(demo)
    simulate(demo, seed=DEMO_SEED, sizes=sizes)


def snakemake(workdir: Path, cores: int, extra: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    env = dict(os.environ, MPLBACKEND="Agg", PYTHONPATH=str(workdir / "src"))
    launched = time.time()
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "snakemake", "--cores", str(cores), *extra], cwd=workdir,
                          env=env, capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stderr[-4000:])
        raise SystemExit(f"snakemake failed in {workdir} (exit {proc.returncode})")
    proc.first_job_s = first_job_delay(proc.stdout + proc.stderr, launched)
    return wall, proc


def first_job_delay(output: str, launched: float) -> float | None:
    """Seconds from the launch to the first job (parse and pre-flight; 1 s resolution):
    Snakemake prints ``[Thu Dec  3 05:22:31 2026]`` before each job."""
    import datetime
    import re

    found = re.search(r"^\[(\w{3} \w{3} +\d+ \d\d:\d\d:\d\d \d{4})\]$", output, flags=re.M)
    if not found:
        return None
    stamp = datetime.datetime.strptime(found.group(1), "%a %b %d %H:%M:%S %Y").timestamp()
    return max(0.0, stamp - launched)


def job_benchmarks(workdir: Path) -> dict[str, tuple[float, float]]:
    """Each job's (seconds, max RSS in MB) from its benchmark file, by the file's path.
    (Not its ``cpu_time``: Snakemake samples it every 0.5 s for ~15 s, then every 30 s, and
    not at the job's end, so a long job's CPU time is cut short.)"""
    jobs = {}
    base = workdir / "logs" / "benchmarks"
    for path in sorted(base.rglob("*.tsv")):
        with path.open(newline="") as handle:
            row = next(csv.DictReader(handle, delimiter="\t"))
        rss = row.get("max_rss", "NA")
        jobs[str(path.relative_to(base).with_suffix(""))] = (float(row["s"]), float(rss) if rss != "NA" else 0.0)
    return jobs


def run_size(n: int, base: Path, cores: int, extra: list[str], top: int) -> dict[str, tuple[float, float]]:
    workdir = workflow_copy(base / f"n{n}")
    simulate_demo(workdir, n)
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    wall, proc = snakemake(workdir, cores, extra)
    tree_rss = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    noop, _ = snakemake(workdir, cores, extra)
    jobs = job_benchmarks(workdir)
    job_time = sum(s for s, _ in jobs.values())
    worst = max(jobs.items(), key=lambda kv: kv[1][1])
    print(f"\n== {n:,} participants ({workdir})")
    delay = proc.first_job_s
    print(f"wall {wall:.0f} s ({wall / 60:.1f} min), no-op rerun {noop:.1f} s; {len(jobs)} jobs, "
          f"{job_time:.0f} s of job time; first job after "
          + (f"{delay:.0f} s (parse + pre-flight)" if delay is not None else "?"))
    print(f"peak RSS of a job {worst[1][1] / 1024:.2f} GB ({worst[0]}); largest process of the run "
          f"{max(before, tree_rss) / 1024 ** 2:.2f} GB")
    print(f"slowest {top} jobs (s, peak RSS MB):")
    for name, (s, rss) in sorted(jobs.items(), key=lambda kv: -kv[1][0])[:top]:
        print(f"  {s:8.1f}  {rss:8.0f}  {name}")
    return jobs


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--top", type=int, default=12)
    ap.add_argument("--keep", type=Path, default=None, help="run folders go here and stay (default: temporary)")
    ap.add_argument("--config-set", nargs="*", default=[], metavar="KEY=VALUE",
                    help="passed to snakemake --config (YAML values), e.g. 'mediation={n_boot: 200}'")
    args = ap.parse_args(argv)
    base = args.keep or Path(tempfile.mkdtemp(prefix="first1000-scale-"))
    extra = ["--config", *args.config_set] if args.config_set else []
    try:
        runs = {n: run_size(n, base, args.cores, extra, args.top) for n in sorted(args.sizes)}
    finally:
        if args.keep is None:
            shutil.rmtree(base, ignore_errors=True)
    sizes = sorted(runs)
    for small, large in zip(sizes, sizes[1:]):  # each size against the next (10,000 -> 100,000 too)
        ratio = large / small
        print(f"\n== job time {large:,} / {small:,} (sizes ratio {ratio:.0f}): a job above {ratio:.0f} grew faster "
              f"than linearly (or shared the cores more at {large:,})")
        rows = [(runs[large][k][0] / runs[small][k][0], runs[small][k][0], runs[large][k][0], k)
                for k in runs[large] if k in runs[small] and runs[small][k][0] > 0]
        bound = [r for r in rows if r[1] >= 1.0]
        for r, s0, s1, name in sorted(bound, reverse=True):
            flag = "  <- above the sizes' ratio" if r > ratio else ""
            print(f"  {r:7.1f}x  {s0:8.1f} s -> {s1:8.1f} s  {name}{flag}")
        quick = [r for r in rows if r[1] < 1.0]
        if quick:
            print(f"  ({len(quick)} jobs under 1 s at {small:,}: start-up bound; largest ratio "
                  f"{max(quick)[0]:.1f}x, {max(quick)[3]})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
