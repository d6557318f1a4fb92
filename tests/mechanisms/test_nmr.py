"""NMR preparation kernels: PQN by hand, detection limits, season terms, bad values."""

import numpy as np
import pandas as pd
import pytest

from first1000.errors import ConfigError, InputTableError
from first1000.mechanisms import nmr
from first1000.scoring.season import season_terms

# B is A diluted 1:2 (twice as concentrated); C differs in two features.
X = pd.DataFrame([[1.0, 2.0, 3.0, 4.0], [2.0, 4.0, 6.0, 8.0], [1.0, 3.0, 3.0, 2.0]],
                 index=["A", "B", "C"], columns=["f1", "f2", "f3", "f4"])


def test_pqn_by_hand():
    # Reference = feature medians [1, 3, 3, 4]. Quotients: A [1, 2/3, 1, 1] -> median 1;
    # B [2, 4/3, 2, 2] -> 2; C [1, 1, 1, 1/2] -> 1.
    normalised, factor = nmr.pqn(X)
    assert factor.tolist() == pytest.approx([1.0, 2.0, 1.0])
    assert normalised.loc["B"].tolist() == pytest.approx([1.0, 2.0, 3.0, 4.0])
    assert normalised.loc["C"].tolist() == pytest.approx([1.0, 3.0, 3.0, 2.0])


def test_pqn_declared_reference_set_and_missing_values():
    # Reference = B alone: A's quotients are all 1/2; C's [1/2, 3/4, 1/2, 1/4] -> 1/2.
    _, factor = nmr.pqn(X, reference_samples=["B"])
    assert factor.tolist() == pytest.approx([0.5, 1.0, 0.5])
    _, factor = nmr.pqn(X, reference_samples=[False, True, False])
    assert factor.tolist() == pytest.approx([0.5, 1.0, 0.5])
    # A missing value is left out of that sample's quotients: B [NaN, 4/3, 2, 2] -> 2.
    gappy = X.copy()
    gappy.loc["B", "f1"] = np.nan
    normalised, factor = nmr.pqn(gappy)
    assert factor["B"] == pytest.approx(2.0) and np.isnan(normalised.loc["B", "f1"])


def test_pqn_with_integral_step_by_hand():
    # Totals 10, 20, 9 -> median 10: A' = A, B' = A, C' = C * 10/9. Reference = A.
    # C' quotients [10/9, 15/9, 10/9, 5/9] -> median 10/9, so C comes back as C and its
    # overall factor is 0.9 * 10/9 = 1; B's is 2.
    normalised, factor = nmr.pqn(X, integral=True)
    assert factor.tolist() == pytest.approx([1.0, 2.0, 1.0])
    assert normalised.loc["C"].tolist() == pytest.approx([1.0, 3.0, 3.0, 2.0])
    assert (X / normalised).to_numpy() == pytest.approx(np.repeat(factor.to_numpy()[:, None], 4, axis=1))


def test_creatinine_normalisation():
    out = nmr.creatinine_normalise(X, [2.0, 4.0, 0.5])
    assert out.loc["A", "f4"] == pytest.approx(2.0) and out.loc["C", "f2"] == pytest.approx(6.0)
    with pytest.raises(InputTableError, match=r"column 'creatinine', row 3"):
        nmr.creatinine_normalise(X, [2.0, 0.0, 1.0])


def test_lod_rule_substitutes_or_dichotomises():
    values = pd.DataFrame({"lactate": [8.0, np.nan, 9.0, 10.0, 11.0],
                           "formate": [np.nan, np.nan, 3.0, 4.0, 5.0],
                           "glucose": [5000.0, 4800.0, np.nan, 5100.0, 4700.0]})
    below = pd.DataFrame({"lactate": [False, True, False, False, False],
                          "formate": [True, True, False, False, False],
                          "glucose": [False] * 5})
    cont, det, qc = nmr.apply_lod_rule(values, below, {"lactate": 2.0, "formate": 1.0})
    assert cont["lactate"].tolist() == pytest.approx([8.0, 2.0 / np.sqrt(2), 9.0, 10.0, 11.0])
    assert "formate" not in cont and det["formate_detected"].tolist() == [0.0, 0.0, 1.0, 1.0, 1.0]
    assert np.isnan(cont["glucose"][2])
    qc = qc.set_index("metabolite")
    assert qc.loc["lactate", "pct_below_lod"] == pytest.approx(20.0) and qc.loc["lactate", "rule"] == "lod_sqrt2"
    assert qc.loc["formate", "pct_below_lod"] == pytest.approx(40.0) and qc.loc["formate", "rule"] == "detected_binary"
    assert qc.loc["glucose", "rule"] == "none" and qc.loc["glucose", "n"] == 4
    # A higher threshold keeps formate continuous.
    cont, det, _ = nmr.apply_lod_rule(values, below, {"lactate": 2.0, "formate": 1.0}, max_pct=50)
    assert "formate" in cont and det.empty
    with pytest.raises(ConfigError, match="formate"):
        nmr.apply_lod_rule(values, below, {"lactate": 2.0})


def test_log_and_lactate_pyruvate():
    logged = nmr.log_values(pd.DataFrame({"lactate": [np.e, 0.0]}))
    assert logged["lactate_ln"][0] == pytest.approx(1.0) and np.isnan(logged["lactate_ln"][1])
    assert nmr.lactate_pyruvate([1000.0], [100.0])[0] == pytest.approx(np.log(10.0))


def test_season_terms_at_known_dates():
    dates = pd.Series(["2021-01-01", "2021-04-01", "2021-07-02", "2020-12-31", None])
    out = season_terms(dates)
    doy = np.array([1, 91, 183, 366])
    angle = 2 * np.pi * doy / 365.25
    assert out.season_sin[:4].to_numpy() == pytest.approx(np.sin(angle))
    assert out.season_cos[:4].to_numpy() == pytest.approx(np.cos(angle))
    # Early April is a quarter year in (sin ~ 1), early July half a year (cos ~ -1),
    # New Year's Eve of a leap year a full turn.
    assert out.season_sin[1] == pytest.approx(1.0, abs=1e-3)
    assert out.season_cos[2] == pytest.approx(-1.0, abs=1e-3)
    assert out.season_cos[3] == pytest.approx(1.0, abs=1e-3)
    assert out.iloc[4].isna().all()
    with pytest.raises(InputTableError, match=r"column 'sampling_date', row 3: not a date"):
        season_terms(["2021-01-01", "31/31/2021"])


def test_negative_concentrations_name_column_and_rows():
    values = pd.DataFrame({"pid": ["x1", "x2", "x3"], "succinate": [1.0, -0.5, 2.0]}).set_index("pid")
    with pytest.raises(InputTableError) as err:
        nmr.pqn(values, where="nmr.csv")
    msg = str(err.value)
    assert "nmr.csv" in msg and "column 'succinate'" in msg and "row 3" in msg and "rule: pqn" in msg
    assert "x2" not in msg and "-0.5" not in msg
    with pytest.raises(InputTableError, match="negative"):
        nmr.apply_lod_rule(values, values < -10, {})
