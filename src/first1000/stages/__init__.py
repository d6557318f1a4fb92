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
import sys
import traceback
from pathlib import Path

LOG = logging.getLogger("first1000")

#: Inputs under this name are the files whose validated content a job gets through its
#: params (a mapping file's ``map_file`` resources, the harmonised-variable definitions):
#: declared so that the provenance lists them and Snakemake tracks them too.
DEFINITIONS = "definitions"


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


def run(stage, input, output, params, log) -> None:
    """Run one job: ``stage(**input, **output, **params.settings)``, logging to ``log[0]``.

    A :class:`~first1000.errors.First1000Error` becomes one clear message (log and
    stderr) and exit status 1; any other exception is a bug and keeps its traceback.
    Logs never hold row-level values.
    """
    from first1000.errors import First1000Error

    kwargs = {**_named(input), **_named(output)}
    kwargs.pop(DEFINITIONS, None)
    settings = dict(params.settings) if hasattr(params, "settings") else dict(params.get("settings", {}))
    clash = sorted(set(kwargs) & set(settings))
    if clash:  # a rule's file and setting of the same name: a bug in the rule
        raise TypeError(f"{stage.__name__}: {', '.join(clash)} both a file and a setting")
    handler = None
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
    except Exception:  # a bug: keep the trace for the developer
        LOG.error("unexpected failure\n%s", traceback.format_exc())
        raise
    finally:
        if handler is not None:
            LOG.removeHandler(handler)
            handler.close()
