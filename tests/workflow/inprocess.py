"""A run of the workflow in one Python process, for the rerun tests.

    python tests/workflow/inprocess.py WORKDIR CONFIGFILE [--incremental]
    python tests/workflow/inprocess.py --serve   (tasks "WORKDIR<TAB>CONFIGFILE<TAB>MODE" on stdin)

Snakemake builds the DAG of WORKDIR's workflow and this script runs the jobs' scripts in
dependency order, in this process, with the same ``snakemake`` object (input, output,
params, wildcards, log) that Snakemake hands a script. Without ``--incremental`` every job
runs (from scratch, as ``--forceall`` would); with it, exactly the jobs Snakemake decides
to rerun from the finished run's metadata (its own rerun triggers: params, inputs,
modification times, as ``snakemake --dry-run`` lists them). So the jobs, their settings,
their files and the rerun decision are Snakemake's own; only the start-up of one process
per job is saved (a scenario takes seconds instead of a minute). Existing outputs of a job
are removed before it runs and ``temp()`` outputs afterwards, as Snakemake does. Prints
the jobs run; exits non-zero, naming the job, when a job fails.
"""

from __future__ import annotations

import os
import runpy
import shutil
import sys
import time
from pathlib import Path


def run(workdir: Path, configfile: str | None = None, incremental: bool = False) -> int:
    from snakemake.api import SnakemakeApi
    from snakemake.io import is_flagged
    from snakemake.iocontainers import Snakemake
    from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, Quietness, ResourceSettings

    os.environ.setdefault("MPLBACKEND", "Agg")
    os.chdir(workdir)  # (a worker's previous working directory may have been removed)
    config = ConfigSettings(configfiles=[workdir / configfile]) if configfile else ConfigSettings()
    with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
        workflow_api = api.workflow(resource_settings=ResourceSettings(cores=1), config_settings=config,
                                    snakefile=workdir / "Snakefile", workdir=workdir)
        workflow_api.dag(dag_settings=DAGSettings(forceall=not incremental)).execute_workflow(executor="dryrun")
        workflow = workflow_api._workflow
        needrun = set(workflow.dag.needrun_jobs(exclude_finished=False))  # the dry run's plan
        levels = [sorted((job for job in level if job in needrun), key=str) for level in workflow.dag.toposorted()]
    os.chdir(workdir)  # the jobs' paths are relative to the working directory
    temp = []
    started = time.perf_counter()
    n = 0
    for level in levels:
        for job in level:
            if job.rule.name == "all":
                continue
            for path in job.output:
                target = Path(path)
                if target.is_dir() and not target.is_symlink():
                    shutil.rmtree(target)
                else:
                    target.unlink(missing_ok=True)
                target.parent.mkdir(parents=True, exist_ok=True)
                if is_flagged(path, "temp"):
                    temp.append(target)
            script = (Path(job.rule.snakefile).parent / job.rule.script).resolve()
            job_object = Snakemake(job.input, job.output, job.params, job.wildcards, job.threads,
                                   job.resources, job.log, workflow.config, job.rule.name, None, str(script.parent))
            try:
                runpy.run_path(str(script), init_globals={"snakemake": job_object}, run_name="__main__")
            except SystemExit as exc:
                if exc.code:
                    print(f"inprocess: job {job} failed ({exc.code})", file=sys.stderr)
                    return 1
            n += 1
            print(f"rule {job.rule.name}:")
    for path in temp:
        path.unlink(missing_ok=True)
    print(f"inprocess: {n} jobs in {time.perf_counter() - started:.1f} s")
    return 0


DONE = "inprocess-done:"


def serve() -> int:
    """Run the tasks given on stdin one after the other in this process (the imports are
    paid once); after each, print ``inprocess-done: RC``. MODE is scratch or incremental."""
    for line in sys.stdin:
        workdir, configfile, mode = line.rstrip("\n").split("\t")
        try:
            rc = run(Path(workdir), configfile, incremental=mode == "incremental")
        except Exception as exc:  # noqa: BLE001 - reported to the test, which fails
            print(f"inprocess: {type(exc).__name__}: {exc}", file=sys.stderr)
            rc = 1
        print(f"{DONE} {rc}", flush=True)
        sys.stderr.flush()
    return 0


if __name__ == "__main__":
    if sys.argv[1:] == ["--serve"]:
        sys.exit(serve())
    sys.exit(run(Path(sys.argv[1]).resolve(), sys.argv[2], incremental="--incremental" in sys.argv[3:]))
