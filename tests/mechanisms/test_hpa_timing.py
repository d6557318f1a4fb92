"""Hair-cortisol windows by gestational age (``preparation.hpa.timing: gestation``), on
values computed by hand: GA_mid (weeks) = GA_at_cut - midpoint_cm / growth × 30.44 / 7."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from first1000.stages import ingest as ingest_stage
from first1000.config import load_config, load_mapping
from first1000.errors import ConfigError, InputTableError
from first1000.mechanisms import hpa, needs_participants

from workflow_runs import ROOT

GESTATION = {"timing": "gestation", "windows": {"t1": [0, 14], "t2": [14, 28], "t3": [28, 43]},
             "loq": 1.5, "outlier_sd": 3, "growth_cm_per_month": 1.0}
DELIVERY = pd.Timestamp("2024-03-01")


def _hair(rows) -> pd.DataFrame:
    """rows: (pseudo_id, start_cm, end_cm, cortisol)."""
    frame = pd.DataFrame(rows, columns=["pseudo_id", "segment_start_cm", "segment_end_cm", "cortisol"])
    frame["below_limit"] = False
    return frame


def _people(rows) -> pd.DataFrame:
    """rows: (pseudo_id, gestational_age in days, delivery_date)."""
    frame = pd.DataFrame(rows, columns=["pseudo_id", "gestational_age", "delivery_date"])
    frame["delivery_date"] = pd.to_datetime(frame["delivery_date"])
    return frame


# --------------------------------------------------------------------------- dating by hand
def test_term_birth_cut_at_delivery_is_third_trimester():
    hair = _hair([("a", 0.0, 3.0, 20.0)])
    ga_mid, ga_delivery = hpa.gestational_weeks_at_growth(hair, _people([("a", 280.0, DELIVERY)]), 1.0)
    assert ga_mid[0] == pytest.approx(40 - 1.5 * 30.44 / 7)  # 33.48 weeks
    assert ga_mid[0] == pytest.approx(33.48, abs=0.005)
    assert ga_delivery[0] == pytest.approx(40.0)
    biomarkers, qc = hpa.prepare({"c": hair}, GESTATION, participants=_people([("a", 280.0, DELIVERY)]))
    row = biomarkers.set_index("pseudo_id").loc["a"]
    assert row.hair_cortisol_t3_ln == pytest.approx(np.log(20.0))
    assert np.isnan(row.hair_cortisol_t2_ln) and np.isnan(row.hair_cortisol_t1_ln)


def test_preterm_birth_same_segment_is_second_trimester():
    hair = _hair([("p", 0.0, 3.0, 12.0)])
    people = _people([("p", 224.0, DELIVERY)])  # 32 weeks
    ga_mid, _ = hpa.gestational_weeks_at_growth(hair, people, 1.0)
    assert ga_mid[0] == pytest.approx(32 - 1.5 * 30.44 / 7)
    assert ga_mid[0] == pytest.approx(25.48, abs=0.005)
    biomarkers, qc = hpa.prepare({"c": hair}, GESTATION, participants=people)
    row = biomarkers.set_index("pseudo_id").loc["p"]
    assert row.hair_cortisol_t2_ln == pytest.approx(np.log(12.0))
    assert np.isnan(row.hair_cortisol_t3_ln)
    # the same segment in scalp_cm mode is called the 3rd trimester
    scalp, _ = hpa.prepare({"c": hair}, {"windows": {"t3": [0, 3], "t2": [3, 6]}, "loq": 1.5, "outlier_sd": 3})
    assert scalp.set_index("pseudo_id").loc["p", "hair_cortisol_t3_ln"] == pytest.approx(np.log(12.0))


def test_growth_rate_scales_the_distance():
    hair = _hair([("a", 0.0, 3.0, 20.0)])
    ga_mid, _ = hpa.gestational_weeks_at_growth(hair, _people([("a", 280.0, DELIVERY)]), 1.25)
    assert ga_mid[0] == pytest.approx(40 - 1.5 / 1.25 * 30.44 / 7)


def test_postpartum_cut_after_delivery_puts_the_scalp_segment_outside():
    # cut 61 days after a term delivery: 0-2 cm (midpoint 1 cm) grew at
    # 40 + 61/7 - 1 x 30.44/7 = 44.37 weeks, after the birth: no window.
    # 2-6 cm (midpoint 4 cm): 48.714 - 17.394 = 31.32 weeks -> t3.
    hair = _hair([("a", 0.0, 2.0, 30.0), ("a", 2.0, 6.0, 10.0)])
    hair["sampling_date"] = DELIVERY + pd.Timedelta(days=61)
    people = _people([("a", 280.0, DELIVERY)])
    ga_mid, _ = hpa.gestational_weeks_at_growth(hair, people, 1.0)
    assert ga_mid[0] == pytest.approx(40 + 61 / 7 - 30.44 / 7)
    assert ga_mid[0] == pytest.approx(44.37, abs=0.005)
    assert ga_mid[1] == pytest.approx(40 + 61 / 7 - 4 * 30.44 / 7)
    biomarkers, qc = hpa.prepare({"c": hair}, GESTATION, participants=people)
    # only the 2-6 cm segment counts (the 0-2 cm one would otherwise pull t3 towards ln 30)
    assert biomarkers.set_index("pseudo_id").loc["a", "hair_cortisol_t3_ln"] == pytest.approx(np.log(10.0))
    row = qc.set_index("window").loc["t3"]
    assert row.n_segments_postpartum == 1
    assert row.n_segments_undated == 0 and row.n_segments_before_pregnancy == 0
    assert row.n_segments_outside_windows == 0


def test_segment_before_the_pregnancy_and_between_windows():
    # term birth cut at delivery: 40 - 11 x 30.44/7 = -7.83 weeks (before the pregnancy);
    # with windows t3 [28, 43] only, 3-6 cm (27.0 weeks) is dated but in no window.
    hair = _hair([("a", 0.0, 3.0, 20.0), ("a", 3.0, 6.0, 8.0), ("a", 10.0, 12.0, 5.0)])
    settings = dict(GESTATION, windows={"t3": [28, 43]})
    _, qc = hpa.prepare({"c": hair}, settings, participants=_people([("a", 280.0, DELIVERY)]))
    row = qc.iloc[0]
    assert row.n_segments_before_pregnancy == 1
    assert row.n_segments_outside_windows == 1
    assert row.n == 1


def test_missing_gestational_age_or_dates_leave_segments_undated():
    hair = _hair([("a", 0.0, 3.0, 20.0), ("b", 0.0, 3.0, 10.0), ("b", 3.0, 6.0, 9.0), ("c", 0.0, 3.0, 5.0)])
    people = _people([("a", np.nan, DELIVERY), ("b", 280.0, DELIVERY), ("c", 280.0, DELIVERY)])
    biomarkers, qc = hpa.prepare({"c": hair}, GESTATION, participants=people)
    assert "a" not in set(biomarkers.pseudo_id)  # never guessed
    assert qc.set_index("window").loc["t3", "n_segments_undated"] == 1
    # with a sampling_date column, a missing cut date or delivery date is undated too
    hair["sampling_date"] = [DELIVERY, pd.NaT, pd.NaT, DELIVERY]
    people.loc[people.pseudo_id == "c", "delivery_date"] = pd.NaT
    biomarkers, qc = hpa.prepare({"c": hair}, GESTATION, participants=people)
    assert biomarkers.empty or biomarkers.filter(like="_ln").isna().all().all()
    assert qc.set_index("window").loc["t3", "n_segments_undated"] == 4
    assert (qc.n == 0).all()


def test_without_sampling_date_the_delivery_date_is_not_needed():
    """Cut at delivery: only the gestational age dates the segments."""
    hair = _hair([("a", 0.0, 3.0, 20.0)])
    biomarkers, qc = hpa.prepare({"c": hair}, GESTATION, participants=_people([("a", 280.0, pd.NaT)]))
    assert biomarkers.set_index("pseudo_id").loc["a", "hair_cortisol_t3_ln"] == pytest.approx(np.log(20.0))
    assert qc.n_segments_undated.sum() == 0


def test_gestation_qc_names_the_window_in_weeks_and_scalp_mode_is_unchanged():
    hair = _hair([("a", 0.0, 3.0, 20.0)])
    _, qc = hpa.prepare({"c": hair}, GESTATION, participants=_people([("a", 280.0, DELIVERY)]))
    assert qc.gestational_weeks.tolist() == ["0-14", "14-28", "28-43"]
    assert "cm_from_scalp" not in qc
    _, qc = hpa.prepare({"c": hair}, {"windows": {"t3": [0, 3], "t2": [3, 6]}, "loq": 1.5, "outlier_sd": 3})
    assert qc.cm_from_scalp.tolist() == ["0-3", "3-6"]
    assert not {"gestational_weeks", "n_segments_postpartum", "n_segments_undated"} & set(qc)


def test_gestation_needs_the_participants():
    with pytest.raises(ConfigError, match="harmonised participants are needed"):
        hpa.prepare({"c": _hair([("a", 0.0, 3.0, 20.0)])}, GESTATION)


def test_participants_are_an_input_only_in_gestation_mode(demo_config):
    import copy

    from first1000.stages.prepare import prepare_inputs

    cfg = copy.deepcopy(demo_config)
    assert not needs_participants("hpa", {"timing": "scalp_cm"})
    assert "participants" not in prepare_inputs(cfg, "hpa")
    cfg["preparation"]["hpa"]["timing"] = "gestation"
    inputs = prepare_inputs(cfg, "hpa")
    assert inputs["participants"] == "results/harmonised/participants.parquet"
    assert inputs["tables"] == ["results/ingest/ghent/hair_cortisol.parquet",
                                "results/ingest/rotterdam/hair_cortisol.parquet"]
    assert needs_participants("epigenetic_age")


# --------------------------------------------------------------------------- config
def _config(tmp_path, hpa_settings: dict):
    raw = yaml.safe_load((ROOT / "config/config.yaml").read_text(encoding="utf-8"))
    raw["preparation"]["hpa"] = hpa_settings
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False), encoding="utf-8")
    return path


def test_config_defaults_per_timing(tmp_path):
    cfg = load_config(_config(tmp_path, {}))
    assert cfg["preparation"]["hpa"]["timing"] == "scalp_cm"
    assert cfg["preparation"]["hpa"]["growth_cm_per_month"] == 1.0
    assert cfg["preparation"]["hpa"]["windows"] == {"t3": [0, 3], "t2": [3, 6], "t1": [6, 9]}
    cfg = load_config(_config(tmp_path, {"timing": "gestation"}))
    assert cfg["preparation"]["hpa"]["windows"] == {"t1": [0, 14], "t2": [14, 28], "t3": [28, 43]}


def test_config_window_in_the_wrong_unit_names_the_key(tmp_path):
    path = _config(tmp_path, {"timing": "gestation", "windows": {"t1": [0, 14], "post": [40, 60]}})
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert f"{path}, line" in message and "`preparation.hpa.windows.post`" in message
    assert "ends beyond 45 weeks" in message and "completed gestational weeks" in message
    path = _config(tmp_path, {"windows": {"t3": [0, 90]}})
    with pytest.raises(ConfigError, match=r"`preparation\.hpa\.windows\.t3`: the window \[0, 90\] ends beyond 60 cm"):
        load_config(path)
    path = _config(tmp_path, {"windows": {"t3": [3, 0]}})
    with pytest.raises(ConfigError, match=r"`preparation\.hpa\.windows\.t3`: .*ends before it starts"):
        load_config(path)


@pytest.mark.parametrize("settings, message", [
    ({"timing": "trimester"}, r"preparation\.hpa\.timing"),
    ({"growth_cm_per_month": 0}, r"preparation\.hpa\.growth_cm_per_month"),
])
def test_config_bad_timing_or_growth(tmp_path, settings, message):
    with pytest.raises(ConfigError, match=message):
        load_config(_config(tmp_path, settings))


# --------------------------------------------------------------------------- ingest
BAD = ROOT / "tests/data/bad"
KEY = b"hpa-timing"
HAIR = """pid,seg_from,seg_to,cortisol,cut
BX-101,0,3,9.58,17/07/2024
BX-101,3,6,5.48,17/07/2024
BX-102,0,3,<LOQ,
BX-103,0,3,12.1,{last}
"""


def _cohort(tmp_path, last="03/04/2024", **spec):
    """The bad-input corpus cohort with a hair table that has a cut date column."""
    raw = yaml.safe_load((BAD / "mapping.yaml").read_text(encoding="utf-8"))
    hair = tmp_path / "hair.csv"
    hair.write_text(HAIR.format(last=last), encoding="utf-8")
    raw["tables"] = {"participants": raw["tables"]["participants"],
                     "hair_cortisol": dict(raw["tables"]["hair_cortisol"], path=str(hair))}
    raw["tables"]["hair_cortisol"]["columns"] = dict(raw["tables"]["hair_cortisol"]["columns"], sampling_date="cut")
    raw["tables"]["hair_cortisol"].update({"date_format": "%d/%m/%Y", **spec})
    raw["tables"]["hair_cortisol"] = {k: v for k, v in raw["tables"]["hair_cortisol"].items() if v is not None}
    path = tmp_path / "mapping.yaml"
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return hair, path


@pytest.fixture(scope="module")
def data_schema():
    return load_config(ROOT / "config" / "config.yaml")["_data_schema"]


def _ingest(path, data_schema):
    return ingest_stage.ingest_cohort("bad", load_mapping(path, data_schema, "bad"), data_schema, KEY)


def test_ingest_reads_the_hair_cut_date(tmp_path, data_schema):
    _, path = _cohort(tmp_path)
    out = _ingest(path, data_schema)
    hair = out["hair_cortisol"]
    assert hair.sampling_date.tolist()[:2] == [pd.Timestamp("2024-07-17")] * 2
    assert pd.isna(hair.sampling_date.iloc[2])  # empty cell: undated later, never guessed
    assert hair.sampling_date.iloc[3] == pd.Timestamp("2024-04-03")
    # BX-103: born 01/02/2024 at 275 days, cut 62 days later; 0-3 cm grew at
    # (275 + 62)/7 - 1.5 x 30.44/7 = 41.62 weeks, after the birth (39.29 weeks)
    ga_mid, ga_delivery = hpa.gestational_weeks_at_growth(hair, out["participants"], 1.0)
    assert ga_mid[3] == pytest.approx((275 + 62) / 7 - 1.5 * 30.44 / 7)
    assert ga_mid[0] == pytest.approx(282 / 7 - 1.5 * 30.44 / 7)
    assert np.isnan(ga_mid[2])
    _, qc = hpa.prepare({"bad": hair}, GESTATION, participants=out["participants"])
    row = qc.set_index("window").loc["t3"]
    assert (row.n, row.n_segments_postpartum, row.n_segments_undated) == (1, 1, 1)


def test_ingest_without_the_date_column_has_no_sampling_date(tmp_path, data_schema):
    _, path = _cohort(tmp_path)
    raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    del raw["tables"]["hair_cortisol"]["columns"]["sampling_date"]
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    assert "sampling_date" not in _ingest(path, data_schema)["hair_cortisol"]


@pytest.mark.parametrize("last, rows, problem", [
    ("18/08/2026", "row 5", "hair sampling date more than 2 years after the participant's delivery date"),
    ("01/03/2023", "row 5", "hair sampling date more than 43 weeks before the participant's delivery date"),
])
def test_ingest_implausible_cut_date_names_file_column_rows_rule(tmp_path, data_schema, last, rows, problem):
    hair, path = _cohort(tmp_path, last=last)
    with pytest.raises(InputTableError) as err:
        _ingest(path, data_schema)
    message = str(err.value)
    assert message.startswith(f"{hair}, column 'cut', {rows}: {problem}")
    assert "(rule: hair cut between conception and 2 years after delivery)" in message
    assert "BX" not in message and last not in message


def test_ingest_cut_date_limits_are_inclusive(tmp_path, data_schema):
    # BX-103 delivered 01/02/2024: exactly 43 weeks before and 2 years after are accepted
    for last in ("06/04/2023", "01/02/2026"):
        _, path = _cohort(tmp_path, last=last)
        assert _ingest(path, data_schema)["hair_cortisol"].sampling_date.notna().sum() == 3


def test_ingest_bad_or_undeclared_date_format(tmp_path, data_schema):
    hair, path = _cohort(tmp_path, last="2024-04-03")
    with pytest.raises(InputTableError, match=rf"{hair}, column 'cut', row 5: expected a date in the format %d/%m/%Y"):
        _ingest(path, data_schema)
    hair, path = _cohort(tmp_path, date_format=None)
    with pytest.raises(ConfigError, match=r"column 'cut': the hair sampling dates are text; declare their format "
                                          r"as `date_format`"):
        _ingest(path, data_schema)


# --------------------------------------------------------------------------- stage and figure
def test_prepare_stage_reads_participants_in_gestation_mode(tmp_path, demo_config):
    from first1000.config import load_config
    from first1000.stages.prepare import prepare, prepare_params

    raw = yaml.safe_load((ROOT / "config/config.yaml").read_text(encoding="utf-8"))
    raw["preparation"]["hpa"] = {"timing": "gestation"}
    hair = tmp_path / "hair.parquet"
    _hair([(f"p{i}", 0.0, 3.0, 10.0 + i) for i in range(8)]).to_parquet(hair)
    people = tmp_path / "participants.parquet"
    frame = _people([(f"p{i}", 280.0 if i < 6 else 224.0, DELIVERY) for i in range(8)])
    frame.insert(1, "cohort", "ghent")
    frame.to_parquet(people)
    out, qc = tmp_path / "hpa.parquet", tmp_path / "hpa.tsv"
    params = {**prepare_params(load_config(raw), "hpa"), "cohorts": ["ghent"]}
    prepare(**params, tables=[str(hair)], output=str(out), qc=str(qc), participants=str(people))
    table = pd.read_csv(qc, sep="\t").set_index("window")
    assert str(table.loc["t3", "n"]) == "6" and table.loc["t2", "n"] == "<5"  # two preterm births, suppressed
    assert table.loc["t3", "gestational_weeks"] == "28-43"
    biomarkers = pd.read_parquet(out).set_index("pseudo_id")
    assert biomarkers.loc["p7", "hair_cortisol_t2_ln"] == pytest.approx(np.log(17.0))


def test_cortisol_figure_labels_windows_in_weeks():
    from first1000.figures.mechanism import cortisol_by_window

    qc = pd.DataFrame({"cohort": ["ghent"] * 3, "window": ["t1", "t2", "t3"],
                       "gestational_weeks": ["0-14", "14-28", "28-43"], "n": [40, 40, 40],
                       "n_below_loq": [0, 0, 0], "median_pg_mg": [5.0, 7.0, 20.0], "q1_pg_mg": [4.0, 5.0, 13.0],
                       "q3_pg_mg": [8.0, 11.0, 30.0]})
    fig = cortisol_by_window(qc)
    ax = fig.axes[0]
    fig.draw_without_rendering()
    minor = [t.get_text().replace("\n", " ") for t in ax.get_xticklabels(minor=True) if t.get_text()]
    assert minor == ["T1 0\u201314 wk", "T2 14\u201328 wk", "T3 28\u201343 wk"]
    assert "gestational weeks" in ax.get_xlabel() and "cm" not in ax.get_xlabel()
