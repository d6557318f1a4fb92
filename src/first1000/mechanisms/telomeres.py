"""Telomere length by qPCR: T/S ratio from Ct values, normalised per plate.

For each sample and target the replicate Ct values are averaged; a sample whose
replicates of either target have an SD above ``replicate_ct_sd_max`` fails QC and is
excluded (counted in the QC table). dCt = Ct(telomere) - Ct(single-copy gene); with the
inter-run calibrator on the same plate, T/S = 2^-(dCt_sample - dCt_calibrator) (Cawthon
2002, Nucleic Acids Res 30:e47; amplification efficiency taken as 2). Analyses use
ln T/S. A participant measured on several plates gets the mean of ln T/S.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def ts_ratio(ct_telomere_sample, ct_single_sample, ct_telomere_cal, ct_single_cal, efficiency=(2.0, 2.0)):
    """T/S ratio relative to the calibrator (Pfaffl 2001 when efficiencies differ from 2).

    T/S = E_T^(Ct_T,cal - Ct_T,s) / E_S^(Ct_S,cal - Ct_S,s).
    """
    e_t, e_s = efficiency
    return np.power(e_t, np.subtract(ct_telomere_cal, ct_telomere_sample)) / np.power(
        e_s, np.subtract(ct_single_cal, ct_single_sample))


def prepare(tables: dict[str, pd.DataFrame], settings: dict):
    sd_max = settings["replicate_ct_sd_max"]
    frames, qc = [], []
    for cohort, wells in tables.items():
        wells = wells.copy()
        wells["sample_key"] = np.where(wells.is_calibrator, "calibrator", wells.pseudo_id)
        stats = wells.groupby(["plate", "sample_key", "target"]).ct.agg(["mean", "std", "count"]).unstack("target")
        failed = (stats["std"] > sd_max).any(axis=1) | stats["mean"].isna().any(axis=1)
        mean = stats["mean"]
        cal = mean.xs("calibrator", level="sample_key")
        cal_ok = ~failed.xs("calibrator", level="sample_key")
        samples = mean.drop(index="calibrator", level="sample_key")
        sample_failed = failed.drop(index="calibrator", level="sample_key")
        plate = samples.index.get_level_values("plate")
        cal_on_plate = cal.reindex(plate)
        ts = ts_ratio(samples["telomere"].to_numpy(), samples["single_copy"].to_numpy(),
                      cal_on_plate["telomere"].to_numpy(), cal_on_plate["single_copy"].to_numpy())
        usable = ~sample_failed.to_numpy() & cal_ok.reindex(plate).to_numpy()
        per_run = pd.DataFrame({"pseudo_id": samples.index.get_level_values("sample_key"),
                                "ln_ts": np.log(ts)})[usable]
        per_person = per_run.groupby("pseudo_id", sort=True).ln_ts.mean().rename("telomere_ts_ln").reset_index()
        per_person.insert(1, "cohort", cohort)
        frames.append(per_person)
        cal_dct = (cal["telomere"] - cal["single_copy"])
        for p in sorted(cal.index):
            on_plate = plate == p
            qc.append(dict(
                cohort=cohort, plate=p, calibrator_dct=float(cal_dct[p]),
                calibrator_passed_qc=bool(cal_ok[p]), n_samples=int(on_plate.sum()),
                n_failed_replicate_qc=int(sample_failed.to_numpy()[on_plate].sum()),
                # Inter-assay variation of the raw calibrator signal 2^-dCt across plates.
                calibrator_cv_pct_cohort=float(100 * np.std(2.0 ** -cal_dct, ddof=1) / np.mean(2.0 ** -cal_dct)),
            ))
    return pd.concat(frames, ignore_index=True), pd.DataFrame(qc)
