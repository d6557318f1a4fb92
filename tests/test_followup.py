"""The child follow-up table (ingest.ingest_followup) and the growth mechanism's visits:
WHO z-scores at corrected age, bad rows named, the demo's planted gradient, the QC rows of
the children below the ASQ-3 cut-offs."""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import pytest

from first1000 import ingest
from first1000.errors import ConfigError, InputTableError
from first1000.mechanisms import growth
from first1000.privacy import suppress_small_counts
from first1000.scoring.growth import corrected_age_days, who_zscores
from first1000.stages import ingest as ingest_stage

KEY = b"test-key"


@pytest.fixture(scope="module")
def ghent(demo_config):
    mapping = demo_config["cohorts"]["ghent"]["_mapping"]
    people, _, _, id_map = ingest_stage.cohort_participants("ghent", mapping, demo_config["_data_schema"], KEY)
    spec = copy.deepcopy(mapping["tables"]["child_followup"])
    return spec, people, id_map, pd.read_csv(spec["path"], dtype=str, keep_default_na=False)


def _ingest(tmp_path, ghent, edit=None, **spec_changes):
    spec, people, id_map, table = ghent
    table = table.copy()
    if edit:
        edit(table)
    path = tmp_path / "followup.csv"
    table.to_csv(path, index=False)
    spec = dict(spec, path=str(path), **spec_changes)
    return ingest.ingest_followup(spec, ["-9", "", "NA"], id_map, people), path


def test_demo_followup_gets_who_zscores_at_corrected_age(tmp_path, ghent):
    out, _ = _ingest(tmp_path, ghent)
    _, people, _, raw = ghent
    assert len(out) == len(raw) and {"waz", "laz", "wlz", "bmiz", "hcz", "asq_communication"} <= set(out.columns)
    person = people.set_index("pseudo_id")
    sex = out.pseudo_id.map(person.child_sex)
    ga = out.pseudo_id.map(person.gestational_age).astype(float)
    np.testing.assert_array_equal(out.age_corrected_days, corrected_age_days(out.age_days, ga))
    assert (out.age_corrected_days < out.age_days).sum() == (ga < 259).sum() > 0
    measure = raw["meting"].str.lower().to_numpy()
    z = who_zscores(sex, out.age_corrected_days, weight_kg=out.weight_kg, length_cm=out.length_cm,
                    head_cm=out.head_circumference_cm, measure=measure)
    for name in ("waz", "laz", "wlz", "bmiz", "hcz"):
        np.testing.assert_array_equal(out[name], z[name])
    # the standing heights at 24 months were corrected by +0.7 cm: their length-for-age z is
    # that of the recumbent length the simulation drew (within rounding)
    assert out.laz.abs().max() < 4 and out.wlz.notna().mean() > 0.99


def test_chronological_age_when_declared(tmp_path, ghent):
    out, _ = _ingest(tmp_path, ghent, corrected_age=False)
    np.testing.assert_array_equal(out.age_corrected_days, out.age_days)


@pytest.mark.parametrize("case, edit, message", [
    ("age beyond 24 months", lambda t: t.__setitem__("leeftijd_dagen", t.leeftijd_dagen.where(
        ~t.index.isin([3, 10]), "800")), r"column 'leeftijd_dagen', rows 5, 12: age outside 0-24 months"),
    ("missing age", lambda t: t.__setitem__("leeftijd_dagen", t.leeftijd_dagen.where(t.index != 4, "-9")),
     r"column 'leeftijd_dagen', row 6: missing age at the visit"),
    ("same child twice at one age", lambda t: t.__setitem__("leeftijd_dagen", t.leeftijd_dagen.where(
        t.index != 1, t.leeftijd_dagen[0])), r"column 'leeftijd_dagen', rows 2, 3: the same child twice"),
    ("weight in grams", lambda t: t.__setitem__("gewicht_kg", t.gewicht_kg.where(t.index != 7, "30")),
     r"column 'gewicht_kg', row 9: WHO weight-for-age z-score outside -6 to 5"),
    ("head circumference implausible", lambda t: t.__setitem__("hoofdomtrek_cm", t.hoofdomtrek_cm.where(
        t.index != 2, "25")), r"column 'hoofdomtrek_cm', row 4: WHO head circumference-for-age z-score outside"),
    ("unknown measure code", lambda t: t.__setitem__("meting", t.meting.where(t.index != 0, "S")),
     r"column 'meting', row 2: expected `l` \(recumbent length\) or `h`"),
])
def test_bad_rows_are_named(tmp_path, ghent, case, edit, message):
    with pytest.raises(InputTableError, match=message):
        _ingest(tmp_path, ghent, edit)


def test_age_column_declared_once(tmp_path, ghent):
    spec = ghent[0]
    with pytest.raises(ConfigError, match="exactly one of"):
        _ingest(tmp_path, ghent, columns={k: v for k, v in spec["columns"].items() if k != "age_days"})


def test_visits_take_the_measurement_nearest_the_target():
    long = pd.DataFrame({"pseudo_id": ["a", "a", "a", "b", "b"],
                         "age_days": [150.0, 200.0, 300.0, 190.0, 730.5],
                         "wlz": [0.1, 0.2, 0.3, -1.0, np.nan], "asq_communication": [np.nan] * 4 + [40.0]})
    wide, qc = growth.prepare({"c": long}, {})
    wide = wide.set_index("pseudo_id")
    # 6 months = 182.6 days: a's nearest is 200 (17 days) over 150 (33); 300 days is in the 9-18 month window
    assert wide.loc["a", "wlz_6m"] == 0.2 and wide.loc["a", "wlz_12m"] == 0.3 and wide.loc["b", "wlz_6m"] == -1.0
    assert wide.loc["b", "asq_communication_24m"] == 40.0  # the window's end (24 months) included
    assert np.isnan(wide.loc["b", "wlz_24m"])
    assert set(qc.measure) == {"wlz_6m", "wlz_12m", "asq_communication_24m"}
    assert qc.set_index("measure").loc["wlz_6m", "label"] == "Weight-for-length/height z, 6 months"


def _asq_children():
    """12 children at 365 days, a preterm one at 402 days (12.5 months corrected: the
    12-month questionnaire), one at 430 days (14.1 months: no shipped cut-off) and one at
    the 6-month visit."""
    ids = [f"k{i:02d}" for i in range(12)] + ["preterm", "older", "infant"]
    age = [365.0] * 12 + [402.0, 430.0, 180.0]
    corrected = [365.0] * 12 + [380.0, 430.0, 180.0]
    communication = [0, 5, 10, 15, 15.64, 20, 25, 30, 40, 50, 55, 60] + [10, 5, 5]
    gross_motor = [20, 21.49, 30, 35, 40, 45, 50, 50, 55, 60, 60, 60] + [60, 10, 5]
    return pd.DataFrame({"pseudo_id": ids, "age_days": age, "age_corrected_days": corrected,
                         "asq_communication": np.array(communication, float),
                         "asq_gross_motor": np.array(gross_motor, float)})


def test_qc_counts_the_children_below_the_asq_cutoffs():
    """12-month cut-offs (communication 15.64, gross motor 21.49; Environ Health Prev Med
    2020, doi:10.1186/s12199-020-00873-6, Table 2): strictly below counts, at the cut-off
    does not; the preterm child is classified at corrected age, the 14-month one is not."""
    wide, qc = growth.prepare({"c": _asq_children()}, {})
    assert not [c for c in wide.columns if c.startswith("_")]  # ages stay out of the biomarkers
    rows = qc.set_index("measure")
    assert list(qc.measure) == ["asq_communication_6m", "asq_gross_motor_6m", "asq_communication_12m",
                                "asq_communication_below_cutoff_12m", "asq_gross_motor_12m",
                                "asq_gross_motor_below_cutoff_12m"]  # no cut-off shipped for 6 months
    communication = rows.loc["asq_communication_below_cutoff_12m"]
    assert rows.loc["asq_communication_12m", "n"] == 14
    assert communication.n == 5  # 0, 5, 10, 15 and the preterm child's 10; not 15.64, not the older child's 5
    assert communication.pct_below_cutoff == pytest.approx(100 * 5 / 13)
    assert communication.cutoff == "15.64 (12-month questionnaire)"
    assert communication.label == "ASQ-3 communication below the cut-off, 12 months"
    assert communication.unit == "points" and communication["median"] == 10.0
    gross = rows.loc["asq_gross_motor_below_cutoff_12m"]
    assert gross.n == 1 and gross["median"] == 20.0 and gross.cutoff == "21.49 (12-month questionnaire)"
    assert gross.pct_below_cutoff == pytest.approx(100 / 13)


def test_a_small_count_below_the_cutoff_is_suppressed():
    """The prepare stage's rule set: a count of 1 to 4 children below the cut-off is shown
    as <5, with its percentage and their scores' median, quartiles and age."""
    _, qc = growth.prepare({"c": _asq_children()}, {})
    shown = suppress_small_counts(qc, 5).set_index("measure")
    gross = shown.loc["asq_gross_motor_below_cutoff_12m"]
    assert gross.n == "<5"
    assert gross[["pct_below_cutoff", "median", "q1", "q3", "median_age_months"]].isna().all()
    communication = shown.loc["asq_communication_below_cutoff_12m"]
    assert communication.n == 5 and communication.pct_below_cutoff == pytest.approx(100 * 5 / 13)
    assert shown.loc["asq_communication_6m", "n"] == "<5"  # the one child at the 6-month visit


def test_a_small_count_not_below_the_cutoff_is_suppressed_too():
    """n + n_not_below_cutoff is the score row's n: when only 2 scored children are not
    below the cut-off, neither count (nor the percentage) is shown."""
    children = _asq_children()
    children.loc[children.pseudo_id.str.startswith("k"), "asq_communication"] = \
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 20, 30]  # 10 of 12 below 15.64
    children = children[children.pseudo_id.str.startswith("k")]
    _, qc = growth.prepare({"c": children}, {})
    row = qc.set_index("measure").loc["asq_communication_below_cutoff_12m"]
    assert row.n == 10 and row.n_not_below_cutoff == 2
    shown = suppress_small_counts(qc, 5).set_index("measure").loc["asq_communication_below_cutoff_12m"]
    assert shown.n == ">7" and shown.n_not_below_cutoff == "<5"  # 12 scored: a bound, not 10
    assert shown[["pct_below_cutoff", "median", "q1", "q3"]].isna().all()


def test_visit_windows_are_checked():
    with pytest.raises(ConfigError, match=r"preparation.growth.visits.12m.*start <= target <= end"):
        growth.check_settings({"visits": {"12m": [12, 13, 18]}}, lambda keys: ".".join(map(str, keys)))


def test_a_mediation_path_may_end_at_a_follow_up_score(tmp_path, monkeypatch):
    import yaml

    from first1000.config import load_config
    from workflow_runs import ROOT

    monkeypatch.chdir(ROOT)
    raw = yaml.safe_load((ROOT / "config/config.yaml").read_text(encoding="utf-8"))
    raw["mediation"]["paths"] = [{"exposure": "ses_index", "mediator": "hair_cortisol_t3_ln", "outcome": "wlz_24m"}]
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    cfg = load_config(path)
    assert cfg["mediation"]["paths"][0]["outcome"] == "wlz_24m"
    raw["mediation"]["paths"][0]["outcome"] = "wlz_36m"  # not a biomarker of any mechanism
    path.write_text(yaml.safe_dump(raw), encoding="utf-8")
    with pytest.raises(ConfigError, match=r"mediation.paths.0.outcome.*`wlz_36m` is not a harmonised or derived"):
        load_config(path)


def test_last_day_of_follow_up_is_in_the_24_month_visit():
    long = pd.DataFrame({"pseudo_id": ["a"], "age_days": [731.0], "wlz": [0.4]})
    wide, _ = growth.prepare({"c": long}, {})
    assert wide.set_index("pseudo_id").loc["a", "wlz_24m"] == 0.4


def test_longitudinal_score_missing_from_every_cohort_is_reported_not_fitted():
    from first1000.analysis.longitudinal import longitudinal_models

    rng = np.random.default_rng(0)
    d = pd.DataFrame({"pseudo_id": np.repeat(np.arange(40), 2), "cohort": "c", "age_years": np.tile([0.5, 1.5], 40),
                      "wlz": rng.normal(size=80), "ses_index": np.repeat(rng.normal(size=40), 2)})
    table = longitudinal_models(d, "growth", {"scores": ["wlz", "hcz"], "exposures": ["ses_index"]}, [], {})
    assert table.set_index(["response", "age_term"]).loc[("hcz", "per_year"), "status"] == \
        "not fitted: hcz is not measured"
    assert (table[table.response == "wlz"].status == "ok").all()


def test_longitudinal_model_on_fewer_than_min_cell_children_is_not_shown_nor_pooled_nor_drawn():
    """privacy.min_cell_size: a mixed model on 4 children describes them. Their cohort's
    rows keep n but no estimate, the meta-analysis pools the other cohorts only, and a
    single small cohort draws no trajectory."""
    from first1000.analysis.longitudinal import longitudinal_models, trajectories
    from first1000.privacy import SMALL_MODEL

    rng = np.random.default_rng(3)

    def cohort(name, n):
        ses = rng.normal(size=n)
        return pd.DataFrame({"pseudo_id": np.repeat([f"{name}{i}" for i in range(n)], 3), "cohort": name,
                             "age_years": np.tile([0.5, 1.0, 1.5], n), "ses_index": np.repeat(ses, 3),
                             "wlz": np.repeat(0.3 * ses + rng.normal(size=n), 3) + rng.normal(0, 0.3, 3 * n)})

    d = pd.concat([cohort("a", 60), cohort("b", 4), cohort("c", 50)], ignore_index=True)
    spec = {"scores": ["wlz"], "exposures": ["ses_index"], "random_slope": False}
    hidden = SMALL_MODEL.format(min_cell=5)
    out = longitudinal_models(d, "growth", spec, [], {}, min_cell=5).set_index(["cohort", "age_term"])
    b = out.loc["b"]
    assert (b.status == hidden).all() and (b.n == 4).all() and (b.n_participants == 4).all()
    assert b[["estimate", "se", "ci_low", "ci_high", "p", "q"]].isna().all().all()
    assert (out.loc["meta"].n == 110).all() and (out.loc["a"].status == "ok").all()
    shown = longitudinal_models(d, "growth", spec, [], {}).set_index(["cohort", "age_term"])  # min_cell 1
    assert (shown.loc["b"].status == "ok").all() and (shown.loc["meta"].n == 114).all()
    assert shown.loc[("a", "at_birth"), "estimate"] == out.loc[("a", "at_birth"), "estimate"]
    fits = {}
    alone = d[d.cohort == "b"]
    models = longitudinal_models(alone, "growth", spec, [], {}, fits=fits, min_cell=5)
    assert (models.status == hidden).all() and fits == {} and trajectories(fits).empty
    longitudinal_models(alone, "growth", spec, [], {}, fits=fits)
    assert len(trajectories(fits)) > 0
