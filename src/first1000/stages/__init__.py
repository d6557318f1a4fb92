"""The workflow's jobs as plain functions: one module per rules file.

``workflow/rules/<stage>.smk`` declares each job; its script (``workflow/scripts/*.py``,
three lines) hands the job's ``input``, ``output`` and ``params`` to :func:`run` and
nothing else. A stage function takes keyword arguments only:

* the files its rule declares, by the names the rule gives them (``input:`` and
  ``output:``);
* the settings in the rule's ``params``: the exact slice of the validated config the
  stage uses, built at parse time by one function per stage in the same module
  (``<stage>_params(cfg, **wildcards)``, e.g. :func:`first1000.stages.analyse.associate_params`).

A stage never loads the config and never opens a file its rule does not declare. So
Snakemake knows everything a job depends on: after a config edit it reruns exactly the
jobs whose settings or inputs changed, and an incremental run gives the same bytes as a
run from scratch (``tests/workflow/test_reruns.py``). Tests call the stage functions
directly with the same arguments. Nothing here imports snakemake; every output is
written atomically (:mod:`first1000.io`).
"""

from __future__ import annotations

import logging
import os
import sys
import traceback
from pathlib import Path

LOG = logging.getLogger("first1000")

#: Inputs under this name are the files whose validated content a job gets through its
#: params (a mapping file's ``map_file`` resources, the harmonised-variable definitions):
#: declared so that the provenance lists them and Snakemake tracks them too.
DEFINITIONS = "definitions"


#: The environment every job's process gets unless the user set it. NumPy asks Linux for
#: transparent huge pages for its large arrays (madvise); on the development machine, a
#: virtual machine, the first touch of fresh huge pages cost 76-90 ns per value against
#: ~3 ns with normal pages: the two EWAS shards of 225,000 CpGs x 500 each, rerun through
#: Snakemake side by side, took 9.0-11.9 s instead of 6.0-6.9 s, the same bytes (#19;
#: docs/performance.md). NUMPY_MADVISE_HUGEPAGE=1 restores NumPy's default. Arrow's
#: allocator (mimalloc 3, which holds the decoded Parquet) uses transparent huge pages too:
#: reading twelve 20,000-row groups of 494 samples took 0.61-1.91 s in a fresh process
#: against 0.63-0.66 s with MIMALLOC_ALLOW_THP=0 (8 runs each, alternated), and an EWAS
#: shard job of 225,000 CpGs x 494 6.0-7.0 s against 4.0-4.1 s (4 each); MIMALLOC_ALLOW_THP=1
#: restores it.
JOB_ENVIRONMENT = {"NUMPY_MADVISE_HUGEPAGE": "0", "MIMALLOC_ALLOW_THP": "0"}


def job_environment(environ=os.environ) -> None:
    """Set :data:`JOB_ENVIRONMENT` in ``environ`` where the user has not (the workflow's
    process does so at parse time; its jobs inherit it, on SLURM too).

    In this process, for ``os.environ``: Snakemake imported Arrow (through pandas) before the
    workflow was parsed, and mimalloc read its options then, so the variable comes too late
    for the pre-flight check, which reads a whole methylation matrix here. Arrow's default
    pool is then switched to the system allocator (which asks for no huge pages) when the
    variable was not set before (mimalloc did not see it); buffers made before keep their own
    pool."""
    added = [key for key in JOB_ENVIRONMENT if key not in environ]
    for key, value in JOB_ENVIRONMENT.items():
        environ.setdefault(key, value)
    if environ is os.environ and "MIMALLOC_ALLOW_THP" in added and "pyarrow" in sys.modules:
        import pyarrow as pa

        if pa.default_memory_pool().backend_name == "mimalloc":
            pa.set_memory_pool(pa.system_memory_pool())


def workflow_path(path) -> str:
    """A packaged resource's path as a rule declares it: relative to the working directory
    when it lies under it (so that a copy of the working directory has the same inputs)."""
    path = Path(path).resolve()
    try:
        return str(path.relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _named(files) -> dict:
    """name -> path (or list of paths) of a Snakemake input/output list (or a dict)."""
    items = files.items() if hasattr(files, "items") else []
    out = {}
    for name, value in items:
        out[name] = value if isinstance(value, str) else [str(v) for v in value]
    return out


#: Settings that say which job failed (named in its message).
_JOB_NAMES = ("cohort", "mechanism", "kind", "exposure", "mediator", "outcome", "modifier", "variable", "site")


def _job_name(stage, settings: dict) -> str:
    named = [f"{key} {settings[key]}" for key in _JOB_NAMES if isinstance(settings.get(key), str)]
    return f"stage {stage.__name__}" + (f" ({', '.join(named)})" if named else "")


def _trace_without_values(exc: BaseException) -> str:
    """The traceback's frames and the exception's type, without its message (which may
    quote data values, e.g. pandas' messages) or the frames' local values."""
    frames = "".join(traceback.TracebackException.from_exception(exc, capture_locals=False).stack.format())
    return f"Traceback (most recent call last):\n{frames}{type(exc).__module__}.{type(exc).__qualname__}"


def _damaged(path: str) -> str | None:
    """Why the file a job read cannot be what first1000 wrote (None when it looks intact):
    checked only after a job failed unexpectedly, to name a damaged input."""
    p = Path(path)
    if not p.is_file():
        return None
    try:
        if p.suffix == ".parquet":
            import pyarrow.parquet as pq

            pq.read_metadata(p)
        elif p.suffix in (".tsv", ".json", ".yaml", ".csv", ".txt"):
            text = p.read_bytes()
            if b"\x00" in text:
                return "it holds NUL bytes, so it is not a text table"
            text.decode("utf-8")
            if p.suffix == ".json":
                import json

                json.loads(text)
    except UnicodeDecodeError:
        return "it is not UTF-8 text"
    except Exception as exc:  # noqa: BLE001 - any reader error means the file is unreadable
        return f"it is not a readable {p.suffix[1:]} file ({type(exc).__name__})"
    return None


def _damaged_input(files: dict) -> tuple[str, str] | None:
    for value in files.values():
        for path in [value] if isinstance(value, str) else value:
            why = _damaged(path)
            if why:
                return path, why
    return None


def run(stage, input, output, params, log) -> None:
    """Run one job: ``stage(**input, **output, **params.settings)``, logging to ``log[0]``.

    A :class:`~first1000.errors.First1000Error` becomes one clear message (log and
    stderr) and exit status 1. Any other exception is a bug: it too becomes one
    ``first1000: error:`` message naming the stage and its cohort/mechanism, with the
    traceback (frames and exception type, not its message, which may quote values) in
    the job's log only. Snakemake removes the outputs of a failed job; every writer is
    atomic, so no partial file is left. Logs never hold row-level values.
    """
    from first1000.errors import First1000Error

    kwargs = {**_named(input), **_named(output)}
    kwargs.pop(DEFINITIONS, None)
    settings = dict(params.settings) if hasattr(params, "settings") else dict(params.get("settings", {}))
    clash = sorted(set(kwargs) & set(settings))
    if clash:  # a rule's file and setting of the same name: a bug in the rule
        raise TypeError(f"{stage.__name__}: {', '.join(clash)} both a file and a setting")
    handler, path = None, None
    if log:
        path = Path(log[0] if not isinstance(log, (str, Path)) else log)
        path.parent.mkdir(parents=True, exist_ok=True)
        handler = logging.FileHandler(path, mode="w", encoding="utf-8")
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
        LOG.addHandler(handler)
        LOG.setLevel(logging.INFO)
    LOG.info("stage %s started", stage.__name__)
    try:
        stage(**kwargs, **settings)
        LOG.info("stage %s finished", stage.__name__)
    except First1000Error as exc:
        message = f"first1000: error: {exc}"
        LOG.error("%s", message)
        print(message, file=sys.stderr)
        sys.exit(1)
    except Exception as exc:  # noqa: BLE001 - a bug: one message, the trace in the log
        LOG.error("unexpected failure\n%s", _trace_without_values(exc))
        damaged = _damaged_input(_named(input))
        if damaged:  # a damaged input, not a bug
            message = (f"first1000: error: {damaged[0]}, an input of {_job_name(stage, settings)}, cannot be read: "
                       f"{damaged[1]} (damaged, truncated or not written by first1000). Delete it and rerun the "
                       "workflow, which makes it again (or, for a cohort's own table, export it again).")
            LOG.error("%s", message)
            print(message, file=sys.stderr)
            sys.exit(1)
        where = f"; the traceback is in {path}" if path else ""
        message = (f"first1000: error: {_job_name(stage, settings)} failed unexpectedly ({type(exc).__name__}){where}. "
                   "first1000 has no check for what caused it: please report it with that log (it holds no "
                   "participant values).")
        LOG.error("%s", message)
        print(message, file=sys.stderr)
        sys.exit(1)
    finally:
        if handler is not None:
            LOG.removeHandler(handler)
            handler.close()
