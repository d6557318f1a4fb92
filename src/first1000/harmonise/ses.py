"""Harmonise: all cohorts onto one analysis table, with SES on one scale.

Per cohort, ingest has already applied the mapping rules (education to ISCED 2011,
income bands to midpoints in EUR/month, units converted). Here every cohort is combined
and the derived SES variables are computed:

* ``education_group``: Eurostat grouping of ISCED 2011 levels, low 0-2, medium 3-4,
  high 5-8.
* ``income_equivalised``: household income / OECD-modified equivalence scale,
  1 + 0.5 * (persons aged 14+ - 1) + 0.3 * (children < 14) (OECD 2013, "What are
  equivalence scales?"); two adults and two young children give 2.1.
* ``income_equivalised_ln`` and ``income_ridit`` (within-cohort ridit: share below plus
  half the share tied, Bross 1958), so that cohorts with different income levels compare.
* ``income_quintile``: within-cohort quintile (1 = lowest fifth) of equivalised income.
* ``material_deprivation`` / ``severe_material_deprivation``: at least 5 / 7 of the 13
  EU-SILC material and social deprivation items lacked (Eurostat 2017 definition).
* ``ses_index``: ``zmean`` = mean of direction-aligned within-cohort z-scores (SD with
  ddof = 1) of the declared indicators, for participants with at least ``min_indicators``
  of them; ``pca`` = first principal component (scikit-learn) of the direction-aligned
  within-cohort z-scores of all cohorts together, on participants with every indicator,
  its sign chosen so that higher means higher SES (as ENVIRONAGE: Martens et al. 2020).
  The weights (loadings) are returned for the report.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def oecd_modified_scale(adults, children):
    """OECD-modified equivalence scale; ``adults`` counts every person aged 14 or over."""
    adults = np.asarray(adults, float)
    children = np.asarray(children, float)
    return 1.0 + 0.5 * (adults - 1.0) + 0.3 * children


def education_group(isced) -> pd.Series:
    """Eurostat grouping of ISCED 2011 levels: low 0-2, medium 3-4, high 5-8."""
    isced = pd.Series(isced, dtype=float)
    groups = pd.cut(isced, bins=[-0.5, 2.5, 4.5, 8.5], labels=["low", "medium", "high"])
    return groups.astype(object).where(groups.notna(), None)


def ridit(values: pd.Series) -> pd.Series:
    """Ridit score of each value within its own distribution (NaN stays NaN)."""
    ranks = values.rank(method="average")
    n = values.notna().sum()
    return (ranks - 0.5) / n


def zscore(values: pd.Series) -> pd.Series:
    """Within-group z-score; undefined (NaN) when the values do not vary."""
    sd = values.std(ddof=1)
    if not np.isfinite(sd) or sd == 0:
        return values * np.nan
    return (values - values.mean()) / sd


def ses_composite(frame: pd.DataFrame, indicators: dict[str, int], min_indicators: int = 2,
                  by: str = "cohort") -> pd.Series:
    """Mean of direction-aligned within-``by`` z-scores of the indicators."""
    aligned = pd.DataFrame({
        name: direction * frame.groupby(by, sort=False)[name].transform(zscore)
        for name, direction in indicators.items()
    })
    enough = aligned.notna().sum(axis=1) >= min_indicators
    return aligned.mean(axis=1).where(enough)


def aligned_zscores(frame: pd.DataFrame, indicators: dict[str, int], by: str = "cohort") -> pd.DataFrame:
    return pd.DataFrame({
        name: direction * frame.groupby(by, sort=False)[name].transform(zscore)
        for name, direction in indicators.items()
    })


def ses_pca(frame: pd.DataFrame, indicators: dict[str, int], by: str = "cohort"):
    """PC1 of the aligned within-cohort z-scores; returns (scores, loadings, explained share)."""
    from sklearn.decomposition import PCA

    aligned = aligned_zscores(frame, indicators, by)
    complete = aligned.notna().all(axis=1)
    if complete.sum() < 2:  # e.g. an indicator without variation: z-scores undefined
        return pd.Series(np.nan, index=frame.index), dict.fromkeys(indicators, np.nan), np.nan
    pca = PCA(n_components=1, svd_solver="full").fit(aligned[complete].to_numpy())
    loadings = pca.components_[0]
    if loadings.sum() < 0:  # sign of a component is arbitrary: make higher = higher SES
        loadings = -loadings
    scores = pd.Series(np.nan, index=frame.index)
    scores[complete] = (aligned[complete].to_numpy() - pca.mean_) @ loadings
    return scores, dict(zip(indicators, loadings)), float(pca.explained_variance_ratio_[0])


def ses_index_weights(indicators: dict[str, int], method: str, loadings=None, explained=None,
                      problems=()) -> pd.DataFrame:
    rows = []
    for name, direction in indicators.items():
        weight = 1.0 / len(indicators) if method == "zmean" else loadings[name]
        note = "; ".join(p for p in problems if f"`{name}`" in p)
        rows.append(dict(method=method, indicator=name, direction=direction, weight=weight,
                         explained_variance=explained if method == "pca" else None, note=note))
    return pd.DataFrame(rows)


def harmonise(participants: list[pd.DataFrame], ses_index: dict):
    """Combine the cohorts' harmonised participant tables and derive the SES variables.

    Returns ``(table, ses_weights)``.
    """
    frame = pd.concat(participants, ignore_index=True)
    frame["education_group"] = education_group(frame["education_isced"])
    frame["income_equivalised"] = frame["household_income"] / oecd_modified_scale(
        frame["household_adults"], frame["household_children"])
    with np.errstate(divide="ignore", invalid="ignore"):
        frame["income_equivalised_ln"] = np.log(frame["income_equivalised"].where(frame["income_equivalised"] > 0))
    by_cohort = frame.groupby("cohort", sort=False)["income_equivalised"]
    frame["income_ridit"] = by_cohort.transform(ridit)
    frame["income_quintile"] = by_cohort.transform(quintile)
    if "material_deprivation_items" in frame:
        items = frame["material_deprivation_items"]
        frame["material_deprivation"] = (items >= 5).astype(float).where(items.notna())
        frame["severe_material_deprivation"] = (items >= 7).astype(float).where(items.notna())
    # An indicator without variation in a cohort cannot be z-scored there: it is left out
    # of that cohort's index and the SES index table says so.
    problems = single_category_problems(frame, ses_index["indicators"])
    if ses_index["method"] == "pca":
        frame["ses_index"], loadings, explained = ses_pca(frame, ses_index["indicators"])
        weights = ses_index_weights(ses_index["indicators"], "pca", loadings, explained, problems)
    else:
        frame["ses_index"] = ses_composite(frame, ses_index["indicators"], ses_index["min_indicators"])
        weights = ses_index_weights(ses_index["indicators"], "zmean", problems=problems)
    return frame, weights


def quintile(values: pd.Series) -> pd.Series:
    """Within-group quintile 1-5 by ridit (ties share a quintile)."""
    return np.ceil(ridit(values) * 5).clip(1, 5)


def single_category_problems(frame: pd.DataFrame, indicators) -> list[str]:
    """Indicators without variation in a cohort (a z-score cannot be computed)."""
    problems = []
    for cohort, group in frame.groupby("cohort", sort=True):
        for name in indicators:
            if group[name].nunique(dropna=True) < 2:
                problems.append(f"cohort {cohort}: SES indicator `{name}` has fewer than two distinct values")
    return problems
