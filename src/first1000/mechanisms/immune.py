"""Immune markers: IL-6 and CRP on the log scale, CD4/CD8 as a log ratio.

Values below detection become LOD/sqrt(2) and the share below detection is reported.
"""

from __future__ import annotations

import pandas as pd

from first1000.mechanisms._markers import marker_qc, substitute_below_limit, wide_ln


def prepare(tables: dict[str, pd.DataFrame], settings: dict):
    frames, qc = [], []
    for cohort, long in tables.items():
        long = substitute_below_limit(long, settings["lod"], "immune")
        wide = wide_ln(long, cohort).rename(columns={"cd4_cd8_ratio_ln": "cd4_cd8_ln_ratio"})
        frames.append(wide)
        qc.append(marker_qc(long, cohort))
    return pd.concat(frames, ignore_index=True), pd.concat(qc, ignore_index=True)
