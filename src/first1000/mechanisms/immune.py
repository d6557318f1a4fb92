"""Immune markers: IL-6, IL-1β, CRP and NK-cell activity on the log scale, CD4/CD8 as a log ratio.

Values below detection (text codes such as ``<LOD``, and numeric values at or below the
marker's declared LOD, as labs report an assay floor) become LOD/sqrt(2), and the share
below detection is reported per marker (IL-1β is often below detection in pregnancy
serum); a marker with more than ``lod_max_pct`` % (default 50) below is analysed as
detected / not detected only (``{marker}_detected``). A pile-up of more than
``pile_up_pct`` % (default 10) of a marker's measured values at one single value (an
assay floor reported as a number, a fill-in value) is reported in the QC table's
``warning``, whether or not a LOD was declared. A CRP above
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

from first1000.mechanisms._markers import (PILE_UP_PCT, marker_qc, numeric_below_limit, pile_up, pile_up_warning,
                                           substitute_below_limit, wide_ln)

#: The QC figure of this mechanism (first1000.figures.qc.QC_FIGURES).
QC_FIGURE = "below_limit_bars"

#: Default of ``lod_max_pct``: a marker with more of its values below the LOD is analysed
#: as detected / not detected only (``{marker}_detected``). Cytokines such as IL-1β are
#: often 20-40 % below detection in pregnancy serum; LOD/sqrt(2) stays acceptable up to
#: about half (Hornung & Reed 1990; Lubin et al. 2004, Environ Health Perspect 112:1691).
LOD_MAX_PCT = 50.0

#: Flag column of the CRP sensitivity exclusion in the prepared table.
CRP_FLAG = "crp_above_limit"

#: Share (%) of CRP values above ``crp_exclusion_mg_l`` beyond which the QC table warns: CRP
#: rises through pregnancy (third-trimester medians of about 5-8 mg/L), so a limit set for
#: non-pregnant adults can leave out many women without an acute infection.
CRP_HIGH_SHARE_PCT = 20.0


def sensitivity_analyses(settings: dict) -> list[dict]:
    limit = settings.get("crp_exclusion_mg_l")
    if limit is None:
        return []
    return [dict(name=f"crp_le_{limit:g}",
                 description=f"excluding participants with CRP > {limit:g} mg/L (acute infection or inflammation)",
                 exclude=CRP_FLAG)]


def _below_declared_limits(long: pd.DataFrame, lod: dict) -> pd.DataFrame:
    """Numeric values at or below a marker's declared LOD are below the LOD, as text codes are."""
    below = long.below_limit.to_numpy(bool).copy()
    markers = long.marker.to_numpy()
    values = long.value.to_numpy(float)
    for marker, limit in lod.items():
        rows = markers == marker
        below[rows] = numeric_below_limit(values[rows], below[rows], limit)
    return long.assign(below_limit=below)


def prepare(tables: dict[str, pd.DataFrame], settings: dict):
    limit = settings.get("crp_exclusion_mg_l")
    lod = settings.get("lod", {})
    max_pct = float(settings.get("lod_max_pct", LOD_MAX_PCT))
    pile_pct = float(settings.get("pile_up_pct", PILE_UP_PCT))
    frames, qc = [], []
    for cohort, long in tables.items():
        long = _below_declared_limits(long, lod)
        piles = {marker: pile_up(group.value, group.below_limit, pile_up_pct=pile_pct)
                 for marker, group in long.groupby("marker", sort=True)}
        long = substitute_below_limit(long, lod, "immune")
        table = marker_qc(long, cohort)
        rules = np.where(table.n_below_lod == 0, "none",
                         np.where(table.pct_below_lod <= max_pct, "lod_sqrt2", "detected_binary"))
        table["rule"] = rules
        table["lod"] = table.marker.map(lod).astype(float)
        for column in ("n_at_one_value", "pct_at_one_value", "pile_up"):
            table[column] = [piles[m][column] for m in table.marker]
        table["warning"] = [pile_up_warning("immune", m, piles[m], m in lod) for m in table.marker]
        binary = set(table.marker[rules == "detected_binary"])
        wide = wide_ln(long[~long.marker.isin(binary)], cohort).rename(columns={"cd4_cd8_ratio_ln": "cd4_cd8_ln_ratio"})
        if binary:  # every participant of the cohort, also those measured only on a detected/not-detected marker
            everyone = pd.DataFrame({"pseudo_id": np.sort(long.pseudo_id.unique()), "cohort": cohort})
            wide = everyone.merge(wide.drop(columns="cohort"), on="pseudo_id", how="left")
        for marker in sorted(binary):  # more than lod_max_pct % below the LOD: detected / not detected only
            rows = long[long.marker == marker].set_index("pseudo_id")
            detected = np.where(rows.below_limit, 0.0, np.where(rows.value.isna(), np.nan, 1.0))
            wide[f"{marker}_detected"] = pd.Series(detected, index=rows.index).reindex(wide.pseudo_id).to_numpy()
        if limit is not None:
            crp = long[long.marker == "crp"].set_index("pseudo_id").value
            above = crp.reindex(wide.pseudo_id).to_numpy() > limit  # missing CRP: not excluded
            wide[CRP_FLAG] = above
            is_crp = (table.marker == "crp").to_numpy()
            table["n_above_limit"] = np.where(is_crp, int(above.sum()), np.nan)
            table["pct_above_limit"] = np.where(is_crp, 100 * above.sum() / max(int(crp.notna().sum()), 1), np.nan)
            table["exclusion_limit"] = np.where(is_crp, limit, np.nan)
            if crp.notna().any() and 100 * above.sum() / int(crp.notna().sum()) > CRP_HIGH_SHARE_PCT:
                text = (f"warning: more than {CRP_HIGH_SHARE_PCT:g}% of CRP values exceed the exclusion limit of "
                        f"{limit:g} mg/L, which the sensitivity analysis leaves out; CRP runs high in pregnancy, so "
                        "consider a higher `preparation.immune.crp_exclusion_mg_l` for a pregnant cohort")
                table["warning"] = [f"{w}; {text}" if c and w else (text if c else w)
                                    for w, c in zip(table["warning"], is_crp)]
        frames.append(wide)
        qc.append(table)
    return pd.concat(frames, ignore_index=True), pd.concat(qc, ignore_index=True)
