"""The .test/ scenarios, end to end (snakemake --configfile .test/config/{scenario}.yaml)."""

from __future__ import annotations

import filecmp
import os
import shutil
import signal
import subprocess
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from workflow_runs import SNAKEMAKE, run_snakemake, snakemake_env, workdir_copy

pytestmark = pytest.mark.e2e


def _tsv(workdir, path):
    return pd.read_csv(workdir / path, sep="\t")


def _compare_results(expected, got):
    for path in sorted((expected / "results").rglob("*")):
        rel = path.relative_to(expected / "results")
        if path.is_dir() or rel.name == "report.html" or rel.name.startswith(".snakemake_timestamp"):
            continue
        assert filecmp.cmp(path, got / "results" / rel, shallow=False), f"{rel} differs"


@pytest.mark.scenario("multi-cohort")
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


@pytest.fixture(scope="module")
def killed_one_core_run(scenario_run, tmp_path_factory):
    """The multi-cohort scenario again, on one core (--cores 1), killed mid-run (SIGKILL to
    its process group), unlocked and rerun on one core. Every job thus runs on one core, and
    the jobs in flight when the run was killed are redone from their incomplete outputs: one
    run checks both that results do not depend on the number of cores and that a killed run
    reruns to the same results (as two separate runs did, at the cost of one more run)."""
    reference = scenario_run("multi-cohort")
    other = workdir_copy(tmp_path_factory.mktemp("one-core-killed"), source=reference)  # the same sources
    shutil.copytree(reference / ".test", other / ".test")
    (other / ".first1000").mkdir()
    shutil.copy2(reference / ".first1000/pseudonym.key", other / ".first1000/pseudonym.key")
    args = ["--cores", "1", "--configfile", ".test/config/multi-cohort.yaml"]
    proc = subprocess.Popen(SNAKEMAKE + args, cwd=other, env=snakemake_env(other), start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if list((other / "results").glob("associations/*.tsv")):
            break
        time.sleep(0.2)
    interrupted = proc.poll() is None
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # A killed Snakemake leaves its lock (as after a power loss): unlock, then rerun;
    # the profile's rerun-incomplete regenerates whatever the killed jobs had started.
    unlock = run_snakemake(other, "--unlock", "--configfile", ".test/config/multi-cohort.yaml")
    rerun = run_snakemake(other, *args)
    return {"reference": reference, "workdir": other, "interrupted": interrupted, "unlock": unlock, "rerun": rerun}


@pytest.mark.scenario("multi-cohort")
def test_multi_cohort_on_one_core_gives_identical_results(killed_one_core_run):
    run = killed_one_core_run
    assert run["rerun"].returncode == 0, run["rerun"].stderr[-4000:]
    assert "Provided cores: 1" in run["rerun"].stdout + run["rerun"].stderr
    _compare_results(run["reference"], run["workdir"])


@pytest.mark.scenario("multi-cohort")
def test_multi_cohort_killed_run_reruns_to_identical_results(killed_one_core_run):
    """Kill the workflow mid-run (SIGKILL to its process group), unlock, rerun: same results."""
    run = killed_one_core_run
    assert run["interrupted"], "the run finished before it could be interrupted"
    assert run["unlock"].returncode == 0, run["unlock"].stderr[-4000:]
    assert run["rerun"].returncode == 0, run["rerun"].stderr[-4000:]
    # the rerun had work left: the killed run did not get to the end
    assert "Nothing to be done" not in run["rerun"].stdout + run["rerun"].stderr
    _compare_results(run["reference"], run["workdir"])


@pytest.mark.scenario("missing-ses")
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


@pytest.mark.scenario("binary-outcome")
def test_binary_outcome_single_cohort(scenario_run):
    run = scenario_run("binary-outcome")
    assoc = _tsv(run, "results/associations/hpa.tsv")
    assert set(assoc.cohort) == {"ghent"}  # one cohort: no pooled, no meta rows
    binary = assoc[assoc.response.isin(["preterm", "sga"])]
    assert (binary.model == "logistic").all() and len(binary) == 2
    med = _tsv(run, "results/mediation/hpa.tsv")
    assert set(med.scale) == {"risk_difference", "risk_ratio", "odds_ratio"}
    ratio = med.effect == "pm"  # a proportion mediated never gets a BC/BCa interval (a ratio): percentile
    assert ratio.any() and (med.ci_method[~ratio] == "bca").all() and (med.ci_method[ratio] == "percentile").all()
    assert (med.contrast == "iqr").all()
    te = med[med.effect == "te"].set_index("scale")
    # The ratio scales agree in direction with the risk difference.
    assert np.sign(te.loc["risk_difference", "estimate"]) == np.sign(np.log(te.loc["risk_ratio", "estimate"]))
    ratios = med[(med.scale != "risk_difference") & (med.effect != "pm")]  # pm is a share, not a ratio
    assert (ratios[["estimate", "ci_low", "ci_high"]].dropna() > 0).all().all()
    assert (run / "results/figures/hpa/mediation--ses_index--hair_cortisol_t3_ln--preterm.png").exists()


# --------------------------------------------------------------------------- summary statistics
def _sites_config(workdir: Path, exports: dict[str, Path]) -> Path:
    """The multi-cohort scenario's config with the sites' exports instead of its cohorts."""
    config = yaml.safe_load((workdir / ".test/config/multi-cohort.yaml").read_text())
    del config["cohorts"]
    config["sites"] = {site: {"path": str(path), "label": site.title()} for site, path in exports.items()}
    path = workdir / "config/sites.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


@pytest.mark.scenario("multi-cohort")
def test_summary_statistics_only_run_reproduces_the_meta_analysis(scenario_run, tmp_path):
    """Each cohort's export, meta-analysed by a second run without individual data, gives
    the meta-analysis of the run on individual data (to the 10 digits the TSVs keep)."""
    demo_run = scenario_run("multi-cohort")  # its exports, and the run on individual data
    exports = {}
    for cohort in ("ghent", "rotterdam"):  # as if mailed by each site
        exports[cohort] = shutil.copytree(demo_run / "results/export" / cohort, tmp_path / "mail" / cohort)
        manifest = yaml.safe_load((exports[cohort] / "manifest.json").read_text())
        assert manifest["cohort"] == cohort and "ewas_epds.parquet" in manifest["files"]
        exported = pd.read_csv(exports[cohort] / "associations.tsv", sep="\t")
        assert set(exported.cohort) == {cohort}
        assert "pseudo_id" not in exported and "pseudo_id" not in pd.read_parquet(exports[cohort] / "ewas_epds.parquet")
    meta_dir = workdir_copy(tmp_path / "consortium", source=demo_run)  # the scenario run's sources
    shutil.copytree(demo_run / ".test", meta_dir / ".test")
    for path in (meta_dir / "resources/demo").iterdir():  # no individual data at the meta-analysis site
        if path.name != "methylation_annotation.tsv":  # (the array's CpG annotation stays)
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    sites = _sites_config(meta_dir, exports)
    run = run_snakemake(meta_dir, "--cores", "2", "--configfile", str(sites))
    assert run.returncode == 0, run.stderr[-4000:]
    for mechanism in ("hpa", "methylation"):
        ours = pd.read_csv(meta_dir / f"results/associations/{mechanism}.tsv", sep="\t")
        full = pd.read_csv(demo_run / f"results/associations/{mechanism}.tsv", sep="\t")
        full = full[full.cohort != "pooled"].reset_index(drop=True)
        assert list(ours.columns) == list(full.columns)
        assert ours[["cohort", "predictor", "response", "direction"]].equals(
            full[["cohort", "predictor", "response", "direction"]])
        for column in ("estimate", "se", "p", "q", "i2", "tau2", "n", "k"):
            np.testing.assert_allclose(ours[column], full[column], rtol=1e-7, err_msg=f"{mechanism} {column}")
    med_ours = pd.read_csv(meta_dir / "results/mediation/hpa.tsv", sep="\t")
    med_full = pd.read_csv(demo_run / "results/mediation/hpa.tsv", sep="\t")
    pick = ["estimate", "se", "p"]
    np.testing.assert_allclose(med_ours[med_ours.cohort == "meta"][pick].to_numpy(float),
                               med_full[med_full.cohort == "meta"][pick].to_numpy(float), rtol=1e-7)
    assert pd.read_parquet(meta_dir / "results/ewas/meta/epds.parquet").equals(
        pd.read_parquet(demo_run / "results/ewas/meta/epds.parquet"))
    checksums = pd.read_csv(meta_dir / "results/provenance/input_checksums.tsv", sep="\t")
    assert len(checksums) == 2 * 5 + 2 and checksums.file.str.endswith("manifest.json").sum() == 2
    # and the array annotation the EWAS meta-analysis reads, and the harmonised variables
    # (labels, units and types of the figures and tables)
    assert (checksums.file == "resources/demo/methylation_annotation.tsv").sum() == 1
    assert checksums.file.str.endswith("harmonised_variables.yaml").sum() == 1, checksums.file.tolist()
    assert (meta_dir / "results/figures/hpa/forest--ses_index.png").exists()
    report = run_snakemake(meta_dir, "--report", "results/report.html", "--configfile", str(sites))
    assert report.returncode == 0, report.stderr[-3000:]

    # An export changed after it was written stops the run before any job, naming the file.
    table = exports["ghent"] / "associations.tsv"
    table.write_text(table.read_text().replace("\tok", "\tOK", 1))
    shutil.rmtree(meta_dir / "results")
    bad = run_snakemake(meta_dir, "--cores", "2", "--configfile", str(sites))
    assert bad.returncode == 1
    assert f"first1000: error: site `ghent`: {table} does not match its SHA-256" in bad.stderr
    assert not (meta_dir / "results").exists()
