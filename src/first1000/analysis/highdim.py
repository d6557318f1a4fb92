"""High-dimensional mediation, per cohort: exposure -> any of many candidate mediators -> an
outcome (:func:`first1000.stats.highdim.hima`).

Two kinds of candidate set:

* the CpGs of a cohort's epigenome-wide matrix (:func:`highdim_mediation`, mechanism
  ``methylation``): the participants are those with the matrix, the exposure, the outcome
  and every covariate (the EWAS covariates and the cohort's cell types and batch, as the
  EWAS adjusts, the plate absorbed by demeaning as there when it has at least
  :data:`~first1000.stats.regression.ABSORB_LEVELS` levels); the CpGs are read as M-values
  chunk by chunk (memory: one chunk of at most
  :data:`CHUNK_VALUES` values and the screened CpGs). A CpG with a missing value among
  these participants cannot enter (HIMA needs complete data) and is counted
  (``n_incomplete``);
* the biomarkers of a mechanism's prepared table (:func:`highdim_mediation_biomarkers`,
  e.g. the metabolites): the participants with every candidate the cohort measured, the
  exposure, the outcome and every covariate (complete cases; the path's exposure, outcome
  and covariates are never candidates of it); a candidate the cohort did
  not measure at all, or one that is an exact linear combination of the candidates
  before it (a log ratio of two others), is counted in ``n_incomplete``.

With ``latent_factors`` = K > 0, K latent factors of the candidates (hdmax2's LFMM2
adjustment for unmeasured confounders, :func:`first1000.stats.highdim.latent_factors`)
join the covariates of every step; the ``covariates`` column then ends in
``+latent_factors(K)``. Results are per cohort: the candidates of two cohorts are screened
and selected separately.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from first1000.analysis.epigenome import SmallModelError, ewas_model
from first1000.errors import First1000Error, ModelError
from first1000.io.methylation import read_methylation_chunks
from first1000.privacy import SMALL_MODEL
from first1000.stats.highdim import hima, latent_factors
from first1000.stats.regression import design_matrix

#: The most M-values a chunk of the matrix holds (2^25: 256 MB as float64), so that the
#: memory stays bounded as cohorts grow (``epigenome_wide.chunk_cpgs`` caps it too).
CHUNK_VALUES = 2 ** 25

HIGHDIM_COLUMNS = ["cohort", "mechanism", "exposure", "outcome", "mediator", "a", "a_se", "p_a", "b", "b_se", "p_b",
                   "ab", "ab_se", "p", "q", "p_bonferroni", "selected", "screen_p", "n", "n_candidates",
                   "n_incomplete", "top", "latent_factors", "covariates", "status"]


def _not_numeric(people: pd.DataFrame, exposure: str) -> bool:
    return exposure not in people or not pd.api.types.is_numeric_dtype(people[exposure])


def _status(base: dict, n: int, why: str) -> pd.DataFrame:
    return pd.DataFrame([{**base, "n": n, "status": f"not analysed: {why}"}], columns=HIGHDIM_COLUMNS)


def _run(base: dict, x, y, C, blocks, counts: dict, top, k: int, absorb=None, min_cell: int = 1) -> pd.DataFrame:
    """HIMA (after the latent factors when ``k``) of the candidates ``blocks()`` yields;
    ``absorb``: labels of a factor absorbed by demeaning (the array's plate). Fewer than
    ``min_cell`` participants (config ``privacy.min_cell_size``): not fitted, the row says
    why (its estimates would describe them, :func:`first1000.privacy.hide_small_models`)."""
    if len(y) < min_cell:
        return pd.DataFrame([{**base, "n": len(y), "status": SMALL_MODEL.format(min_cell=min_cell)}],
                            columns=HIGHDIM_COLUMNS)
    try:
        if k:
            C = np.column_stack([C, latent_factors(x, C, blocks, k, absorb=absorb)])
        res = hima(x, blocks(), y, C, top=top, absorb=absorb)
    except ModelError as err:
        return _status(base, len(y), str(err))
    table = res["table"]
    out = table.assign(**base, n=res["n"], n_candidates=counts["candidates"], n_incomplete=counts["incomplete"],
                       top=res["top"], status="ok",
                       ab_se=np.sqrt(table.a ** 2 * table.b_se ** 2 + table.b ** 2 * table.a_se ** 2))
    return out.reindex(columns=HIGHDIM_COLUMNS)


def _base(cohort, mechanism, exposure, outcome, covariates, k) -> dict:
    shown = "+".join([*covariates, *([f"latent_factors({k})"] if k else [])])
    return dict(cohort=cohort, mechanism=mechanism, exposure=exposure, outcome=outcome, covariates=shown,
                latent_factors=int(k))


def highdim_mediation(people: pd.DataFrame, matrix, cohort: str, exposure: str, outcome: str,
                      covariates: list[str], *, top: int | None = None, chunk_cpgs: int = 20000,
                      latent_factors: int = 0, min_cell: int = 1) -> pd.DataFrame:
    """HIMA of ``exposure`` -> CpGs of ``matrix`` (a Parquet file or an ingested matrix,
    :func:`first1000.io.methylation.open_matrix`) -> ``outcome`` in one cohort (one row per
    screened CpG; one row with a ``status`` when the path cannot be analysed)."""
    from first1000.io.methylation import matrix_samples

    samples = matrix_samples(matrix)
    base = _base(cohort, "methylation", exposure, outcome, covariates, latent_factors)
    with_outcome = people[people[outcome].notna()] if outcome in people else people.iloc[:0]
    if _not_numeric(people, exposure):
        return _status(base, 0, f"the exposure {exposure} is not numeric (code a categorical exposure as 0/1 "
                                "indicators)")
    try:
        # the plate (one per ~96 samples) absorbed as in the EWAS: as dummy columns it made
        # every step grow with n x plates^2 (#19)
        design, absorb = ewas_model(with_outcome, cohort, exposure, covariates, samples, min_cell)
    except SmallModelError as err:  # its message gives no count; the row shows n as every small model's does
        return pd.DataFrame([{**base, "n": err.n, "status": SMALL_MODEL.format(min_cell=min_cell)}],
                            columns=HIGHDIM_COLUMNS)
    except First1000Error as err:
        return _status(base, 0, str(err))
    y = with_outcome.drop_duplicates("pseudo_id").set_index("pseudo_id").loc[design.index, outcome].to_numpy(float)
    x = design[exposure].to_numpy(float)
    C = design.drop(columns=["Intercept", exposure]).to_numpy(float)
    absorb = None if absorb is None else absorb.to_numpy()
    counts = {"candidates": 0, "incomplete": 0}

    # chunks of at most CHUNK_VALUES M-values, whatever the number of participants
    per_chunk = max(64, min(int(chunk_cpgs), CHUNK_VALUES // max(len(y), 1)))

    def blocks():
        counts.update(candidates=0, incomplete=0)  # every pass reads the same CpGs
        for chunk in read_methylation_chunks(matrix, list(design.index), chunk_cpgs=per_chunk):
            values = chunk.m_values  # CpGs x samples
            complete = np.isfinite(values).all(axis=1)
            counts["candidates"] += values.shape[0]
            counts["incomplete"] += int((~complete).sum())
            if complete.all():  # no copy of the chunk (most are complete)
                yield chunk.cpgs, values.T
            else:
                yield chunk.cpgs[complete], values[complete].T

    return _run(base, x, y, C, blocks, counts, top, latent_factors, absorb, min_cell)


def highdim_mediation_biomarkers(people: pd.DataFrame, mechanism: str, candidates: list[str], cohort: str,
                                 exposure: str, outcome: str, covariates: list[str], *, top: int | None = None,
                                 latent_factors: int = 0, min_cell: int = 1) -> pd.DataFrame:
    """HIMA of ``exposure`` -> the biomarkers ``candidates`` (columns of ``people``, the
    participants joined with the mechanism's prepared table) -> ``outcome`` in one cohort."""
    base = _base(cohort, mechanism, exposure, outcome, covariates, latent_factors)
    if _not_numeric(people, exposure):
        return _status(base, 0, f"the exposure {exposure} is not numeric (code a categorical exposure as 0/1 "
                                "indicators)")
    data = people[people.cohort == cohort]
    # the path's own variables are never candidates of it (a biomarker as the outcome)
    candidates = [c for c in candidates if c not in {exposure, outcome, *covariates}]
    measured = [c for c in candidates if c in data and data[c].notna().any()]
    counts = {"candidates": len(candidates), "incomplete": len(candidates) - len(measured)}
    used = [exposure, outcome, *covariates]
    absent = [v for v in used if v not in data]
    if absent or not measured:
        return _status(base, 0, f"{absent[0]} is not measured in this cohort" if absent else
                       f"no candidate of {mechanism} is measured in this cohort")
    complete = data.dropna(subset=[*used, *measured])
    if 0 < len(complete) < min_cell:  # a count below the threshold is not written into the status either
        return pd.DataFrame([{**base, "n": len(complete), "status": SMALL_MODEL.format(min_cell=min_cell)}],
                            columns=HIGHDIM_COLUMNS)
    if len(complete) < len(used) + 4:
        return _status(base, len(complete), f"only {len(complete)} participants have every candidate and model "
                                            "variable")
    x_design, names = design_matrix(complete, [exposure, *covariates])
    x = complete[exposure].to_numpy(float)
    C = np.delete(x_design, [0, names.index(exposure)], axis=1)
    M = complete[measured].to_numpy(float)
    # a candidate that is an exact linear combination of earlier ones (a log ratio of two
    # others) cannot enter the joint outcome model beside them
    centred = M - M.mean(axis=0)
    r = np.abs(np.diag(np.linalg.qr(centred, mode="r"))) if len(M) >= M.shape[1] else np.ones(M.shape[1])
    independent = r > 1e-8 * np.maximum(np.linalg.norm(centred, axis=0), 1e-300)
    counts["incomplete"] += int((~independent).sum())
    measured = [c for c, keep in zip(measured, independent) if keep]
    M = M[:, independent]
    y = complete[outcome].to_numpy(float)

    def blocks():
        yield np.asarray(measured, dtype=object), M

    return _run(base, x, y, C, blocks, counts, top, latent_factors, min_cell=min_cell)
