"""One job draws every figure of a mechanism (rule mechanism_figures, #19): its list of
figures, the patterns the report finds them by, and the tables it reads."""

from __future__ import annotations

import re

import pytest

from first1000.config import load_config
from first1000.stages.figures import (FIGURE_KINDS, figure_label, figure_patterns, mechanism_figure_list,
                                      mechanism_figures_inputs, mechanism_figures_params)
from workflow_runs import ROOT


@pytest.fixture(scope="module")
def cfg():
    return load_config(ROOT / "config/config.yaml")


def _match(name: str):
    """The wildcards of the one pattern a file name matches (as snakemake.io.glob_wildcards does)."""
    from snakemake.io import regex_from_filepattern

    found = [m.groupdict() for p in figure_patterns() for m in [re.match(regex_from_filepattern(p), name)] if m]
    assert len(found) == 1, (name, found)
    return found[0]


def test_every_figure_file_matches_one_pattern_that_gives_back_its_kind_and_parts(cfg):
    figures = [f for m in cfg["mechanisms"] for f in mechanism_figure_list(cfg, m)]
    assert {f["kind"] for f in figures} == set(FIGURE_KINDS)  # the demo draws every kind
    for fig in figures:
        assert _match(fig["stem"] + ".png") == {"kind": fig["kind"], **fig["wildcards"]}
    from snakemake.io import regex_from_filepattern

    for other in ("forest--ses_index.svg", "forest--ses_index.models.rst", "model.png", "forest--Bad.png"):
        assert not any(re.match(regex_from_filepattern(p), other) for p in figure_patterns()), other


def test_the_demo_hpa_figures_labels_and_tables(cfg):
    stems = [f["stem"] for f in mechanism_figure_list(cfg, "hpa")]
    assert "forest--ses_index" in stems and "qc" in stems and "sensitivity_analyses" in stems
    assert "mediation--ses_index--hair_cortisol_t3_ln--preterm" in stems
    assert "strata--ses_index--child_sex" in stems
    # joint mediators (a list) have tables only, no diagram
    assert not any("[" in s or "," in s for s in stems)
    assert figure_label({"kind": "mediation", "mechanism": "hpa", "exposure": "a", "mediator": "b", "outcome": "c"}) \
        == {"figure": "mediation a -> b -> c"}
    inputs = mechanism_figures_inputs(cfg, "hpa")
    assert inputs["associations"] == "results/associations/hpa.tsv"
    assert inputs["mediation_sensitivity"] == "results/mediation/hpa_sensitivity.tsv"
    # a mechanism without mediation paths or effect modification reads neither table
    cns = mechanism_figures_inputs(cfg, "cns")
    assert "mediation" not in cns and "modification" not in cns
    params = mechanism_figures_params(cfg, "hpa")
    assert [f["stem"] for f in params["figures"]] == stems
    assert params["figures"][0]["settings"]["variable"] == "ses_index"


def test_a_summary_statistics_run_draws_only_what_the_exports_allow(cfg):
    sites = {**cfg, "_mode": "sites"}
    kinds = {f["kind"] for m in cfg["mechanisms"] for f in mechanism_figure_list(sites, m)}
    assert kinds == {"forest", "volcano", "mediation"}
