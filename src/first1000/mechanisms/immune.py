"""Immune markers: IL-6, IL-1β, CRP and NK-cell activity on the log scale, CD4/CD8 as a log ratio.

Values below detection become LOD/sqrt(2) and the share below detection is reported per
marker (IL-1β is often below detection in pregnancy serum). A CRP above
``crp_exclusion_mg_l`` (default 10 mg/L) points to an acute infection or inflammation
rather than low-grade inflammation (Pearson et al. 2003, Circulation 107:499): those
participants are flagged (``crp_above_limit``) and the sensitivity analysis
(:func:`sensitivity_analyses`) re-fits every immune model without them. CMV serostatus,
which reshapes T- and NK-cell phenotypes, is a harmonised participant variable
(``cmv_seropositive``) for effect modification (stratified estimates).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from first1000.mechanisms._markers import marker_qc, substitute_below_limit, wide_ln

#: The QC figure of this mechanism (first1000.figures.qc.QC_FIGURES).
QC_FIGURE = "below_limit_bars"

#: Flag column of the CRP sensitivity exclusion in the prepared table.
CRP_FLAG = "crp_above_limit"


def sensitivity_analyses(settings: dict) -> list[dict]:
    limit = settings.get("crp_exclusion_mg_l")
    if limit is None:
        return []
    return [dict(name=f"crp_le_{limit:g}",
                 description=f"excluding participants with CRP > {limit:g} mg/L (acute infection or inflammation)",
                 exclude=CRP_FLAG)]


def prepare(tables: dict[str, pd.DataFrame], settings: dict):
    frames, qc = [], []
    limit = settings.get("crp_exclusion_mg_l")
    for cohort, long in tables.items():
        long = substitute_below_limit(long, settings["lod"], "immune")
        wide = wide_ln(long, cohort).rename(columns={"cd4_cd8_ratio_ln": "cd4_cd8_ln_ratio"})
        table = marker_qc(long, cohort)
        if limit is not None:
            crp = long[long.marker == "crp"].set_index("pseudo_id").value
            above = crp.reindex(wide.pseudo_id).to_numpy() > limit  # missing CRP: not excluded
            wide[CRP_FLAG] = above
            is_crp = (table.marker == "crp").to_numpy()
            table["n_above_limit"] = np.where(is_crp, int(above.sum()), np.nan)
            table["pct_above_limit"] = np.where(is_crp, 100 * above.sum() / max(int(crp.notna().sum()), 1), np.nan)
            table["exclusion_limit"] = np.where(is_crp, limit, np.nan)
        frames.append(wide)
        qc.append(table)
    return pd.concat(frames, ignore_index=True), pd.concat(qc, ignore_index=True)
