"""Captions state each model's population: the forest plot's list of birth outcomes is the
package's (first1000.labels.BIRTH_OUTCOMES)."""

from __future__ import annotations

import ast
import re

from first1000.labels import BIRTH_OUTCOMES

from workflow_runs import ROOT


def test_the_forest_caption_names_the_birth_outcomes_of_the_package():
    text = (ROOT / "workflow/report/figure.rst").read_text(encoding="utf-8")
    listed = re.search(r"snakemake\.wildcards\.variable in (\[[^\]]*\])", text).group(1)
    assert tuple(ast.literal_eval(listed)) == BIRTH_OUTCOMES


def test_every_caption_of_a_birth_outcome_model_states_the_population():
    for name in ("associations", "mediation", "modification", "figure", "harmonisation"):
        text = (ROOT / f"workflow/report/{name}.rst").read_text(encoding="utf-8")
        assert 'snakemake.config["analysis_population"]["birth_outcomes_from_gestational_age_days"]' in text, name


# --------------------------------------------------------------------------- the models a figure shows
def _rows():
    import pandas as pd

    cov_g = "maternal_age+bmi+hair_wash_frequency"
    cov_r = "maternal_age+bmi"
    return pd.DataFrame([
        # cohort, response, model, n, n_missing, estimate, covariates, status
        ("ghent", "birth_weight", "linear", 395, 55, 1.0, cov_g, "ok"),
        ("ghent", "preterm", "logistic", 390, 60, 0.2, cov_g, "ok"),
        ("ghent", "sga", "logistic", 390, 60, None, cov_g,
         "perfect or quasi-perfect separation: the predictor and covariates predict ... consider Firth"),
        ("rotterdam", "birth_weight", "linear", 480, 70, 2.0, cov_r, "ok"),
        ("rotterdam", "sga", "logistic", 0, 550, None, cov_r, "x_t1 is not measured in cohort rotterdam"),
        ("pooled", "birth_weight", "linear", 875, 125, 1.5, cov_r + "+cohort", "ok"),
        ("meta", "birth_weight", "linear", 875, None, 1.4, None, "ok"),
    ], columns=["cohort", "response", "model", "n", "n_missing", "estimate", "covariates", "status"]).assign(
        k=[None] * 6 + [2])


def test_models_note_lists_each_cohorts_models_covariates_n_and_failures():
    from first1000.report.captions import models_note

    text = models_note(_rows())
    bullets = [line for line in text.splitlines() if line.startswith("- ")]
    # cohorts in order, then the pooled model, then the meta-analysis
    assert [b.split(":")[0] for b in bullets] == ["- ``ghent``", "- ``rotterdam``",
                                                  "- pooled cohorts (cohort as a covariate)",
                                                  "- meta-analysis of the cohorts"]
    ghent, rotterdam, pooled, meta = bullets
    assert ghent.startswith("- ``ghent``: 3 models (linear 1, logistic 2); n = 390–395 (55–60 left out for a missing value)")
    assert "adjusted for ``maternal_age``, ``bmi``, ``hair_wash_frequency``" in ghent
    # the reason's first clause only, with its count
    assert ghent.endswith("not fitted: 1 (perfect or quasi-perfect separation (1)).")
    # a model with no participant does not widen n; its reason is escaped for reStructuredText
    assert "n = 480 (70 left out" in rotterdam and "hair_wash_frequency" not in rotterdam
    assert "not fitted: 1 (x\\_t1 is not measured in cohort rotterdam (1))" in rotterdam
    assert "``cohort``" in pooled and "n = 875 (125 left out" in pooled
    assert "k = 2 cohorts" in meta and "adjusted" not in meta


def test_models_note_renders_as_a_list_in_the_report():
    from docutils.core import publish_parts

    from first1000.report.captions import models_note

    html = publish_parts("Forest plot." + models_note(_rows()), writer="html")["body"]
    assert html.count("<li>") == 4 and "x_t1 is not measured" in html and "System Message" not in html


def test_models_note_by_mechanism_and_named_rows():
    from first1000.report.captions import models_note

    rows = _rows().assign(mechanism=["hpa"] * 3 + ["immune"] * 4)
    text = models_note(rows[rows.cohort == "ghent"], by="mechanism")
    assert "- ``hpa``: 3 models" in text and "immune" not in text
    named = models_note(rows.assign(cohort="1 main"), names={"1 main": "Main *analysis*"})
    assert "- Main \\*analysis\\*: 7 models" in named
    assert "none (the table has no rows" in models_note(rows.iloc[0:0])


def test_trajectory_note_names_its_model_and_escapes_markup():
    from docutils.core import publish_parts

    from first1000.report.captions import trajectory_note

    note = trajectory_note("intercept per mother", 1234, "mothers", 3456, "all cohorts, pooled",
                           "a fixed effect per hair window, ", ["maternal_age", "parity_", "cohort"])
    assert note.startswith("Model in this figure, from its fit: linear mixed model (REML), intercept per mother; "
                           "1,234 mothers, 3,456 measurements (all cohorts, pooled); a fixed effect per hair window, "
                           "adjusted for ``maternal_age``, ``parity_``, ``cohort``; lines:")
    html = publish_parts("Trajectory.\n\n" + note, writer="html")["body"]
    assert "System Message" not in html and "parity_</tt>" in html
    assert "adjusted for nothing" in trajectory_note("x", 5, "children", 9, "ghent", "", [])
    assert "\\_" in trajectory_note("x", 5, "children", 9, "cohort_b", "", [])  # a cohort name is text


def test_report_sections_sort_in_the_config_s_order():
    """The report sorts its sections as text: "2.10 Child growth" came second, before "2.2"."""
    from first1000.labels import report_category

    labels = [f"Mechanism {chr(65 + k)}" for k in range(12)]
    names = [report_category(k, label, len(labels)) for k, label in enumerate(labels, start=1)]
    assert sorted(names) == names and names[0] == "2.01 Mechanism A" and names[-1] == "2.12 Mechanism L"
    assert report_category(3, "HPA axis: hair `cortisol`", 9) == "2.3 HPA axis hair cortisol"
