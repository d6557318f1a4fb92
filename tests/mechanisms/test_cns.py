"""Central nervous system measures: a generic continuous biomarker table with declared units.

A lab's MRI export (right amygdala volume in mm³, hippocampal volume in mm³ analysed on
the log scale, default-mode network connectivity as Fisher z) is declared in the config
and mapped in the cohort's mapping file, then ingested and prepared; every expected value
below is computed by hand.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import yaml

from first1000 import keys, labels
from first1000.stages import ingest as ingest_stage
from first1000.preflight import check_inputs
from first1000.stages.prepare import prepare, prepare_params
from first1000.config import load_config
from first1000.errors import ConfigError, InputTableError
from first1000.mechanisms import PREPARERS, cns

from workflow_runs import ROOT

MEASURES = {
    "amygdala_volume_right": {"label": "Right amygdala volume", "unit": "mm³", "min": 500, "max": 3000},
    "hippocampus_volume": {"label": "Hippocampal volume", "unit": "mm³", "log": True, "min": 1000, "max": 8000},
    "dmn_connectivity": {"label": "Default-mode network connectivity", "unit": "Fisher z", "min": -3, "max": 3},
}
COLUMNS = {"amygdala_volume_right": "amy_r_mm3", "hippocampus_volume": "hipp_mm3", "dmn_connectivity": "dmn_fc_z"}
PARTICIPANTS = "pid,age\nA1,31\nA2,29\nA3,35\nA4,27\nA5,33\nA6,30\n"
#: A5 had no usable amygdala segmentation (NA); A6 has no scan (no row); `scanner` is not a measure.
MRI = ("pid,amy_r_mm3,hipp_mm3,dmn_fc_z,scanner\n"
       "A1,1500,3000,0.30,S1\nA2,1600,3500,0.10,S1\nA3,1400,4000,0.20,S2\nA4,1700,2500,-0.10,S2\n"
       "A5,NA,3200,0.50,S2\n")


def _setup(tmp_path, *, mri=MRI, measures=MEASURES, columns=COLUMNS, mechanism=None):
    (tmp_path / "participants.csv").write_text(PARTICIPANTS, encoding="utf-8")
    (tmp_path / "brain_mri.csv").write_text(mri, encoding="utf-8")
    if not (tmp_path / "key").exists():
        keys.init_key(tmp_path / "key")
    mapping = {
        "tables": {
            "participants": {"path": str(tmp_path / "participants.csv"), "id": "pid"},
            "cns_measures": {"path": str(tmp_path / "brain_mri.csv"), "id": "pid", "columns": dict(columns)},
        },
        "variables": {"maternal_age": {"rule": "direct", "column": "age"}},
    }
    (tmp_path / "lab.yaml").write_text(yaml.safe_dump(mapping, allow_unicode=True), encoding="utf-8")
    config = {
        "harmonised_variables": str(ROOT / "resources/harmonised_variables.yaml"),
        "privacy": {"key_file": str(tmp_path / "key")},
        "cohorts": {"lab": {"mapping": str(tmp_path / "lab.yaml")}},
        "preparation": {"cns": {"measures": measures}},
        "mechanisms": {"cns": mechanism or {
            "label": "Central nervous system (MRI)",
            "biomarkers": ["amygdala_volume_right", "hippocampus_volume_ln", "dmn_connectivity_z"],
            "exposures": ["epds"]}},
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(config, allow_unicode=True, sort_keys=False), encoding="utf-8")
    return path


def _ingest(cfg, tmp_path):
    out = ingest_stage.ingest_cohort("lab", cfg["cohorts"]["lab"]["_mapping"], cfg["_data_schema"],
                               keys.read_key(tmp_path / "key"))
    return out


def test_ingest_and_prepare_by_hand(tmp_path):
    cfg = load_config(_setup(tmp_path))
    out = _ingest(cfg, tmp_path)
    assert PREPARERS["cns"] == (cns, "cns_measures")
    long = out["cns_measures"]
    assert sorted(long.marker.unique()) == sorted(MEASURES)  # the scanner column is not a measure
    assert len(long) == 5 * 3
    ids = dict(zip(out["participants"].pseudo_id, ["A1", "A2", "A3", "A4", "A5", "A6"]))

    biomarkers, qc = cns.prepare({"lab": long}, cfg["preparation"]["cns"])
    biomarkers = biomarkers.assign(pid=biomarkers.pseudo_id.map(ids)).set_index("pid").sort_index()
    assert list(biomarkers.columns) == ["pseudo_id", "cohort", "amygdala_volume_right", "amygdala_volume_right_z",
                                        "hippocampus_volume_ln", "hippocampus_volume_z", "dmn_connectivity",
                                        "dmn_connectivity_z"]
    assert biomarkers.index.tolist() == ["A1", "A2", "A3", "A4", "A5"]  # A6 has no scan

    # Raw in its declared unit; mean 1550, SD sqrt(50000/3): z = ±sqrt(3/20), ±3 sqrt(3/20).
    amy = biomarkers.amygdala_volume_right
    assert amy.iloc[:4].tolist() == [1500, 1600, 1400, 1700] and np.isnan(amy["A5"])
    k = math.sqrt(3 / 20)
    assert biomarkers.amygdala_volume_right_z.iloc[:4].tolist() == pytest.approx([-k, k, -3 * k, 3 * k])
    assert np.isnan(biomarkers.amygdala_volume_right_z["A5"])

    # log: true -> ln mm³, and the z-score of the ln values.
    hipp_ln = [math.log(v) for v in (3000, 3500, 4000, 2500, 3200)]
    assert biomarkers.hippocampus_volume_ln.tolist() == pytest.approx([8.006367567650246, 8.160518247477505,
                                                                       8.294049640102028, 7.824046010856292,
                                                                       8.070906088787819])
    mean, sd = np.mean(hipp_ln), np.std(hipp_ln, ddof=1)
    assert biomarkers.hippocampus_volume_z.tolist() == pytest.approx([(v - mean) / sd for v in hipp_ln])
    assert "hippocampus_volume" not in biomarkers

    # Fisher z kept raw; mean 0.2, SD sqrt(0.05): z = 1/sqrt(5) x (1, -1, 0, -3, 3).
    assert biomarkers.dmn_connectivity.tolist() == pytest.approx([0.30, 0.10, 0.20, -0.10, 0.50])
    r = 1 / math.sqrt(5)
    assert biomarkers.dmn_connectivity_z.tolist() == pytest.approx([r, -r, 0, -3 * r, 3 * r], abs=1e-12)

    # QC: aggregates only, in the declared unit (quantiles by linear interpolation).
    assert list(qc.columns) == ["cohort", "measure", "label", "unit", "n", "n_missing", "median", "q1", "q3",
                                "n_outliers"]
    rows = qc.set_index("measure")
    assert rows.index.tolist() == ["amygdala_volume_right", "hippocampus_volume", "dmn_connectivity"]
    amy_qc = rows.loc["amygdala_volume_right"]
    assert (amy_qc.cohort, amy_qc.label, amy_qc.unit) == ("lab", "Right amygdala volume", "mm³")
    assert (amy_qc.n, amy_qc.n_missing, amy_qc.n_outliers) == (4, 1, 0)
    assert (amy_qc["median"], amy_qc.q1, amy_qc.q3) == (1550, 1475, 1625)
    hipp_qc = rows.loc["hippocampus_volume"]
    assert (hipp_qc.n, hipp_qc.n_missing, hipp_qc["median"], hipp_qc.q1, hipp_qc.q3) == (5, 0, 3200, 3000, 3500)
    assert hipp_qc.unit == "mm³"  # the QC quantiles are in the declared unit, not ln
    dmn_qc = rows.loc["dmn_connectivity"]
    assert (dmn_qc["median"], dmn_qc.q1, dmn_qc.q3) == pytest.approx((0.2, 0.1, 0.3))


def test_values_beyond_four_sd_are_flagged_not_dropped():
    # 19 equal values and one far away: its z is 19 / sqrt(20) = 4.25 > 4.
    values = [1000.0] * 19 + [2000.0]
    long = pd.DataFrame({"pseudo_id": [f"P{i:02d}" for i in range(20)], "marker": "vol", "value": values,
                         "below_limit": False})
    biomarkers, qc = cns.prepare({"c": long}, {"measures": {"vol": {"label": "Volume", "unit": "mm³"}}})
    assert qc.n_outliers.tolist() == [1]
    assert biomarkers.vol.tolist() == values  # flagged in the QC table, kept in the data
    assert biomarkers.vol_z.max() == pytest.approx(19 / math.sqrt(20))


def test_declared_label_and_unit_reach_figures_and_association_units(tmp_path):
    from first1000.analysis.associations import associations

    cfg = load_config(_setup(tmp_path))
    schema, declared = cfg["_data_schema"], cfg["_declared_biomarkers"]
    assert not set(schema) & {"amygdala_volume_right", "hippocampus_volume_ln"}  # data schema untouched
    assert labels.label_and_unit("amygdala_volume_right", schema, declared) == ("Right amygdala volume", "mm³")
    assert labels.label_and_unit("hippocampus_volume_ln", schema, declared) == ("Hippocampal volume", "ln mm³")
    assert labels.label_and_unit("hippocampus_volume_z", schema, declared) == ("Hippocampal volume",
                                                                                "SD of ln mm³")
    assert labels.label_and_unit("dmn_connectivity_z", schema, declared) == ("Default-mode network connectivity",
                                                                              "SD of Fisher z")
    # without the config's declarations (another config's job), no label is borrowed
    assert labels.label_and_unit("amygdala_volume_right", schema) == ("amygdala_volume_right", "")
    assert labels.figure_labels(["amygdala_volume_right", "dmn_connectivity"], schema, declared) == {
        "amygdala_volume_right": "Right amygdala volume (mm³)",
        "dmn_connectivity": "Default-mode network connectivity (Fisher z)"}

    rng = np.random.default_rng(1)
    epds = rng.integers(0, 25, 40).astype(float)
    table = pd.DataFrame({"pseudo_id": [f"P{i}" for i in range(40)], "cohort": "lab", "epds": epds,
                          "amygdala_volume_right": 1600 - 4 * epds + rng.normal(0, 30, 40)})
    spec = {"biomarkers": ["amygdala_volume_right"], "exposures": ["epds"], "outcomes": []}
    variables = labels.variables(["epds", "amygdala_volume_right"], schema, declared)  # the job's params
    result = associations(table, "cns", spec, [], variables)
    assert result.unit.tolist() == ["mm³ per point (EPDS depressive symptoms (0-30))"]
    assert result.estimate.iloc[0] == pytest.approx(-4, abs=1.5)

    # The harmonised participants do not gain the measures as variables.
    people = _ingest(cfg, tmp_path)["participants"]
    assert not set(people.columns) & set(MEASURES)


def test_undeclared_measure_names_mapping_file_measure_and_fix(tmp_path):
    measures = {k: v for k, v in MEASURES.items() if k != "hippocampus_volume"}
    path = _setup(tmp_path, measures=measures,
                  mechanism={"biomarkers": ["amygdala_volume_right"], "exposures": ["epds"]})
    with pytest.raises(ConfigError) as err:
        load_config(path)
    message = str(err.value)
    assert str(tmp_path / "lab.yaml") in message
    assert "key `tables.cns_measures.columns.hippocampus_volume`" in message
    assert "the CNS measure `hippocampus_volume` is not declared in the config" in message
    assert "Declare it as `preparation.cns.measures.hippocampus_volume: {label: ..., unit: ...}`" in message


def test_out_of_range_stops_preflight_naming_rows(tmp_path):
    mri = MRI.replace("A2,1600,", "A2,16000,").replace("A4,1700,", "A4,1.7,")
    cfg = load_config(_setup(tmp_path, mri=mri))
    with pytest.raises(InputTableError) as err:
        check_inputs(cfg, tmp_path / "key")
    message = str(err.value)
    assert message.startswith(f"{tmp_path / 'brain_mri.csv'}, column 'amy_r_mm3', rows 3, 5: value out of range "
                              "for the measure `amygdala_volume_right`: expected >= 500 mm³ and <= 3000 mm³ "
                              "(rule: `preparation.cns.measures.amygdala_volume_right` min/max in the config).")
    assert "16000" not in message and "1.7" not in message


def test_non_positive_value_of_a_log_measure_and_text_are_errors(tmp_path):
    cfg = load_config(_setup(tmp_path, mri=MRI.replace("A3,1400,4000,", "A3,1400,-4000,"),
                             measures={**MEASURES, "hippocampus_volume": {"label": "Hippocampal volume",
                                                                          "unit": "mm³", "log": True}}))
    with pytest.raises(InputTableError, match=r"column 'hipp_mm3', row 4: value not above 0 for the measure "
                                              r"`hippocampus_volume`, which is analysed on the log scale"):
        _ingest(cfg, tmp_path)
    cfg = load_config(_setup(tmp_path, mri=MRI.replace("A3,1400,4000,0.20", "A3,1400,4000,n/a")))
    with pytest.raises(InputTableError, match=r"column 'dmn_fc_z', row 4: expected a number, found text"):
        _ingest(cfg, tmp_path)


def test_config_checks_of_declared_measures(tmp_path):
    # A biomarker no declared measure produces (raw measure analysed on the log scale).
    path = _setup(tmp_path, mechanism={"biomarkers": ["amygdala_volume_right_ln"], "exposures": ["epds"]})
    with pytest.raises(ConfigError, match=r"key `mechanisms\.cns\.biomarkers\.0`: `amygdala_volume_right_ln` is not "
                                          r"a biomarker of a measure declared under `preparation\.cns\.measures` "
                                          r"\(`amygdala_volume_right` is declared with `log: false`: use "
                                          r"`amygdala_volume_right`, or set `log: true`\)"):
        load_config(path)
    path = _setup(tmp_path, mechanism={"biomarkers": ["hippocampus_volume"], "exposures": ["epds"]})
    with pytest.raises(ConfigError, match=r"\(`hippocampus_volume` is declared with `log: true`: use "
                                          r"`hippocampus_volume_ln`\)"):
        load_config(path)
    path = _setup(tmp_path, mechanism={"biomarkers": ["dmn_conectivity_z"], "exposures": ["epds"]})
    with pytest.raises(ConfigError, match=r"\(did you mean `dmn_connectivity_z`\?\)"):
        load_config(path)
    # label and unit are required
    path = _setup(tmp_path, measures={**MEASURES, "dmn_connectivity": {"label": "DMN connectivity"}})
    with pytest.raises(ConfigError, match=r"preparation\.cns\.measures\.dmn_connectivity`: 'unit' is a required"):
        load_config(path)
    # a measure named like a harmonised variable
    path = _setup(tmp_path, measures={**MEASURES, "bmi": {"label": "x", "unit": "y"}})
    with pytest.raises(ConfigError, match=r"the biomarker `bmi` of this measure has the name of a harmonised"):
        load_config(path)
    # min above max
    path = _setup(tmp_path, measures={**MEASURES, "dmn_connectivity": {"label": "x", "unit": "y", "min": 3,
                                                                       "max": -3}})
    with pytest.raises(ConfigError, match=r"`min` \(3\) is above `max` \(-3\)"):
        load_config(path)
    # the mapping must list the measures
    path = _setup(tmp_path, columns={})
    with pytest.raises(ConfigError, match=r"key `tables\.cns_measures`: list the measures under `columns`"):
        load_config(path)


def test_prepare_stage_writes_biomarkers_and_qc(tmp_path):
    cfg_path = _setup(tmp_path)
    cfg = load_config(cfg_path)
    table = tmp_path / "cns_measures.parquet"
    _ingest(cfg, tmp_path)["cns_measures"].to_parquet(table)
    prepare(**prepare_params(cfg, "cns"), tables=[str(table)], output=tmp_path / "cns.parquet",
            qc=tmp_path / "cns_qc.tsv")
    qc = pd.read_csv(tmp_path / "cns_qc.tsv", sep="\t")
    assert qc.n.astype(str).tolist() == ["<5", "5", "5"]  # small counts suppressed, as in every QC table
    assert pd.read_parquet(tmp_path / "cns.parquet").shape == (5, 8)
