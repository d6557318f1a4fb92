"""Telomere length by qPCR: efficiency-corrected T/S ratio, normalised per plate.

The calculation is :mod:`first1000.mechanisms.qpcr` (see its docstring): replicate QC per
plate x sample x target (one outlying replicate of >= 3 may be dropped, otherwise a
sample whose replicates have an SD above ``replicate_ct_sd_max`` fails and is excluded),
the Pfaffl ratio T/S = E_T^(Ct_T,cal - Ct_T,s) / E_S^(Ct_S,cal - Ct_S,s) against the
calibrator on the sample's own plate (Cawthon 2002, Nucleic Acids Res 30:e47; Pfaffl
2001, Nucleic Acids Res 29:e45; E = 2 for both assays unless ``efficiency`` or
``slope`` (E = 10^(-1/slope)) is declared), and per participant the mean ln T/S over
the plates that passed QC. Biomarkers: ``telomere_ts_ln`` and its within-cohort z-score
``telomere_ts_z``.

The QC table has one row per cohort and plate, in run order (the order in which the
plates first appear in the source file): the calibrator's dCt (Ct target - Ct
reference; the calibrator control chart), its uncalibrated ratio, whether it failed
replicate QC, the samples and failures on the plate, and per cohort the intra-assay CV
(replicate quantities per target), the calibrator's inter-assay CV across plates, the
inter-assay CV and ICC(1) of participants measured on several plates.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from first1000.errors import ConfigError
from first1000.mechanisms import qpcr

#: The QC figure of this mechanism (first1000.figures.qc.QC_FIGURES).
QC_FIGURE = "calibrator_control_chart"


def ts_ratio(ct_telomere_sample, ct_single_sample, ct_telomere_cal, ct_single_cal, efficiency=(2.0, 2.0)):
    """T/S ratio relative to the calibrator (Pfaffl 2001 when efficiencies differ from 2).

    T/S = E_T^(Ct_T,cal - Ct_T,s) / E_S^(Ct_S,cal - Ct_S,s).
    """
    return qpcr.relative_quantity(ct_telomere_sample, ct_single_sample, ct_telomere_cal, ct_single_cal,
                                  efficiency)


def efficiencies(settings: dict, targets, mechanism: str):
    """{target: E} from ``efficiency`` or ``slope`` in the settings; None = 2 for both."""
    if settings.get("efficiency") and settings.get("slope"):
        raise ConfigError(f"preparation.{mechanism}: give `efficiency` or `slope`, not both.")
    if settings.get("slope"):
        slopes = settings["slope"]
        out = {t: float(qpcr.efficiency_from_slope(s)) for t, s in slopes.items()}
    elif settings.get("efficiency"):
        out = {t: float(e) for t, e in settings["efficiency"].items()}
    else:
        return None
    unknown = set(out) - set(targets)
    if unknown:
        raise ConfigError(f"preparation.{mechanism}: efficiency of unknown target `{sorted(unknown)[0]}`; the "
                          f"targets are {', '.join(targets)}.")
    lo, hi = qpcr.EFFICIENCY_RANGE
    bad = [t for t, e in out.items() if not lo <= e <= hi]
    if bad:
        raise ConfigError(f"preparation.{mechanism}: amplification efficiency of `{bad[0]}` is {out[bad[0]]:.3g}, "
                          f"outside {lo}-{hi} (E = 10^(-1/slope) is 2 at a slope of -3.32).")
    return out


def prepare_qpcr(tables: dict[str, pd.DataFrame], settings: dict, *, targets, name: str, mechanism: str,
                 kind: str, ratio_column: str = "calibrator_ts"):
    """Ratios of one qPCR assay for every cohort -> (biomarkers, per-plate QC)."""
    sd_max = settings["replicate_ct_sd_max"]
    efficiency = efficiencies(settings, targets, mechanism)
    t, s = targets
    frames, qc = [], []
    for cohort, wells in tables.items():
        wells = wells.reset_index(drop=True)
        runs, plates = qpcr.plate_ratios(wells, targets=targets, efficiency=efficiency, sd_max=sd_max,
                                         where=f"{cohort} {kind}", rule=mechanism)
        person = qpcr.per_participant(runs, f"{name}_ln", cohort)
        with np.errstate(invalid="ignore", divide="ignore"):
            person[f"{name}_z"] = qpcr.zscore(person[f"{name}_ln"]) if len(person) > 1 else np.nan
        frames.append(person)
        replicates = qpcr.replicate_qc(wells, sd_max)
        cal = replicates[replicates.sample_key == "calibrator"].pivot(index="plate", columns="target",
                                                                      values="ct_mean")
        intra = qpcr.intra_assay_cv(wells, efficiency, sd_max).set_index("target")
        inter = qpcr.inter_assay_cv(runs)
        icc = qpcr.icc(runs, "pseudo_id", "ln_ratio")
        order = {p: i + 1 for i, p in enumerate(pd.unique(wells.plate))}
        plates = plates.assign(run_order=plates.plate.map(order)).sort_values("run_order", kind="stable")
        for row in plates.itertuples(index=False):
            dct = float(cal.loc[row.plate, t] - cal.loc[row.plate, s]) if not row.calibrator_failed else np.nan
            qc.append(dict(
                cohort=cohort, plate=row.plate, run_order=int(row.run_order), calibrator_dct=dct,
                **{ratio_column: float(row.calibrator_raw_ratio)}, calibrator_failed=bool(row.calibrator_failed),
                calibrator_passed_qc=not bool(row.calibrator_failed),
                n_samples=int(row.n_samples), n_failed_replicate_qc=int(row.n_failed),
                n_dropped_replicates=int(row.n_dropped_replicates),
                n_single_replicate=int(row.n_single_replicate),
                e_target=float(row.e_target), e_reference=float(row.e_reference),
                calibrator_cv_pct_cohort=qpcr.calibrator_cv(plates),
                intra_cv_pct_target=float(intra.mean_cv_pct.get(t, np.nan)),
                intra_cv_pct_reference=float(intra.mean_cv_pct.get(s, np.nan)),
                n_repeated=int(inter["n_repeated"]), inter_assay_cv_pct=inter["mean_cv_pct"], icc1=icc,
            ))
    return pd.concat(frames, ignore_index=True), pd.DataFrame(qc)


def prepare(tables: dict[str, pd.DataFrame], settings: dict):
    return prepare_qpcr(tables, settings, targets=qpcr.TELOMERE_TARGETS, name="telomere_ts",
                        mechanism="telomeres", kind="telomere_qpcr")
