"""Relative quantification by qPCR: telomere length (T/S) and mtDNA content (mt/n).

One machinery for both assays: a *target* (telomere repeat, or a mitochondrial gene
such as MT-ND1) and a *reference* (a single-copy nuclear gene: 36B4/RPLP0, albumin,
HBB), a calibrator sample on every plate.

Input ``wells``: one row per well with columns ``plate``, ``pseudo_id``,
``is_calibrator``, ``target``, ``ct`` (the ingest table ``telomere_qpcr``), optionally
``row`` (the source file's row number for messages; else the position + 2, i.e. the
spreadsheet row when the table is the file's rows in order).

Steps
-----
1. Raw values (:func:`check_ct`): a Ct that is undetermined/not a number, <= 0 or
   > 40 (``CT_MAX``) is an :class:`InputTableError` naming the column, the rule and the
   rows. Amplification efficiencies outside 1.6-2.2 (``EFFICIENCY_RANGE``) likewise.
2. Replicate QC (:func:`replicate_qc`) per plate x sample x target: mean Ct over the
   replicates. When their SD exceeds ``sd_max`` (default 0.25 cycles) and there are
   >= 3 replicates, the replicate farthest from the replicates' median is dropped if
   the others then have SD <= ``sd_max`` (one drop at most); otherwise -- and always
   with 2 replicates -- the sample/target fails and the sample's ratio on that plate is
   missing. A single replicate cannot be checked and is used as is (counted).
3. Ratio (:func:`relative_quantity`, Pfaffl 2001, Nucleic Acids Res 29:e45)::

       ratio = E_T^(Ct_T,cal - Ct_T,sample) / E_S^(Ct_S,cal - Ct_S,sample)

   with E = 10^(-1/slope) from a standard curve (:func:`efficiency_from_slope`), or
   E = 2 for both (then ratio = 2^-ddCt, Cawthon 2002), normalised to the calibrator on
   the sample's own plate. A plate whose calibrator fails replicate QC gives no ratios.
4. Reliability: intra-assay CV (:func:`intra_assay_cv`, replicate quantities E^-Ct per
   target -- the T and S replicates are separate wells, so not paired on the T/S
   scale), inter-assay CV on the ratio scale (:func:`inter_assay_cv`, participants
   measured on >= 2 plates; :func:`calibrator_cv`, the calibrator's uncalibrated ratio
   across plates) and the ICC of repeated ratios (:func:`icc`; ICC(1) -- one-way random,
   single measurement -- by default because the repeats of a sample land on arbitrary
   plates; ICC(2,1) -- two-way random, absolute agreement -- for a balanced design).
5. Analysis scale: ln ratio (mean over a participant's plates, :func:`per_participant`),
   within-cohort z-score (:func:`zscore`); a coefficient on ln ratio is a percent
   difference 100 (e^beta - 1) (:func:`percent_difference`).
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

from first1000.errors import ConfigError, InputTableError, format_rows

CT_MAX = 40.0
EFFICIENCY_RANGE = (1.6, 2.2)
TELOMERE_TARGETS = ("telomere", "single_copy")
MTDNA_TARGETS = ("mt", "nuclear")


# --------------------------------------------------------------------------- raw values
def _row_numbers(frame: pd.DataFrame, mask) -> np.ndarray:
    mask = np.asarray(mask, bool)
    if "row" in frame.columns:
        return frame["row"].to_numpy()[mask]
    return np.flatnonzero(mask) + 2


def check_ct(wells: pd.DataFrame, *, where: str = "qPCR wells", column: str = "ct", rule: str = "qpcr",
             ct_max: float = CT_MAX) -> np.ndarray:
    """Ct as floats, or an :class:`InputTableError` for undetermined, <= 0 or > ``ct_max``."""
    raw = wells[column]
    ct = pd.to_numeric(raw, errors="coerce").to_numpy(float)
    checks = (
        (np.isnan(ct), "undetermined or not a number",
         "Remove wells that did not amplify (or re-run them); a blank Ct is not a valid measurement."),
        (ct <= 0, "Ct must be greater than 0", "Check the export: Ct values are positive cycle numbers."),
        (ct > ct_max, f"Ct above {ct_max:g} (no reliable amplification)",
         "Re-run or remove these wells."),
    )
    for bad, problem, fix in checks:
        if bad.any():
            raise InputTableError(f"{where}, column '{column}', {format_rows(_row_numbers(wells, bad))}: "
                                  f"{problem} (rule: {rule}). {fix}")
    return ct


def efficiency_from_slope(slope):
    """Amplification efficiency from a standard-curve slope: E = 10^(-1/slope) (2 at -3.32)."""
    return np.power(10.0, -1.0 / np.asarray(slope, float))


def check_efficiency(efficiency, *, where: str = "qPCR efficiencies", column: str = "efficiency",
                     rule: str = "qpcr", rows=None):
    """Efficiencies must lie in ``EFFICIENCY_RANGE`` (1.6-2.2; perfect doubling is 2)."""
    e = np.atleast_1d(np.asarray(efficiency, float))
    lo, hi = EFFICIENCY_RANGE
    bad = ~((e >= lo) & (e <= hi))
    if bad.any():
        rows = np.flatnonzero(bad) + 2 if rows is None else np.asarray(rows)[bad]
        raise InputTableError(f"{where}, column '{column}', {format_rows(rows)}: amplification efficiency "
                              f"outside {lo}-{hi} (rule: {rule}). E = 10^(-1/slope) is 2 for a perfect "
                              "doubling per cycle; re-run the standard curve or give the efficiency as a factor "
                              "(e.g. 1.95), not a percentage.")
    return efficiency


# --------------------------------------------------------------------------- ratio
def relative_quantity(ct_target_sample, ct_reference_sample, ct_target_cal, ct_reference_cal,
                      efficiency=(2.0, 2.0)):
    """Pfaffl ratio E_T^(Ct_T,cal - Ct_T,s) / E_S^(Ct_S,cal - Ct_S,s); 2^-ddCt when E = (2, 2)."""
    e_t, e_s = efficiency
    return np.power(e_t, np.subtract(ct_target_cal, ct_target_sample)) / np.power(
        e_s, np.subtract(ct_reference_cal, ct_reference_sample))


def _efficiency_table(efficiency, plates, targets, where: str) -> pd.DataFrame:
    """plate x target efficiencies from None, {target: E} or a table (plate, target, efficiency|slope)."""
    if efficiency is None:
        return pd.DataFrame(2.0, index=pd.Index(plates, name="plate"), columns=list(targets))
    if isinstance(efficiency, Mapping):
        unknown = set(efficiency) - set(targets)
        if unknown:
            raise ConfigError(f"qPCR efficiency given for unknown target `{sorted(unknown)[0]}`; "
                              f"targets are {', '.join(targets)}.")
        for t, e in efficiency.items():
            lo, hi = EFFICIENCY_RANGE
            if not lo <= float(e) <= hi:
                raise ConfigError(f"qPCR efficiency of `{t}` is outside {lo}-{hi}: give E = 10^(-1/slope) "
                                  "as a factor (2 = perfect doubling).")
        return pd.DataFrame({t: float(efficiency.get(t, 2.0)) for t in targets}, index=pd.Index(plates, name="plate"))
    table = efficiency.reset_index(drop=True)
    if "efficiency" in table.columns:
        e = pd.to_numeric(table["efficiency"], errors="coerce").to_numpy(float)
        column = "efficiency"
    else:
        e = efficiency_from_slope(pd.to_numeric(table["slope"], errors="coerce").to_numpy(float))
        column = "slope"
    check_efficiency(e, where=where, column=column, rows=_row_numbers(table, np.ones(len(table), bool)))
    wide = table.assign(e=e).pivot(index="plate", columns="target", values="e")
    missing = [p for p in plates if p not in wide.index or wide.loc[p, list(targets)].isna().any()] \
        if set(targets) <= set(wide.columns) else list(plates)
    if missing:
        raise InputTableError(f"{where}: {len(missing)} plate(s) lack an efficiency for "
                              f"{' or '.join(targets)}. Give one per plate and target, or none (E = 2).")
    return wide.loc[list(plates), list(targets)]


def _segments(keys: list[np.ndarray]):
    """Rows sorted by ``keys`` (the first varying slowest; stable, as ``groupby(sort=True)``
    orders its groups and keeps the rows' order within each): the order, the first row of
    each group in that order, and the group sizes."""
    order = np.lexsort(keys[::-1])
    sorted_keys = [k[order] for k in keys]
    change = np.zeros(len(order), dtype=bool)
    if len(order):
        change[0] = True
        for k in sorted_keys:
            change[1:] |= k[1:] != k[:-1]
    starts = np.flatnonzero(change)
    counts = np.diff(np.r_[starts, len(order)])
    return order, starts, counts


def _segment_sums(values: np.ndarray, starts: np.ndarray, counts: np.ndarray) -> np.ndarray:
    """Sums of consecutive segments, each as ``np.sum`` adds it up: left to right below 8
    values (NumPy's pairwise summation only splits longer runs), by ``np.sum`` above."""
    total = values[starts].copy()
    for j in range(1, min(int(counts.max(initial=1)), 8)):
        more = counts > j
        total[more] += values[starts[more] + j]
    for g in np.flatnonzero(counts >= 8):
        total[g] = np.sum(values[starts[g]:starts[g] + counts[g]])
    return total


def _segment_mean_sd(values: np.ndarray, starts: np.ndarray, counts: np.ndarray):
    """Mean and SD (ddof 1; NaN for a single value) of consecutive segments of ``values``,
    bit for bit as ``np.mean`` and ``np.std(ddof=1)`` compute them for each segment."""
    mean = _segment_sums(values, starts, counts) / counts
    dev = values - np.repeat(mean, counts)
    with np.errstate(invalid="ignore", divide="ignore"):
        sd = np.sqrt(_segment_sums(dev * dev, starts, counts) / (counts - 1))
    sd[counts < 2] = np.nan
    return mean, sd


def _drop_outlier(ct: np.ndarray, sd_max: float):
    """The replicates kept when one may be dropped (n >= 3): (kept, dropped, failed)."""
    if len(ct) >= 3:
        rest = np.delete(ct, int(np.argmax(np.abs(ct - np.median(ct)))))
        if np.std(rest, ddof=1) <= sd_max:
            return rest, True, False
    return ct, False, True


def replicate_qc(wells: pd.DataFrame, sd_max: float = 0.25) -> pd.DataFrame:
    """Per plate x sample x target: replicates, mean Ct and the QC outcome.

    Columns: plate, sample_key ("calibrator" for the calibrator), target, n_replicates,
    n_used, ct_mean (of the used replicates), ct_sd_raw, ct_sd (used), dropped (one
    outlying replicate removed), failed. Vectorised over the groups (#19: a loop over
    them took 39 s at 100,000 participants); only groups above ``sd_max`` are looked at
    one by one.
    """
    key = np.where(wells.is_calibrator.to_numpy(bool), "calibrator", wells.pseudo_id.to_numpy(object)).astype(str)
    plate = wells.plate.to_numpy(object).astype(str)
    target = wells.target.to_numpy(object).astype(str)
    order, starts, counts = _segments([plate, key, target])
    ct = wells.ct.to_numpy(float)[order]
    mean, sd_raw = _segment_mean_sd(ct, starts, counts)
    n_used, ct_mean, ct_sd = counts.copy(), mean.copy(), sd_raw.copy()
    dropped = np.zeros(len(starts), dtype=bool)
    failed = np.zeros(len(starts), dtype=bool)
    for g in np.flatnonzero((counts > 1) & (sd_raw > sd_max)):
        used, dropped[g], failed[g] = _drop_outlier(ct[starts[g]:starts[g] + counts[g]], sd_max)
        n_used[g] = len(used)
        ct_mean[g] = np.nan if failed[g] else float(np.mean(used))
        ct_sd[g] = float(np.std(used, ddof=1)) if len(used) > 1 else np.nan
    first = order[starts]
    return pd.DataFrame({"plate": plate[first].astype(object), "sample_key": key[first].astype(object),
                         "target": target[first].astype(object), "n_replicates": counts, "n_used": n_used,
                         "ct_mean": ct_mean, "ct_sd_raw": sd_raw, "ct_sd": ct_sd, "dropped": dropped,
                         "failed": failed})


def plate_ratios(wells: pd.DataFrame, *, targets=TELOMERE_TARGETS, efficiency=None, sd_max: float = 0.25,
                 where: str = "qPCR wells", rule: str = "qpcr"):
    """Ratios per participant and plate, and a per-plate QC table.

    ``targets`` = (target, reference) as named in ``wells.target``: ("telomere",
    "single_copy") or ("mt", "nuclear"). ``efficiency``: None (E = 2), {target: E} for
    all plates, or a table with columns plate, target and efficiency (or slope).

    Returns ``(runs, plates)``: runs has plate, pseudo_id, ct_target, ct_reference,
    ratio, ln_ratio, failed (sample or its plate's calibrator failed QC; ratio NaN);
    plates has plate, n_samples, n_failed, n_dropped_replicates, n_single_replicate,
    calibrator_failed, e_target, e_reference, calibrator_raw_ratio
    (E_T^-Ct_T / E_S^-Ct_S of the calibrator, for :func:`calibrator_cv`).
    """
    check_ct(wells, where=where, rule=rule)
    unknown = ~wells.target.isin(targets).to_numpy(bool)
    if unknown.any():
        raise InputTableError(f"{where}, column 'target', {format_rows(_row_numbers(wells, unknown))}: target is "
                              f"neither {targets[0]} nor {targets[1]} (rule: {rule}).")
    wells = wells.assign(ct=pd.to_numeric(wells.ct, errors="coerce"))
    plates = sorted(wells.plate.unique())
    with_cal = wells.groupby("plate").is_calibrator.any()  # a scan per plate was quadratic (#19)
    no_cal = [p for p in plates if not with_cal[p]]
    if no_cal:
        mask = wells.plate.isin(no_cal).to_numpy(bool)
        raise InputTableError(f"{where}, column 'plate', {format_rows(_row_numbers(wells, mask))}: "
                              f"{len(no_cal)} plate(s) without a calibrator (rule: {rule}). Every plate needs "
                              "the inter-run calibrator.")
    eff = _efficiency_table(efficiency, plates, targets, where)
    qc = replicate_qc(wells, sd_max)
    mean = qc.pivot(index=["plate", "sample_key"], columns="target", values="ct_mean").reindex(columns=list(targets))
    failed = qc.pivot(index=["plate", "sample_key"], columns="target", values="failed").reindex(
        columns=list(targets)).fillna(True).astype(bool).any(axis=1) | mean.isna().any(axis=1)
    t, s = targets
    cal = mean.xs("calibrator", level="sample_key")
    cal_failed = failed.xs("calibrator", level="sample_key")
    samples = mean.drop(index="calibrator", level="sample_key")
    plate_of = samples.index.get_level_values("plate")
    e = eff.reindex(plate_of)
    ratio = relative_quantity(samples[t].to_numpy(), samples[s].to_numpy(), cal[t].reindex(plate_of).to_numpy(),
                              cal[s].reindex(plate_of).to_numpy(), (e[t].to_numpy(), e[s].to_numpy()))
    run_failed = (failed.drop(index="calibrator", level="sample_key").to_numpy()
                  | cal_failed.reindex(plate_of).to_numpy())
    ratio = np.where(run_failed, np.nan, ratio)
    runs = pd.DataFrame({"plate": plate_of, "pseudo_id": samples.index.get_level_values("sample_key"),
                         "ct_target": samples[t].to_numpy(), "ct_reference": samples[s].to_numpy(),
                         "ratio": ratio, "ln_ratio": np.log(ratio), "failed": run_failed})
    sample_qc = qc[qc.sample_key != "calibrator"]
    cal_raw = np.power(eff[t], -cal[t].reindex(plates)) / np.power(eff[s], -cal[s].reindex(plates))
    # counts per plate by groupby (a scan per plate was quadratic in the cohort's size, #19)
    per_run = runs.groupby("plate").failed.agg(["size", "sum"]).reindex(plates, fill_value=0)
    per_sample = sample_qc.assign(single=sample_qc.n_replicates == 1).groupby("plate")[["dropped", "single"]].sum()
    per_sample = per_sample.reindex(plates, fill_value=0)
    plate_qc = pd.DataFrame({
        "plate": plates,
        "n_samples": per_run["size"].to_numpy(int).tolist(),
        "n_failed": per_run["sum"].to_numpy(int).tolist(),
        "n_dropped_replicates": per_sample.dropped.to_numpy(int).tolist(),
        "n_single_replicate": per_sample.single.to_numpy(int).tolist(),
        "calibrator_failed": cal_failed.reindex(plates).to_numpy(bool),
        "e_target": eff[t].to_numpy(float), "e_reference": eff[s].to_numpy(float),
        "calibrator_raw_ratio": np.where(cal_failed.reindex(plates), np.nan, cal_raw.to_numpy(float)),
    })
    return runs, plate_qc


# --------------------------------------------------------------------------- reliability
def _cv(values) -> float:
    values = np.asarray(values, float)
    values = values[~np.isnan(values)]
    return float(100 * np.std(values, ddof=1) / np.mean(values)) if len(values) > 1 else np.nan


def intra_assay_cv(wells: pd.DataFrame, efficiency: Mapping | None = None, sd_max: float | None = None) -> pd.DataFrame:
    """Mean (and median) within-plate CV % of replicate quantities E^-Ct, per target.

    Over sample x plate x target groups with >= 2 replicates (the calibrator included).
    With ``sd_max`` a replicate dropped by :func:`replicate_qc` is left out first.
    Vectorised over the groups; only groups above ``sd_max`` are looked at one by one.
    """
    efficiency = efficiency or {}
    rows = []
    for target, group in wells.groupby("target", sort=True):
        e = float(efficiency.get(target, 2.0))
        key = np.where(group.is_calibrator.to_numpy(bool), "calibrator", group.pseudo_id.to_numpy(object)).astype(str)
        order, starts, counts = _segments([group.plate.to_numpy(object).astype(str), key])
        ct = group.ct.to_numpy(float)[order]
        _, sd = _segment_mean_sd(ct, starts, counts)
        quantity = np.power(e, -ct)
        q_mean, q_sd = _segment_mean_sd(quantity, starts, counts)
        with np.errstate(invalid="ignore", divide="ignore"):
            cv = 100 * q_sd / q_mean
        keep = counts > 1
        nan = _segment_sums(np.isnan(ct).astype(np.float64), starts, counts) > 0
        # one by one: groups above sd_max (a replicate may be dropped) and groups with a
        # missing Ct (its CV is over the Cts present), exactly as the per-group rule reads
        above = (counts >= 3) & (sd > sd_max) if sd_max is not None else np.zeros_like(nan)
        for g in np.flatnonzero(nan | above):
            values = ct[starts[g]:starts[g] + counts[g]]
            if sd_max is not None and len(values) >= 3 and np.std(values, ddof=1) > sd_max:
                values, _, failed = _drop_outlier(values, sd_max)
                if failed:
                    keep[g] = False
                    continue
            keep[g] = len(values) > 1
            cv[g] = _cv(np.power(e, -values))
        cvs = cv[keep]
        rows.append(dict(target=target, n_groups=len(cvs), mean_cv_pct=float(np.mean(cvs)) if len(cvs) else np.nan,
                         median_cv_pct=float(np.median(cvs)) if len(cvs) else np.nan))
    return pd.DataFrame(rows)


def inter_assay_cv(runs: pd.DataFrame, value: str = "ratio") -> dict:
    """CV % of a participant's ratio across plates, averaged over participants on >= 2 plates."""
    ok = runs[runs[value].notna()]
    cvs = [_cv(v) for _, v in ok.groupby("pseudo_id")[value] if len(v) > 1]
    return dict(n_repeated=len(cvs), mean_cv_pct=float(np.mean(cvs)) if cvs else np.nan,
                median_cv_pct=float(np.median(cvs)) if cvs else np.nan)


def calibrator_cv(plates: pd.DataFrame) -> float:
    """CV % of the calibrator's uncalibrated ratio E_T^-Ct_T / E_S^-Ct_S across plates."""
    return _cv(plates.calibrator_raw_ratio)


def icc(data: pd.DataFrame, subject: str, value: str, rater: str | None = None, kind: str = "ICC1") -> float:
    """Intraclass correlation of repeated measurements (single measurement).

    ``ICC1``: one-way random effects, (MSB - MSW) / (MSB + (n0 - 1) MSW), allowing
    unequal numbers of repeats (n0 = (N - sum n_i^2 / N) / (k - 1); n0 = n when
    balanced), as pingouin's ICC(1,1) for balanced data. ``ICC2``: two-way random effects,
    absolute agreement, (MSR - MSE) / (MSR + (k - 1) MSE + k (MSC - MSE) / n) with
    ``rater`` (e.g. plate or run order; pingouin's ICC(A,1)); needs every subject rated by every rater
    (subjects lacking a rater are left out). Subjects measured once are left out of ICC1.
    """
    d = data[[subject, value] + ([rater] if rater else [])].dropna()
    if kind == "ICC1":
        groups = [g.to_numpy(float) for _, g in d.groupby(subject)[value] if len(g) > 1]
        k = len(groups)
        if k < 2:
            return np.nan
        n_i = np.array([len(g) for g in groups])
        big_n = n_i.sum()
        grand = np.concatenate(groups).mean()
        msb = sum(len(g) * (g.mean() - grand) ** 2 for g in groups) / (k - 1)
        msw = sum(((g - g.mean()) ** 2).sum() for g in groups) / (big_n - k)
        n0 = (big_n - (n_i ** 2).sum() / big_n) / (k - 1)
        return float((msb - msw) / (msb + (n0 - 1) * msw))
    if kind == "ICC2":
        if rater is None:
            raise ValueError("ICC2 needs the rater column (plate or run order)")
        wide = d.pivot_table(index=subject, columns=rater, values=value, aggfunc="mean").dropna()
        y = wide.to_numpy(float)
        n, k = y.shape
        if n < 2 or k < 2:
            return np.nan
        grand = y.mean()
        msr = k * ((y.mean(axis=1) - grand) ** 2).sum() / (n - 1)
        msc = n * ((y.mean(axis=0) - grand) ** 2).sum() / (k - 1)
        resid = y - y.mean(axis=1, keepdims=True) - y.mean(axis=0, keepdims=True) + grand
        mse = (resid ** 2).sum() / ((n - 1) * (k - 1))
        return float((msr - mse) / (msr + (k - 1) * mse + k * (msc - mse) / n))
    raise ValueError(f"unknown ICC kind {kind!r}; use ICC1 or ICC2")


# --------------------------------------------------------------------------- analysis scale
def per_participant(runs: pd.DataFrame, name: str, cohort: str | None = None) -> pd.DataFrame:
    """Mean ln ratio over a participant's usable plates -> pseudo_id, [cohort], ``name``."""
    out = runs[runs.ln_ratio.notna()].groupby("pseudo_id", sort=True).ln_ratio.mean().rename(name).reset_index()
    if cohort is not None:
        out.insert(1, "cohort", cohort)
    return out


def zscore(values) -> np.ndarray:
    """(x - mean) / SD (ddof 1) over the non-missing values; apply within a cohort."""
    values = np.asarray(values, float)
    return (values - np.nanmean(values)) / np.nanstd(values, ddof=1)


def percent_difference(beta, base: float = np.e):
    """Percent difference in the ratio per unit of a coefficient on log_base(ratio): 100 (base^beta - 1)."""
    return 100.0 * (np.power(base, np.asarray(beta, float)) - 1.0)
