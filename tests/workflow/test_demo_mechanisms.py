"""Mechanism preparations end to end on the demo: sensitivity analyses, hair covariates,
CMV strata, percent differences, the mood QC table and the generic CNS table."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from workflow_runs import ROOT

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def truth():
    return yaml.safe_load((ROOT / "resources/demo/truth.yaml").read_text())


def _tsv(workdir, path):
    return pd.read_csv(workdir / path, sep="\t", keep_default_na=False, na_values=[""])


def test_hair_covariates_where_recorded(demo_run):
    assoc = _tsv(demo_run, "results/associations/hpa.tsv").set_index("cohort")
    assert set(assoc.loc["ghent", "covariates"]) == {
        "maternal_age+bmi+parity+smoking+child_sex+hair_wash_frequency+hair_treated+corticosteroid_use"}
    # rotterdam recorded corticosteroid use only; the pooled model takes what both recorded
    assert set(assoc.loc["rotterdam", "covariates"]) == {"maternal_age+bmi+parity+smoking+child_sex+corticosteroid_use"}
    assert set(assoc.loc["pooled", "covariates"]) == {
        "maternal_age+bmi+parity+smoking+child_sex+corticosteroid_use+cohort"}
    assert all(v.startswith("ghent: ") and "; rotterdam: " in v for v in assoc.loc["meta", "covariates"])


def test_sensitivity_analyses_sit_beside_the_main_estimates(demo_run, truth):
    hpa = _tsv(demo_run, "results/sensitivity/hpa.tsv")
    main = _tsv(demo_run, "results/associations/hpa.tsv")
    assert set(hpa.analysis) == {"winsorised"} and len(hpa) == len(main)
    merged = hpa.merge(main, on=["cohort", "predictor", "response"], suffixes=("", "_m"))
    assert np.allclose(merged.estimate_main, merged.estimate_m, equal_nan=True)
    fitted = merged[merged.status == "ok"]
    assert len(fitted) > 40 and (fitted.n == fitted.n_main).all()  # winsorising keeps every participant
    # winsorising a handful of outliers barely moves the planted SES -> cortisol (T3) effect
    row = hpa.set_index(["cohort", "predictor", "response"]).loc[("pooled", "ses_index", "hair_cortisol_t3_ln")]
    assert row.ci_low <= truth["planted"][0]["estimate"] <= row.ci_high
    assert abs(row.estimate - row.estimate_main) < 0.1 * abs(row.estimate_main)

    immune = _tsv(demo_run, "results/sensitivity/immune.tsv")
    qc = _tsv(demo_run, "results/qc/immune.tsv").set_index(["cohort", "marker"])
    assert set(immune.analysis) == {"crp_le_10"}
    for cohort in ("ghent", "rotterdam"):
        rows = immune[(immune.cohort == cohort) & (immune.response == "il6_ln")]
        excluded = int(qc.loc[(cohort, "crp"), "n_above_limit"])
        assert excluded > 0 and (rows.n_main - rows.n <= excluded).all() and (rows.n < rows.n_main).all()


def test_immune_markers_detection_and_cmv_strata(demo_run, truth):
    qc = _tsv(demo_run, "results/qc/immune.tsv").set_index(["cohort", "marker"])
    assert {"il1b", "nk_activity"} <= set(qc.index.get_level_values("marker"))
    assert 20 < qc.loc[("ghent", "il1b"), "pct_below_lod"] < 45  # IL-1β often undetectable
    planted = truth["effect_modification"][0]
    strata = _tsv(demo_run, "results/modification/immune.tsv")
    strata = strata[(strata.response == planted["biomarker"]) & (strata.modifier == planted["modifier"])
                    & (strata.part == "stratum") & (strata.method == "stratified") & (strata.cohort == "pooled")]
    by_level = strata.set_index(strata.level.astype(str))
    for level, value in planted["estimate_by_stratum"].items():
        row = by_level.loc[level]
        # within 4 SE of the truth (the demo's draw puts rotterdam's CMV+ slope ~3 SE out)
        assert abs(row.estimate - value) < 4 * row.se, (level, row)
    assert by_level.loc["1", "ci_high"] < 0  # the CMV-positive stratum carries the planted effect
    assert by_level.loc["0", "ci_low"] < 0 < by_level.loc["0", "ci_high"]  # the CMV-negative one does not
    tests = _tsv(demo_run, "results/modification/immune.tsv")
    wald = tests[(tests.response == planted["biomarker"]) & (tests.modifier == planted["modifier"])
                 & (tests.cohort == "pooled") & (tests.test == "interaction_wald")]
    assert wald.p.iloc[0] < 0.001


def test_percent_difference_for_log_scale_biomarkers(demo_run):
    tel = _tsv(demo_run, "results/associations/telomeres.tsv")
    ln = tel[tel.response == "telomere_ts_ln"]
    assert np.allclose(ln.percent_difference, 100 * np.expm1(ln.estimate))
    assert np.allclose(ln.percent_ci_low, 100 * np.expm1(ln.ci_low))
    assert tel[tel.response == "birth_weight"].percent_difference.isna().all()


def test_mood_qc_table(demo_run):
    mood = _tsv(demo_run, "results/qc/mood.tsv").set_index(["cohort", "variable"])
    assert {"epds", "pss", "resilience"} <= set(mood.loc["ghent"].index)
    ghent = mood.loc[("ghent", "epds")]
    assert ghent.instrument == "epds" and 0 < ghent.alpha < 1 and ghent.scoring.startswith("scored from items")
    rotterdam = mood.loc[("rotterdam", "epds")]
    assert rotterdam.scoring == "total supplied by the cohort" and np.isnan(rotterdam.alpha)
    assert 5 < rotterdam["mean"] < 9


def test_sensitivity_figures_and_tables_are_in_the_report(demo_run):
    for mechanism in ("hpa", "immune"):
        assert (demo_run / f"results/figures/{mechanism}/sensitivity_analyses.png").stat().st_size > 10_000
        assert (demo_run / f"results/tables/sensitivity--{mechanism}.html").exists()
    report = (demo_run / "results/report.html").read_text(encoding="utf-8", errors="replace")
    assert "sensitivity_analyses.png" in report and "mood.tsv" in report


def test_generic_cns_table_recovers_the_planted_mri_effect(demo_run, truth):
    (planted,) = truth["single_cohort"]
    assoc = _tsv(demo_run, "results/associations/cns.tsv").set_index(["cohort", "predictor", "response"])
    row = assoc.loc[(planted["cohort"], planted["predictor"], planted["response"])]
    assert row.ci_low <= planted["estimate"] <= row.ci_high and row.q < 0.05
    assert row.unit.startswith("mm³ per point")  # the unit declared in the config, no code
    null = assoc.loc[planted["cohort"]]
    null = null[null.index.get_level_values("response").isin(["hippocampus_volume", "dmn_connectivity"])]
    assert len(null) == 4 and (null.q > 0.05).all()
    qc = _tsv(demo_run, "results/qc/cns.tsv").set_index("measure")
    assert qc.loc["amygdala_volume_right", "unit"] == "mm³" and 240 < qc.loc["amygdala_volume_right", "n"] < 310
    assert (demo_run / "results/figures/cns/qc.png").exists()


def test_methylation_models_adjust_for_cell_types_and_batch_where_given(demo_run):
    assoc = _tsv(demo_run, "results/associations/methylation.tsv").set_index("cohort")
    cells = "+cell_cd8t+cell_cd4t+cell_nk+cell_bcell+cell_mono+cell_nrbc"
    assert set(assoc.loc["ghent", "covariates"]) == {f"maternal_age+bmi+parity+smoking+child_sex{cells}+methylation_batch"}
    assert set(assoc.loc["rotterdam", "covariates"]) == {"maternal_age+bmi+parity+smoking+child_sex+methylation_batch"}
    # the plates are cohort-specific: nested within cohort, which carries the cohort effect too
    assert set(assoc.loc["pooled", "covariates"]) == {
        "maternal_age+bmi+parity+smoking+child_sex+methylation_batch_within_cohort"}


def test_candidate_cpgs_carry_their_gene_and_the_cell_type_adjustment(demo_run):
    ghent = _tsv(demo_run, "results/ewas/ghent/epds_candidates.tsv")
    assert (ghent.gene == "NR3C1").all() and ghent.chr.eq("chr5").all()
    # intercept, EPDS, 5 covariates (child sex one dummy), 6 cell types, 3 plate dummies (4 plates)
    plates = int(np.ceil(ghent.n.max() / 96))
    assert (ghent.df_residual == ghent.n - (1 + 1 + 5 + 6 + plates - 1)).all()
    rotterdam = _tsv(demo_run, "results/ewas/rotterdam/epds_candidates.tsv")
    assert (rotterdam.df_residual == rotterdam.n - (1 + 1 + 5 + int(np.ceil(rotterdam.n.max() / 96)) - 1)).all()
