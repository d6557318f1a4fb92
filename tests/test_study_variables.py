"""The analyst's own variables (config `study_variables`) and range overrides of shipped
variables (config `variable_overrides`): merged with the shipped data schema by load_config,
mapped from a cohort table, ingested, analysed and placed in the model figure's declared
block. Every expected value is computed by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest
import yaml
from matplotlib.text import Text

from first1000 import keys
from first1000.analysis.associations import associations
from first1000.config import FIGURE_GROUPS, load_config
from first1000.errors import ConfigError, InputTableError
from first1000.labels import LABEL_RULE, NAME_RULE
from first1000.stages import ingest as ingest_stage
from first1000.stages.analyse import associate_params
from first1000.stages.figures import model_diagram_params

from workflow_runs import ROOT

#: A3 is a pregnancy loss at 120 days (below the shipped 154); A5 has no education answer.
PARTICIPANTS = ("pid,age,low_edu,ga_days\n"
                "A1,31,1,280\nA2,29,0,275\nA3,35,1,120\nA4,27,0,290\n"
                "A5,33,NA,270\nA6,30,0,270\nA7,28,1,265\nA8,32,0,285\n")
CORTISOL = {"A1": 1.0, "A2": 0.5, "A3": 1.2, "A4": 0.4, "A5": 0.9, "A6": 0.6, "A7": 1.4, "A8": 0.3}
LOW_EDUCATION = {"type": "binary", "label": "Low education (ISCED 0-2)", "group": "ses"}
GA_OVERRIDE = {"min": 100, "reason": "pregnancy losses from 14 weeks"}


def _setup(tmp_path, *, study=None, overrides=None, extra=None, participants=PARTICIPANTS, variables=None):
    (tmp_path / "participants.csv").write_text(participants, encoding="utf-8")
    if not (tmp_path / "key").exists():
        keys.init_key(tmp_path / "key")
    mapping = {
        "tables": {"participants": {"path": str(tmp_path / "participants.csv"), "id": "pid"}},
        "variables": {"maternal_age": {"rule": "direct", "column": "age"},
                      "low_education": {"rule": "direct", "column": "low_edu"},
                      "gestational_age": {"rule": "direct", "column": "ga_days"}, **(variables or {})},
    }
    (tmp_path / "lab.yaml").write_text(yaml.safe_dump(mapping), encoding="utf-8")
    config = {
        "harmonised_variables": str(ROOT / "resources/harmonised_variables.yaml"),
        "study_variables": {"low_education": LOW_EDUCATION} if study is None else study,
        "variable_overrides": {"gestational_age": GA_OVERRIDE} if overrides is None else overrides,
        "privacy": {"key_file": str(tmp_path / "key")},
        "cohorts": {"lab": {"mapping": str(tmp_path / "lab.yaml")}},
        "mechanisms": {"hpa": {"label": "HPA axis", "biomarkers": ["hair_cortisol_t3_ln"],
                               "exposures": ["low_education", "epds"]}},
        **(extra or {}),
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False), encoding="utf-8")
    return path


def _line(path, text) -> int:
    """The line of the first occurrence of ``text`` (``"a>b"``: of ``b`` after ``a``)."""
    *after, text = text.split(">")
    lines = path.read_text(encoding="utf-8").splitlines()
    start = next(i for i, line in enumerate(lines) if after[0] in line) if after else 0
    return next(i for i, line in enumerate(lines[start:], start + 1) if text in line)


def test_a_study_exposure_is_ingested_analysed_and_placed_in_its_block(tmp_path):
    cfg = load_config(_setup(tmp_path))
    schema = cfg["_data_schema"]
    assert schema["low_education"] == {"label": "Low education (ISCED 0-2)", "type": "binary"}
    assert list(schema)[-1] == "low_education"  # after the shipped vocabulary
    assert schema["gestational_age"]["min"] == 100 and schema["gestational_age"]["max"] == 315
    assert cfg["_figure_groups"] == {"low_education": "Socio-economic status"}

    out = ingest_stage.ingest_cohort("lab", cfg["cohorts"]["lab"]["_mapping"], schema, keys.read_key(tmp_path / "key"))
    participants = out["participants"]
    ids = ["A1", "A2", "A3", "A4", "A5", "A6", "A7", "A8"]
    assert participants.low_education.tolist()[:4] == [1, 0, 1, 0] and np.isnan(participants.low_education[4])
    assert participants.low_education.tolist()[5:] == [0, 1, 0]
    assert participants.gestational_age.tolist() == [280, 275, 120, 290, 270, 270, 265, 285]
    report = out["harmonisation"].set_index("variable")
    row = report.loc["low_education"]
    assert (row.rule, row.source, row.n, row.n_missing, row.n_rejected, row.note) == ("direct", "low_edu", 7, 1, 0, "")
    assert report.loc["gestational_age", "note"] == (
        "range set by variable_overrides: min 100 (data schema: 154); reason: pregnancy losses from 14 weeks")
    assert report.loc["birth_weight", "note"] == "not declared in the mapping file"

    # hair_cortisol_t3_ln ~ low_education: the difference of the group means, 1.2 - 0.45,
    # on the 7 participants with an answer (A5 left out).
    table = participants.assign(hair_cortisol_t3_ln=[CORTISOL[i] for i in ids])
    params = associate_params(cfg, "hpa")
    assert params["variables"]["low_education"] == schema["low_education"]
    result = associations(table, "hpa", params["spec"], params["covariates"], params["variables"], params["meta"],
                          missing_data=params["missing_data"], seed=params["seed"],
                          optional_covariates=params["optional_covariates"])
    fit = result[(result.cohort == "lab") & (result.predictor == "low_education")].iloc[0]
    assert (fit.response, fit.family, fit.n, fit.n_missing, fit.status) == ("hair_cortisol_t3_ln", "gaussian", 7, 1,
                                                                             "ok")
    assert fit.estimate == pytest.approx(0.75, abs=1e-12)
    # residual SS 0.08 + 0.05 on 5 df; SE = sqrt(0.026 (1/3 + 1/4))
    assert fit.se == pytest.approx(math.sqrt(0.026 * 7 / 12), rel=1e-9)
    assert fit.unit == "ln pg/mg per unit (Low education (ISCED 0-2))"

    # The model figure files it under the declared block, epds under the house rule's.
    figure = model_diagram_params(cfg)
    assert figure["exposure_groups"] == {"low_education": "Socio-economic status"}
    assert FIGURE_GROUPS["ses"] == "Socio-economic status" and FIGURE_GROUPS["mood"] == "Maternal mood"
    from first1000.figures import model_diagram

    fig = model_diagram(result, None, exposures=figure["exposures"], mechanisms={"hpa": "HPA axis"},
                        outcomes=figure["outcomes"], cohort="lab", labels=figure["labels"],
                        exposure_groups=figure["exposure_groups"])
    fig.draw_without_rendering()
    headings = [" ".join(t.get_text().split()) for t in fig.findobj(Text) if t.get_gid() == "model-group"]
    assert headings == ["Socio-economic status", "Maternal mood"]


def test_a_group_of_its_own_and_a_group_override(tmp_path):
    study = {"low_education": {**LOW_EDUCATION, "group": "Social position"}}
    overrides = {"gestational_age": GA_OVERRIDE, "epds": {"group": "ses", "reason": "our model's SES block"}}
    cfg = load_config(_setup(tmp_path, study=study, overrides=overrides))
    assert cfg["_figure_groups"] == {"epds": "Socio-economic status", "low_education": "Social position"}
    assert model_diagram_params(cfg)["exposure_groups"] == {"low_education": "Social position",
                                                            "epds": "Socio-economic status"}
    assert "range_note" not in cfg["_data_schema"]["epds"]  # a group override changes no range


def test_without_the_override_a_pregnancy_loss_stops_ingest(tmp_path):
    cfg = load_config(_setup(tmp_path, overrides={}))
    assert cfg["_data_schema"]["gestational_age"]["min"] == 154
    with pytest.raises(InputTableError, match=r"value out of range for gestational_age \(days\): expected >= 154 "
                                              r"and <= 315"):
        ingest_stage.ingest_cohort("lab", cfg["cohorts"]["lab"]["_mapping"], cfg["_data_schema"],
                                   keys.read_key(tmp_path / "key"))


def test_the_shipped_file_is_not_changed_by_an_override(tmp_path):
    load_config(_setup(tmp_path))
    cfg = load_config(_setup(tmp_path, overrides={}))
    assert cfg["_data_schema"]["gestational_age"] == {"label": "Gestational age at birth", "type": "continuous",
                                                      "unit": "days", "min": 154, "max": 315}


@pytest.mark.parametrize("study, overrides, key_text, message", [
    ({"low_education": {**LOW_EDUCATION, "type": "ordinal"}}, None, "type: ordinal",
     "key `study_variables.low_education.type`: `ordinal` is not allowed. Expected one of: continuous, integer, "
     "binary, categorical, date."),
    ({"Low_Education": LOW_EDUCATION}, None, "Low_Education:",
     f"key `study_variables.Low_Education`: `Low_Education` is not a valid name: {NAME_RULE}. Names become file "
     "names, column names and report text; rename it."),
    ({"low_education": LOW_EDUCATION, "bmi": {"type": "continuous", "label": "BMI", "min": 10, "max": 90}}, None,
     "bmi:",
     "key `study_variables.bmi`: `bmi` is a variable of the data schema ({schema}); a study variable may not "
     "redefine it. Change its range under `variable_overrides.bmi` (with a `reason`), or give the study variable "
     "another name."),
    ({"low_education": LOW_EDUCATION, "ses_index": {"type": "continuous", "label": "My SES"}}, None, "ses_index:",
     "key `study_variables.ses_index`: `ses_index` is a variable the workflow derives; give the study variable "
     "another name."),
    (None, {"gestational_age": {"min": 100}}, "gestational_age:",
     "key `variable_overrides.gestational_age`: 'reason' is a required property; add it (see config/README.md)."),
    (None, {"gestational_age": {"min": 100, "reason": "losses\nfrom 14 weeks"}}, "reason:",
     "key `variable_overrides.gestational_age.reason`: 'losses\\nfrom 14 weeks' is not a valid reason: the character "
     "'\\n' (U+000A, a control character) is not allowed (a label is one line); {rule}. Rewrite the reason."),
    ({"low_education": {"type": "binary"}}, None, "low_education:",
     "key `study_variables.low_education`: 'label' is a required property; add it (see config/README.md)."),
    (None, {"gestational_age": {"reason": "losses from 14 weeks"}}, "gestational_age:",
     "key `variable_overrides.gestational_age`: give `min`, `max` or `group` to override, with the `reason`."),
    (None, {"gestational_age": {"min": 400, "reason": "late"}}, "min: 400",
     "key `variable_overrides.gestational_age.min`: `min` (400) is above `max` (315) after this override."),
    (None, {"smoking": {"max": 2, "reason": "three levels"}}, "max: 2",
     "key `variable_overrides.smoking.max`: `smoking` is binary; only continuous and integer variables have a "
     "range."),
    (None, {"low_education": {"group": "mood", "reason": "a mood"}}, "variable_overrides:>low_education:",
     "key `variable_overrides.low_education`: `low_education` is not a variable of the data schema ({schema}); set "
     "its `min`/`max`/`group` in `study_variables` directly."),
    (None, {"sleep_hours": {"max": 20, "reason": "naps"}}, "sleep_hours:",
     "key `variable_overrides.sleep_hours`: `sleep_hours` is not a variable of the data schema ({schema}); overrides "
     "change shipped variables; declare a new variable under `study_variables`."),
    ({"low_education": {**LOW_EDUCATION, "min": 0}}, None, "min: 0",
     "key `study_variables.low_education.min`: a binary variable has no range; `min` and `max` are for continuous "
     "and integer variables."),
    ({"low_education": {**LOW_EDUCATION, "group": "SES $x$"}}, None, "group:",
     "key `study_variables.low_education.group`: `SES $x$` is not a valid group heading: the character '$' "
     "(U+0024, DOLLAR SIGN) is not allowed (it would switch figure text to math mode); {rule}. Rewrite the group "
     "heading."),
])
def test_refusals(tmp_path, study, overrides, key_text, message):
    path = _setup(tmp_path, study=study, overrides=overrides)
    with pytest.raises(ConfigError) as error:
        load_config(path)
    text = str(error.value)
    assert "\n" not in text
    schema = ROOT / "resources/harmonised_variables.yaml"
    assert text == f"{path}, line {_line(path, key_text)}: " + message.format(schema=schema, rule=LABEL_RULE)
