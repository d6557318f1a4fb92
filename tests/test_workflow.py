"""The whole workflow, end to end, on the bundled demo cohort (Snakemake in a subprocess)."""

from __future__ import annotations

import filecmp
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from conftest import ROOT

pytestmark = pytest.mark.e2e
SNAKEMAKE = [sys.executable, "-m", "snakemake"]
COPY = ["Snakefile", "config", "resources", "workflow", "profiles", "src"]


def _workdir(base: Path) -> Path:
    base.mkdir(parents=True, exist_ok=True)
    for name in COPY:
        src = ROOT / name
        if src.is_dir():
            shutil.copytree(src, base / name, symlinks=True, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy2(src, base / name)
    return base


def _snakemake(workdir: Path, *args, timeout=900):
    env = dict(os.environ, MPLBACKEND="Agg")
    return subprocess.run(SNAKEMAKE + list(args), cwd=workdir, capture_output=True, text=True, timeout=timeout, env=env)


@pytest.fixture(scope="module")
def demo_run(tmp_path_factory):
    workdir = _workdir(tmp_path_factory.mktemp("demo"))
    run = _snakemake(workdir, "--cores", "2")
    assert run.returncode == 0, run.stderr[-4000:]
    report = _snakemake(workdir, "--report", "results/report.html")
    assert report.returncode == 0, report.stderr[-4000:]
    return workdir


@pytest.fixture(scope="module")
def truth():
    return yaml.safe_load((ROOT / "resources/demo/truth.yaml").read_text())


def _associations(workdir):
    return pd.concat([pd.read_csv(p, sep="\t") for p in sorted((workdir / "results/associations").glob("*.tsv"))])


def test_contract_columns(demo_run):
    assoc = _associations(demo_run)
    for column in "cohort, mechanism, predictor, response, model, n, estimate, se, ci_low, ci_high, p, q".split(", "):
        assert column in assoc.columns
    med = pd.read_csv(demo_run / "results/mediation/hpa.tsv", sep="\t")
    for column in "cohort, exposure, mediator, outcome, effect, estimate, ci_low, ci_high, p, n, n_boot".split(", "):
        assert column in med.columns
    assert set(med.effect) == {"total", "direct", "indirect", "proportion_mediated"}
    assert sorted(p.name for p in (demo_run / "results/figures/hpa").glob("*.png"))


def test_planted_effects_recovered(demo_run, truth):
    assoc = _associations(demo_run)
    by_cohort = assoc.set_index(["cohort", "predictor", "response"])
    for effect in truth["planted"]:
        key = (effect["predictor"], effect["response"])
        if "by_cohort" in effect:  # heterogeneous: each cohort's own truth
            checks = [(cohort, value) for cohort, value in effect["by_cohort"].items()]
        else:
            checks = [("pooled", effect["estimate"])]
        for cohort, value in checks:
            row = by_cohort.loc[(cohort, *key)]
            assert row.ci_low <= value <= row.ci_high, (cohort, effect)
            assert np.sign(row.estimate) == np.sign(value), (cohort, effect)
            assert row.q < 0.05, (cohort, effect)


def test_planted_heterogeneity_shows_in_meta_analysis(demo_run, truth):
    assoc = _associations(demo_run)
    meta = assoc[assoc.cohort == "meta"].set_index(["predictor", "response"])
    for effect in truth["planted"]:
        row = meta.loc[(effect["predictor"], effect["response"])]
        assert row.k == 2 and row.direction == ("++" if effect["estimate"] > 0 else "--")
        if "by_cohort" in effect:
            assert row.i2 > 50 and row.q_het_p < 0.05, row
    # single-cohort rows are guarded: I2 exactly 0
    single = assoc[(assoc.cohort == "meta") & (assoc.k == 1)]
    assert len(single) and (single.i2 == 0).all()


def test_no_effect_biomarkers_not_significant_after_fdr(demo_run, truth):
    assoc = _associations(demo_run)
    exposures = {"ses_index", "epds", "pss", "resilience"}
    null = assoc[assoc.response.isin(truth["no_effect"]) & assoc.predictor.isin(exposures)]
    pooled = null[null.cohort == "pooled"]
    assert len(pooled) >= 20
    # In the pooled analysis (the one the planted effects are checked on) no null is significant.
    assert (pooled.q > 0.05).all(), pooled[pooled.q <= 0.05][["predictor", "response", "q"]]
    # Per cohort, false discoveries stay rare, as FDR control implies (a chance one may occur).
    assert (null.q <= 0.05).mean() <= 0.05, null[null.q <= 0.05][["cohort", "predictor", "response", "q"]]


def test_mediated_path_recovered(demo_run, truth):
    med = pd.read_csv(demo_run / "results/mediation/hpa.tsv", sep="\t")
    planted = truth["mediation"][0]
    rows = med[(med.cohort == "pooled") & (med.exposure == planted["exposure"])].set_index("effect")
    for effect in ("indirect", "direct", "total"):
        assert rows.loc[effect, "ci_low"] <= planted[effect] <= rows.loc[effect, "ci_high"], effect
    assert rows.loc["indirect", "p"] < 0.05
    assert (rows.n_boot == 1000).all()


def test_mediation_equals_pingouin(demo_run):
    pingouin = pytest.importorskip("pingouin")
    people = pd.read_parquet(demo_run / "results/harmonised/participants.parquet")
    hpa = pd.read_parquet(demo_run / "results/prepared/hpa.parquet").drop(columns="cohort")
    data = people.merge(hpa, on="pseudo_id")
    data = data[data.cohort == "ghent"].copy()
    data["child_sex_male"] = (data.child_sex == "male").astype(float)
    covar = ["maternal_age", "bmi", "parity", "smoking", "child_sex_male"]
    cols = ["ses_index", "hair_cortisol_t3_ln", "birth_weight", *covar]
    data = data[cols].dropna()
    ref = pingouin.mediation_analysis(data=data, x="ses_index", m="hair_cortisol_t3_ln", y="birth_weight",
                                      covar=covar, seed=1, n_boot=200).set_index("path")
    med = pd.read_csv(demo_run / "results/mediation/hpa.tsv", sep="\t")
    ours = med[(med.cohort == "ghent") & (med.exposure == "ses_index")].set_index("effect")
    assert ours.loc["total", "n"] == len(data)
    assert ours.loc["total", "estimate"] == pytest.approx(ref.loc["Total", "coef"], rel=1e-8)
    assert ours.loc["direct", "estimate"] == pytest.approx(ref.loc["Direct", "coef"], rel=1e-8)
    assert ours.loc["indirect", "estimate"] == pytest.approx(ref.loc["Indirect", "coef"], rel=1e-8)


def test_noop_rerun_does_nothing(demo_run):
    dry = _snakemake(demo_run, "--dry-run")
    assert dry.returncode == 0
    assert "Nothing to be done" in dry.stdout + dry.stderr


def test_report_has_figures_and_no_ids(demo_run):
    html = (demo_run / "results/report.html").read_text(encoding="utf-8")
    assert len(html) > 100_000
    text = re.sub(r"base64,[A-Za-z0-9+/=]+", "base64,", html)  # embedded images and data
    ids = pd.concat([
        pd.read_csv(ROOT / "resources/demo/ghent/participants.csv", dtype=str).participant_id,
        pd.read_csv(ROOT / "resources/demo/rotterdam/participants.tsv", sep="\t", dtype=str)["id"],
    ])
    found = [i for i in ids if re.search(rf"(?<![\w-]){re.escape(i)}(?![\w-])", text)]
    assert not found, f"{len(found)} participant IDs in the report"
    for table in (demo_run / "results").rglob("*.tsv"):
        content = table.read_text()
        assert not [i for i in ids[:50] if re.search(rf"(?<![\w-]){re.escape(i)}(?![\w-])", content)], table


def test_same_config_and_seed_give_identical_results_on_one_core(demo_run, tmp_path):
    other = _workdir(tmp_path / "again")
    (other / ".first1000").mkdir()
    shutil.copy2(demo_run / ".first1000/pseudonym.key", other / ".first1000/pseudonym.key")
    run = _snakemake(other, "--cores", "1")
    assert run.returncode == 0, run.stderr[-4000:]
    compared = 0
    for path in sorted((demo_run / "results").rglob("*")):
        rel = path.relative_to(demo_run / "results")
        if path.is_dir() or rel.parts[0] in ("benchmarks",) or rel.name in ("run.json", "report.html"):
            continue
        assert filecmp.cmp(path, other / "results" / rel, shallow=False), f"{rel} differs"
        compared += 1
    assert compared > 30


def test_lint_is_clean(demo_run):
    lint = _snakemake(demo_run, "--lint")
    assert lint.returncode == 0, lint.stdout[-4000:] + lint.stderr[-2000:]


@pytest.mark.parametrize("case", ["duplicated_id", "missing_column", "text_in_numeric", "misspelt_key"])
def test_bad_input_stops_before_any_job(tmp_path, case):
    workdir = _workdir(tmp_path / case)
    table = workdir / "resources/demo/rotterdam/participants.tsv"
    frame = pd.read_csv(table, sep="\t", dtype=str, keep_default_na=False)
    expected = None
    if case == "duplicated_id":
        frame.loc[10, "id"] = frame.loc[3, "id"]
        expected = "resources/demo/rotterdam/participants.tsv, column 'id', rows 5, 12: duplicated participant ID"
    elif case == "missing_column":
        frame = frame.drop(columns="pariteit")
        expected = "key `variables.parity.column`: column 'pariteit' is not in resources/demo/rotterdam/participants.tsv"
    elif case == "text_in_numeric":
        frame.loc[[20, 21], "leeftijd_moeder"] = "n.v.t."
        expected = "resources/demo/rotterdam/participants.tsv, column 'leeftijd_moeder', rows 22, 23: expected a number"
    else:
        config = workdir / "config/config.yaml"
        config.write_text(config.read_text().replace("mediation:\n  n_boot:", "mediation:\n  nboot:"))
        expected = "key `mediation.nboot`: unknown key `nboot`. Did you mean `n_boot`?"
    frame.to_csv(table, sep="\t", index=False)
    run = _snakemake(workdir, "--cores", "2")
    assert run.returncode != 0
    errors = [line for line in run.stderr.splitlines() if line.startswith("first1000: error:")]
    assert len(errors) == 1, run.stderr[-3000:]
    assert expected in errors[0]
    assert "Traceback" not in run.stderr
    assert not (workdir / "results").exists()


def test_epigenome_wide_planted_cpgs(demo_run, truth):
    planted = set(truth["epigenome_wide"]["planted_cpgs"])
    for cohort in ("ghent", "rotterdam"):
        table = pd.read_parquet(demo_run / f"results/ewas/{cohort}/epds.parquet")
        summary = pd.read_csv(demo_run / f"results/ewas/{cohort}/epds_summary.tsv", sep="\t").iloc[0]
        hits = set(table.cpg[table.fdr < 0.05])
        assert len(hits & planted) >= 8, (cohort, sorted(hits & planted))
        assert len(hits - planted) <= 2, (cohort, sorted(hits - planted))
        assert 0.85 < summary["lambda"] < 1.2
        assert len(table) == 2000 and (demo_run / f"results/figures/ewas/{cohort}--epds--manhattan.png").exists()


def test_killed_run_reruns_to_identical_results(demo_run, tmp_path):
    """Kill the workflow mid-run (SIGKILL to its process group), rerun: same results."""
    import signal
    import time

    other = _workdir(tmp_path / "killed")
    (other / ".first1000").mkdir()
    shutil.copy2(demo_run / ".first1000/pseudonym.key", other / ".first1000/pseudonym.key")
    env = dict(os.environ, MPLBACKEND="Agg")
    proc = subprocess.Popen(SNAKEMAKE + ["--cores", "2"], cwd=other, env=env, start_new_session=True,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 600
    while time.time() < deadline and proc.poll() is None:
        if len(list((other / "results").glob("associations/*.tsv"))) >= 1:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the run finished before it could be interrupted"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    # A killed Snakemake leaves its lock (as after a power loss): unlock, then rerun;
    # the profile's rerun-incomplete regenerates whatever the killed jobs had started.
    assert _snakemake(other, "--unlock").returncode == 0
    rerun = _snakemake(other, "--cores", "2")
    assert rerun.returncode == 0, rerun.stderr[-4000:]
    for path in sorted((demo_run / "results").rglob("*")):
        rel = path.relative_to(demo_run / "results")
        if path.is_dir() or rel.parts[0] == "benchmarks" or rel.name in ("run.json", "report.html"):
            continue
        assert filecmp.cmp(path, other / "results" / rel, shallow=False), f"{rel} differs after the rerun"


def test_candidate_cpgs_use_the_ewas_engine(demo_run):
    """The candidate (NR3C1) run of the EWAS engine agrees with the association models
    (statsmodels OLS, same covariates) on the coefficients, and moderates them."""
    assoc = _associations(demo_run)
    for cohort in ("ghent", "rotterdam"):
        cand = pd.read_csv(demo_run / f"results/ewas/{cohort}/epds_candidates.tsv", sep="\t").set_index("cpg")
        rows = assoc[(assoc.cohort == cohort) & (assoc.predictor == "epds")].set_index("response")
        assert len(cand) == 8
        for cpg, row in cand.iterrows():
            ols = rows.loc[f"{cpg}_m"]
            assert row.coef == pytest.approx(ols.estimate, rel=1e-8)
            assert row.n == ols.n
        assert (cand.loc[["cg04111177", "cg15910486", "cg27107893"], "fdr"] < 0.05).all()
