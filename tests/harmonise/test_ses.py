"""SES on one scale: ISCED, OECD-modified scale, ridits and the composite index."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import yaml

from first1000.harmonise.ses import education_group, oecd_modified_scale, ridit, ses_composite

from workflow_runs import ROOT

# ISCED 2011 levels of every national category (DOMAIN notes; UNESCO-UIS mappings).
FLEMISH = {
    "geen diploma": 0, "lager onderwijs": 1, "lager secundair onderwijs": 2,
    "hoger secundair onderwijs": 3, "se-n-se": 4, "hbo5": 5, "bachelor": 6, "master": 7, "doctoraat": 8,
}
DUTCH = {
    "geen onderwijs": 0, "basisonderwijs": 1, "vmbo": 2, "mbo-1": 2, "havo/vwo onderbouw": 2,
    "havo/vwo": 3, "mbo 2-4": 3, "hbo associate degree": 5, "hbo bachelor": 6, "wo bachelor": 6,
    "hbo master": 7, "wo master": 7, "doctoraat": 8,
}
CBS_GROUP = {"basisonderwijs": "low", "vmbo": "low", "mbo-1": "low", "havo/vwo onderbouw": "low",
             "havo/vwo": "medium", "mbo 2-4": "medium", "hbo bachelor": "high", "wo master": "high"}


@pytest.mark.parametrize("resource, expected", [("flanders.yaml", FLEMISH), ("netherlands_cbs.yaml", DUTCH)])
def test_national_education_categories_land_on_isced(resource, expected):
    levels = yaml.safe_load((ROOT / "resources/education" / resource).read_text())["levels"]
    assert levels == expected


def test_dutch_categories_follow_cbs_grouping():
    levels = yaml.safe_load((ROOT / "resources/education/netherlands_cbs.yaml").read_text())["levels"]
    groups = education_group([levels[c] for c in CBS_GROUP])
    assert list(groups) == list(CBS_GROUP.values())


def test_eurostat_groups():
    assert list(education_group([0, 2, 3, 4, 5, 8, np.nan])) == ["low", "low", "medium", "medium", "high", "high", None]


def test_oecd_modified_scale():
    assert oecd_modified_scale(2, 2) == pytest.approx(2.1)  # two adults, two children < 14
    assert oecd_modified_scale(1, 0) == pytest.approx(1.0)
    assert oecd_modified_scale(3, 1) == pytest.approx(2.3)


def test_ridit_by_hand():
    # values 10, 20, 20, 30: ridit = share below + half the share tied
    r = ridit(pd.Series([10.0, 20.0, 20.0, 30.0, np.nan]))
    assert r.tolist()[:4] == pytest.approx([0.125, 0.5, 0.5, 0.875])
    assert np.isnan(r.iloc[4])


def test_ses_composite_by_hand():
    frame = pd.DataFrame({
        "cohort": ["a"] * 3 + ["b"] * 3,
        "edu": [1.0, 2.0, 3.0, 10.0, 20.0, 30.0],
        "dep": [3.0, 2.0, 1.0, np.nan, 5.0, 7.0],  # deprivation: higher = lower SES
    })
    index = ses_composite(frame, {"edu": 1, "dep": -1}, min_indicators=2)
    # cohort a: z(edu) = -1, 0, 1 and -z(dep) = -1, 0, 1 -> mean -1, 0, 1
    assert index.iloc[:3].tolist() == pytest.approx([-1.0, 0.0, 1.0])
    # cohort b: row 3 has one indicator only -> no index; z(dep) of 5, 7 = -0.7071, 0.7071
    assert np.isnan(index.iloc[3])
    assert index.iloc[4] == pytest.approx((0.0 + 0.70710678) / 2)
    assert index.iloc[5] == pytest.approx((1.0 - 0.70710678) / 2)
