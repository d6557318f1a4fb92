"""Table 1 by SES tertile: formed only where the SES index can form tertiles (issue #16:
one ordinal SES indicator crashed harmonise with pandas' "Bin edges must be unique")."""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from first1000.harmonise.characteristics import GROUPS, NOT_FORMED, ses_tertiles, table1

SCHEMA = {"maternal_age": {"type": "continuous", "label": "Maternal age", "unit": "years"},
          "smoking": {"type": "binary", "label": "Smoking"},
          "ses_index": {"type": "continuous", "label": "SES index"}}


def _cohort(name, n, ses, rng):
    return pd.DataFrame({"pseudo_id": [f"{name}{i}" for i in range(n)], "cohort": name,
                         "maternal_age": rng.normal(31, 4, n), "smoking": rng.integers(0, 2, n).astype(float),
                         "ses_index": ses})


def test_tertiles_of_a_continuous_index():
    rng = np.random.default_rng(1)
    frame = _cohort("a", 90, rng.normal(size=90), rng)
    table = table1(frame, SCHEMA)
    assert list(table.columns) == ["cohort", "variable", "level", *GROUPS, "p"]
    sizes = table[table.variable == "participants"].iloc[0]
    assert [sizes[g] for g in GROUPS] == ["90", "30", "30", "30"]
    assert NOT_FORMED not in set(table.variable)
    # p across tertiles, computed here independently: ANOVA of age, chi-square of smoking
    tertile = pd.qcut(frame.ses_index, 3, labels=False)
    anova = stats.f_oneway(*[frame.maternal_age[tertile == k] for k in range(3)]).pvalue
    counts = pd.crosstab(frame.smoking, tertile).to_numpy()
    chi2 = stats.chi2_contingency(counts, correction=False).pvalue
    rows = table.set_index(["variable", "level"])
    assert rows.loc[("Maternal age (years)", "mean (SD)"), "p"] == f"{anova:.2g}"
    assert rows.loc[("Smoking (0/1)", "n (%)"), "p"] == f"{chi2:.2g}"
    assert rows.loc[("Smoking (0/1)", "missing, n (%)"), "p"] == ""


def test_one_ordinal_indicator_with_tied_cut_points_gives_overall_only_and_says_why():
    rng = np.random.default_rng(2)
    # education as the only indicator: 60 % at one level, so the 1/3 and 2/3 quantiles tie
    ses = np.repeat([-1.0, 0.4, 1.5], [10, 60, 20])
    assert ses_tertiles(pd.Series(ses)) == (None, "the SES index has 3 distinct values and its tertile cut "
                                                  "points coincide")
    table = table1(_cohort("a", 90, ses, rng), SCHEMA)
    assert list(table.columns) == ["cohort", "variable", "level", "overall"]  # no cohort forms tertiles
    note = table[table.variable == NOT_FORMED]
    assert note.level.tolist() == ["the SES index has 3 distinct values and its tertile cut points coincide"]
    assert table[table.variable == "participants"].overall.tolist() == ["90"]


def test_a_cohort_without_tertiles_next_to_one_with_them():
    rng = np.random.default_rng(3)
    frame = pd.concat([_cohort("a", 60, rng.normal(size=60), rng), _cohort("b", 40, np.nan, rng)])
    table = table1(frame, SCHEMA)
    assert list(table.columns) == ["cohort", "variable", "level", *GROUPS, "p"]
    b = table[table.cohort == "b"]
    assert b[b.variable == NOT_FORMED].level.tolist() == ["no SES index in this cohort"]
    assert (b[[*GROUPS[1:], "p"]] == "").all().all()  # no tertile cells, not zeros or "<5"
    assert b[b.variable == "participants"].overall.tolist() == ["40"]


def test_two_distinct_values():
    assert ses_tertiles(pd.Series([0.0, 1.0, 0.0, 1.0, np.nan]))[1] == "the SES index has 2 distinct values"


def test_no_p_value_where_a_count_is_suppressed():
    rng = np.random.default_rng(4)
    frame = _cohort("a", 60, rng.normal(size=60), rng)
    frame["smoking"] = 0.0
    frame.loc[frame.index[:2], "smoking"] = 1.0  # 2 smokers: suppressed below 5
    rows = table1(frame, SCHEMA).set_index(["variable", "level"])
    assert rows.loc[("Smoking (0/1)", "n (%)"), "p"] == ""
    assert rows.loc[("Maternal age (years)", "mean (SD)"), "p"] != ""
