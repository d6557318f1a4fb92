"""NMR metabolites: below-detection values, log, lactate/pyruvate ratio.

Values below the limit of detection become LOD/sqrt(2); the QC table reports the share
below detection per metabolite (above ~20 % substitution is questionable: flagged).
Analyses use ln(umol/L); the lactate/pyruvate ratio is analysed as ln L - ln P.
"""

from __future__ import annotations

import pandas as pd

from first1000.mechanisms._markers import marker_qc, substitute_below_limit, wide_ln

SUBSTITUTION_MAX_PCT = 20.0


def prepare(tables: dict[str, pd.DataFrame], settings: dict):
    frames, qc = [], []
    for cohort, long in tables.items():
        long = substitute_below_limit(long, settings["lod"], "metabolites")
        wide = wide_ln(long, cohort)
        if {"lactate_ln", "pyruvate_ln"} <= set(wide.columns):
            wide["lactate_pyruvate_ln_ratio"] = wide["lactate_ln"] - wide["pyruvate_ln"]
        frames.append(wide)
        table = marker_qc(long, cohort).rename(columns={"median": "median_umol_l"})
        table["substitution_flag"] = table.pct_below_lod > SUBSTITUTION_MAX_PCT
        qc.append(table)
    return pd.concat(frames, ignore_index=True), pd.concat(qc, ignore_index=True)
