"""benchmarks/meta.py runs, and the per-CpG meta-analysis it times recovers what it plants."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

from first1000.stats.meta import meta_analyse

BENCHMARK = Path(__file__).resolve().parents[2] / "benchmarks" / "meta.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("meta_benchmark", BENCHMARK)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_simulation_plants_what_its_doc_says(bench):
    table, mu, tau2 = bench.simulate(10_000, 4, 0.03**2, np.random.default_rng(1))
    assert len(table) == 40_000 and list(table.cohort[:4]) == ["cohort1", "cohort2", "cohort3", "cohort4"]
    assert set(np.unique(tau2)) == {0.0, 0.03**2} and (tau2 > 0).mean() == 0.5
    assert 0.019 < mu.std() < 0.021
    assert table.se.between(0.02, 0.06).all()
    # where tau2 = 0 an estimate's deviation from its CpG's mu is its SE times a standard normal
    z = (table.estimate.to_numpy().reshape(-1, 4) - mu[:, None]) / table.se.to_numpy().reshape(-1, 4)
    assert abs(z[tau2 == 0].std() - 1) < 0.02


def test_reml_recovers_the_planted_effects(bench):
    """20,000 CpGs x 5 cohorts: the 95% CIs cover the planted mean where tau2 = 0 at least
    at the nominal rate (REML's tau2, truncated at 0, makes them a little conservative there:
    96.5% with this seed) and not far above it; the Q-profile tau2 intervals cover the planted
    tau2 > 0 at about 95%."""
    table, mu, tau2 = bench.simulate(20_000, 5, 0.03**2, np.random.default_rng(7))
    meta = meta_analyse(table, by=("marker",), study="cohort", method="REML")
    assert (meta.status == "ok").all() and list(meta.marker[:2]) == ["cg00000000", "cg00000001"]
    covered = (meta.ci_low <= mu) & (mu <= meta.ci_high)
    null = tau2 == 0
    mc_se = np.sqrt(0.95 * 0.05 / null.sum())
    assert 0.95 - 4 * mc_se < covered[null].mean() < 0.98
    inside = (meta.tau2_ci_low <= tau2) & (tau2 <= meta.tau2_ci_high)
    assert abs(inside[~null].mean() - 0.95) < 0.02
    # tau2 is truncated at 0: most null CpGs get exactly 0, the others a small positive value
    assert (meta.tau2[null] == 0).mean() > 0.5
    assert meta.tau2[~null].mean() - meta.tau2[null].mean() > 0.6 * 0.03**2


def test_main_prints_its_figures(bench, capsys):
    assert bench.main(["--cpgs", "2000", "--cohorts", "3", "--method", "FE"]) == 0
    out = capsys.readouterr().out
    assert re.search(r"meta_analyse \(FE\): [\d.]+ s wall", out)
    found = re.search(r"covers the planted mean effect in [\d.]+% of them \(([\d.]+)% where tau2 = 0", out)
    assert found and 90 < float(found.group(1)) < 99
