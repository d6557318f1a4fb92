"""Analysis populations (config `analysis_population`): birth outcomes are defined for
births, so a pregnancy loss (admitted at ingest by `variable_overrides` of the gestational
age and birth weight ranges) is left out of every model whose outcome is a birth outcome,
and counted on gestational_age in the harmonisation report. Expected values by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from first1000 import keys
from first1000.analysis.associations import BIRTH_OUTCOMES, associations, births_only
from first1000.analysis.mediation import mediation
from first1000.config import load_config
from first1000.errors import ConfigError
from first1000.stages import ingest as ingest_stage
from first1000.stages.analyse import associate_params, mediate_params

from test_study_variables import GA_OVERRIDE, _setup

#: A3 and A9 are pregnancy losses (120 and 110 days, 180 and 220 g); A5 has no education answer.
PARTICIPANTS = ("pid,age,low_edu,ga_days,bw_g\n"
                "A1,31,1,280,3400\nA2,29,0,275,3300\nA3,35,1,120,180\nA4,27,0,290,3700\nA5,33,NA,270,3100\n"
                "A6,30,0,270,3000\nA7,28,1,265,2900\nA8,32,0,285,3600\nA9,30,1,110,220\nA10,29,0,280,3500\n")
IDS = ["A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8", "A9", "A10"]
CORTISOL = [1.0, 0.5, 1.2, 0.4, 0.9, 0.6, 1.4, 0.3, 1.1, 0.7]
OVERRIDES = {"gestational_age": GA_OVERRIDE, "birth_weight": {"min": 100, "reason": "pregnancy losses weigh 100 g on"}}
MECHANISM = {"label": "HPA axis", "biomarkers": ["hair_cortisol_t3_ln"], "exposures": ["low_education"],
             "outcomes": ["birth_weight", "preterm"]}


def _config(tmp_path, **population):
    extra = {"mechanisms": {"hpa": MECHANISM},
             "mediation": {"n_boot": 100, "sensitivity": False,
                           "paths": [{"exposure": "low_education", "mediator": "hair_cortisol_t3_ln",
                                      "outcome": "birth_weight"}]}}
    if population:
        extra["analysis_population"] = population
    path = _setup(tmp_path, overrides=OVERRIDES, extra=extra, participants=PARTICIPANTS,
                  variables={"birth_weight": {"rule": "direct", "column": "bw_g"},
                             "preterm": {"rule": "derive", "operation": "preterm_from_gestational_age"}})
    return load_config(path)


def _table(cfg, tmp_path):
    out = ingest_stage.ingest_cohort("lab", cfg["cohorts"]["lab"]["_mapping"], cfg["_data_schema"],
                                     keys.read_key(tmp_path / "key"))
    return out["participants"].assign(hair_cortisol_t3_ln=CORTISOL)


def _slope(x, y):
    x, y = np.asarray(x, float), np.asarray(y, float)
    return float(np.sum((x - x.mean()) * (y - y.mean())) / np.sum((x - x.mean()) ** 2))


def test_losses_are_left_out_of_the_birth_outcome_models_only(tmp_path):
    cfg = _config(tmp_path)
    assert cfg["analysis_population"] == {"birth_outcomes_from_gestational_age_days": 154}
    table = _table(cfg, tmp_path)
    assert table.gestational_age.tolist() == [280, 275, 120, 290, 270, 270, 265, 285, 110, 280]
    assert table.preterm.tolist() == [0, 0, 1, 0, 0, 0, 0, 0, 1, 0]  # a loss is "preterm" by the < 259 days rule
    params = associate_params(cfg, "hpa")
    assert params["birth_outcomes_from"] == 154
    result = associations(table, "hpa", params["spec"], params["covariates"], params["variables"], params["meta"],
                          missing_data=params["missing_data"], seed=params["seed"],
                          optional_covariates=params["optional_covariates"],
                          birth_outcomes_from=params["birth_outcomes_from"])
    rows = result[result.cohort == "lab"].set_index("response")
    births = [i for i, ga in enumerate(table.gestational_age) if ga >= 154]
    assert births == [0, 1, 3, 4, 5, 6, 7, 9]
    bw = rows.loc["birth_weight"]
    assert (bw.n, bw.n_missing, bw.status) == (8, 2, "ok")
    assert bw.estimate == pytest.approx(_slope([CORTISOL[i] for i in births],
                                               [table.birth_weight[i] for i in births]), rel=1e-10)
    # The losses were the only "preterm" participants: among the births there is none to model.
    assert (rows.loc["preterm", "n"], rows.loc["preterm", "n_missing"], rows.loc["preterm", "status"]) == (
        8, 2, "binary response 'preterm' takes one value in all 8 complete rows")
    # The exposure model keeps the losses: 9 with an education answer.
    exposure = rows.loc["hair_cortisol_t3_ln"]
    assert (exposure.n, exposure.n_missing) == (9, 1)

    # Without the population rule the losses enter the birth-weight model.
    every = associations(table, "hpa", params["spec"], params["covariates"], params["variables"], params["meta"],
                         missing_data=params["missing_data"], seed=params["seed"])
    bw_all = every[(every.cohort == "lab") & (every.response == "birth_weight")].iloc[0]
    assert (bw_all.n, bw_all.n_missing) == (10, 0)
    assert bw_all.estimate == pytest.approx(_slope(CORTISOL, table.birth_weight), rel=1e-10)


def test_mediation_paths_to_a_birth_outcome_leave_the_losses_out(tmp_path):
    cfg = _config(tmp_path)
    table = _table(cfg, tmp_path)
    params = mediate_params(cfg, "hpa")
    assert params["birth_outcomes_from"] == 154
    effects, paths, _ = mediation(table, params["mediation_paths"], params["covariates"], params["settings"],
                                  params["seed"], params["variables"], meta=params["meta"],
                                  missing_data=params["missing_data"], mechanism="hpa",
                                  birth_outcomes_from=params["birth_outcomes_from"])
    lab = effects[effects.cohort == "lab"]
    # 8 births, A5 without an education answer: 7 analysed; the 2 losses and A5 left out.
    assert set(lab.n) == {7} and set(lab.n_missing) == {3}
    everyone = mediation(table, params["mediation_paths"], params["covariates"], params["settings"], params["seed"],
                         params["variables"], meta=params["meta"], missing_data=params["missing_data"],
                         mechanism="hpa")[0]
    lab = everyone[everyone.cohort == "lab"]
    assert set(lab.n) == {9} and set(lab.n_missing) == {1}


def test_a_lower_limit_keeps_them(tmp_path):
    cfg = _config(tmp_path, birth_outcomes_from_gestational_age_days=100)
    table = _table(cfg, tmp_path)
    params = associate_params(cfg, "hpa")
    assert params["birth_outcomes_from"] == 100
    result = associations(table, "hpa", params["spec"], params["covariates"], params["variables"], params["meta"],
                          birth_outcomes_from=params["birth_outcomes_from"])
    assert result[(result.cohort == "lab") & (result.response == "birth_weight")].n.tolist() == [10]


def test_births_only():
    table = pd.DataFrame({"gestational_age": [280, 120, np.nan], "birth_weight": [3400, 180, 3000],
                          "epds": [3, 4, 5]})
    assert births_only(table, "birth_weight", 154).index.tolist() == [0, 2]  # no gestational age: kept
    assert births_only(table, "epds", 154) is table  # not a birth outcome
    assert births_only(table, "birth_weight", None) is table
    assert births_only(table.drop(columns="gestational_age"), "birth_weight", 154).index.tolist() == [0, 1, 2]
    assert BIRTH_OUTCOMES == ("gestational_age", "preterm", "birth_weight", "birth_weight_z", "sga", "lga",
                              "apgar_5min", "low_apgar")


def test_the_losses_are_counted_in_the_harmonisation_report(tmp_path):
    cfg = _config(tmp_path)
    params = ingest_stage.ingest_participants_params(cfg, "lab")
    assert params["birth_outcomes_from"] == 154
    inputs = ingest_stage.ingest_participants_inputs(cfg, "lab")
    del inputs["definitions"]  # declared for Snakemake only (first1000.stages.run drops them)
    outputs = {name: tmp_path / f"{name}.out" for name in ("participants", "harmonisation", "categories")}
    for min_cell, shown in ((5, "<5"), (1, "2")):
        ingest_stage.ingest_participants(**{**params, "min_cell_size": min_cell}, **inputs, **outputs)
        report = pd.read_csv(outputs["harmonisation"], sep="\t").set_index("variable")
        assert report.loc["gestational_age", "note"] == (
            "range set by variable_overrides: min 100 (data schema: 154); reason: pregnancy losses from 14 weeks; "
            f"pregnancy losses (gestational age < 154 days): {shown}; their birth outcomes are left out of the "
            "outcome models (analysis_population)")
        assert report.loc["birth_weight", "note"] == (
            "range set by variable_overrides: min 100 (data schema: 300); reason: pregnancy losses weigh 100 g on")


def test_a_few_births_hide_the_number_of_losses():
    report = pd.DataFrame({"variable": ["gestational_age", "epds"], "note": ["", ""]})
    variables = pd.DataFrame({"gestational_age": [120.0] * 6 + [280.0] * 2 + [np.nan]})
    out = ingest_stage.population_note(report, variables, 154, 5)
    assert out.note.tolist() == [
        "pregnancy losses (gestational age < 154 days): >4; their birth outcomes are left out of the outcome models "
        "(analysis_population)", ""]
    none = pd.DataFrame({"gestational_age": [280.0, 270.0]})
    assert ingest_stage.population_note(report, none, 154, 5) is report


def test_the_limit_is_checked(tmp_path):
    with pytest.raises(ConfigError, match=r"key `analysis_population.birth_outcomes_from_gestational_age_days`: "
                                          r"expected number, got str `22 weeks`.\Z"):
        _config(tmp_path, birth_outcomes_from_gestational_age_days="22 weeks")


def test_effect_modification_of_a_birth_outcome_leaves_the_losses_out(tmp_path):
    from first1000.analysis.modification import modification

    cfg = _config(tmp_path)
    table = _table(cfg, tmp_path).assign(child_sex=["female", "male"] * 5)
    models = [{"exposure": "hair_cortisol_t3_ln", "response": "birth_weight", "modifier": "child_sex"},
              {"exposure": "low_education", "response": "hair_cortisol_t3_ln", "modifier": "child_sex"}]
    out = modification(table, "hpa", models, [], cfg["_data_schema"], birth_outcomes_from=154)
    tests = out[(out.part == "test") & (out.test == "interaction_wald")].set_index("response")
    assert tests.loc["birth_weight", "n"] == 8  # the 2 losses left out
    assert tests.loc["hair_cortisol_t3_ln", "n"] == 9  # everyone with an education answer
    everyone = modification(table, "hpa", models, [], cfg["_data_schema"])
    assert everyone[(everyone.part == "test") & (everyone.test == "interaction_wald")
                    & (everyone.response == "birth_weight")].n.tolist() == [10]
