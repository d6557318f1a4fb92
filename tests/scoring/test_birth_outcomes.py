"""Birth outcomes: LMS z-scores, INTERGROWTH-21st centiles and classifications at their boundaries."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from first1000.errors import ConfigError, InputTableError
from first1000.scoring import birth_outcomes as birth


def test_lms_z_by_hand():
    # ((3.3/3)^0.5 - 1) / (0.5 x 0.1) = (1.0488088 - 1) / 0.05 = 0.976177
    assert birth.lms_z(3.3, 0.5, 3.0, 0.1) == pytest.approx(0.9761770, abs=1e-6)
    # L = 0: ln(3.3/3) / 0.1 = 0.953102
    assert birth.lms_z(3.3, 0.0, 3.0, 0.1) == pytest.approx(0.9531018, abs=1e-6)
    # L = 1 is the normal distribution: (y - M) / (M S) = (3.3 - 3) / 0.3
    assert birth.lms_z(3.3, 1.0, 3.0, 0.1) == pytest.approx(1.0)
    z = np.array([-2.5, -1.2815516, 0.0, 1.5])
    for L in (-0.4, 0.0, 0.7):
        assert birth.lms_z(birth.lms_value(z, L, 3.2, 0.13), L, 3.2, 0.13) == pytest.approx(z)


def test_resource_table_covers_the_standards():
    table = birth.load_standard()
    counts = table.groupby(["standard", "measure", "sex"]).ga_days.agg(["min", "max", "count"])
    assert len(counts) == 12
    assert (counts.loc["newborn"][["min", "max", "count"]].to_numpy() == [231, 300, 70]).all()
    assert (counts.loc["very_preterm"][["min", "max", "count"]].to_numpy() == [168, 230, 63]).all()


def test_intergrowth_published_median_and_centiles_at_40_weeks():
    # Published INTERGROWTH-21st medians at 40+0 weeks (280 days) are the table's M:
    # boys 3.38 kg, girls 3.26 kg -> z = 0, centile 50.
    size = birth.size_for_ga([3380, 3260], [280, 280], ["male", "female"])
    assert size.z.to_numpy() == pytest.approx([0, 0], abs=1e-9)
    assert size.centile.to_numpy() == pytest.approx([50, 50])
    # P10 and P90 at 40+0 from the table (see resources/intergrowth/README.md):
    # boys 2.83 / 3.97 kg, girls 2.73 / 3.83 kg.
    lms = birth.lms_at([280] * 4, ["male", "male", "female", "female"])
    values = birth.lms_value([birth.Z_P10, birth.Z_P90] * 2, lms.L, lms.M, lms.S)
    assert values == pytest.approx([2.83, 3.97, 2.73, 3.83], abs=0.006)
    # Medians rise with gestational age.
    lms37 = birth.lms_at([259, 259], ["male", "female"])
    assert (lms37.M < lms.M.iloc[[0, 2]].to_numpy()).all()


def test_gestational_age_outside_the_standard_gives_missing_z():
    size = birth.size_for_ga([3000, 1000, 1000, 3000, 3000], [301, 200, 167, 280, 280],
                             ["male", "female", "female", None, "male"])
    assert np.isnan(size.z.iloc[0])      # 43+0: beyond the newborn standard
    assert not np.isnan(size.z.iloc[1])  # 28+4: very preterm charts
    assert np.isnan(size.z.iloc[2])      # 23+6: below both
    assert np.isnan(size.z.iloc[3])      # sex missing
    without = birth.size_for_ga([1000], [200], ["female"], very_preterm=False)
    assert np.isnan(without.z.iloc[0])
    # Fractional days interpolate between tabulated days.
    mid = birth.lms_at([280.5], ["male"]).M.iloc[0]
    ends = birth.lms_at([280, 281], ["male"]).M
    assert mid == pytest.approx(ends.mean())


def _table(**columns):
    base = {"gestational_age": [280], "birth_weight": [3400], "child_sex": ["male"]}
    base.update(columns)
    n = max(len(v) for v in base.values())
    return pd.DataFrame({k: (v * n if len(v) == 1 else v) for k, v in base.items()})


def test_preterm_boundary_36_6_vs_37_0_in_days_and_weeks_days():
    days = birth.birth_outcomes(_table(gestational_age=[258, 259, 223, 224, 195]))
    assert days.preterm.tolist() == [1, 0, 1, 1, 1]
    assert days.very_preterm.tolist() == [0, 0, 1, 0, 1]
    assert days.extremely_preterm.tolist() == [0, 0, 0, 0, 1]
    wd = birth.birth_outcomes(_table(gestational_age=["36+6", "37+0", " 40 + 3 "]), ga_unit="weeks+days")
    assert wd.gestational_age_days.tolist() == [258, 259, 283]
    assert wd.preterm.tolist() == [1, 0, 0]


def test_sga_lga_at_the_10th_and_90th_centile():
    lms = birth.lms_at([280, 280], ["female", "female"])
    p10 = float(birth.lms_value(birth.Z_P10, lms.L.iloc[0], lms.M.iloc[0], lms.S.iloc[0])) * 1000
    p90 = float(birth.lms_value(birth.Z_P90, lms.L.iloc[0], lms.M.iloc[0], lms.S.iloc[0])) * 1000
    out = birth.birth_outcomes(_table(birth_weight=[p10 - 1, p10 + 1, p90 - 1, p90 + 1, 2000],
                                      child_sex=["female"], gestational_age=[280]))
    assert out.sga.tolist() == [1, 0, 0, 0, 1]
    assert out.lga.tolist() == [0, 0, 0, 1, 0]
    assert out.severe_sga.tolist() == [0, 0, 0, 0, 1]
    assert out.low_birth_weight.tolist() == [0, 0, 0, 0, 1]
    assert out.birth_weight_centile.iloc[0] == pytest.approx(10, abs=0.05)


def test_low_apgar_and_other_measures():
    out = birth.birth_outcomes(_table(apgar_5min=[6, 7, np.nan], birth_length=[50.0, np.nan, 51.0],
                                      head_circumference=[34.5, 35.0, np.nan]))
    assert out.low_apgar.iloc[:2].tolist() == [1, 0] and np.isnan(out.low_apgar.iloc[2])
    assert np.isfinite(out.birth_length_z.iloc[0]) and np.isnan(out.birth_length_z.iloc[1])
    assert np.isfinite(out.head_circumference_z.iloc[1])


@pytest.mark.parametrize("column, values, unit, pattern", [
    ("gestational_age", [40, 60, 39, 21], "weeks", r"column 'gestational_age', rows 3, 5: gestational age outside"),
    ("gestational_age", [280, 150, 280], "days", r"column 'gestational_age', row 3:"),
    ("gestational_age", ["39+4", "39+9", "40"], "weeks+days", r"column 'gestational_age', rows 3, 4: .*weeks\+days"),
    ("birth_weight", [3400, 0, 7500, 7000], None, r"column 'birth_weight', rows 3, 4: birth weight must be above 0"),
    ("apgar_5min", [9, 11, -1, 7.5, 10], None, r"column 'apgar_5min', rows 3, 4, 5: Apgar"),
    ("child_sex", ["male", "X", "female"], None, r"column 'child_sex', row 3"),
])
def test_bad_raw_values_name_column_rule_and_rows(column, values, unit, pattern):
    table = _table(**{column: values})
    table.insert(0, "pseudo_id", [f"ID{i:04d}" for i in range(len(table))])
    kwargs = {"ga_unit": unit} if unit else {}
    with pytest.raises(InputTableError, match=pattern) as caught:
        birth.birth_outcomes(table, where="births.csv", **kwargs)
    message = str(caught.value)
    assert message.startswith("births.csv, column")
    assert "ID0" not in message and "7500" not in message and "39+9" not in message


def test_binary_complication_codings():
    values = pd.Series(["yes", "No", "JA", "nee", 1, 0, None, "", "-9", "1.0", True], dtype=object)
    out = birth.binary_complication(values, missing=["-9"], column="preeclampsia")
    expected = [1, 0, 1, 0, 1, 0, np.nan, np.nan, np.nan, 1, 1]
    assert out.to_numpy() == pytest.approx(np.array(expected, dtype=float), nan_ok=True)
    declared = birth.binary_complication(pd.Series(["present", "absent"]), yes=["Present"], no=["absent"])
    assert declared.tolist() == [1, 0]
    with pytest.raises(InputTableError, match=r"column 'gdm', rows 3, 4: value is not a recognised yes/no"):
        birth.binary_complication(pd.Series(["yes", "maybe", "2", "no"]), column="gdm", where="births.csv")
    with pytest.raises(ConfigError):
        birth.binary_complication(pd.Series(["yes"]), yes=["x"], no=["x"])


def test_prepare_outcomes_and_qc():
    table = pd.DataFrame({
        "pseudo_id": ["a", "b", "c", "d", "e"],
        "gestational_age": ["40+0", "36+6", "43+1", "30+0", "39+2"],
        "birth_weight": [3.38, 2.2, 3.9, 1.3, np.nan],
        "child_sex": ["male", "female", "male", "female", "male"],
        "apgar_5min": [9, 6, 10, 5, 8],
        "preeclampsia": ["no", "yes", "no", "yes", None],
    })
    settings = {"ga_unit": "weeks+days", "weight_unit": "kg", "complications": ["preeclampsia"]}
    outcomes, qc = birth.prepare({"c1": table}, settings)
    assert outcomes.columns[:2].tolist() == ["pseudo_id", "cohort"]
    assert outcomes.birth_weight_g.iloc[0] == pytest.approx(3380)
    assert outcomes.birth_weight_z.iloc[0] == pytest.approx(0, abs=1e-9)
    assert np.isnan(outcomes.birth_weight_z.iloc[2])  # 43+1 outside the standard
    assert outcomes.preeclampsia.iloc[:4].tolist() == [0, 1, 0, 1]
    row = qc.iloc[0]
    assert (row.n, row.n_preterm, row.n_very_preterm, row.n_low_apgar) == (5, 2, 1, 2)
    assert (row.n_bw_z, row.n_ga_outside_standard) == (3, 1)
    no_vp, qc2 = birth.prepare({"c1": table}, {**settings, "very_preterm": False})
    assert np.isnan(no_vp.birth_weight_z.iloc[3]) and qc2.n_ga_outside_standard.iloc[0] == 2
