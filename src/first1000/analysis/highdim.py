"""High-dimensional mediation over a cohort's epigenome-wide matrix: exposure -> any of the
CpGs -> a later outcome (:func:`first1000.stats.highdim.hima`), per cohort.

The participants are those with the matrix, the exposure, the outcome and every covariate
(the EWAS covariates and the cohort's cell types and batch, as the EWAS adjusts); the
candidates are the matrix's CpGs as M-values, read chunk by chunk (memory: one chunk and
the screened CpGs). A CpG with a missing value among these participants cannot enter
(HIMA needs complete data) and is counted. Results are per cohort: the CpGs of two
cohorts' arrays are screened and selected separately.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from first1000.analysis.epigenome import ewas_design
from first1000.errors import First1000Error, ModelError
from first1000.io.methylation import read_methylation_chunks
from first1000.stats.highdim import hima

HIGHDIM_COLUMNS = ["cohort", "exposure", "outcome", "mediator", "a", "a_se", "p_a", "b", "b_se", "p_b", "ab", "ab_se",
                   "p", "q", "p_bonferroni", "selected", "screen_p", "n", "n_candidates", "n_incomplete", "top",
                   "covariates", "status"]


def highdim_mediation(people: pd.DataFrame, matrix, cohort: str, exposure: str, outcome: str,
                      covariates: list[str], *, top: int | None = None, chunk_cpgs: int = 20000) -> pd.DataFrame:
    """HIMA of ``exposure`` -> CpGs of ``matrix`` -> ``outcome`` in one cohort (one row per
    screened CpG; one row with a ``status`` when the path cannot be analysed)."""
    import pyarrow.parquet as pq

    samples = [c for c in pq.ParquetFile(matrix).schema_arrow.names if c != "cpg"]
    base = dict(cohort=cohort, exposure=exposure, outcome=outcome, covariates="+".join(covariates))
    with_outcome = people[people[outcome].notna()] if outcome in people else people.iloc[:0]
    if exposure not in people or not pd.api.types.is_numeric_dtype(people[exposure]):
        return pd.DataFrame([{**base, "n": 0, "status": f"not analysed: the exposure {exposure} is not numeric "
                              "(code a categorical exposure as 0/1 indicators)"}], columns=HIGHDIM_COLUMNS)
    try:
        design = ewas_design(with_outcome, cohort, exposure, covariates, samples)
    except First1000Error as err:
        return pd.DataFrame([{**base, "n": 0, "status": f"not analysed: {err}"}], columns=HIGHDIM_COLUMNS)
    y = with_outcome.drop_duplicates("pseudo_id").set_index("pseudo_id").loc[design.index, outcome].to_numpy(float)
    x = design[exposure].to_numpy(float)
    C = design.drop(columns=["Intercept", exposure]).to_numpy(float)
    counts = {"candidates": 0, "incomplete": 0}

    def chunks():
        for chunk in read_methylation_chunks(matrix, list(design.index), chunk_cpgs=chunk_cpgs):
            values = chunk.m_values  # CpGs x samples
            complete = np.isfinite(values).all(axis=1)
            counts["candidates"] += values.shape[0]
            counts["incomplete"] += int((~complete).sum())
            yield chunk.cpgs[complete], values[complete].T

    try:
        res = hima(x, chunks(), y, C, top=top)
    except ModelError as err:
        return pd.DataFrame([{**base, "n": len(y), "status": f"not analysed: {err}"}], columns=HIGHDIM_COLUMNS)
    table = res["table"]
    out = table.assign(**base, n=res["n"], n_candidates=counts["candidates"], n_incomplete=counts["incomplete"],
                       top=res["top"], status="ok",
                       ab_se=np.sqrt(table.a ** 2 * table.b_se ** 2 + table.b ** 2 * table.a_se ** 2))
    return out.reindex(columns=HIGHDIM_COLUMNS)
