"""qPCR relative quantification (telomere T/S, mtDNA content): hand-computed checks."""

import numpy as np
import pandas as pd
import pytest

from first1000.errors import ConfigError, InputTableError
from first1000.mechanisms import qpcr


def _wells(rows):
    return pd.DataFrame(rows, columns=["plate", "pseudo_id", "is_calibrator", "target", "ct"])


def _triplicate(plate, sample, target, ct, spread=(0.0, 0.05, -0.05)):
    cal = sample == "calibrator"
    return [(plate, sample, cal, target, ct + d) for d in spread]


def test_ratio_without_and_with_efficiency_by_hand():
    # E = 2: 2^-ddCt. dCt_s = 15 - 24 = -9, dCt_cal = 16 - 24 = -8 -> 2^1.
    assert qpcr.relative_quantity(15.0, 24.0, 16.0, 24.0) == pytest.approx(2.0)
    # Pfaffl: 1.9^(16 - 15) / 2.0^(24 - 24.5) = 1.9 * sqrt(2).
    assert qpcr.relative_quantity(15.0, 24.5, 16.0, 24.0, efficiency=(1.9, 2.0)) == pytest.approx(1.9 * 2 ** 0.5)
    # Standard-curve slope -3.3219 is a perfect doubling; -3.5 gives 10^(1/3.5).
    assert qpcr.efficiency_from_slope(-1 / np.log10(2)) == pytest.approx(2.0)
    assert qpcr.efficiency_from_slope(-3.5) == pytest.approx(10 ** (1 / 3.5))
    assert qpcr.percent_difference(np.log(1.12)) == pytest.approx(12.0)
    assert qpcr.percent_difference(np.log10(1.05), base=10) == pytest.approx(5.0)


def test_calibrator_normalisation_per_plate_and_efficiency_table():
    rows = []
    # Plate 2 runs 1 cycle later in the telomere assay for every well, calibrator included:
    # normalising to each plate's calibrator removes the shift.
    for plate, shift in (("P1", 0.0), ("P2", 1.0)):
        rows += _triplicate(plate, "calibrator", "telomere", 16.0 + shift)
        rows += _triplicate(plate, "calibrator", "single_copy", 24.0)
        rows += _triplicate(plate, "a", "telomere", 15.0 + shift)
        rows += _triplicate(plate, "a", "single_copy", 24.0)
        rows += _triplicate(plate, "b", "telomere", 17.0 + shift)
        rows += _triplicate(plate, "b", "single_copy", 23.0)
    runs, plates = qpcr.plate_ratios(_wells(rows))
    got = runs.set_index(["plate", "pseudo_id"]).ratio
    assert got[("P1", "a")] == pytest.approx(2.0) and got[("P2", "a")] == pytest.approx(2.0)
    # b: dCt = 17 - 23 = -6 vs calibrator -8 -> 2^-2.
    assert got[("P1", "b")] == pytest.approx(0.25) and got[("P2", "b")] == pytest.approx(0.25)
    assert plates.n_failed.tolist() == [0, 0]
    # The calibrator's own raw ratio 2^-16 / 2^-24 = 2^8 on P1, 2^7 on P2.
    assert plates.calibrator_raw_ratio.tolist() == pytest.approx([2.0 ** 8, 2.0 ** 7])
    assert qpcr.calibrator_cv(plates) == pytest.approx(100 * np.std([256, 128], ddof=1) / 192)
    person = qpcr.per_participant(runs, "telomere_ts_ln", "c").set_index("pseudo_id")
    assert person.loc["a", "telomere_ts_ln"] == pytest.approx(np.log(2.0))

    # Per-plate efficiencies from standard-curve slopes.
    slopes = pd.DataFrame({"plate": ["P1", "P1", "P2", "P2"], "target": ["telomere", "single_copy"] * 2,
                           "slope": [-3.5, -3.3219280949, -3.5, -3.3219280949]})
    runs, plates = qpcr.plate_ratios(_wells(rows), efficiency=slopes)
    e_t = 10 ** (1 / 3.5)
    got = runs.set_index(["plate", "pseudo_id"]).ratio
    assert got[("P1", "a")] == pytest.approx(e_t ** 1, rel=1e-6)
    assert got[("P2", "b")] == pytest.approx(e_t ** -1 / 2.0 ** 1, rel=1e-6)
    assert plates.e_target.tolist() == pytest.approx([e_t, e_t])


def test_mtdna_uses_the_same_machinery():
    rows = (_triplicate("P1", "calibrator", "mt", 18.0) + _triplicate("P1", "calibrator", "nuclear", 25.0)
            + _triplicate("P1", "x", "mt", 17.0) + _triplicate("P1", "x", "nuclear", 26.0))
    runs, _ = qpcr.plate_ratios(_wells(rows), targets=qpcr.MTDNA_TARGETS, efficiency={"mt": 2.0, "nuclear": 2.0})
    # ddCt = (17 - 26) - (18 - 25) = -2 -> 4-fold relative copy number.
    assert runs.ratio.iloc[0] == pytest.approx(4.0)


def test_replicate_qc_drops_one_outlier_or_fails():
    rows = (_triplicate("P1", "calibrator", "telomere", 16.0) + _triplicate("P1", "calibrator", "single_copy", 24.0)
            # s3: one outlying replicate among three -> dropped, the other two agree.
            + [("P1", "s3", False, "telomere", ct) for ct in (15.0, 15.1, 16.0)]
            + _triplicate("P1", "s3", "single_copy", 24.0)
            # s4: three replicates spread evenly (SD 0.5) -> no single outlier -> missing.
            + [("P1", "s4", False, "telomere", ct) for ct in (15.0, 15.5, 16.0)]
            + _triplicate("P1", "s4", "single_copy", 24.0)
            # s5: duplicates 0.5 apart -> cannot tell which is right -> missing.
            + [("P1", "s5", False, "single_copy", ct) for ct in (24.0, 24.5)]
            + _triplicate("P1", "s5", "telomere", 15.0))
    qc = qpcr.replicate_qc(_wells(rows), sd_max=0.25).set_index(["sample_key", "target"])
    assert qc.loc[("s3", "telomere"), "dropped"] and qc.loc[("s3", "telomere"), "n_used"] == 2
    assert qc.loc[("s3", "telomere"), "ct_mean"] == pytest.approx(15.05)
    assert qc.loc[("s4", "telomere"), "failed"] and not qc.loc[("s4", "telomere"), "dropped"]
    assert qc.loc[("s5", "single_copy"), "failed"]
    runs, plates = qpcr.plate_ratios(_wells(rows), sd_max=0.25)
    got = runs.set_index("pseudo_id")
    assert got.loc["s3", "ratio"] == pytest.approx(2 ** (16 - 15.05))
    assert np.isnan(got.loc["s4", "ratio"]) and np.isnan(got.loc["s5", "ratio"])
    assert plates.n_failed.iloc[0] == 2 and plates.n_dropped_replicates.iloc[0] == 1


def test_failed_calibrator_voids_its_plate():
    rows = ([("P1", "calibrator", True, "telomere", ct) for ct in (16.0, 16.6)]
            + _triplicate("P1", "calibrator", "single_copy", 24.0)
            + _triplicate("P1", "a", "telomere", 15.0) + _triplicate("P1", "a", "single_copy", 24.0))
    runs, plates = qpcr.plate_ratios(_wells(rows))
    assert runs.failed.all() and runs.ratio.isna().all()
    assert plates.calibrator_failed.iloc[0] and plates.n_failed.iloc[0] == 1


def test_intra_and_inter_assay_cv():
    rows = [("P1", "a", False, "telomere", ct) for ct in (15.0, 15.2)]
    rows += [("P1", "b", False, "telomere", ct) for ct in (17.0, 17.0, 17.1)]
    cv = qpcr.intra_assay_cv(_wells(rows)).set_index("target")
    q_a = 2.0 ** -np.array([15.0, 15.2])
    q_b = 2.0 ** -np.array([17.0, 17.0, 17.1])
    cvs = [100 * np.std(q, ddof=1) / np.mean(q) for q in (q_a, q_b)]
    assert cv.loc["telomere", "mean_cv_pct"] == pytest.approx(np.mean(cvs))
    assert cv.loc["telomere", "n_groups"] == 2

    runs = pd.DataFrame({"pseudo_id": ["a", "a", "b", "b", "b", "c"], "plate": ["P1", "P2", "P1", "P2", "P3", "P1"],
                         "ratio": [1.0, 1.2, 0.8, 0.9, 1.0, 1.1]})
    inter = qpcr.inter_assay_cv(runs)
    expect = [100 * np.std([1.0, 1.2], ddof=1) / 1.1, 100 * np.std([0.8, 0.9, 1.0], ddof=1) / 0.9]
    assert inter["n_repeated"] == 2
    assert inter["mean_cv_pct"] == pytest.approx(np.mean(expect))


def test_icc_matches_pingouin():
    pg = pytest.importorskip("pingouin")
    rng = np.random.default_rng(7)
    n, k = 20, 3
    true = rng.normal(1.0, 0.2, n)
    plate_effect = np.array([0.0, 0.05, -0.03])
    data = pd.DataFrame({"sample": np.repeat(np.arange(n), k), "plate": np.tile(["P1", "P2", "P3"], n),
                         "ts": np.repeat(true, k) + np.tile(plate_effect, n) + rng.normal(0, 0.08, n * k)})
    ref = pg.intraclass_corr(data, targets="sample", raters="plate", ratings="ts").set_index("Type").ICC
    assert qpcr.icc(data, "sample", "ts", kind="ICC1") == pytest.approx(ref["ICC(1,1)"], rel=1e-10)
    assert qpcr.icc(data, "sample", "ts", rater="plate", kind="ICC2") == pytest.approx(ref["ICC(A,1)"], rel=1e-10)
    # Unbalanced ICC1 (some samples measured twice, some three times) is still in (0, 1)
    # and close to the balanced value.
    unbalanced = data.drop(index=data.index[(data["sample"] % 2 == 0) & (data.plate == "P3")])
    assert 0 < qpcr.icc(unbalanced, "sample", "ts") < 1
    assert qpcr.icc(unbalanced, "sample", "ts") == pytest.approx(ref["ICC(1,1)"], abs=0.1)


def test_zscore_within_cohort():
    z = qpcr.zscore([1.0, 2.0, 3.0, np.nan])
    assert z[:3] == pytest.approx([-1.0, 0.0, 1.0]) and np.isnan(z[3])


@pytest.mark.parametrize("ct, problem", [(0.0, "greater than 0"), (-1.0, "greater than 0"),
                                         (41.0, "above 40"), ("Undetermined", "undetermined"),
                                         (np.nan, "undetermined")])
def test_bad_ct_names_column_rule_and_rows(ct, problem):
    rows = _triplicate("P1", "calibrator", "telomere", 16.0) + _triplicate("P1", "calibrator", "single_copy", 24.0)
    rows = [list(r) for r in rows]
    rows[4][4] = ct  # the fifth well is spreadsheet row 6
    wells = _wells(rows).astype({"ct": object})
    with pytest.raises(InputTableError) as err:
        qpcr.plate_ratios(wells, where="telomeres.csv")
    msg = str(err.value)
    assert "telomeres.csv" in msg and "column 'ct'" in msg and "row 6" in msg and "rule: qpcr" in msg
    assert problem in msg and "calibrator" not in msg


def test_bad_efficiency():
    rows = _triplicate("P1", "calibrator", "telomere", 16.0) + _triplicate("P1", "calibrator", "single_copy", 24.0)
    table = pd.DataFrame({"plate": ["P1", "P1"], "target": ["telomere", "single_copy"], "efficiency": [2.5, 1.95]})
    with pytest.raises(InputTableError, match=r"column 'efficiency', row 2: amplification efficiency outside 1.6-2.2"):
        qpcr.plate_ratios(_wells(rows), efficiency=table)
    with pytest.raises(ConfigError, match="outside"):
        qpcr.plate_ratios(_wells(rows), efficiency={"telomere": 95.0})
    with pytest.raises(InputTableError, match="row 4"):  # third value, header = row 1
        qpcr.check_efficiency([1.9, 2.0, 1.2], column="efficiency")
