"""Maternal mood scoring on forms scored by hand."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pingouin
import pytest

from first1000.errors import ConfigError, InputTableError
from first1000.scoring import questionnaires as mood


def _form(prefix, rows, k):
    return pd.DataFrame(rows, columns=[f"{prefix}_{i}" for i in range(1, k + 1)], dtype=float)


def test_epds_filled_in_form_positional_coding():
    # Answer positions (0 = top answer) for items 1..10:
    #   0, 1, 2, 0, 3, 1, 2, 0, 1, 0
    # Items 1, 2, 4 score as they are:      0 + 1 + 0                       = 1
    # Items 3, 5-10 score 3 - position:     1 + 0 + 2 + 1 + 3 + 2 + 3       = 12
    # EPDS total = 13 (>= 13: probable depression); item 10 scores 3 (self-harm flag).
    form = _form("epds", [[0, 1, 2, 0, 3, 1, 2, 0, 1, 0]], 10)
    scored = mood.score_instrument(form, "epds")
    assert scored.score.iloc[0] == 13
    assert scored.items.iloc[0, 9] == 3
    # The same numbers read as item scores (already scored): plain sum = 10.
    assert mood.score_instrument(form, "epds_item_scores").score.iloc[0] == 10


def test_pss10_reverse_items():
    # Responses 2, 2, 2, 1, 0, 2, 3, 4, 2, 2; items 4, 5, 7, 8 reversed as 4 - x:
    #   items 1, 2, 3, 6, 9, 10: 6 x 2 = 12; item 4: 4-1 = 3; item 5: 4-0 = 4;
    #   item 7: 4-3 = 1; item 8: 4-4 = 0  -> total 20.
    form = _form("pss", [[2, 2, 2, 1, 0, 2, 3, 4, 2, 2]], 10)
    scored = mood.score_instrument(form, "pss10")
    assert scored.score.iloc[0] == 20
    assert scored.score.name == "pss"


def test_proration_one_two_and_three_missing_of_ten():
    one = [np.nan, 1, 1, 1, 1, 1, 1, 1, 1, 1]
    two = [np.nan, np.nan, 1, 1, 1, 1, 1, 1, 1, 1]
    three = [np.nan, np.nan, np.nan, 1, 1, 1, 1, 1, 1, 1]
    scored = mood.score_instrument(_form("pss", [one, two, three], 10), "pss10")
    # 1 missing: items 2, 3, 6, 9, 10 score 1 (5); items 4, 5, 7, 8 reversed to 3 (12):
    #   17 over 9 answered -> 17 x 10 / 9
    assert scored.score.iloc[0] == pytest.approx(17 * 10 / 9)
    # 2 missing (= 20%, still allowed): items 3, 6, 9, 10 (4) + 12 = 16 over 8 -> 20
    assert scored.score.iloc[1] == pytest.approx(20.0)
    # 3 missing (30%) -> no score
    assert np.isnan(scored.score.iloc[2])
    assert scored.prorated.tolist() == [True, True, False]
    assert (scored.n_prorated, scored.n_missing) == (2, 1)
    # A stricter rule: 10% allows one missing item only.
    strict = mood.score_instrument(_form("pss", [one, two], 10), "pss10", max_missing=0.1)
    assert strict.n_prorated == 1 and strict.n_missing == 1


def test_brs_mean_and_stai_reverse_items():
    # BRS 5, 1, 4, 2, 5, 1 -> items 2, 4, 6 as 6 - x: 5, 5, 4, 4, 5, 5 -> mean 28/6
    brs = mood.score_instrument(_form("brs", [[5, 1, 4, 2, 5, 1]], 6), "brs")
    assert brs.score.iloc[0] == pytest.approx(28 / 6)
    # All answers 1: state has 10 reversed items (-> 4) and trait 9.
    ones = [[1] * 20]
    assert mood.score_instrument(_form("s", ones, 20), "stai_state").score.iloc[0] == 10 * 1 + 10 * 4
    assert mood.score_instrument(_form("t", ones, 20), "stai_trait").score.iloc[0] == 11 * 1 + 9 * 4


def test_out_of_range_and_non_numeric_items_name_column_and_rows():
    form = _form("pss", [[1] * 10, [1] * 10, [1] * 10], 10)
    form.loc[1, "pss_3"] = 5  # second data row = spreadsheet row 3
    with pytest.raises(InputTableError, match=r"column 'pss_3', row 3: item response outside .* 0-4"):
        mood.score_instrument(form, "pss10", where="mood.csv")
    fractions = _form("pss", [[1] * 10, [1.5] + [1] * 9], 10)
    with pytest.raises(InputTableError, match=r"column 'pss_1', row 3"):
        mood.score_instrument(fractions, "pss10")
    text = pd.DataFrame({f"pss_{i}": ["1", "2", "1"] for i in range(1, 11)})
    text.loc[2, "pss_7"] = "often"
    with pytest.raises(InputTableError, match=r"mood.csv, column 'pss_7', row 4: item response is not a number"):
        mood.score_instrument(text, "pss10", where="mood.csv")
    # Text numbers and empty cells are fine.
    text.loc[2, "pss_7"] = ""
    assert mood.score_instrument(text, "pss10").n_prorated == 1
    # Given spreadsheet rows are used as given.
    with pytest.raises(InputTableError, match=r"row 41"):
        mood.score_instrument(form, "pss10", row_numbers=[40, 41, 42])


def test_cronbach_alpha_by_hand_and_against_pingouin():
    items = pd.DataFrame({"a": [1, 2, 3, 4], "b": [2, 3, 3, 5], "c": [1, 3, 2, 4]})
    # Item variances 5/3, 19/12, 5/3 (sum 59/12); totals 4, 8, 8, 13 -> variance 163/12.
    # alpha = 3/2 x (1 - 59/163) = 156/163
    assert mood.cronbach_alpha(items) == pytest.approx(156 / 163)
    assert mood.cronbach_alpha(items) == pytest.approx(pingouin.cronbach_alpha(items)[0])
    rng = np.random.default_rng(7)
    latent = rng.normal(size=200)
    data = pd.DataFrame({f"i{j}": np.round(2 + latent + rng.normal(size=200)) for j in range(8)})
    data.iloc[[3, 50, 77], [1, 4, 6]] = np.nan  # complete cases only
    assert mood.cronbach_alpha(data) == pingouin.cronbach_alpha(data, nan_policy="listwise")[0]  # same bits
    for seed in range(20):
        rng = np.random.default_rng(seed)
        n, k = int(rng.integers(3, 300)), int(rng.integers(2, 12))
        latent = rng.normal(size=n)
        data = pd.DataFrame({f"i{j}": np.round(rng.uniform(0, 3) * latent + rng.normal(size=n), 1) for j in range(k)})
        data = data.mask(rng.random((n, k)) < 0.05)
        if len(data.dropna()) >= 2:
            assert mood.cronbach_alpha(data) == pingouin.cronbach_alpha(data, nan_policy="listwise")[0]


def test_alpha_uses_reverse_scored_items():
    rng = np.random.default_rng(3)
    latent = rng.normal(size=300)
    raw = np.clip(np.round(2 + latent[:, None] + rng.normal(scale=0.7, size=(300, 10))), 0, 4)
    reversed_positions = [4, 5, 7, 8]
    for p in reversed_positions:  # answer the positively worded items in the opposite direction
        raw[:, p - 1] = 4 - raw[:, p - 1]
    scored = mood.score_instrument(_form("pss", raw, 10), "pss10")
    assert mood.cronbach_alpha(scored.items) > 0.8
    assert mood.cronbach_alpha(_form("pss", raw, 10)) < mood.cronbach_alpha(scored.items)


def test_resilience_residual_by_hand():
    # stress 1, 2, 3, 4; positivity 2, 1, 4, 3 -> OLS positivity = 1.0 + 0.6 stress,
    # residuals 0.4, -1.2, 1.2, -0.4 (SD sqrt(3.2/3)), row 5 missing stress -> NaN.
    positivity = pd.Series([2, 1, 4, 3, 5.0])
    stress = [1, 2, 3, 4, np.nan]
    resid = mood.resilience_residual(positivity, stress)
    sd = np.sqrt(3.2 / 3)
    assert resid.iloc[:4].to_numpy() == pytest.approx(np.array([0.4, -1.2, 1.2, -0.4]) / sd)
    assert np.isnan(resid.iloc[4])
    with pytest.raises(ConfigError):
        mood.resilience_residual([1, 2], [1, 2])


def _cohort_table():
    epds = [[0, 1, 2, 0, 3, 1, 2, 0, 1, 0], [0, 0, 3, 0, 3, 3, 3, 3, 3, 3], [1, 1, 2, 1, 2, 2, 2, 2, 2, np.nan],
            [3, 3, 0, 3, 0, 0, 0, 0, 0, 0]]
    brs = [[5, 1, 4, 2, 5, 1], [3, 3, 3, 3, 3, 3], [1, 5, 2, 4, 1, 5], [4, 2, np.nan, 2, 4, 2]]
    table = pd.concat([_form("epds", epds, 10), _form("brs", brs, 6)], axis=1)
    table.insert(0, "pseudo_id", ["p1", "p2", "p3", "p4"])
    return table


def test_prepare_scores_qc_and_resilience_scale():
    settings = {"instruments": {"epds": {"prefix": "epds_"}, "brs": {}},
                "resilience": {"method": "scale", "instrument": "brs"}}
    scores, qc = mood.prepare({"c1": _cohort_table()}, settings)
    assert list(scores.columns) == ["pseudo_id", "cohort", "epds", "epds_item10_positive", "brs", "resilience"]
    # p2: all answers score 0 (top answers for 1, 2, 4 and 3 - 3 for the others); p4 the maximum 30
    assert scores.epds.tolist()[:2] == [13, 0] and scores.epds.iloc[3] == 30
    # p3: scores 1, 1, 1, 1, 1, 1, 1, 1, 1 over 9 items -> 9 x 10 / 9 = 10, item 10 missing
    assert scores.epds.iloc[2] == pytest.approx(10)
    assert scores.epds_item10_positive.tolist()[:2] == [1.0, 0.0] and np.isnan(scores.epds_item10_positive.iloc[2])
    assert scores.resilience.equals(scores.brs)
    row = qc.set_index("instrument").loc["epds"]
    assert (row.n, row.n_prorated, row.n_missing, row.n_alpha) == (4, 1, 0, 3)
    assert row["mean"] == pytest.approx(np.mean([13, 0, 10, 30]))
    assert set(qc.columns) >= {"cohort", "instrument", "n", "n_prorated", "n_missing", "alpha", "mean", "sd"}


def test_prepare_resilience_residual_and_lab_declared_instrument():
    table = _cohort_table()
    table[["pos_a", "pos_b", "pos_c"]] = [[3, 3, 2], [1, 2, 1], [4, 4, 4], [2, 1, 2]]
    settings = {
        "definitions": {"positivity": {"items": ["pos_a", "pos_b", "pos_c"], "min": 1, "max": 4,
                                       "reversed": [], "score": "mean"}},
        "instruments": {"epds": {}, "positivity": {}},
        "resilience": {"method": "residual", "positivity": "positivity", "stress": "epds"},
    }
    scores, qc = mood.prepare({"c1": table}, settings)
    expected = mood.resilience_residual(scores.positivity, scores.epds)
    assert scores.resilience.to_numpy() == pytest.approx(expected.to_numpy())
    assert scores.resilience.std(ddof=1) == pytest.approx(1.0)
    assert "positivity" in set(qc.instrument)


@pytest.mark.parametrize("definition, message", [
    ({"items": 5, "min": 0, "max": 3, "reversed": [6], "score": "sum"}, "reversed"),
    ({"items": 5, "min": 3, "max": 0, "score": "sum"}, "below"),
    ({"items": 5, "min": 0, "max": 3, "score": "median"}, "sum"),
    ({"min": 0, "max": 3, "score": "sum"}, "items"),
])
def test_bad_instrument_definitions(definition, message):
    with pytest.raises(ConfigError, match=message):
        mood.score_instrument(_form("x", [[1] * 5], 5), {"name": "x", **definition})


def test_unknown_instrument_and_missing_columns():
    with pytest.raises(ConfigError, match="unknown instrument `cesd`"):
        mood.score_instrument(_form("x", [[1] * 5], 5), "cesd")
    with pytest.raises(InputTableError, match="6 item columns given where the instrument has 10"):
        mood.score_instrument(_form("x", [[1] * 6], 6), "epds")
    with pytest.raises(InputTableError, match="missing item column 'pss_1'"):
        mood.prepare({"c1": _cohort_table()}, {"instruments": {"pss10": {"prefix": "pss_"}}})
