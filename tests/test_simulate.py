"""The bundled demo is exactly what the simulator writes for the documented seed."""

from __future__ import annotations

import hashlib

import yaml

from first1000.simulate import DEMO_SEED, simulate

from workflow_runs import ROOT


def _digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_demo_files_are_the_simulator_output(tmp_path):
    simulate(tmp_path, seed=DEMO_SEED)
    bundled = sorted(p.relative_to(ROOT / "resources/demo") for p in (ROOT / "resources/demo").rglob("*") if p.is_file())
    fresh = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*") if p.is_file())
    assert bundled == fresh
    for rel in bundled:
        assert _digest(ROOT / "resources/demo" / rel) == _digest(tmp_path / rel), f"{rel} differs from the simulator output"


def test_truth_lists_planted_and_null_effects():
    truth = yaml.safe_load((ROOT / "resources/demo/truth.yaml").read_text())
    assert truth["seed"] == DEMO_SEED
    assert sum(truth["participants"].values()) == 1000
    responses = {p["response"] for p in truth["planted"]}
    assert {"hair_cortisol_t3_ln", "telomere_ts_ln"} <= responses
    assert not responses & set(truth["no_effect"])
    med = truth["mediation"][0]
    assert med["indirect"] == med["a"] * med["b"]


def test_other_seed_gives_other_data(tmp_path):
    simulate(tmp_path / "a", seed=1, sizes={"ghent": 40, "rotterdam": 40})
    simulate(tmp_path / "b", seed=2, sizes={"ghent": 40, "rotterdam": 40})
    assert _digest(tmp_path / "a/ghent/participants.csv") != _digest(tmp_path / "b/ghent/participants.csv")
