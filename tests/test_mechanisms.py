"""Biomarker preparation on values computed by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from first1000.errors import First1000Error
from first1000.mechanisms import hpa, immune, metabolites, methylation, telomeres


def test_ts_ratio_without_and_with_efficiency():
    # dCt sample = 15 - 24 = -9; calibrator 16 - 24 = -8 -> T/S = 2^-(-9 - -8) = 2
    assert telomeres.ts_ratio(15.0, 24.0, 16.0, 24.0) == pytest.approx(2.0)
    # Pfaffl: 1.9^(16-15) / 2.0^(24-24.5) = 1.9 / 2^-0.5
    assert telomeres.ts_ratio(15.0, 24.5, 16.0, 24.0, efficiency=(1.9, 2.0)) == pytest.approx(1.9 * 2**0.5)


def _wells(rows):
    return pd.DataFrame(rows, columns=["plate", "pseudo_id", "is_calibrator", "target", "ct"])


def test_telomere_plate_normalisation_and_replicate_qc():
    rows = []
    for plate, shift in (("P1", 0.0), ("P2", 1.0)):  # a telomere-assay shift on plate 2
        for sample, tel, cal in (("calibrator", 16.0, True), (f"s{plate}", 15.0, False)):
            for rep in (-0.05, 0.0, 0.05):
                rows.append((plate, sample if not cal else "calibrator", cal, "telomere", tel + shift + rep))
                rows.append((plate, sample if not cal else "calibrator", cal, "single_copy", 24.0 + rep))
    # A failing sample: telomere replicates spread with SD 0.5
    for ct in (14.5, 15.0, 15.5):
        rows.append(("P1", "bad", False, "telomere", ct))
        rows.append(("P1", "bad", False, "single_copy", 24.0))
    biomarkers, qc = telomeres.prepare({"c": _wells(rows)}, {"replicate_ct_sd_max": 0.25})
    values = biomarkers.set_index("pseudo_id").telomere_ts_ln
    assert values["sP1"] == pytest.approx(np.log(2.0))
    assert values["sP2"] == pytest.approx(np.log(2.0))  # plate shift removed by the calibrator
    assert "bad" not in values.index
    assert qc.set_index("plate").loc["P1", "n_failed_replicate_qc"] == 1


def test_hair_windows_loq_and_weighting():
    hair = pd.DataFrame({
        "pseudo_id": ["a", "a", "a", "b"],
        "segment_start_cm": [0.0, 3.0, 4.5, 0.0],
        "segment_end_cm": [3.0, 4.5, 6.0, 3.0],
        "cortisol": [20.0, 4.0, 16.0, np.nan],
        "below_limit": [False, False, False, True],
    })
    settings = {"windows": {"t3": [0, 3], "t2": [3, 6]}, "loq": 2.0, "outlier_sd": 3}
    biomarkers, qc = hpa.prepare({"c": hair}, settings)
    row = biomarkers.set_index("pseudo_id")
    assert row.loc["a", "hair_cortisol_t3_ln"] == pytest.approx(np.log(20.0))
    # two 1.5 cm segments in t2: length-weighted mean of ln values = ln(sqrt(4 * 16)) = ln 8
    assert row.loc["a", "hair_cortisol_t2_ln"] == pytest.approx(np.log(8.0))
    assert row.loc["b", "hair_cortisol_t3_ln"] == pytest.approx(np.log(2.0 / np.sqrt(2)))
    assert qc.set_index("window").loc["t3", "n_below_loq"] == 1


def test_m_values():
    assert methylation.m_values([0.5, 0.8, 0.2]) == pytest.approx([0.0, 2.0, -2.0])
    assert np.isfinite(methylation.m_values([0.0, 1.0])).all()


def _long(values, below, marker):
    return pd.DataFrame({"pseudo_id": [f"p{i}" for i in range(len(values))], "marker": marker,
                         "value": values, "below_limit": below})


def test_metabolites_lod_substitution_log_and_ratio():
    long = pd.concat([
        _long([100.0, np.nan, 50.0], [False, True, False], "lactate"),
        _long([10.0, 20.0, 25.0], [False, False, False], "pyruvate"),
    ])
    biomarkers, qc = metabolites.prepare({"c": long}, {"lod": {"lactate": 8.0}})
    row = biomarkers.set_index("pseudo_id")
    assert row.loc["p1", "lactate_ln"] == pytest.approx(np.log(8.0 / np.sqrt(2)))
    assert row.loc["p0", "lactate_pyruvate_ln_ratio"] == pytest.approx(np.log(10.0))
    assert qc.set_index("marker").loc["lactate", "pct_below_lod"] == pytest.approx(100 / 3)


def test_undeclared_lod_is_an_error():
    with pytest.raises(First1000Error, match=r"preparation.immune.lod.il6"):
        immune.prepare({"c": _long([1.0, np.nan], [False, True], "il6")}, {"lod": {}})


def test_cd4_cd8_log_ratio():
    biomarkers, _ = immune.prepare({"c": _long([2.0, 0.5], [False, False], "cd4_cd8_ratio")}, {"lod": {}})
    assert biomarkers.cd4_cd8_ln_ratio.tolist() == pytest.approx([np.log(2.0), np.log(0.5)])
