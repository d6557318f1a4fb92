"""HPA axis: hair cortisol per exposure window.

Hair grows about 1 cm per month (Wennig 2000, Forensic Sci Int 107:5; Stalder et al.
2017, Psychoneuroendocrinology 77:261), so for a sample cut at delivery the 0-3 cm
segment covers roughly the 3rd trimester, 3-6 cm the 2nd and 6-9 cm the 1st. How
segments map to exposure windows is ``timing``:

* ``scalp_cm`` (default): windows are [start, end) in cm from the scalp, whatever the
  sampling date and the length of the pregnancy.
* ``gestation``: windows are [start, end) in completed gestational weeks. Each segment's
  midpoint is dated from the harmonised gestational age at delivery and the date the hair
  was cut (the hair table's ``sampling_date``; without that column, the harmonised
  ``delivery_date``, i.e. cut at delivery)::

      GA_at_cut (weeks) = (gestational_age (days) + (sampling_date - delivery_date) (days)) / 7
      GA_mid (weeks)    = GA_at_cut - midpoint_cm / growth_cm_per_month * 30.44 / 7

  A segment grown after delivery (GA_mid > gestational age at delivery) or before the
  pregnancy (GA_mid < 0) is in no window; one whose participant lacks the gestational age
  (or, with a ``sampling_date`` column, either date) cannot be dated and is in no window
  either: nothing is guessed. The QC table counts them per cohort
  (``n_segments_postpartum``, ``n_segments_before_pregnancy``, ``n_segments_undated``;
  disjoint from ``n_segments_outside_windows``, the segments dated within the pregnancy
  that fall between or beyond the windows). This mode reads the harmonised participants
  (:func:`needs_participants`).

A segment belongs to the window that contains its midpoint; several segments in one
window are averaged on the log scale, weighted by length. Values below the limit of
quantification become LOQ/sqrt(2) (Hornung & Reed 1990). Values beyond ``outlier_sd`` SD
of ln cortisol (per cohort and window) are flagged in the QC table, not dropped;
``hair_cortisol_{window}_ln_winsorised`` holds the values clipped to mean ±
``outlier_sd`` SD, which the sensitivity analysis
(:func:`sensitivity_analyses`) puts in place of the main values. The QC table gives per
cohort and window the median, quartiles and (with at least 20 values) the 5th and 95th
percentiles in pg/mg, and the window's range (``cm_from_scalp``, or ``gestational_weeks``
in ``gestation`` mode).

Hair washing, cosmetic treatment and corticosteroid use change the cortisol measured in
hair; the harmonised variables named in ``covariates`` are added to the HPA models of
each cohort that recorded them (:func:`optional_covariates`).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from first1000.errors import ConfigError

#: The QC figure of this mechanism (first1000.figures.qc.QC_FIGURES).
QC_FIGURE = "cortisol_by_window"

#: Fewest values for which the QC table reports the 5th/95th percentiles.
TAIL_MIN_N = 20
#: Days per month of hair growth (365.25 / 12).
DAYS_PER_MONTH = 30.44
#: ``timing`` -> default windows ([start, end) in that mode's unit) and the largest end allowed.
DEFAULT_WINDOWS = {
    "scalp_cm": {"t3": [0, 3], "t2": [3, 6], "t1": [6, 9]},
    "gestation": {"t1": [0, 14], "t2": [14, 28], "t3": [28, 43]},
}
MAX_WINDOW_END = {"scalp_cm": 60.0, "gestation": 45.0}
#: Unit of the windows in each mode, and the QC column naming each window's range.
WINDOW_UNIT = {"scalp_cm": "cm from the scalp", "gestation": "completed gestational weeks"}
RANGE_COLUMN = {"scalp_cm": "cm_from_scalp", "gestation": "gestational_weeks"}


def timing_of(settings: dict) -> str:
    return settings.get("timing", "scalp_cm")


def needs_participants(settings: dict) -> bool:
    """``gestation`` timing dates segments from the harmonised gestational age and delivery date."""
    return timing_of(settings) == "gestation"


def check_settings(settings: dict, where=lambda keys: f"config key `{'.'.join(map(str, keys))}`") -> dict:
    """Fill the windows' default for the ``timing`` mode and check that every window is
    [start, end) with start < end, in the mode's unit. ``where(keys)`` names a config key
    in messages (see :func:`first1000.config.where`). Returns ``settings`` (filled in)."""
    timing = timing_of(settings)
    settings.setdefault("windows", {k: list(v) for k, v in DEFAULT_WINDOWS[timing].items()})
    keys = ["preparation", "hpa", "windows"]
    for name, (start, end) in settings["windows"].items():
        if start >= end:
            raise ConfigError(f"{where(keys + [name])}: the window [{start:g}, {end:g}] ends before it starts; "
                              f"give [start, end] with start < end ({WINDOW_UNIT[timing]}).")
        if end > MAX_WINDOW_END[timing]:
            other = ("`timing: gestation` windows are in completed gestational weeks (0-45), e.g. "
                     "{t1: [0, 14], t2: [14, 28], t3: [28, 43]}; for windows in cm from the scalp set "
                     "`timing: scalp_cm`" if timing == "gestation" else
                     "`timing: scalp_cm` windows are in cm from the scalp (hair segments reach at most 60 cm)")
            raise ConfigError(f"{where(keys + [name])}: the window [{start:g}, {end:g}] ends beyond "
                              f"{MAX_WINDOW_END[timing]:g} {'weeks' if timing == 'gestation' else 'cm'}: "
                              f"{other}.")
    return settings


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


#: The repeated measure the longitudinal stage models: ln hair cortisol, all windows.
REPEATED_SCORE = "hair_cortisol_ln"
#: A term pregnancy's length in months (40 weeks), the nominal cut of a ``scalp_cm`` sample.
TERM_MONTHS = 280 / DAYS_PER_MONTH


def window_months(settings: dict) -> dict[str, float]:
    """Each window's nominal midpoint in months of pregnancy (gestational age, as the
    windows of ``gestation`` timing count it): in
    ``gestation`` timing the midpoint's weeks; in ``scalp_cm`` timing the hair cut at a
    term delivery (40 weeks) minus the midpoint's months of growth
    (``growth_cm_per_month``, default 1 cm per month)."""
    settings = check_settings(dict(settings))
    growth = float(settings.get("growth_cm_per_month", 1.0))
    out = {}
    for name, (start, end) in settings["windows"].items():
        mid = (start + end) / 2
        out[name] = mid * 7 / DAYS_PER_MONTH if timing_of(settings) == "gestation" else TERM_MONTHS - mid / growth
    return out


def repeated_measures(prepared: pd.DataFrame, settings: dict, centre_months: float) -> pd.DataFrame:
    """The prepared (wide) table as one row per mother and window with a value: ``pseudo_id``,
    ``cohort``, ``window``, ``hair_cortisol_ln`` and ``pregnancy_month_c`` (the window's
    month of pregnancy, :func:`window_months`, minus ``centre_months``)."""
    months = window_months(settings)
    frames = []
    for window, month in months.items():
        column = f"hair_cortisol_{window}_ln"
        if column not in prepared:
            continue
        rows = prepared.loc[prepared[column].notna(), ["pseudo_id", "cohort", column]]
        frames.append(rows.rename(columns={column: REPEATED_SCORE}).assign(
            window=window, pregnancy_month_c=month - centre_months))
    columns = ["pseudo_id", "cohort", "window", REPEATED_SCORE, "pregnancy_month_c"]
    if not frames:
        return pd.DataFrame(columns=columns)
    return pd.concat(frames, ignore_index=True)[columns].sort_values(
        ["cohort", "pseudo_id", "pregnancy_month_c"], kind="stable", ignore_index=True)


def optional_covariates(settings: dict) -> list[str]:
    """Hair-sample covariates added to the models of cohorts that recorded them."""
    return list(settings.get("covariates", []))


def gestational_weeks_at_growth(hair: pd.DataFrame, participants: pd.DataFrame, growth_cm_per_month: float):
    """Gestational age (weeks) at which each segment's midpoint grew, and the gestational
    age at delivery (weeks), per row of ``hair``; NaN where a needed value is missing.

    The hair was cut on the row's ``sampling_date`` or, without that column, at delivery.
    """
    people = participants.drop_duplicates("pseudo_id").set_index("pseudo_id")
    ga_days = hair.pseudo_id.map(people["gestational_age"].astype(float)) if "gestational_age" in people else \
        pd.Series(np.nan, index=hair.index)
    ga_days = ga_days.astype(float)
    if "sampling_date" in hair:
        delivery = (pd.to_datetime(hair.pseudo_id.map(people["delivery_date"])) if "delivery_date" in people
                    else pd.Series(pd.NaT, index=hair.index, dtype="datetime64[ns]"))
        after_delivery = (pd.to_datetime(hair.sampling_date) - delivery).dt.days.astype(float)
    else:
        after_delivery = pd.Series(0.0, index=hair.index)
    at_delivery = ga_days / 7.0
    at_cut = (ga_days + after_delivery) / 7.0
    midpoint = (hair.segment_start_cm + hair.segment_end_cm) / 2
    grown = midpoint / growth_cm_per_month * DAYS_PER_MONTH / 7.0
    return (at_cut - grown).to_numpy(float), at_delivery.to_numpy(float)


def prepare(tables: dict[str, pd.DataFrame], settings: dict, participants: pd.DataFrame | None = None):
    settings = check_settings(dict(settings))
    timing = timing_of(settings)
    windows = settings["windows"]
    loq = settings["loq"]
    if timing == "gestation" and participants is None:
        raise ConfigError("preparation.hpa.timing: `gestation` dates the hair segments from the gestational age "
                          "and delivery date: the harmonised participants are needed.")
    frames, qc = [], []
    for cohort, hair in tables.items():
        hair = hair.copy()
        counts, placed = {}, np.ones(len(hair), bool)
        if timing == "gestation":
            ga_mid, ga_delivery = gestational_weeks_at_growth(hair, participants,
                                                              settings.get("growth_cm_per_month", 1.0))
            undated = np.isnan(ga_mid)
            with np.errstate(invalid="ignore"):
                postpartum = ga_mid > ga_delivery
                before = ga_mid < 0
            hair["window"] = window_of(ga_mid, windows)
            placed = ~(undated | postpartum | before)
            hair.loc[~placed, "window"] = ""
            counts = dict(n_segments_postpartum=int(postpartum.sum()),
                          n_segments_before_pregnancy=int(before.sum()),
                          n_segments_undated=int(undated.sum()))
        else:
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
            qc.append({
                "cohort": cohort, "window": w, RANGE_COLUMN[timing]: f"{windows[w][0]:g}-{windows[w][1]:g}",
                "n": int(len(x)), "n_below_loq": int(in_window.below_limit.sum()),
                "pct_below_loq": 100 * float(in_window.below_limit.mean()) if len(in_window) else np.nan,
                "median_pg_mg": float(np.exp(x.median())) if len(x) else np.nan,
                "q1_pg_mg": float(np.exp(x.quantile(0.25))) if len(x) else np.nan,
                "q3_pg_mg": float(np.exp(x.quantile(0.75))) if len(x) else np.nan,
                # Tails only where there are enough values to estimate them.
                "p05_pg_mg": float(np.exp(x.quantile(0.05))) if len(x) >= TAIL_MIN_N else np.nan,
                "p95_pg_mg": float(np.exp(x.quantile(0.95))) if len(x) >= TAIL_MIN_N else np.nan,
                "n_outliers": int((z.abs() > settings["outlier_sd"]).sum()),
                # Dated in the pregnancy (or, with scalp_cm, any segment) but in no window.
                "n_segments_outside_windows": int(((hair.window == "") & placed).sum()),
                **counts,
            })
    return pd.concat(frames, ignore_index=True), pd.DataFrame(qc)
