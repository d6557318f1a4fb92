"""The pre-flight check of the tables in worker processes (#19): the demo's tables pass, and
whatever fails first in time, the message is the one the serial check gives (the first
failure in config order: cohort by cohort, participants first, tables in mapping order)."""

from __future__ import annotations

import copy

import pytest

from first1000 import preflight as pf
from first1000.config import load_config
from first1000.errors import First1000Error

from workflow_runs import ROOT


@pytest.fixture(scope="module")
def cfg():
    return load_config(ROOT / "config" / "config.yaml")


@pytest.fixture
def parallel(monkeypatch):
    monkeypatch.setattr(pf, "read_key", lambda path: b"preflight-parallel-test")
    monkeypatch.setattr(pf, "PARALLEL_BYTES", 0)  # the demo's 8 MB would be checked serially


def _message(cfg, workers):
    try:
        pf.check_inputs(cfg, "unused.key", workers)
    except First1000Error as exc:
        return str(exc)
    return None


def _broken(cfg, *where):
    """``cfg`` with the tables ``(cohort, kind)`` pointing to files that do not exist."""
    out = copy.deepcopy(cfg)
    for cohort, kind in where:
        out["cohorts"][cohort]["_mapping"]["tables"][kind]["path"] = f"resources/demo/{cohort}/gone_{kind}.tsv"
    return out


def test_the_demo_passes_in_two_processes(cfg, parallel, monkeypatch):
    calls = []
    monkeypatch.setattr(pf, "ingest_cohort", lambda *a: calls.append(a))  # the serial path: not taken
    assert _message(cfg, 2) is None
    assert not calls
    assert list(cfg["cohorts"]) == ["ghent", "rotterdam"]


@pytest.mark.parametrize("where, named", [
    # rotterdam's participants fail within a second; ghent's last table only after its others
    ([("ghent", "child_followup"), ("rotterdam", "participants")], "gone_child_followup"),
    ([("rotterdam", "immune"), ("rotterdam", "hair_cortisol")], "gone_hair_cortisol"),
    ([("ghent", "participants"), ("rotterdam", "immune")], "gone_participants"),
])
def test_the_message_is_the_serial_checks(cfg, parallel, where, named, monkeypatch):
    broken = _broken(cfg, *where)
    serial = _message(broken, 1)
    assert serial is not None and named in serial
    monkeypatch.setattr(pf, "ingest_cohort", None)  # the parallel path only
    assert _message(broken, 2) == serial


def test_a_broken_pool_falls_back_to_the_serial_check(cfg, parallel, monkeypatch):
    """A worker that dies (out of memory) gives the check in this process, not a traceback."""
    from concurrent.futures.process import BrokenProcessPool

    def die(*args):
        raise BrokenProcessPool("a worker died")

    monkeypatch.setattr(pf, "_check_parallel", die)
    broken = _broken(cfg, ("rotterdam", "immune"))
    assert "gone_immune" in _message(broken, 2)
    calls = []
    monkeypatch.setattr(pf, "ingest_cohort", lambda *a: calls.append(a[0]))
    assert _message(cfg, 2) is None and calls == ["ghent", "rotterdam"]


def test_small_inputs_are_checked_in_this_process(cfg, monkeypatch):
    monkeypatch.setattr(pf, "read_key", lambda path: b"k")
    monkeypatch.setattr(pf, "_check_parallel", None)  # would fail if called
    calls = []
    monkeypatch.setattr(pf, "ingest_cohort", lambda *a: calls.append(a[0]))
    pf.check_inputs(cfg, "unused.key", 2)  # the demo: 8 MB < PARALLEL_BYTES
    assert calls == ["ghent", "rotterdam"]


def test_workers_follow_cores_and_cpus(monkeypatch):
    monkeypatch.setattr(pf.os, "sched_getaffinity", lambda pid: {0, 1})
    assert pf.preflight_workers(None) == 1  # no --cores (a cluster run): serial
    assert pf.preflight_workers(1) == 1
    assert pf.preflight_workers(64) == 2
    assert pf.preflight_workers(2) == 2
