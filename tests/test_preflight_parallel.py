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
    monkeypatch.setattr(pf, "PARALLEL_WEIGHT", 0)  # the demo's tables would be checked serially


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
    pf.check_inputs(cfg, "unused.key", 2)  # the demo: 36 MiB-equivalent besides its heaviest table
    assert calls == ["ghent", "rotterdam"]


def test_one_heavy_table_beside_light_ones_is_checked_in_this_process(cfg, monkeypatch):
    """Parallel checks pay when the tables besides the heaviest weigh enough, not when one
    table (a large Parquet matrix, which reads with its own thread) outweighs the others."""
    weights = {}
    monkeypatch.setattr(pf, "_check_weight", lambda spec: weights.get(spec["path"], 1 << 20))
    cohorts = [(c, spec["_mapping"]) for c, spec in cfg["cohorts"].items()]
    matrix = cfg["cohorts"]["ghent"]["_mapping"]["tables"]["methylation_matrix"]["path"]
    n_tables = sum(len(m["tables"]) for _, m in cohorts)
    weights[matrix] = 4 << 30  # 4 GB of Parquet beside ~1 MB tables
    assert pf._weight_besides_heaviest(cohorts) == (n_tables - 1) << 20 < pf.PARALLEL_WEIGHT
    monkeypatch.setattr(pf, "read_key", lambda path: b"k")
    monkeypatch.setattr(pf, "_check_parallel", None)  # would fail if called
    calls = []
    monkeypatch.setattr(pf, "ingest_cohort", lambda *a: calls.append(a[0]))
    pf.check_inputs(cfg, "unused.key", 2)
    assert calls == ["ghent", "rotterdam"]
    weights[cfg["cohorts"]["rotterdam"]["_mapping"]["tables"]["telomere_qpcr"]["path"]] = pf.PARALLEL_WEIGHT
    assert pf._weight_besides_heaviest(cohorts) >= pf.PARALLEL_WEIGHT  # two heavy tables: in parallel
    went = []
    monkeypatch.setattr(pf, "_check_parallel", lambda *a: went.append(len(a[0])))
    pf.check_inputs(cfg, "unused.key", 2)
    assert went == [2] and calls == ["ghent", "rotterdam"]


def test_workers_follow_cores_and_cpus(monkeypatch):
    monkeypatch.setattr(pf.os, "sched_getaffinity", lambda pid: {0, 1})
    assert pf.preflight_workers(None) == 1  # no --cores (a cluster run): serial
    assert pf.preflight_workers(1) == 1
    assert pf.preflight_workers(64) == 2
    assert pf.preflight_workers(2) == 2


def test_the_cached_pass_follows_first1000_s_code(cfg, monkeypatch):
    """The pre-flight check's cache key: keyed on the version number only, a pulled change
    of the checks (same version) kept the cached pass of unchanged tables; it now carries
    the code digest the rules' software param carries."""
    from first1000.stages import provenance

    cfg = {**cfg, "_key_fingerprint": "k"}
    pf._software.cache_clear()
    before = pf._fingerprint(cfg)
    assert pf._fingerprint(cfg) == before  # the same code and tables: the cached pass holds
    monkeypatch.setattr(provenance, "code_digest", lambda package=None: "0123456789ab")
    pf._software.cache_clear()
    try:
        assert "(code 0123456789ab)" in pf._software() and pf._fingerprint(cfg) != before
    finally:
        monkeypatch.undo()
        pf._software.cache_clear()
    assert pf._fingerprint(cfg) == before
