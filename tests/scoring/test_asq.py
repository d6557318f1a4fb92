"""ASQ-3 cut-offs (first1000.scoring.asq): the shipped numbers as published, the questionnaire
interval of an age, and below-the-cut-off at and around the cut-off."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from first1000.errors import ConfigError
from first1000.scoring import asq
from first1000.scoring.growth import DAYS_PER_MONTH


def cutoff_rows(interval: int) -> dict:
    table = asq.cutoff_table()
    return dict(zip(table[table.interval_months == interval].domain, table[table.interval_months == interval].cutoff))


def test_12_month_cutoffs_are_the_published_ones():
    """Environ Health Prev Med 2020, doi:10.1186/s12199-020-00873-6, Table 2, "Original
    cutoff score at 12 months" (taken from the original ASQ-3)."""
    table = cutoff_rows(12)
    assert table == {"communication": 15.64, "gross_motor": 21.49, "fine_motor": 34.50, "problem_solving": 27.32,
                     "personal_social": 21.73}


def test_only_sourced_intervals_are_shipped():
    """Every row names a source the data README lists; intervals without a confirmed source
    (2-10, 14-24 months today) are absent, not guessed."""
    table = asq.cutoff_table()
    readme = (asq.cutoff_path().parent / "README.md").read_text(encoding="utf-8")
    listed = set(re.findall(r"^\| `(\w+)` \|", readme, flags=re.MULTILINE))
    assert set(table.source) <= listed and listed
    assert set(table.interval_months) == {12}
    assert (table.groupby("interval_months").domain.nunique() == len(asq.DOMAINS)).all()
    np.testing.assert_array_equal(asq.cutoffs("communication", [2, 6, 18, 24]), [np.nan] * 4)


@pytest.mark.parametrize("months, interval", [
    (0.99, np.nan),  # before the 2-month questionnaire's first day (1 month 0 days)
    (1.0, 2), (2.99, 2), (3.0, 4),  # a tie goes to the later interval
    (8.49, 8), (8.5, 9), (9.49, 9), (9.5, 10),
    (10.99, 10), (11.0, 12), (12.0, 12), (12.99, 12), (13.0, 14),  # 12-month form: 11 m 0 d to 12 m 30 d
    (17.0, 18), (23.0, 24), (731 / DAYS_PER_MONTH, 24),  # the follow-up's last day
])
def test_interval_nearest_the_age(months, interval):
    got = asq.questionnaire_interval(months)[0]
    assert (np.isnan(got) and np.isnan(interval)) or got == interval


def test_the_12_month_window_in_days():
    """The form's window, 11 months 0 days to 12 months 30 days, in months of 30.4375 days."""
    days = np.array([334, 335, 365, 395, 396])
    np.testing.assert_array_equal(asq.questionnaire_interval(asq.age_in_months(days)), [10, 12, 12, 12, 14])


def test_below_is_strictly_below_the_cutoff():
    scores = pd.Series([15.63, 15.64, 15.65, 0.0, 60.0, np.nan], index=list("abcdef"))
    got = asq.classify(scores, 12.0, "communication")
    assert list(got.index) == list("abcdef")
    np.testing.assert_array_equal(got.below_cutoff, [1, 0, 0, 1, 0, np.nan])
    np.testing.assert_array_equal(got.cutoff, [15.64] * 6)
    np.testing.assert_array_equal(asq.below_cutoff([21.48, 21.49, 21.5], 12, "asq_gross_motor"), [1, 0, 0])
    np.testing.assert_array_equal(asq.below_cutoff([34.49, 34.5], 12, "fine_motor"), [1, 0])
    np.testing.assert_array_equal(asq.below_cutoff([27.3, 27.32], 12, "problem_solving"), [1, 0])
    np.testing.assert_array_equal(asq.below_cutoff([20.0, 25.0], 12, "personal_social"), [1, 0])


def test_no_cutoff_no_classification():
    """A score of an interval without a shipped cut-off is missing, never compared with
    the 12-month cut-off; each score uses its own age."""
    got = asq.classify([5.0, 5.0, 5.0, 5.0], [12.0, 13.5, 10.0, 0.5], "communication")
    np.testing.assert_array_equal(got.interval_months, [12, 14, 10, np.nan])
    np.testing.assert_array_equal(got.below_cutoff, [1, np.nan, np.nan, np.nan])


def test_unknown_domain():
    with pytest.raises(ValueError, match="not an ASQ-3 domain"):
        asq.below_cutoff([10.0], 12, "language")


def test_a_bad_table_is_refused(tmp_path: Path):
    path = tmp_path / "cutoffs.csv"
    path.write_text("interval_months,domain,cutoff,source\n11,communication,15.64,x\n12,language,61,x\n",
                    encoding="utf-8")
    with pytest.raises(ConfigError, match="domains other.*intervals that are not ASQ-3 questionnaires.*0-60"):
        asq.cutoff_table(path)


def test_declared_cutoffs_add_and_replace_intervals():
    """preparation.growth.asq_cutoffs: a study's cut-offs of other intervals (from its ASQ-3
    User's Guide) classify those children; a declared interval replaces the shipped one."""
    from first1000.scoring import asq

    declared = {24: {"communication": 25.0}, 12: {"communication": 10.0}}
    found = asq.classify([24.9, 25.0, 12.0, 15.0], [24.0, 24.2, 12.0, 12.0], "asq_communication", declared=declared)
    assert found.cutoff.tolist() == [25.0, 25.0, 10.0, 10.0]
    assert found.below_cutoff.tolist() == [1.0, 0.0, 0.0, 0.0]
    # a domain not declared keeps the shipped cut-off, and an undeclared interval none
    other = asq.classify([20.0, 20.0], [12.0, 24.0], "asq_gross_motor", declared=declared)
    assert other.cutoff.iloc[0] == 21.49 and np.isnan(other.cutoff.iloc[1])
    assert other.below_cutoff.iloc[0] == 1.0 and np.isnan(other.below_cutoff.iloc[1])
