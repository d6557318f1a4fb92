"""The tables behind the mechanism figures (first1000.analysis.descriptive): covariate-
adjusted fits in exposure bins and biomarker correlations, checked against independent
computations (numpy least squares, scipy's Spearman)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from first1000.analysis.descriptive import GRID_POINTS, adjusted_fit_table, biomarker_correlations

IDS = [f"PID-{i:06d}" for i in range(1000)]
COVS = ["maternal_age", "child_sex"]


def analysis_table(sizes: dict[str, int], seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    frames, start = [], 0
    for cohort, n in sizes.items():
        age = rng.normal(31, 4, n)
        sex = rng.choice(["female", "male"], n)
        ses = rng.normal(0, 1, n) + 0.05 * (age - 31)
        cortisol = 2.5 - 0.2 * ses + 0.03 * (age - 31) + 0.1 * (sex == "male") + rng.normal(0, 0.3, n)
        frames.append(pd.DataFrame({"participant_id": IDS[start:start + n], "cohort": cohort, "ses_index": ses,
                                    "hair_cortisol_t3_ln": cortisol, "maternal_age": age, "child_sex": sex}))
        start += n
    return pd.concat(frames, ignore_index=True)


def fit(data, **kwargs):
    return adjusted_fit_table(data, "ses_index", "hair_cortisol_t3_ln", COVS, **kwargs)


def test_line_is_the_adjusted_ols_fit_and_bins_average_the_partial_residuals():
    data = analysis_table({"ghent": 120, "rotterdam": 80})
    table = fit(data)
    sub = data[data.cohort == "ghent"]
    X = np.column_stack([np.ones(len(sub)), sub.ses_index, sub.maternal_age, sub.child_sex == "male"])
    y = sub.hair_cortisol_t3_ln.to_numpy()
    beta = np.linalg.lstsq(X, y, rcond=None)[0]
    rows = table[table.cohort == "ghent"]
    line, bins = rows[rows.part == "line"], rows[rows.part == "bin"]
    assert len(line) == GRID_POINTS and len(bins) == 5 and bins.n.tolist() == [24] * 5
    slope = (line.y.iloc[-1] - line.y.iloc[0]) / (line.x.iloc[-1] - line.x.iloc[0])
    assert slope == pytest.approx(beta[1], rel=1e-9)
    # the line runs from the lowest to the highest bin mean
    assert line.x.iloc[0] == bins.x.min() and line.x.iloc[-1] == bins.x.max()
    # partial residuals y - b_cov (z - mean z): their mean lies on the line at the mean exposure
    adjusted = y - (X[:, 2:] - X[:, 2:].mean(axis=0)) @ beta[2:]
    assert np.average(bins.y, weights=bins.n) == pytest.approx(adjusted.mean(), rel=1e-12)
    at_mean = beta[0] + beta[1] * sub.ses_index.mean() + X[:, 2:].mean(axis=0) @ beta[2:]
    assert adjusted.mean() == pytest.approx(at_mean, rel=1e-12)
    # the band: the OLS confidence interval of the prediction at covariate means
    resid = y - X @ beta
    cov = resid @ resid / (len(y) - 4) * np.linalg.inv(X.T @ X)
    g = np.r_[1.0, line.x.iloc[0], X[:, 2:].mean(axis=0)]
    half = stats.t.ppf(0.975, len(y) - 4) * np.sqrt(g @ cov @ g)
    assert line.ci_high.iloc[0] - line.y.iloc[0] == pytest.approx(half, rel=1e-9)
    assert (table[table.part == "cohort"].set_index("cohort").n == pd.Series({"ghent": 120, "rotterdam": 80})).all()
    assert "participant_id" not in table.columns


def test_small_cohorts_get_fewer_bins_of_at_least_min_cell_and_tiny_ones_none():
    table = fit(analysis_table({"big": 60, "small": 19, "tiny": 4}, seed=3))
    small = table[(table.cohort == "small") & (table.part == "bin")]
    assert len(small) == 3 and small.n.min() >= 6
    tiny = table[table.cohort == "tiny"]
    assert tiny.part.tolist() == ["cohort"] and tiny.status.tolist() == ["too_few"]
    assert fit(analysis_table({"c": 40}), min_cell=10).query("part == 'bin'").n.min() >= 10


def test_bins_do_not_depend_on_row_order():
    data = analysis_table({"small": 17}, seed=5)
    a, b = fit(data), fit(data.sample(frac=1.0, random_state=2))
    pd.testing.assert_frame_equal(a, b, rtol=1e-12)


def test_a_model_that_cannot_be_estimated_is_marked():
    data = analysis_table({"ghent": 30})
    data["ses_index"] = 1.0  # no exposure contrast
    table = fit(data)
    assert table[table.part == "cohort"].status.tolist() == ["not_estimable"]
    assert not (table.part == "line").any()


def biomarker_table(seed=13) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 80
    a = rng.normal(size=n)
    df = pd.DataFrame({"participant_id": IDS[:n], "cohort": np.repeat(["ghent", "rotterdam"], n // 2),
                       "il6_ln": a, "crp_ln": 0.7 * a + rng.normal(scale=0.5, size=n),
                       "cd4_cd8_ln_ratio": rng.normal(size=n), "rare_ln": np.nan})
    df.loc[:3, "rare_ln"] = rng.normal(size=4)  # only 4 people measured: below min cell size
    df.loc[10:14, "crp_ln"] = np.nan
    return df


def test_biomarker_correlations_pairwise_spearman_and_suppression():
    df = biomarker_table()
    names = ["il6_ln", "crp_ln", "cd4_cd8_ln_ratio", "rare_ln"]
    out = biomarker_correlations(df, names)
    assert list(out.columns) == ["biomarker_1", "biomarker_2", "n", "rho", "suppressed"]
    assert len(out) == 4 * 5 // 2
    row = out[(out.biomarker_1 == "il6_ln") & (out.biomarker_2 == "crp_ln")].iloc[0]
    both = df[["il6_ln", "crp_ln"]].dropna()
    assert row.n == len(both) == 75
    assert row.rho == pytest.approx(stats.spearmanr(both.il6_ln, both.crp_ln).statistic, rel=1e-12)
    rare = out[(out.biomarker_1 == "rare_ln") | (out.biomarker_2 == "rare_ln")]
    assert rare.suppressed.all() and rare.rho.isna().all()
    assert not out.drop(rare.index).suppressed.any()
    by = biomarker_correlations(df, names[:2], by="cohort")
    assert list(by.cohort.unique()) == ["ghent", "rotterdam"]
    assert "participant_id" not in by.columns
    with pytest.raises(ValueError):
        biomarker_correlations(df, names, min_n=1)


