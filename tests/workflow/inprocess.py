"""A from-scratch run of the workflow in one Python process: the reference of the rerun tests.

    python tests/workflow/inprocess.py WORKDIR [CONFIGFILE]

Snakemake builds the DAG of WORKDIR's workflow (every job, as ``--forceall`` would) and
this script runs each job's script in dependency order, in this process, with the same
``snakemake`` object (input, output, params, wildcards, log) that Snakemake hands a
script. So the jobs, their settings and their files are Snakemake's own; only the
start-up of one process per job is saved (a from-scratch run of a scenario takes seconds
instead of a minute). ``temp()`` outputs are removed afterwards, as Snakemake does.
Exits non-zero, naming the job, when a job fails.
"""

from __future__ import annotations

import os
import runpy
import sys
import time
from pathlib import Path


def run(workdir: Path, configfile: str | None = None) -> int:
    from snakemake.api import SnakemakeApi
    from snakemake.io import is_flagged
    from snakemake.iocontainers import Snakemake
    from snakemake.settings.types import ConfigSettings, DAGSettings, OutputSettings, Quietness, ResourceSettings

    os.environ.setdefault("MPLBACKEND", "Agg")
    config = ConfigSettings(configfiles=[Path(configfile)]) if configfile else ConfigSettings()
    with SnakemakeApi(OutputSettings(quiet={Quietness.ALL})) as api:
        workflow_api = api.workflow(resource_settings=ResourceSettings(cores=1), config_settings=config,
                                    snakefile=workdir / "Snakefile", workdir=workdir)
        workflow_api.dag(dag_settings=DAGSettings(forceall=True)).execute_workflow(executor="dryrun")
        workflow = workflow_api._workflow
        levels = [sorted(level, key=str) for level in workflow.dag.toposorted()]
    temp = []
    started = time.perf_counter()
    n = 0
    for level in levels:
        for job in level:
            if job.rule.name == "all":
                continue
            for path in job.output:
                Path(path).parent.mkdir(parents=True, exist_ok=True)
                if is_flagged(path, "temp"):
                    temp.append(Path(path))
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
    for path in temp:
        path.unlink(missing_ok=True)
    print(f"inprocess: {n} jobs in {time.perf_counter() - started:.1f} s")
    return 0


if __name__ == "__main__":
    sys.exit(run(Path(sys.argv[1]).resolve(), sys.argv[2] if len(sys.argv) > 2 else None))
