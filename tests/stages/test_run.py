"""The job runner: every failure of a job is one `first1000: error:` message; an
unexpected one keeps its traceback in the job's log only, without the exception's text
(which may quote data values)."""

from __future__ import annotations

import pytest

from first1000.errors import InputTableError
from first1000.io import write_tsv
from first1000.stages import run


class _Params(dict):
    @property
    def settings(self):
        return self["settings"]


def _crash(*, cohort, mechanism, output):
    edges = [float(x) for x in (4711, 4711)]  # a participant's value, as pandas' messages quote them
    raise ValueError(f"Bin edges must be unique: {edges}")


def _refuse(*, cohort, mechanism, output):
    raise InputTableError("table.csv, column 'x', rows 3, 5: expected a number, found text.")


def _ok(*, cohort, mechanism, output):
    write_tsv(__import__("pandas").DataFrame({"a": [1]}), output)


def test_an_unexpected_exception_is_one_message_without_values(tmp_path, capsys):
    log = tmp_path / "logs/crash.log"
    with pytest.raises(SystemExit) as exit_:
        run(_crash, {}, {"output": str(tmp_path / "out.tsv")},
            _Params(settings={"cohort": "ghent", "mechanism": "immune"}), [str(log)])
    assert exit_.value.code == 1
    err = capsys.readouterr().err
    assert err.startswith("first1000: error: stage _crash (cohort ghent, mechanism immune) failed unexpectedly "
                          f"(ValueError); the traceback is in {log}.")
    assert err.count("\n") == 1 and "Traceback" not in err
    text = log.read_text()
    assert "Traceback (most recent call last)" in text and "in _crash" in text and "builtins.ValueError" in text
    assert "4711" not in text and "4711" not in err  # the exception's text may quote values
    assert not (tmp_path / "out.tsv").exists()


def test_a_known_problem_is_its_message(tmp_path, capsys):
    with pytest.raises(SystemExit) as exit_:
        run(_refuse, {}, {"output": str(tmp_path / "out.tsv")},
            _Params(settings={"cohort": "ghent", "mechanism": "immune"}), [str(tmp_path / "x.log")])
    assert exit_.value.code == 1
    assert capsys.readouterr().err == ("first1000: error: table.csv, column 'x', rows 3, 5: expected a number, "
                                       "found text.\n")


def test_a_job_that_succeeds_logs_its_start_and_end(tmp_path, capsys):
    log = tmp_path / "ok.log"
    run(_ok, {}, {"output": str(tmp_path / "out.tsv")}, _Params(settings={"cohort": "a", "mechanism": "b"}),
        [str(log)])
    assert (tmp_path / "out.tsv").read_text() == "a\n1\n"
    assert "stage _ok started" in log.read_text() and "stage _ok finished" in log.read_text()
    assert capsys.readouterr().err == ""


def _read_input(*, cohort, table, output):
    import pandas as pd

    pd.read_parquet(table)


def test_a_damaged_input_is_named_not_reported_as_a_bug(tmp_path, capsys):
    table = tmp_path / "results/prepared/x.parquet"
    table.parent.mkdir(parents=True)
    table.write_bytes(b"PAR1 not really parquet \x00\xff")
    log = tmp_path / "x.log"
    with pytest.raises(SystemExit) as exit_:
        run(_read_input, {"table": str(table)}, {"output": str(tmp_path / "out.tsv")},
            _Params(settings={"cohort": "ghent"}), [str(log)])
    assert exit_.value.code == 1
    assert capsys.readouterr().err == (
        f"first1000: error: {table}, an input of stage _read_input (cohort ghent), cannot be read: it is not a "
        "readable parquet file (ArrowInvalid) (damaged, truncated or not written by first1000). Delete it and rerun "
        "the workflow, which makes it again (or, for a cohort's own table, export it again).\n")
    assert "first1000: error:" in log.read_text()


def test_jobs_run_without_numpys_huge_pages_unless_the_user_set_them():
    """The workflow's process sets JOB_ENVIRONMENT where the user has not, for its jobs to
    inherit, and NumPy and Arrow's allocator (mimalloc, which prints its options with
    MIMALLOC_VERBOSE=1) read it when a job's process imports them (#19)."""
    import os
    import subprocess
    import sys

    from first1000.stages import JOB_ENVIRONMENT, job_environment

    environ = {}
    job_environment(environ)
    assert environ == {"NUMPY_MADVISE_HUGEPAGE": "0", "MIMALLOC_ALLOW_THP": "0"}
    environ = {"NUMPY_MADVISE_HUGEPAGE": "1"}
    job_environment(environ)  # the user's value wins; the other is still set
    assert environ == {"NUMPY_MADVISE_HUGEPAGE": "1", "MIMALLOC_ALLOW_THP": "0"}
    probe = "import numpy._core.multiarray as m; print(m._get_madvise_hugepage())"
    for value, expected in (("0", "False"), ("1", "True")):
        done = subprocess.run([sys.executable, "-c", probe], env={**os.environ, **JOB_ENVIRONMENT,
                                                                 "NUMPY_MADVISE_HUGEPAGE": value},
                              capture_output=True, text=True, check=True)
        assert done.stdout.strip() == expected
    import pyarrow as pa

    if pa.default_memory_pool().backend_name == "mimalloc":
        probe = "import pyarrow as pa; pa.allocate_buffer(1 << 20)"
        for value in ("0", "1"):
            done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True,
                                  env={**os.environ, **JOB_ENVIRONMENT, "MIMALLOC_ALLOW_THP": value,
                                       "MIMALLOC_VERBOSE": "1"})
            assert f"option 'allow_thp': {value}" in done.stderr, done.stderr[-2000:]


def test_the_workflows_own_process_leaves_mimallocs_huge_pages_when_it_sets_the_variable_late():
    """Snakemake imports Arrow before the workflow sets MIMALLOC_ALLOW_THP, too late for
    mimalloc; the pre-flight check reads whole matrices in that process, so Arrow's default
    pool becomes the system allocator there, unless the variable was set before (#19)."""
    import os
    import subprocess
    import sys

    probe = ("import pyarrow as pa; from first1000.stages import job_environment; job_environment(); "
             "print(pa.default_memory_pool().backend_name)")
    base = {k: v for k, v in os.environ.items() if k not in ("MIMALLOC_ALLOW_THP", "ARROW_DEFAULT_MEMORY_POOL")}
    late = subprocess.run([sys.executable, "-c", probe], env=base, capture_output=True, text=True, check=True)
    inherited = subprocess.run([sys.executable, "-c", probe], env={**base, "MIMALLOC_ALLOW_THP": "0"},
                               capture_output=True, text=True, check=True)
    if inherited.stdout.strip() != "mimalloc":
        pytest.skip("this Arrow's default pool is not mimalloc")
    assert late.stdout.strip() == "system"
