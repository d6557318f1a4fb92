"""results/methods.md: every model family, contrast and reference the config uses, and
nothing it does not use."""

from __future__ import annotations

import copy

import pytest
import yaml

from first1000.config import load_config
from first1000.report.methods import REFERENCES, cited, methods_markdown
from first1000.stages.provenance import methods_params

from workflow_runs import ROOT

VERSIONS = {"first1000": "0.2.0", "python": "3.11.7", "snakemake": "9.27.1", "statsmodels": "0.15.0"}


@pytest.fixture(scope="module")
def raw(tmp_path_factory):
    return yaml.safe_load((ROOT / "config/config.yaml").read_text(encoding="utf-8"))


def _methods(raw, monkeypatch, **changes) -> str:
    monkeypatch.chdir(ROOT)
    config = copy.deepcopy(raw)
    for key, value in changes.items():
        section, _, name = key.partition("__")
        if name:
            config[section][name] = value
        else:
            config[section] = value
    return methods_markdown(methods_params(load_config(config))["settings"], VERSIONS)


def test_the_demo_config(raw, monkeypatch):
    text = _methods(raw, monkeypatch)
    used = cited(text)
    for key in ("bh", "reml", "higgins_i2", "vanderweele2015", "efron", "imai2010", "evalue", "limma", "smyth2004",
                "knight2016", "intergrowth", "epds", "pss10", "brs", "pfaffl", "cawthon", "aitchison", "hornung",
                "pearson_crp", "isced", "oecd_scale", "snakemake", "statsmodels", "daniel_sequential", "knol_em",
                "saffari_threshold", "firth"):
        assert key in used, key
    # associations.firth (on in the demo config: its SGA is separated); mediation.firth is off
    assert "The logistic models were fitted by Firth's penalised likelihood" in text
    assert "Logistic models were Firth-penalised" not in text
    for key in ("dersimonian", "knapp_hartung", "mice", "rubin", "barnard_rubin", "schomaker", "pqn",
                "bohlin2016", "horvath2013", "hannum2013", "mansell_threshold"):
        assert key not in used, key
    # every number cited in the text is listed, in order of first use, and no more
    numbers = sorted({int(n) for group in __import__("re").findall(r"\[(\d+(?:, \d+)*)\]", text)
                      for n in group.split(", ")})
    assert numbers == list(range(1, len(used) + 1))
    assert "random-effects meta-analysis with the restricted maximum-likelihood estimator" in text
    # the covariates the models used, the mechanisms' own included (they were left out)
    assert "were also adjusted, in each cohort that recorded them, for" in text
    assert "first1000's implementation, which matches R limma's lmFit and eBayes), adjusted for " in text
    assert "and, in each cohort that gave them, " in text
    assert "logistic regression for binary outcomes" in text  # preterm, sga are outcomes
    assert "the mean with the mean + 1 SD" in text
    assert "percentile intervals of 1000 case-resampling bootstrap replicates" in text
    assert "Each model used the participants with complete data on its variables." in text
    assert "154 days" in text and "seed 20261128" in text and "first1000 0.2.0" in text
    for key in ("who_growth", "corrected_age", "lmm_reml", "hima", "lfmm2", "hdmax2"):  # follow-up, mixed models, HIMA
        assert key in used, key
    assert "random slope on age per child" in text and "wlz, laz and hcz" in text
    assert "(0-30) → CpGs → ASQ-3 communication, 24 months" in text
    assert "For EPDS depressive symptoms (0-30) → the metabolites biomarkers → birth weight (1 factor), latent" in text
    assert "a fixed effect per window and the exposure × month-of-pregnancy interaction" in text


def test_other_settings_other_sentences_and_references(raw, monkeypatch):
    text = _methods(raw, monkeypatch, meta_analysis={"method": "DL", "knapp_hartung": True},
                    missing_data={"method": "multiple_imputation", "m": 10, "imputation_method": "pmm"},
                    mediation__contrast="iqr", mediation__firth=True, mediation__sensitivity=False,
                    mediation__ci_method="bca")
    used = cited(text)
    for key in ("dersimonian", "knapp_hartung", "mice", "rubin", "barnard_rubin", "firth", "schomaker"):
        assert key in used, key
    assert "reml" not in used and "evalue" not in used
    assert "predictive mean matching" in text and "10 imputations" in text
    assert "the 25th with the 75th percentile" in text
    assert "bias-corrected and accelerated intervals" in text


def test_without_mediation_ewas_or_modification(raw, monkeypatch):
    text = _methods(raw, monkeypatch, mediation__paths=[], mediation__high_dimensional=[], epigenome_wide__exposures=[],
                    effect_modification={"pairs": []}, longitudinal={},
                    mechanisms={m: raw["mechanisms"][m] for m in ("telomeres", "metabolites")})
    used = cited(text)
    for key in ("vanderweele2015", "efron", "imai2010", "evalue", "limma", "smyth2004", "knol_em", "knight2016",
                "intergrowth", "aitchison", "pearson_crp", "daniel_sequential", "lmm_reml", "who_growth", "hima",
                "lfmm2", "hdmax2"):
        assert key not in used, key
    assert "Mediation" not in text and "Epigenome-wide" not in text
    assert "logistic" not in text  # no binary outcome, no detected biomarker
    assert set(used) <= set(REFERENCES)


def test_disclosure_threshold_dropped_resamples_and_hpa_winsorising_are_described(raw, monkeypatch):
    text = _methods(raw, monkeypatch)
    assert ("A cohort's model fitted on fewer than 5 participants (the disclosure-control threshold) is reported by "
            "its size only and was left out of the meta-analysis.") in text
    assert ("Each path was estimated per cohort and in all cohorts together (cohort as a covariate), and the cohort "
            "estimates meta-analysed as the associations.") in text
    assert ("A cohort's path with more than 5% of its resamples not fitted (separation, a singular design) was "
            "flagged and left out of the meta-analysis.") in text
    assert "each window's values winsorised at the mean ± 3 SD of its cohort" in text
    changed = _methods(raw, monkeypatch, privacy={"min_cell_size": 1},
                       mediation={**raw["mediation"], "max_dropped_resamples": 0.1},
                       preparation={**raw["preparation"], "hpa": {**raw["preparation"]["hpa"], "outlier_sd": 2.5}})
    assert "disclosure-control threshold" not in changed and "more than 10% of its resamples" in changed
    assert "winsorised at the mean ± 2.5 SD of its cohort" in changed


def test_a_summary_statistics_run_describes_site_estimates_not_a_pooled_model(raw, monkeypatch):
    """Sites mode has no pooled individual data: the text says the sites' estimates were
    meta-analysed, and the central config's disclosure threshold is not claimed (each site
    applies its own)."""
    monkeypatch.chdir(ROOT)
    settings = {**methods_params(load_config(copy.deepcopy(raw)))["settings"], "mode": "sites"}
    text = methods_markdown(settings, VERSIONS)
    assert "Models were fitted at each site, and the site estimates combined by random-effects" in text
    assert "Each path was estimated at each site, and the site estimates meta-analysed as the associations." in text
    assert "all cohorts together" not in text and "disclosure-control threshold" not in text
    assert "linear mixed model" not in text  # the longitudinal models need individual data
