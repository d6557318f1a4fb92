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


def test_table1_tests_equal_scipy_stats():
    """ANOVA, Kruskal–Wallis and χ² are computed as scipy.stats computes them (without its
    1.3 s import in the harmonise job, #19): 300 data sets of 2-5 groups, continuous,
    heavily tied integers (scores, parity) and r x c tables; the degenerate cases too."""
    import warnings

    from first1000.harmonise.characteristics import anova_p, chi2_p, kruskal_p

    rng = np.random.default_rng(19)
    for trial in range(300):
        k = int(rng.integers(2, 6))
        sizes = rng.integers(2, 60, k)
        cont = [rng.normal(rng.normal(0, 0.5), rng.uniform(0.5, 3), n) * 10.0 ** rng.integers(-3, 4) + 1e3 * (trial % 3)
                for n in sizes]
        np.testing.assert_allclose(anova_p(cont), stats.f_oneway(*cont).pvalue, rtol=1e-9, atol=1e-300)
        ints = [rng.integers(0, int(rng.integers(2, 12)), n).astype(float) for n in sizes]
        if len(np.unique(np.concatenate(ints))) > 1:
            np.testing.assert_allclose(kruskal_p(ints), stats.kruskal(*ints).pvalue, rtol=1e-9, atol=1e-300)
        counts = rng.integers(1, 40, (int(rng.integers(2, 5)), k))
        np.testing.assert_allclose(chi2_p(counts), stats.chi2_contingency(counts, correction=False).pvalue,
                                   rtol=1e-9, atol=1e-300)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert np.isnan(anova_p([np.ones(3), np.ones(4)])) and np.isnan(stats.f_oneway(np.ones(3), np.ones(4)).pvalue)
        assert anova_p([np.ones(3), np.full(4, 2.0)]) == stats.f_oneway(np.ones(3), np.full(4, 2.0)).pvalue == 0.0
    assert np.isnan(kruskal_p([np.ones(3), np.ones(4)]))
    # where scipy returns NaN or raises, NaN (Table 1 then shows no p)
    assert np.isnan(anova_p([np.ones(3), np.array([])])) and np.isnan(anova_p([np.ones(1), np.ones(1)]))
    assert np.isnan(kruskal_p([np.ones(1)])) and np.isnan(kruskal_p([np.ones(2), np.array([])]))
    assert np.isnan(chi2_p(np.array([[3, 0], [4, 0]]))) and np.isnan(chi2_p(np.array([[3, 4]])))


def test_no_date_and_no_rare_free_text_reaches_table1():
    """A date study variable shows its missing values only; a categorical one without
    declared categories shows a level's text only when at least min_cell participants of
    the cohort have it, the rarer ones counted together (a date, or a free-text answer, is a
    participant's own value)."""
    rng = np.random.default_rng(4)
    frame = _cohort("a", 90, rng.normal(size=90), rng)
    dates = pd.Series(pd.date_range("2021-01-01", periods=90, freq="D").astype(str))
    dates[:7] = None
    frame["visit_date"] = dates.to_numpy()
    answers = np.array(["yes"] * 40 + ["no"] * 39 + ["only on Sundays at my aunt's", "never"] + ["rarely"] * 4
                       + [None] * 5, dtype=object)
    frame["free_answer"] = answers[rng.permutation(90)]
    schema = {**SCHEMA, "visit_date": {"type": "date", "label": "Visit date"},
              "free_answer": {"type": "categorical", "label": "Free answer"}}
    table = table1(frame, schema, ["maternal_age", "visit_date", "free_answer", "ses_index"], min_cell=5)
    text = table.to_csv()
    assert "2021-" not in text and "Sundays" not in text and "rarely" not in text
    date_rows = table[table.variable == "Visit date"]
    assert date_rows.level.tolist() == ["missing, n (%)"] and date_rows.overall.tolist() == ["7 (7.8%)"]
    assert date_rows.p.tolist() == [""]
    rows = table[table.variable == "Free answer"].set_index("level")
    rare = "other levels (each fewer than 5 participants)"
    assert rows.index.tolist() == ["no", "yes", rare, "missing, n (%)"]
    assert rows.loc["no", "overall"] == "39 (45.9%)" and rows.loc["yes", "overall"] == "40 (47.1%)"
    assert rows.loc[rare, "overall"] == "6 (7.1%)"  # 1 + 1 + 4 participants


def test_the_test_across_tertiles_counts_the_rare_levels_together():
    rng = np.random.default_rng(5)
    frame = _cohort("a", 90, np.arange(90.0), rng)  # tertiles: rows 0-29, 30-59, 60-89
    rare = [f"answer {k}" for k in range(6)]  # 3 participants each, 2 per tertile
    per_tertile = [(15, 9), (12, 12), (9, 15)]  # yes, no
    answers = []
    for k, (yes, no) in enumerate(per_tertile):
        answers += ["yes"] * yes + ["no"] * no + [rare[2 * k]] * 3 + [rare[2 * k + 1]] * 3
    frame["free_answer"] = answers
    schema = {**SCHEMA, "free_answer": {"type": "categorical", "label": "Free answer"}}
    table = table1(frame, schema, ["free_answer", "ses_index"], min_cell=5)
    rows = table[table.variable == "Free answer"].set_index("level")
    other = "other levels (each fewer than 5 participants)"
    assert rows.index.tolist() == ["no", "yes", other, "missing, n (%)"]
    assert rows.loc[other, GROUPS].tolist() == ["18 (20.0%)", "6 (20.0%)", "6 (20.0%)", "6 (20.0%)"]
    chi2 = stats.chi2_contingency(np.array([[9, 12, 15], [15, 12, 9], [6, 6, 6]]), correction=False).pvalue
    assert rows.loc["no", "p"] == f"{chi2:.2g}"


def test_a_median_and_iqr_are_shown_only_with_enough_values_on_each_side():
    """Table 1's median [IQR] of an integer variable: with 5 to 16 values a quartile was
    one participant's value near an end (privacy.quantile_shown); overall (60) it shows,
    in a tertile of 20 it shows, in a tertile of 12 (parity measured in 12) it does not."""
    rng = np.random.default_rng(6)
    frame = _cohort("a", 60, rng.normal(size=60), rng)
    frame["parity"] = rng.integers(0, 4, 60).astype(float)
    tertile = pd.qcut(frame.ses_index, 3, labels=False)
    frame.loc[(tertile == 0).to_numpy() & (np.arange(60) % 5 < 2), "parity"] = np.nan  # 12 of 20 left in T1
    schema = {**SCHEMA, "parity": {"type": "integer", "label": "Parity"}}
    rows = table1(frame, schema, min_cell=5).set_index(["variable", "level"])
    cells = rows.loc[("Parity", "median [IQR]")]
    assert cells[GROUPS[0]] != "" and cells[GROUPS[1]] == "" and cells[GROUPS[2]] != "", cells
