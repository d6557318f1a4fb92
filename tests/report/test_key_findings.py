"""The report's first page: the key findings chosen from the result tables by the stated
rule, their numbers as in the tables, and the labels escaped."""

from __future__ import annotations

import pandas as pd

from first1000.report.key_findings import key_findings, landing_rst

ASSOC = pd.DataFrame({
    "cohort": ["a", "b", "meta", "meta", "meta", "meta"],
    "predictor": ["epds", "epds", "epds", "ses_index", "il6_ln", "crp_ln"],
    "response": ["il6_ln", "il6_ln", "il6_ln", "il6_ln", "birth_weight", "birth_weight"],
    "estimate": [0.1, 0.2, 0.15, 0.01, -20.0, -5.0], "ci_low": [0.0, 0.1, 0.08, -0.05, -35.0, -15.0],
    "ci_high": [0.2, 0.3, 0.22, 0.07, -5.0, 5.0], "p": [0.05, 0.001, 0.0001, 0.7, 0.008, 0.3],
    "q": [0.05, 0.002, 0.0003, 0.7, 0.016, 0.4], "n": [100, 120, 220, 220, 215, 215], "k": [None, None, 2, 2, 2, 2],
    "i2": [None, None, 12.5, 0.0, 40.0, 0.0], "unit": "u", "status": "ok"})
QUIET = ASSOC.assign(q=0.5, p=[0.5, 0.5, 0.3, 0.2, 0.6, 0.4])
MED = pd.DataFrame({
    "cohort": ["meta", "meta", "meta", "pooled"], "exposure": "epds", "mediator": "il6_ln", "outcome": "birth_weight",
    "effect": ["tnie", "te", "tnie", "tnie"], "scale": ["difference", "difference", "odds_ratio", "difference"],
    "contrast": "sd", "estimate": [-3.0, -10.0, 0.9, -2.0], "ci_low": [-5.0, -20.0, 0.8, -4.0],
    "ci_high": [-1.0, 0.0, 1.0, 0.0], "p": [0.01, 0.05, 0.2, 0.04], "q": [0.02, 0.1, 0.2, 0.04], "n": [220] * 4,
    "k": [2, 2, 2, None], "i2": [0.0, 0.0, 0.0, None]})
BIOMARKERS = {"immune": ["il6_ln", "crp_ln"], "quiet": ["il6_ln", "crp_ln"]}


def test_the_rule_picks_significant_rows_at_the_summary_level_or_the_strongest():
    rows = key_findings({"immune": ASSOC, "quiet": QUIET}, {"immune": MED}, BIOMARKERS, fdr=0.05)
    immune = rows[(rows.mechanism == "immune") & (rows.kind == "association")]
    assert immune[["exposure", "biomarker", "outcome", "level"]].values.tolist() == [
        ["epds", "il6_ln", "", "meta"], ["", "il6_ln", "birth_weight", "meta"]]  # q 0.0003, then 0.016
    assert immune.estimate.tolist() == [0.15, -20.0] and immune.significant.all()
    quiet = rows[rows.mechanism == "quiet"]
    assert quiet[["exposure", "biomarker", "estimate", "significant"]].values.tolist() == [
        ["ses_index", "il6_ln", 0.01, False]]  # none significant: the smallest p (0.2)
    indirect = rows[rows.kind == "indirect effect"]
    assert indirect[["level", "estimate", "significant"]].values.tolist() == [["meta", -3.0, True]]


def test_the_first_page_shows_the_numbers_and_escapes_labels():
    rows = key_findings({"immune": ASSOC}, {"immune": MED}, BIOMARKERS, fdr=0.05)
    text = landing_rst(rows, b"\x89PNG fake", labels={"il6_ln": "IL-6 <b>(ln pg/mL)</b>", "epds": "EPDS"},
                       mechanism_labels={"immune": "Immune & co"}, cohort_labels={}, fdr=0.05)
    assert text.startswith(".. raw:: html\n\n   <div id=\"first1000-landing\">\n")
    lines = text.splitlines()[2:]
    assert all(line.startswith("   ") and len(line) < 10_000 for line in lines)  # one raw block; docutils' limit
    assert "IL-6 &lt;b&gt;(ln pg/mL)&lt;/b&gt;" in text and "<b>(ln" not in text
    assert "Immune &amp; co" in text
    assert '<td class="estimate">0.15 [0.08, 0.22]</td>' in text and '<td class="q">&lt;0.001</td>' in text
    assert "meta-analysis (2 cohorts, I² 12%)" in text
    one = rows.assign(k=1)  # a meta-analysis of one cohort: no heterogeneity (its "I² 0%" meant nothing)
    text_one = landing_rst(one, b"\x89PNG fake", labels={}, mechanism_labels={}, cohort_labels={}, fdr=0.05)
    assert "meta-analysis of 1 cohort (the others' estimates missing: see the table)" in text_one
    assert "I²" not in text_one.split("<h2>Key findings</h2>")[1].split("</p>", 1)[1]
    assert "javascript:app.showResultInfo('results%2Ftables%2Fassociations--immune.html')" in text
    assert 'src="data:image/png;base64,\n   iVBORyBmYWtl\n   ">' in text


def test_a_bootstrap_p_of_zero_is_shown_at_its_resolution():
    """bootstrap_p of 0 over B resamples means no replicate on the other side of 0: p < 2/B
    (0.002 for 1,000), not < 0.001. Meta-analysis and Rubin p-values keep the usual rule."""
    from first1000.report.publication import fmt_p, mediation_table, p_resolution

    assert p_resolution("percentile", 1000) == 0.002 and p_resolution("bca", 500) == 0.004
    assert pd.isna(p_resolution("meta (REML) of bootstrap SEs", 1000)) and pd.isna(p_resolution("percentile", None))
    assert pd.isna(p_resolution("percentile within, Rubin's rules over m=5", 1000))
    assert fmt_p(0.0, 0.002) == "<0.002" and fmt_p(0.0) == "<0.001" and fmt_p(0.004, 0.002) == "0.004"
    assert fmt_p(0.0004, float("nan")) == "<0.001"
    med = pd.DataFrame({"cohort": ["pooled", "meta"], "exposure": "epds", "mediator": "il6_ln",
                        "outcome": "birth_weight", "effect": "tnie", "scale": "difference", "contrast": "sd",
                        "a0": 0.0, "a1": 1.0, "estimate": [-2.0, -2.5], "ci_low": [-3.0, -3.5],
                        "ci_high": [-1.0, -1.5], "p": [0.0, 0.0], "q": [0.0, 0.0], "n": [300, 300],
                        "n_boot": [1000, 1000], "ci_method": ["percentile", "meta (REML) of bootstrap SEs"],
                        "status": "ok"})
    shown = mediation_table(med, {}, {})
    assert list(shown["p (shown)"]) == ["<0.002", "<0.001"]
    found = key_findings({}, {"immune": med[med.cohort == "pooled"]}, BIOMARKERS, 0.05)
    page = landing_rst(found, b"png", labels={}, mechanism_labels={}, cohort_labels={}, fdr=0.05)
    assert '<td class="q">&lt;0.002</td>' in page


def test_the_resolution_bound_is_rounded_up_never_down():
    from first1000.report.publication import fmt_p

    assert [fmt_p(0.0, 2 / b) for b in (1000, 1500, 987, 3000, 200)] == \
        ["<0.002", "<0.0014", "<0.0021", "<0.00067", "<0.01"]
