"""Candidate-gene DNA methylation: beta values to M-values.

M = log2(beta / (1 - beta)) (Du et al. 2010, BMC Bioinformatics 11:587); tests run on M,
which is closer to homoscedastic than beta. Betas of exactly 0 or 1 are clipped to
[1e-6, 1 - 1e-6] so M stays finite (counted in the QC table).

Methylation differs between blood cell types and between array batches: the cell-type
proportions and the batch named in ``covariates`` (harmonised variables) are added to the
models of each cohort that gives them (:func:`optional_covariates`), in the association
models of the candidate CpGs and in the epigenome-wide analysis.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

#: The QC figure of this mechanism (first1000.figures.qc.QC_FIGURES).
QC_FIGURE = "cpg_summary"

BETA_EPS = 1e-6


def optional_covariates(settings: dict) -> list[str]:
    """Cell-type proportions and array batch, added where a cohort gives them."""
    return list(settings.get("covariates", []))


def m_values(beta):
    beta = np.clip(np.asarray(beta, float), BETA_EPS, 1 - BETA_EPS)
    return np.log2(beta / (1 - beta))


def prepare(tables: dict[str, pd.DataFrame], settings: dict):
    frames, qc = [], []
    for cohort, wide in tables.items():
        cpgs = [c for c in wide.columns if c != "pseudo_id"]
        out = pd.DataFrame({"pseudo_id": wide.pseudo_id, "cohort": cohort})
        for cpg in cpgs:
            beta = wide[cpg].to_numpy(float)
            out[f"{cpg}_m"] = m_values(beta)
            ok = ~np.isnan(beta)
            qc.append(dict(cohort=cohort, cpg=cpg, n=int(ok.sum()), mean_beta=float(np.nanmean(beta)),
                           sd_beta=float(np.nanstd(beta, ddof=1)), n_missing=int((~ok).sum()),
                           n_clipped=int(((beta <= 0) | (beta >= 1)).sum())))
        frames.append(out)
    return pd.concat(frames, ignore_index=True), pd.DataFrame(qc)
