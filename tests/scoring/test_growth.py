"""WHO 2006 Child Growth Standards z-scores (first1000.scoring.growth) against WHO's own
software: the R package anthro (WHO, 1.1.0.9000) on 600 measurements (reference numbers in
tests/data/reference/who_anthro/, made once by who_anthro.R), the values stated in that
package's own tests, and WHO's published SD lines at birth."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from first1000.scoring.growth import corrected_age_days, who_zscores

REF = Path(__file__).resolve().parents[1] / "data" / "reference" / "who_anthro"


def test_equals_who_anthro_on_600_measurements():
    inputs = pd.read_csv(REF / "inputs.csv", keep_default_na=False, na_values=[""])
    ref = pd.read_csv(REF / "reference.csv")
    got = who_zscores(inputs.sex, inputs.age_days, weight_kg=inputs.weight_kg, length_cm=inputs.length_cm,
                      head_cm=inputs.head_cm, measure=inputs.measure)
    np.testing.assert_allclose(got.length_cm_adjusted, ref.clenhei, rtol=0, atol=1e-9)
    np.testing.assert_allclose(got.bmi, ref.cbmi, rtol=1e-12)
    for ours, theirs in [("waz", "wei"), ("laz", "len"), ("wlz", "wfl"), ("bmiz", "bmi"), ("hcz", "hc")]:
        z, expected = got[ours].to_numpy(), ref[f"z{theirs}"].to_numpy()
        assert (np.isnan(z) == np.isnan(expected)).all(), ours
        # both round to 2 decimals: equal, bar a last-digit tie broken the other way
        np.testing.assert_allclose(z, expected, rtol=0, atol=0.0100001, err_msg=ours)
        assert np.mean(z[np.isfinite(z)] == expected[np.isfinite(expected)]) > 0.99, ours
        flag = got[f"{ours}_flag"].astype("float").to_numpy()
        np.testing.assert_array_equal(flag, ref[f"f{theirs}"].to_numpy(float), err_msg=ours)
    assert got.wlz.notna().sum() > 400 and (got.waz_flag == True).sum() >= 4  # noqa: E712


def test_values_stated_in_who_anthros_own_tests():
    got = who_zscores(["female", "male", "male"], [1522, 987, 44], weight_kg=[17, np.nan, np.nan],
                      length_cm=[np.nan, 72.86, 50.0], measure=[None, "l", None])
    assert got.waz[0] == 0.24 and not got.waz_flag[0]
    assert got.length_cm_adjusted[1] == pytest.approx(72.16) and got.laz[1] == -6.09 and got.laz_flag[1]
    assert got.laz[2] == round((50 / 56.4833 - 1) / 0.03492, 2)


def test_who_sd_lines_at_birth():
    """WHO's weight-for-age and length-for-age tables at birth (boys): -2 SD 2.5 kg,
    median 3.3 kg, +2 SD 4.4 kg; length -2 SD 46.1 cm, median 49.9 cm, +2 SD 53.7 cm
    (values to the tables' 0.1 precision)."""
    L, M, S = 0.3487, 3.3464, 0.14602  # weianthro, boys, day 0
    for z in (-2, 0, 2, 3.5, -3.5):
        if abs(z) <= 3:
            w = M * (1 + L * S * z) ** (1 / L)
        else:  # restricted beyond 3 SD: 3 + (y - SD3) / (SD3 - SD2)
            sd = lambda k: M * (1 + L * S * k) ** (1 / L)  # noqa: E731
            w = sd(3 * np.sign(z)) + (abs(z) - 3) * np.sign(z) * abs(sd(3 * np.sign(z)) - sd(2 * np.sign(z)))
        assert who_zscores(["male"], [0], weight_kg=[w]).waz[0] == pytest.approx(z, abs=0.006)
    assert [round(M * (1 + L * S * z) ** (1 / L), 1) for z in (-2, 0, 2)] == [2.5, 3.3, 4.4]
    got = who_zscores(["male"] * 3, [0] * 3, length_cm=[46.1, 49.9, 53.7])
    np.testing.assert_allclose(got.laz, [-2, 0, 2], atol=0.02)


def test_corrected_age_for_preterm_children_only():
    age = np.array([180.0, 180.0, 180.0, 10.0])
    ga = np.array([280.0, 259.0, 238.0, 210.0])  # term, 37+0 (not preterm), 34+0, 30+0
    np.testing.assert_array_equal(corrected_age_days(age, ga), [180, 180, 180 - 42, 10 - 70])
    # a corrected age before term-equivalent has no WHO z-score
    z = who_zscores(["female"] * 2, corrected_age_days([10.0, 100.0], [210.0, 210.0]), weight_kg=[2.0, 4.0])
    assert np.isnan(z.waz[0]) and np.isfinite(z.waz[1])


def test_unknown_sex_and_nonpositive_measures_give_no_z():
    z = who_zscores(["", "female", "female"], [100, 100, 100], weight_kg=[6.0, 0.0, -1.0], head_cm=[40, 40, 0])
    assert z.waz.isna().all() and np.isnan(z.hcz[0]) and np.isfinite(z.hcz[1]) and np.isnan(z.hcz[2])
