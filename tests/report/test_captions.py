"""Captions state each model's population: the forest plot's list of birth outcomes is the
package's (first1000.labels.BIRTH_OUTCOMES)."""

from __future__ import annotations

import ast
import re

from first1000.labels import BIRTH_OUTCOMES

from workflow_runs import ROOT


def test_the_forest_caption_names_the_birth_outcomes_of_the_package():
    text = (ROOT / "workflow/report/forest.rst").read_text(encoding="utf-8")
    listed = re.search(r"snakemake\.wildcards\.variable in (\[[^\]]*\])", text).group(1)
    assert tuple(ast.literal_eval(listed)) == BIRTH_OUTCOMES


def test_every_caption_of_a_birth_outcome_model_states_the_population():
    for name in ("associations", "mediation", "modification", "forest", "harmonisation"):
        text = (ROOT / f"workflow/report/{name}.rst").read_text(encoding="utf-8")
        assert 'snakemake.config["analysis_population"]["birth_outcomes_from_gestational_age_days"]' in text, name
