"""A real cohort runs clean (issue #16): a pregnancy trial's raw tables as a lab exports them
(tests/data/real_cohort: pregnancy losses, assay floors, education as the only SES
indicator, a study-specific binary exposure coded 1/2, number/text-mixed codes in a
workbook, no questionnaires) with the lab's own config and mapping, from `check-config` to
the report, with no edit of any shipped file. Each case of the issue is asserted with its
message or status text."""

from __future__ import annotations

import filecmp
import hashlib
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from workflow_runs import ROOT, run_snakemake, snakemake_env, workdir_copy

pytestmark = pytest.mark.e2e

DATA = ROOT / "tests/data/real_cohort"
SHIPPED = ["config", "resources", "workflow", "Snakefile", "src/first1000/schemas"]


def _digest(root: Path) -> dict[str, str]:
    out = {}
    for name in SHIPPED:
        path = root / name
        files = [path] if path.is_file() else sorted(p for p in path.rglob("*") if p.is_file()
                                                       and "__pycache__" not in p.parts)
        out.update({str(f.relative_to(root)): hashlib.sha256(f.read_bytes()).hexdigest() for f in files})
    return out


@pytest.fixture(scope="module")
def trial(tmp_path_factory):
    sys.path.insert(0, str(DATA))
    try:
        from make_tables import write_tables
    finally:
        sys.path.remove(str(DATA))
    workdir = workdir_copy(tmp_path_factory.mktemp("real_cohort"))
    shipped = _digest(workdir)
    facts = write_tables(workdir / "lab")
    for name in ("config.yaml", "mapping.yaml"):
        shutil.copy(DATA / name, workdir / "lab" / name)
    check = subprocess.run([sys.executable, "-m", "first1000.cli", "check-config", "lab/config.yaml"], cwd=workdir,
                           capture_output=True, text=True, env=snakemake_env(workdir))
    run = run_snakemake(workdir, "--configfile", "lab/config.yaml", "--cores", "2")
    assert run.returncode == 0, run.stderr[-3000:]
    report = run_snakemake(workdir, "--configfile", "lab/config.yaml", "--cores", "1", "--report",
                           "results/report.html")
    assert report.returncode == 0, report.stderr[-3000:]
    return dict(workdir=workdir, facts=facts, check=check, run=run, shipped=shipped)


def _tsv(trial, path, **kw):
    return pd.read_csv(trial["workdir"] / path, sep="\t", **kw)


def test_no_shipped_file_was_edited(trial):
    assert _digest(trial["workdir"]) == trial["shipped"]
    assert filecmp.cmp(trial["workdir"] / "resources/harmonised_variables.yaml",
                       ROOT / "resources/harmonised_variables.yaml", shallow=False)


def test_check_config_warns_that_one_ses_indicator_may_not_form_tertiles(trial):
    warning = ("first1000: warning: cohort trial: its SES index is formed from one discrete indicator "
               "(education_isced), so it has few distinct values: where two tertile cut points fall on one value, "
               "its Table 1 shows all participants only, with a row saying why.")
    assert trial["check"].returncode == 0
    assert trial["check"].stderr.splitlines() == [warning]
    assert trial["check"].stdout == "first1000: lab/config.yaml is valid\n"
    assert warning in trial["run"].stderr  # and the workflow's start says it too
    assert "Traceback" not in trial["run"].stderr


def test_table1_has_no_tertiles_and_says_why_and_describes_births(trial):
    table = _tsv(trial, "results/harmonised/table1.tsv", dtype=str, keep_default_na=False)
    assert list(table.columns) == ["cohort", "variable", "level", "overall"]
    note = table[table.variable == "SES tertiles not formed"]
    assert note.level.tolist() == ["the SES index has 3 distinct values and its tertile cut points coincide"]
    rows = table.set_index(["variable", "level"]).overall
    assert rows[("participants", "n")] == "320"
    losses = "pregnancy losses (not births), n (%)"
    assert rows[("Gestational age at birth (days)", losses)] == "8 (2.5%)"
    assert rows[("Birth weight (g)", losses)] == "8 (2.5%)"
    # births only: mean gestational age of the 312 births, not dragged down by the losses
    assert 270 < float(rows[("Gestational age at birth (days)", "mean (SD)")].split()[0]) < 290
    # the study's own exposure is described; variables no participant has are not
    assert rows[("Low education (primary school only) (0/1)", "n (%)")] == "63 (19.7%)"
    assert not table.variable.str.startswith(("Parity", "EPDS", "PSS", "Brief Resilience", "Employment",
                                              "Equivalised")).any()


def test_losses_are_counted_and_left_out_of_birth_outcome_models(trial):
    report = _tsv(trial, "results/harmonisation/trial_variables.tsv", keep_default_na=False).set_index("variable")
    assert report.loc["gestational_age", "note"].endswith(
        "pregnancy losses (gestational age < 154 days): 8; their birth outcomes are left out of the outcome "
        "models (analysis_population)")
    assert "range set by variable_overrides: min 90 (data schema: 154); reason: the trial followed pregnancies" \
        in report.loc["gestational_age", "note"]
    assoc = _tsv(trial, "results/associations/immune.tsv")
    trial_rows = assoc[assoc.cohort == "trial"]
    outcome = trial_rows[trial_rows.response == "birth_weight"]
    assert set(outcome.n) == {312} and set(outcome.n_missing) == {8}
    exposure = trial_rows[trial_rows.predictor == "low_education"]
    assert set(exposure.n) == {320}


def test_mixed_codes_are_one_code_each(trial):
    participants = pd.read_parquet(trial["workdir"] / "results/harmonised/participants.parquet")
    assert sorted(participants.smoking.unique()) == [0, 1]
    assert sorted(participants.low_education.unique()) == [0, 1]
    assert participants.low_education.sum() == 63


def test_assay_floors_are_below_lod_or_a_pile_up_warning(trial):
    qc = _tsv(trial, "results/qc/immune.tsv", keep_default_na=False).set_index("marker")
    facts = trial["facts"]
    # IL-6: its floor is the declared LOD, so 71% are below it: detected / not detected only
    assert qc.loc["il6", "rule"] == "detected_binary"
    assert float(qc.loc["il6", "pct_below_lod"]) == pytest.approx(facts["pct_il6_floor"])
    # IL-1beta: no LOD declared; 57% at one value is a pile-up, with a warning
    assert facts["pct_il1b_floor"] > 50
    assert bool(qc.loc["il1b", "pile_up"]) is True
    assert float(qc.loc["il1b", "pct_at_one_value"]) == pytest.approx(facts["pct_il1b_floor"])
    assert qc.loc["il1b", "warning"].startswith("warning: more than 10% of the measured values equal one single value "
                                                "(the smallest measured value: an assay floor?)")
    # CRP above 10 mg/L in a quarter of a pregnant cohort: counted and warned about
    assert int(qc.loc["crp", "n_above_limit"]) == facts["n_crp_over_10"]
    assert "CRP runs high in pregnancy" in qc.loc["crp", "warning"]


def test_a_detected_biomarker_is_modelled_by_logistic_regression(trial):
    assoc = _tsv(trial, "results/associations/immune.tsv")
    rows = assoc[(assoc.cohort == "trial") & (assoc.response == "il6_detected")]
    assert set(rows.model) == {"logistic"} and set(rows.family) == {"binomial"}
    assert rows.unit.str.startswith("log odds per").all()


def test_the_planted_effects_are_recovered(trial):
    from make_tables import BIRTH_WEIGHT_PER_LN_CRP, LN_CRP_PER_LOW_EDUCATION

    assoc = _tsv(trial, "results/associations/immune.tsv")
    fit = assoc[(assoc.cohort == "trial") & (assoc.predictor == "low_education")
                & (assoc.response == "crp_ln")].iloc[0]
    assert abs(fit.estimate - LN_CRP_PER_LOW_EDUCATION) < 3 * fit.se
    fit = assoc[(assoc.cohort == "trial") & (assoc.predictor == "crp_ln")
                & (assoc.response == "birth_weight")].iloc[0]
    assert abs(fit.estimate - BIRTH_WEIGHT_PER_LN_CRP) < 3 * fit.se


def test_mediation_of_a_binary_exposure_says_what_it_did(trial):
    med = _tsv(trial, "results/mediation/immune.tsv", keep_default_na=False)
    rows = med[med.cohort == "trial"].set_index("effect")
    assert set(rows.contrast) == {"binary"} and set(rows.a0) == {0} and set(rows.a1) == {1}
    assert set(rows.n) == {312} and set(rows.n_missing) == {8}  # the losses, left out of a birth outcome
    assert set(rows.n_boot_dropped) == {0}
    te = rows.loc["te"]
    if float(te.ci_low) <= 0 <= float(te.ci_high):
        assert rows.loc["pm", "estimate"] == ""
        assert rows.loc["pm", "status"] == ("pm not reported: the 95% CI of the total effect includes the null, so a "
                                            "proportion of it is not interpretable")


def test_the_report_has_only_sections_with_data(trial):
    workdir = trial["workdir"]
    assert not (workdir / "results/qc/mood.tsv").exists()  # no questionnaires: no mood QC
    html = (workdir / "results/report.html").read_text(encoding="utf-8")
    assert "maternal mood QC" not in html and "maternal mood questionnaires" not in html
    assert "SES T1" not in html  # Table 1 without tertiles
    assert "Table 1" in html and "Immune system" in html


def test_no_participant_id_in_any_output(trial):
    workdir = trial["workdir"]
    for path in [*(workdir / "results").rglob("*"), *(workdir / "logs").rglob("*")]:
        if path.is_file() and path.suffix in (".tsv", ".html", ".svg", ".log", ".json", ".yaml", ".txt"):
            assert "PT-0" not in path.read_text(encoding="utf-8", errors="replace"), path
    assert "PT-0" not in trial["run"].stderr


def test_first1000_run_is_short_and_names_the_log_of_a_failed_job(trial):
    """Last in this module: it damages a result of the shared run."""
    workdir = trial["workdir"]
    command = [sys.executable, "-m", "first1000.cli", "run", "--configfile", "lab/config.yaml", "--cores", "2"]
    noop = subprocess.run(command, cwd=workdir, capture_output=True, text=True, env=snakemake_env(workdir))
    assert noop.returncode == 0, noop.stdout[-2000:]
    assert noop.stdout.splitlines()[-1] == ("first1000: nothing to do: every result is up to date with the config "
                                            "and inputs")
    (workdir / "results/prepared/immune.parquet").write_bytes(b"not a parquet file")  # newer: its readers rerun
    failed = subprocess.run(command, cwd=workdir, capture_output=True, text=True, env=snakemake_env(workdir))
    assert failed.returncode != 0
    lines = failed.stdout.splitlines()
    failures = [re.fullmatch(r"failed: (\w+) \(mechanism=immune\); its log: (logs/\w+/immune\.log)", line)
                for line in lines if line.startswith("failed: ")]
    assert failures and all(failures), failed.stdout  # one line per failed job, with its log
    for found in failures:  # the log holds the job's one message
        assert (f"first1000: error: results/prepared/immune.parquet, an input of stage {found.group(1)} (mechanism "
                "immune), cannot be read: it is not a readable parquet file") in (workdir / found.group(2)).read_text()
    assert re.fullmatch(r"first1000: \d+ jobs? failed after \d+ of \d+ jobs \(.*", lines[-1]), lines[-1]
    assert " of 0 jobs" not in lines[-1]  # the total comes from the job stats
    stages = [line for line in lines if line.startswith("stage ")]
    assert len(stages) == len(set(stages)) and len(lines) <= len(stages) + 12
