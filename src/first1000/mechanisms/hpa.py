"""HPA axis: hair cortisol per exposure window.

Hair grows about 1 cm per month, so for a sample cut at delivery the 0-3 cm segment
covers roughly the 3rd trimester, 3-6 cm the 2nd and 6-9 cm the 1st (Stalder et al.
2017, Psychoneuroendocrinology 77:261). A segment belongs to the window that contains its
midpoint; several segments in one window are averaged on the log scale, weighted by
length. Values below the limit of quantification become LOQ/sqrt(2) (Hornung & Reed
1990). Values beyond ``outlier_sd`` SD of ln cortisol (per cohort and window) are flagged
in the QC table, not dropped; ``hair_cortisol_{window}_ln_winsorised`` holds the values
clipped to mean ± ``outlier_sd`` SD, which the sensitivity analysis
(:func:`sensitivity_analyses`) puts in place of the main values. The QC table gives per
cohort and window the median, quartiles and (with at least 20 values) the 5th and 95th
percentiles in pg/mg.

Hair washing, cosmetic treatment and corticosteroid use change the cortisol measured in
hair; the harmonised variables named in ``covariates`` are added to the HPA models of
each cohort that recorded them (:func:`optional_covariates`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: Fewest values for which the QC table reports the 5th/95th percentiles.
TAIL_MIN_N = 20


def window_of(midpoints: np.ndarray, windows: dict[str, list[float]]) -> np.ndarray:
    """Name of the window [start, end) holding each segment midpoint ('' when none)."""
    out = np.full(len(midpoints), "", dtype=object)
    for name, (start, end) in windows.items():
        out[(midpoints >= start) & (midpoints < end)] = name
    return out


def winsorise(values: pd.Series, k: float) -> pd.Series:
    """Clip to mean ± k SD (SD with ddof=1) of the non-missing values; missing stay missing."""
    x = values.dropna()
    if len(x) < 2:
        return values.copy()
    mean, sd = x.mean(), x.std(ddof=1)
    return values.clip(mean - k * sd, mean + k * sd)


def sensitivity_analyses(settings: dict) -> list[dict]:
    """The winsorised re-analysis: each window's ln cortisol replaced by its winsorised copy."""
    windows = settings["windows"]
    return [dict(
        name="winsorised",
        description=f"ln hair cortisol winsorised at mean ± {settings['outlier_sd']:g} SD (per cohort and window)",
        replace={f"hair_cortisol_{w}_ln": f"hair_cortisol_{w}_ln_winsorised" for w in windows},
    )]


def optional_covariates(settings: dict) -> list[str]:
    """Hair-sample covariates added to the models of cohorts that recorded them."""
    return list(settings.get("covariates", []))


def prepare(tables: dict[str, pd.DataFrame], settings: dict):
    windows = settings["windows"]
    loq = settings["loq"]
    frames, qc = [], []
    for cohort, hair in tables.items():
        hair = hair.copy()
        hair["window"] = window_of(((hair.segment_start_cm + hair.segment_end_cm) / 2).to_numpy(), windows)
        value = np.where(hair.below_limit, loq / np.sqrt(2), hair.cortisol)
        hair["ln_cortisol"] = np.log(value)
        hair["length"] = hair.segment_end_cm - hair.segment_start_cm
        used = hair[(hair.window != "") & hair.ln_cortisol.notna()]
        weighted = (used.ln_cortisol * used.length).groupby([used.pseudo_id, used.window]).sum()
        lengths = used.length.groupby([used.pseudo_id, used.window]).sum()
        wide = (weighted / lengths).unstack("window")
        wide = wide.reindex(columns=list(windows))
        wide.columns = [f"hair_cortisol_{w}_ln" for w in windows]
        for w in windows:
            wide[f"hair_cortisol_{w}_ln_winsorised"] = winsorise(wide[f"hair_cortisol_{w}_ln"],
                                                                  settings["outlier_sd"])
        wide = wide.reset_index().rename(columns={"index": "pseudo_id"})
        wide.insert(1, "cohort", cohort)
        frames.append(wide)
        for w in windows:
            column = f"hair_cortisol_{w}_ln"
            x = wide[column].dropna()
            z = (x - x.mean()) / x.std(ddof=1) if len(x) > 1 else x * np.nan
            in_window = hair[hair.window == w]
            qc.append(dict(
                cohort=cohort, window=w, cm_from_scalp=f"{windows[w][0]:g}-{windows[w][1]:g}",
                n=int(len(x)), n_below_loq=int(in_window.below_limit.sum()),
                pct_below_loq=100 * float(in_window.below_limit.mean()) if len(in_window) else np.nan,
                median_pg_mg=float(np.exp(x.median())) if len(x) else np.nan,
                q1_pg_mg=float(np.exp(x.quantile(0.25))) if len(x) else np.nan,
                q3_pg_mg=float(np.exp(x.quantile(0.75))) if len(x) else np.nan,
                # Tails only where there are enough values to estimate them.
                p05_pg_mg=float(np.exp(x.quantile(0.05))) if len(x) >= TAIL_MIN_N else np.nan,
                p95_pg_mg=float(np.exp(x.quantile(0.95))) if len(x) >= TAIL_MIN_N else np.nan,
                n_outliers=int((z.abs() > settings["outlier_sd"]).sum()),
                n_segments_outside_windows=int((hair.window == "").sum()),
            ))
    return pd.concat(frames, ignore_index=True), pd.DataFrame(qc)
