"""Mapping rules on hand-made tables, and a third cohort added by a YAML file alone."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from first1000.config import load_config
from first1000.errors import InputTableError
from first1000.harmonise.ses import harmonise
from first1000.stages.ingest import cohort_participants as ingest_participants

from workflow_runs import ROOT

# A third cohort in a new coding: English categories, weekly income, weight and height
# instead of BMI, EU-SILC deprivation items, ISCO-08 codes, a status score by ranges.
THIRD = pd.DataFrame({
    "pid": ["B1", "B2", "B3", "B4", "B5", "B6"],
    "age": ["29", "34", "41", "23", "31", "36"],
    "weight_kg": ["70", "55", "90", "-1", "64", "80"],
    "height_cm": ["170", "160", "180", "165", "", "175"],
    "parity": ["0", "1", "2", "0", "1", "3"],
    "smoker": ["no", "yes", "no", "no", "no", "yes"],
    "baby_sex": ["girl", "boy", "girl", "boy", "girl", "boy"],
    "ga_weeks": ["39+2", "40+0", "36+6", "41+1", "38+3", "39+6"],
    "bw": ["3.2", "3.6", "2.7", "3.9", "3.1", "3.4"],
    "qualification": ["GCSE", "A-level", "degree", "postgraduate", "none", "degree"],
    "income_week": ["400", "700", "1200", "300", "550", "900"],
    "adults": ["2", "2", "2", "1", "2", "3"],
    "kids": ["2", "0", "1", "1", "0", "2"],
    "isco": ["2211", "5223", "1120", "9112", "", "34"],
    "imd_score": ["45.2", "12.0", "5.5", "60.1", "30.0", "20.4"],
    **{f"dep{i}": ["1"] * 6 if i < 5 else (["1", "0", "0", "0", "1", "0"] if i < 7 else ["0"] * 6) for i in range(13)},
})

MAPPING = {
    "label": "Bristol-style test cohort",
    "missing_codes": [""],
    "on_invalid": "missing",
    "tables": {"participants": {"path": None, "id": "pid"}},
    "variables": {
        "maternal_age": {"rule": "direct", "column": "age", "unit": "years"},
        "bmi": {"rule": "derive", "operation": "bmi_from_weight_height",
                "inputs": {"weight_kg": "weight_kg", "height_cm": "height_cm"}},
        "parity": {"rule": "direct", "column": "parity"},
        "smoking": {"rule": "recode", "column": "smoker", "map": {"yes": 1, "no": 0}},
        "child_sex": {"rule": "recode", "column": "baby_sex", "map": {"girl": "female", "boy": "male"}},
        "gestational_age": {"rule": "direct", "column": "ga_weeks", "unit": "weeks+days"},
        "birth_weight": {"rule": "direct", "column": "bw", "unit": "kg"},
        "preterm": {"rule": "derive", "operation": "preterm_from_gestational_age"},
        "education_isced": {"rule": "recode", "column": "qualification",
                            "map": {"none": 1, "GCSE": 2, "A-level": 3, "degree": 6, "postgraduate": 7}},
        "household_income": {"rule": "direct", "column": "income_week", "unit": "EUR/week"},
        "household_adults": {"rule": "direct", "column": "adults"},
        "household_children": {"rule": "direct", "column": "kids"},
        "occupation_isco_major": {"rule": "derive", "operation": "isco08_major_group", "inputs": {"isco": "isco"}},
        "material_deprivation_items": {"rule": "derive", "operation": "material_deprivation_count",
                                       "inputs": {"items": [f"dep{i}" for i in range(13)]}},
        # Index of Multiple Deprivation score: higher = more deprived; ranges -> an advantage score
        "neighbourhood_ses": {"rule": "recode", "column": "imd_score",
                              "ranges": [{"max": 10, "value": 5}, {"min": 10, "max": 20, "value": 4},
                                         {"min": 20, "max": 30, "value": 3}, {"min": 30, "max": 50, "value": 2},
                                         {"min": 50, "value": 1}]},
        "epds": {"rule": "impossible", "reason": "EPDS not administered"},
    },
}


@pytest.fixture
def third_cohort(tmp_path):
    table = tmp_path / "bristol.csv"
    THIRD.to_csv(table, index=False)
    mapping = yaml.safe_load(yaml.safe_dump(MAPPING))
    mapping["tables"]["participants"]["path"] = str(table)
    mapping_file = tmp_path / "bristol.yaml"
    mapping_file.write_text(yaml.safe_dump(mapping, sort_keys=False))
    config = yaml.safe_load((ROOT / "config/config.yaml").read_text())
    config["cohorts"]["bristol"] = {"mapping": str(mapping_file), "label": "Bristol"}
    return load_config(config)


def test_third_cohort_harmonises_through_yaml_alone(third_cohort):
    cfg = third_cohort
    frames = []
    for cohort, spec in cfg["cohorts"].items():
        people, report, cats, _ = ingest_participants(cohort, spec["_mapping"], cfg["_data_schema"], b"k")
        frames.append(people)
        if cohort == "bristol":
            bristol, bristol_report, bristol_cats = people, report.set_index("variable"), cats
    b = bristol.set_index(bristol.index)
    assert b.bmi.iloc[0] == pytest.approx(70 / 1.7**2)
    assert np.isnan(b.bmi.iloc[3])  # weight -1 -> BMI out of range -> rejected (on_invalid: missing)
    assert np.isnan(b.bmi.iloc[4])  # height missing
    assert b.gestational_age.tolist() == [275, 280, 258, 288, 269, 279]
    assert b.preterm.tolist() == [0, 0, 1, 0, 0, 0]
    assert b.birth_weight.tolist() == pytest.approx([3200, 3600, 2700, 3900, 3100, 3400])
    assert b.household_income.iloc[0] == pytest.approx(400 * 52 / 12)
    assert b.occupation_isco_major.tolist()[:4] == [2, 5, 1, 9] and np.isnan(b.occupation_isco_major.iloc[4])
    assert b.occupation_isco_major.iloc[5] == 3
    assert b.material_deprivation_items.tolist() == [7, 5, 5, 5, 7, 5]
    assert b.neighbourhood_ses.tolist() == [2, 4, 5, 1, 2, 3]
    assert b.epds.isna().all()
    assert bristol_report.loc["epds", "rule"] == "impossible"
    assert bristol_report.loc["epds", "note"] == "EPDS not administered"
    assert bristol_report.loc["bmi", "n_rejected"] == 1
    assert bristol_report.loc["bmi", "rejected_rows"] == "row 5"  # data row 3 = spreadsheet row 5
    edu = bristol_cats[bristol_cats.variable == "education_isced"].set_index("source_category")
    assert edu.loc["degree", "n"] == 2 and edu.loc["degree", "harmonised_value"] == "6.0"

    table, _ = harmonise(frames, cfg["ses_index"])
    assert set(table.cohort) == {"ghent", "rotterdam", "bristol"}
    in_b = table[table.cohort == "bristol"]
    assert in_b.ses_index.notna().all()
    assert in_b.material_deprivation.tolist() == [1, 1, 1, 1, 1, 1]
    assert in_b.severe_material_deprivation.tolist() == [1, 0, 0, 0, 1, 0]
    # OECD-modified scale of row 0: 2 adults and 2 children -> 2.1
    assert in_b.income_equivalised.iloc[0] == pytest.approx(400 * 52 / 12 / 2.1)


def test_on_invalid_error_names_rows(third_cohort, tmp_path):
    mapping = third_cohort["cohorts"]["bristol"]["_mapping"]
    mapping["on_invalid"] = "error"
    with pytest.raises(InputTableError, match=r"column 'weight_kg'|value out of range for bmi"):
        ingest_participants("bristol", mapping, third_cohort["_data_schema"], b"k")


def test_range_recode_without_matching_band(third_cohort):
    mapping = third_cohort["cohorts"]["bristol"]["_mapping"]
    mapping["on_invalid"] = "error"
    mapping["variables"]["bmi"] = {"rule": "impossible"}
    mapping["variables"]["neighbourhood_ses"]["ranges"] = [{"max": 50, "value": 1}]
    with pytest.raises(InputTableError, match=r"column 'imd_score', row 5: value falls in no declared range"):
        ingest_participants("bristol", mapping, third_cohort["_data_schema"], b"k")


def test_questionnaires_birth_outcomes_and_season_are_derived(demo_config):
    """Ghent's EPDS/PSS/BRS come from items (prorated), birth size and season from harmonised values."""
    from first1000.scoring import birth_outcomes as birth
    from first1000.scoring import questionnaires as mood
    from first1000.scoring.season import season_terms

    mapping = demo_config["cohorts"]["ghent"]["_mapping"]
    people, report, _, _ = ingest_participants("ghent", mapping, demo_config["_data_schema"], b"k" * 32)
    report = report.set_index("variable")
    raw = pd.read_csv(ROOT / "resources/demo/ghent/participants.csv", dtype=str, keep_default_na=False)
    items = raw[[f"epds_{i}" for i in range(1, 11)]].replace("-9", "")
    expected = mood.score_instrument(items, "epds")
    np.testing.assert_allclose(people.epds.to_numpy(float), expected.score.to_numpy(float))
    assert report.loc["epds", "n_prorated"] == expected.n_prorated > 0
    assert 0 < report.loc["epds", "alpha"] < 1 and "Cronbach" in report.loc["epds", "note"]
    outcomes = birth.birth_outcomes(people[["gestational_age", "birth_weight", "child_sex"]])
    np.testing.assert_allclose(people.birth_weight_z.to_numpy(float), outcomes.birth_weight_z.to_numpy())
    np.testing.assert_array_equal(people.sga.to_numpy(float), outcomes.sga.to_numpy())
    np.testing.assert_array_equal(people.lga.to_numpy(float), outcomes.lga.to_numpy())
    assert set(people.low_apgar.dropna()) <= {0.0, 1.0} and people.low_apgar.sum() > 0
    season = season_terms(pd.Series(people.sampling_date))
    np.testing.assert_allclose(people.season_sin.to_numpy(float), season.season_sin.to_numpy())
    assert set(people.pre_eclampsia.dropna()) == {0.0, 1.0}
