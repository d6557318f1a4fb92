"""Reruns follow the config: each edit an analyst makes (tests/config_edits.py), made on a
finished run of .test/config/reruns.yaml and rerun incrementally, gives the same bytes under
results/ as a run from scratch of the edited config; an edit of comments and key order reruns
nothing. The runs are made once per session (workflow_runs.reruns), in the background while
the unit tests run."""

from __future__ import annotations

import pytest

from config_edits import EDITS

pytestmark = pytest.mark.e2e


def test_baseline_runs_and_the_in_process_reference_equals_it(rerun_results):
    assert rerun_results["baseline"].returncode == 0, rerun_results["baseline"].stderr[-4000:]
    reference = rerun_results["reference"]
    assert reference["returncode"] == 0, reference["log"][-4000:]
    assert reference["differences"] == []


def test_an_edit_of_comments_and_key_order_reruns_nothing(rerun_results):
    noop = rerun_results["noop"]
    assert noop.returncode == 0, noop.stderr[-3000:]
    assert "Nothing to be done" in noop.stdout + noop.stderr, (noop.stdout + noop.stderr)[-3000:]


@pytest.mark.parametrize("edit", EDITS, ids=[e.name for e in EDITS])
def test_an_incremental_run_after_an_edit_equals_a_run_from_scratch(edit, rerun_results):
    found = rerun_results["edits"][edit.name]
    assert found["rerun"].returncode == 0, (found["rerun"].stdout + found["rerun"].stderr)[-4000:]
    assert found["scratch_returncode"] == 0, found["scratch_log"][-4000:]
    assert found["differences"] == [], f"stale after the edit '{edit.name}': {found['differences']}"
    assert set(edit.reruns) <= set(found["rules"]), (edit.reruns, sorted(set(found["rules"])))
