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
    plates = qc.set_index("plate")
    assert plates.loc["P1", "n_failed_replicate_qc"] == 1
    assert plates.run_order.tolist() == [1, 2] and not plates.calibrator_failed.any()
    assert plates.loc["P2", "calibrator_dct"] == pytest.approx(-7.0)  # 17 - 24
    for column in ("calibrator_ts", "calibrator_cv_pct_cohort", "intra_cv_pct_target", "inter_assay_cv_pct", "icc1"):
        assert column in qc
    assert "telomere_ts_z" in biomarkers


def test_mtdna_content_and_reliability_over_repeated_plates():
    from first1000.mechanisms import mitochondria

    rows = []
    for plate, shift in (("A", 0.0), ("B", 0.5)):
        for rep in (-0.02, 0.0, 0.02):
            rows.append((plate, "calibrator", True, "mt", 18.0 + shift + rep))
            rows.append((plate, "calibrator", True, "nuclear", 25.0 + rep))
        for i, mt in enumerate((17.0, 18.0, 19.0, 16.5)):
            for rep in (-0.02, 0.0, 0.02):
                rows.append((plate, f"s{i}", False, "mt", mt + shift + rep + (0.05 if plate == "B" else 0.0)))
                rows.append((plate, f"s{i}", False, "nuclear", 25.0 + rep))
    biomarkers, qc = mitochondria.prepare({"c": _wells(rows)}, {"replicate_ct_sd_max": 0.25})
    values = biomarkers.set_index("pseudo_id").mtdna_content_ln
    # s0 is 1 cycle earlier than the calibrator on plate A, 0.95 on plate B: mean ln of 2^1 and 2^0.95
    assert values["s0"] == pytest.approx(np.log(2) * 0.975)
    assert biomarkers.mtdna_content_z.mean() == pytest.approx(0.0, abs=1e-12)
    assert qc.n_repeated.iloc[0] == 4 and qc.icc1.iloc[0] > 0.99
    assert "calibrator_mt_n" in qc


def test_qpcr_efficiency_from_slope():
    from first1000.errors import ConfigError

    assert telomeres.efficiencies({"slope": {"telomere": -3.3219}}, ("telomere", "single_copy"),
                                  "telomeres")["telomere"] == pytest.approx(2.0, abs=1e-3)
    with pytest.raises(ConfigError, match="outside 1.6-2.2"):
        telomeres.efficiencies({"slope": {"telomere": -2.0}}, ("telomere", "single_copy"), "telomeres")


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
    assert qc[["p05_pg_mg", "p95_pg_mg"]].isna().all().all()  # fewer than 20 values: no tails


def test_hair_percentiles_with_enough_values():
    n = 40
    hair = pd.DataFrame({"pseudo_id": [f"p{i}" for i in range(n)], "segment_start_cm": 0.0,
                         "segment_end_cm": 3.0, "cortisol": np.exp(np.linspace(0, 3, n)), "below_limit": False})
    _, qc = hpa.prepare({"c": hair}, {"windows": {"t3": [0, 3]}, "loq": 0.5, "outlier_sd": 3})
    row = qc.iloc[0]
    assert row.p05_pg_mg == pytest.approx(np.exp(np.quantile(np.linspace(0, 3, n), 0.05)))
    assert row.p05_pg_mg < row.q1_pg_mg < row.median_pg_mg < row.q3_pg_mg < row.p95_pg_mg


def test_epigenetic_ga_clock_and_acceleration():
    from first1000.mechanisms import clocks, epigenetic_age

    clock = clocks.load_clock("knight2016")
    ref = clocks.load_reference().reindex(clock.cpgs).to_numpy()
    coef = clock.coefficients.to_numpy()
    base = clock.intercept + coef @ ref
    rng = np.random.default_rng(1)
    ga_days = rng.integers(250, 295, size=30).astype(float)
    # betas that make the clock read exactly the clinical GA (weeks), plus 0.5 weeks for p0
    shift = (ga_days / 7 - base + np.where(np.arange(30) == 0, 0.5, 0.0)) / (coef @ coef)
    betas = np.clip(ref[:, None] + coef[:, None] * shift[None, :], 0.001, 0.999)
    expected = clock.intercept + coef @ betas
    ids = [f"p{i}" for i in range(30)]
    matrix = pd.DataFrame(betas, columns=ids)
    matrix.insert(0, "cpg", clock.cpgs)
    matrix = pd.concat([matrix, pd.DataFrame({"cpg": ["cg99999999"], **{i: [0.5] for i in ids}})])
    participants = pd.DataFrame({"pseudo_id": ids, "gestational_age": ga_days, "maternal_age": 30.0})
    biomarkers, qc = epigenetic_age.prepare({"c": matrix}, {}, participants=participants)
    row = biomarkers.set_index("pseudo_id").reindex(ids)
    assert row.epigenetic_ga_weeks.to_numpy() == pytest.approx(expected)
    resid = expected - np.polyval(np.polyfit(ga_days / 7, expected, 1), ga_days / 7)
    assert row.epigenetic_ga_acceleration.to_numpy() == pytest.approx(resid)
    assert row.loc["p0", "epigenetic_ga_acceleration"] > 0.3
    assert qc.share_measured.iloc[0] == 1.0 and qc.n_cpgs.iloc[0] == len(clock.cpgs)


def test_microbiome_mechanism_filters_shannon_and_clr():
    from first1000.mechanisms import microbiome

    counts = {"p0": [5000, 5000, 0], "p1": [9000, 1000, 0], "p2": [10, 10, 0], "p3": [6000, 3000, 1000]}
    long = pd.DataFrame([(p, t, float(v), False) for p, vals in counts.items()
                         for t, v in zip(["bacteroides", "prevotella", "rare"], vals)],
                        columns=["pseudo_id", "marker", "value", "below_limit"])
    settings = {"min_depth": 1000, "min_prevalence": 0.5, "taxa": ["bacteroides", "rare"]}
    biomarkers, qc = microbiome.prepare({"c": long}, settings)
    row = biomarkers.set_index("pseudo_id")
    assert row.loc["p0", "shannon"] == pytest.approx(np.log(2))
    assert np.isnan(row.loc["p2", "shannon"])  # below the depth filter
    assert row.loc["p0", "bacteroides_clr"] == pytest.approx(0.0)
    assert row.rare_clr.isna().all()  # removed by the prevalence filter (1 of 3 samples)
    assert qc.n_samples_removed.iloc[0] == 1 and qc.chosen_taxa_removed.iloc[0] == "rare"


def test_m_values():
    assert methylation.m_values([0.5, 0.8, 0.2]) == pytest.approx([0.0, 2.0, -2.0])
    assert np.isfinite(methylation.m_values([0.0, 1.0])).all()


def _long(values, below, marker):
    return pd.DataFrame({"pseudo_id": [f"p{i}" for i in range(len(values))], "marker": marker,
                         "value": values, "below_limit": below})


def test_metabolites_lod_substitution_log_and_ratio():
    long = pd.concat([
        _long([100.0, np.nan, 50.0, 80.0, 60.0], [False, True, False, False, False], "lactate"),
        _long([10.0, 20.0, 25.0, 8.0, 6.0], [False, False, False, False, False], "pyruvate"),
    ])
    biomarkers, qc = metabolites.prepare({"c": long}, {"lod": {"lactate": 8.0}})
    row = biomarkers.set_index("pseudo_id")
    assert row.loc["p1", "lactate_ln"] == pytest.approx(np.log(8.0 / np.sqrt(2)))
    assert row.loc["p0", "lactate_pyruvate_ln_ratio"] == pytest.approx(np.log(10.0))
    by = qc.set_index("metabolite")
    assert by.loc["lactate", "pct_below_lod"] == pytest.approx(20.0)
    assert by.loc["lactate", "rule"] == "lod_sqrt2" and by.loc["pyruvate", "rule"] == "none"
    assert (qc.normalisation == "none").all()


def test_metabolites_mostly_below_lod_become_detected_binary():
    long = pd.concat([
        _long([np.nan, np.nan, 50.0, 80.0], [True, True, False, False], "acetone"),
        _long([10.0, 20.0, 25.0, 8.0], [False, False, False, False], "pyruvate"),
    ])
    biomarkers, qc = metabolites.prepare({"c": long}, {"lod": {"acetone": 8.0}})
    assert "acetone_ln" not in biomarkers and biomarkers.acetone_detected.tolist() == [0.0, 0.0, 1.0, 1.0]
    assert qc.set_index("metabolite").loc["acetone", "rule"] == "detected_binary"


def test_metabolites_pqn_and_creatinine_normalisation():
    # p1 is p0 diluted 1:2 (all concentrations halved): PQN makes them equal.
    long = pd.concat([
        _long([100.0, 50.0, 100.0], [False] * 3, "lactate"),
        _long([10.0, 5.0, 30.0], [False] * 3, "pyruvate"),
        _long([20.0, 10.0, 10.0], [False] * 3, "formate"),
    ])
    biomarkers, qc = metabolites.prepare({"c": long}, {"normalisation": "pqn"})
    row = biomarkers.set_index("pseudo_id")
    assert row.loc["p0", "formate_ln"] == pytest.approx(row.loc["p1", "formate_ln"])
    assert "dilution_factor_median" in qc
    # Creatinine (umol/L) normalisation: umol per mmol creatinine; creatinine itself is used up.
    long = pd.concat([_long([100.0, 50.0], [False] * 2, "lactate"), _long([5000.0, 2500.0], [False] * 2, "creatinine")])
    biomarkers, _ = metabolites.prepare({"c": long}, {"normalisation": "creatinine"})
    assert biomarkers.lactate_ln.tolist() == pytest.approx([np.log(20.0)] * 2)
    assert "creatinine_ln" not in biomarkers


def test_undeclared_lod_is_an_error():
    with pytest.raises(First1000Error, match=r"preparation.immune.lod.il6"):
        immune.prepare({"c": _long([1.0, np.nan], [False, True], "il6")}, {"lod": {}})


def test_cd4_cd8_log_ratio():
    biomarkers, _ = immune.prepare({"c": _long([2.0, 0.5], [False, False], "cd4_cd8_ratio")}, {"lod": {}})
    assert biomarkers.cd4_cd8_ln_ratio.tolist() == pytest.approx([np.log(2.0), np.log(0.5)])


def test_small_counts_and_their_percentages_are_suppressed():
    from first1000.privacy import suppress_small_counts

    qc = pd.DataFrame({"window": ["t1", "t2", "t3"], "n": [406, 406, 3], "n_below_loq": [2, 40, 0],
                       "pct_below_loq": [100 * 2 / 406, 100 * 40 / 406, 0.0]})
    out = suppress_small_counts(qc, 5)
    assert out.n_below_loq.tolist() == ["<5", 40, 0]
    assert np.isnan(out.pct_below_loq[0]) and out.pct_below_loq[1] == pytest.approx(100 * 40 / 406)
    assert out.n.tolist() == [406, 406, "<5"]


# --------------------------------------------------------------------------- detection limits as labs report them
def _immune_long(values, marker="il6", below=None):
    n = len(values)
    return pd.DataFrame({"pseudo_id": [f"P{i:03d}" for i in range(n)], "marker": marker,
                         "value": np.asarray(values, float),
                         "below_limit": np.zeros(n, bool) if below is None else np.asarray(below, bool)})


def test_numeric_values_at_a_declared_lod_are_below_it_and_a_floor_is_reported():
    """72% of IL-6 at the assay's floor (0.4 pg/mL reported as a number): with the LOD
    declared they are below the LOD (LOD/sqrt(2)); without, QC warns of the pile-up."""
    from first1000.mechanisms import immune

    rng = np.random.default_rng(5)
    values = np.r_[np.full(72, 0.4), rng.uniform(0.5, 9.0, 28)]
    settings = {"lod": {"il6": 0.4}, "crp_exclusion_mg_l": None, "lod_max_pct": 80}
    wide, qc = immune.prepare({"a": _immune_long(values)}, settings)
    row = qc.iloc[0]
    assert (row.n_below_lod, row.pct_below_lod, row.rule) == (72, 72.0, "lod_sqrt2")
    assert wide.il6_ln.iloc[:72].tolist() == pytest.approx([np.log(0.4 / np.sqrt(2))] * 72)
    assert not row.pile_up and row.warning == ""
    # the same values without a declared LOD: nothing is below it, but the floor is named
    wide, qc = immune.prepare({"a": _immune_long(values)}, {"lod": {}, "crp_exclusion_mg_l": None})
    row = qc.iloc[0]
    assert (row.n_below_lod, row.n_at_one_value, row.pct_at_one_value, row.pile_up) == (0, 72, 72.0, True)
    assert row.warning == ("warning: more than 10% of the measured values equal one single value (the smallest "
                           "measured value: an assay floor?); declare the marker's detection limit (preparation.immune.lod.il6) "
                           "so that values at or below it count as below the limit")
    assert "0.4" not in row.warning and "72" not in row.warning  # nor its share (blanked with a small count)


def test_immune_markers_mostly_below_the_lod_are_analysed_as_detected():
    from first1000.mechanisms import immune

    values = np.r_[np.full(60, np.nan), np.linspace(1, 5, 40)]
    below = np.r_[np.ones(60, bool), np.zeros(40, bool)]
    settings = {"lod": {"il1b": 0.2}, "crp_exclusion_mg_l": None}  # default lod_max_pct 50
    wide, qc = immune.prepare({"a": _immune_long(values, "il1b", below)}, settings)
    assert qc.rule.tolist() == ["detected_binary"] and "il1b_ln" not in wide
    assert wide.il1b_detected.tolist() == [0.0] * 60 + [1.0] * 40
    wide, qc = immune.prepare({"a": _immune_long(values, "il1b", below)}, {**settings, "lod_max_pct": 60})
    assert qc.rule.tolist() == ["lod_sqrt2"] and "il1b_ln" in wide and "il1b_detected" not in wide


def test_metabolite_floor_at_the_lod_counts_as_below_it():
    from first1000.mechanisms import nmr

    values = pd.DataFrame({"formate": np.r_[np.full(30, 5.0), np.linspace(6, 60, 70)]})
    below = pd.DataFrame({"formate": np.zeros(100, bool)})
    continuous, detected, qc = nmr.apply_lod_rule(values, below, {"formate": 5.0}, max_pct=40)
    assert (qc.n_below_lod[0], qc.rule[0]) == (30, "lod_sqrt2")
    assert continuous.formate.iloc[:30].tolist() == pytest.approx([5 / np.sqrt(2)] * 30)
    continuous, detected, qc = nmr.apply_lod_rule(values, below, {}, max_pct=40)
    assert (qc.n_below_lod[0], qc.pct_at_one_value[0], bool(qc.pile_up[0])) == (0, 30.0, True)
    assert qc.warning[0].startswith("warning: more than 10% of the measured values equal one single value (the "
                                    "smallest")
