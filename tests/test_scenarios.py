"""The .test/ scenarios, end to end (snakemake --configfile .test/config/{scenario}.yaml)."""

from __future__ import annotations

import filecmp
import os
import shutil
import signal
import subprocess
import time

import numpy as np
import pandas as pd
import pytest

from conftest import ROOT, SNAKEMAKE, run_snakemake, workdir_copy

pytestmark = pytest.mark.e2e


def _tsv(workdir, path):
    return pd.read_csv(workdir / path, sep="\t")


def _compare_results(expected, got, skip=("benchmarks",)):
    for path in sorted((expected / "results").rglob("*")):
        rel = path.relative_to(expected / "results")
        if path.is_dir() or rel.parts[0] in skip or rel.name in ("run.json", "report.html") \
                or rel.name.startswith(".snakemake_timestamp"):
            continue
        assert filecmp.cmp(path, got / "results" / rel, shallow=False), f"{rel} differs"


def test_multi_cohort_meta_analyses_associations_mediation_and_cpgs(scenario_run):
    run = scenario_run("multi-cohort")
    assoc = _tsv(run, "results/associations/hpa.tsv")
    assert set(assoc.cohort) == {"ghent", "rotterdam", "pooled", "meta"}
    meta = assoc[assoc.cohort == "meta"]
    assert (meta.k == 2).all() and meta.direction.str.fullmatch(r"[+\-?0]{2}").all()
    # Knapp-Hartung: t(k-1) = t(1) intervals, much wider than the normal ones
    row = meta[(meta.predictor == "ses_index") & (meta.response == "hair_cortisol_t3_ln")].iloc[0]
    assert (row.ci_high - row.ci_low) / (2 * row.se) > 5
    med = _tsv(run, "results/mediation/hpa.tsv")
    assert {"meta", "pooled"} <= set(med.cohort) and (med.n_boot[med.cohort != "meta"] == 300).all()
    ewas = pd.read_parquet(run / "results/ewas/meta/epds.parquet")
    assert len(ewas) == 2000 and (ewas.k == 2).all()
    weights = _tsv(run, "results/harmonised/ses_index.tsv")
    assert len(weights) >= 3  # PCA loadings of the three indicators
    assert (run / "results/export/ghent/manifest.json").exists()


def test_multi_cohort_on_one_core_gives_identical_results(scenario_run, tmp_path):
    reference = scenario_run("multi-cohort")
    other = workdir_copy(tmp_path / "one-core")
    shutil.copytree(ROOT / ".test", other / ".test")
    (other / ".first1000").mkdir()
    shutil.copy2(reference / ".first1000/pseudonym.key", other / ".first1000/pseudonym.key")
    run = run_snakemake(other, "--cores", "1", "--configfile", ".test/config/multi-cohort.yaml")
    assert run.returncode == 0, run.stderr[-4000:]
    _compare_results(reference, other)


def test_multi_cohort_killed_run_reruns_to_identical_results(scenario_run, tmp_path):
    """Kill the workflow mid-run (SIGKILL to its process group), unlock, rerun: same results."""
    reference = scenario_run("multi-cohort")
    other = workdir_copy(tmp_path / "killed")
    shutil.copytree(ROOT / ".test", other / ".test")
    (other / ".first1000").mkdir()
    shutil.copy2(reference / ".first1000/pseudonym.key", other / ".first1000/pseudonym.key")
    args = ["--cores", "2", "--configfile", ".test/config/multi-cohort.yaml"]
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.Popen(SNAKEMAKE + args, cwd=other, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if list((other / "results").glob("associations/*.tsv")):
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # A killed Snakemake leaves its lock (as after a power loss): unlock, then rerun;
    # the profile's rerun-incomplete regenerates whatever the killed jobs had started.
    assert run_snakemake(other, "--unlock", "--configfile", ".test/config/multi-cohort.yaml").returncode == 0
    rerun = run_snakemake(other, *args)
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    _compare_results(reference, other)


def test_missing_ses_indicator_in_one_cohort(scenario_run):
    run = scenario_run("missing-ses")
    people = pd.read_parquet(run / "results/harmonised/participants.parquet")
    rotterdam = people[people.cohort == "rotterdam"]
    assert rotterdam.income_equivalised_ln.isna().all()
    assert rotterdam.ses_index.notna().mean() > 0.9  # education + neighbourhood suffice
    summary = _tsv(run, "results/harmonised/summary.tsv")
    income = summary[(summary.cohort == "rotterdam") & (summary.variable == "income_equivalised_ln")]
    assert float(income.pct_missing.iloc[0]) == 100.0
    assoc = _tsv(run, "results/associations/telomeres.tsv")
    fitted = assoc[(assoc.predictor == "ses_index") & (assoc.cohort == "rotterdam")]
    assert (fitted.status == "ok").all() and (fitted.n > 300).all()


def test_binary_outcome_single_cohort(scenario_run):
    run = scenario_run("binary-outcome")
    assoc = _tsv(run, "results/associations/hpa.tsv")
    assert set(assoc.cohort) == {"ghent"}  # one cohort: no pooled, no meta rows
    binary = assoc[assoc.response.isin(["preterm", "sga"])]
    assert (binary.model == "logistic").all() and len(binary) == 2
    med = _tsv(run, "results/mediation/hpa.tsv")
    assert set(med.scale) == {"risk_difference", "risk_ratio", "odds_ratio"}
    assert (med.ci_method == "bca").all() and (med.contrast == "iqr").all()
    te = med[med.effect == "te"].set_index("scale")
    # The ratio scales agree in direction with the risk difference.
    assert np.sign(te.loc["risk_difference", "estimate"]) == np.sign(np.log(te.loc["risk_ratio", "estimate"]))
    ratios = med[(med.scale != "risk_difference") & (med.effect != "pm")]  # pm is a share, not a ratio
    assert (ratios[["estimate", "ci_low", "ci_high"]].dropna() > 0).all().all()
    assert (run / "results/figures/hpa/mediation--ses_index--hair_cortisol_t3_ln--preterm.png").exists()
