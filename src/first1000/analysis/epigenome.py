"""The epigenome-wide analysis: the engine run end to end on a matrix file (:func:`ewas`),
or in shards of CpGs fitted separately and moderated together.

Scatter/gather as limma needs it: each shard fits its CpGs (:func:`fit_shard`, stage a of
:mod:`first1000.stats.ewas`); the gather step estimates the empirical-Bayes prior from
*all* shards' residual variances and only then moderates (:func:`gather`), so 1 shard or
50 give identical results. The design is the harmonised participants of one cohort:
intercept, the exposure and the covariates (categorical ones dummy-coded), complete cases.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from first1000.errors import First1000Error, ModelError
from first1000.io.methylation import BufferPool, annotate, fresh, iter_chunks, matrix_rows
from first1000.io.methylation import prefetch as prefetch_chunks
from first1000.stats.ewas import (
    EwasResult,
    design_arrays,
    ewas_fit,
    ewas_from_chunks,
    ewas_summary,
    fit_prior,
    moderate,
    multiple_testing,
)
from first1000.stats.regression import absorbed_factor, design_matrix

ARRAY_THRESHOLDS = {"450K": 2.4e-7, "EPIC": 9e-8}  # Saffari 2018; Mansell 2019
#: Values (CpGs x samples) per chunk of a shard job at most: 256 MB per float64 copy.
MAX_CHUNK_VALUES = 2**25


def ewas_model(participants: pd.DataFrame, cohort: str, exposure: str, covariates: list[str],
               samples: list[str], min_cell: int = 1) -> tuple[pd.DataFrame, pd.Series | None]:
    """The design of :func:`ewas_design` without the factor absorbed by demeaning: a
    categorical covariate with at least :data:`~first1000.stats.regression.ABSORB_LEVELS`
    levels (the array's plate: one per ~96 samples) leaves the design and is returned as
    labels per sample (None when there is none), for the engine's ``absorb`` (#19).
    Fewer than ``min_cell`` complete participants: :class:`~first1000.errors.SmallModelError`
    (:func:`check_min_cell`), before any message could give their count."""
    return _design(participants, cohort, exposure, covariates, samples, absorb=True, min_cell=min_cell)


def ewas_design(participants: pd.DataFrame, cohort: str, exposure: str, covariates: list[str],
                samples: list[str]) -> pd.DataFrame:
    """Design (index = pseudonymous sample IDs, in matrix order) on complete cases, every
    categorical covariate dummy-coded."""
    return _design(participants, cohort, exposure, covariates, samples, absorb=False)[0]


#: Columns of an EWAS fit (shard or candidate table) that are statistics of a CpG's samples.
_CPG_STATISTICS = ("sigma2", "coef", "stdev_unscaled", "se", "t", "p", "coef_beta", "se_beta",
                   "s2_post", "se_moderated", "t_moderated", "df_total", "p_moderated", "fdr", "bonferroni")


def check_min_cell(design: pd.DataFrame, cohort: str, exposure: str, min_cell: int) -> None:
    """privacy.min_cell_size for an epigenome-wide analysis: on fewer newborns every CpG's
    estimate would describe them, so the run stops before fitting (as for too few for the
    model), saying how to go on."""
    if len(design) < min_cell:
        _too_few(cohort, exposure, min_cell, len(design))


class SmallModelError(First1000Error):
    """Fewer participants than privacy.min_cell_size for an epigenome-wide model; the
    message gives no count, ``n`` holds it for a table's ``n`` column (as the other
    models' small-model rows show it, :func:`first1000.privacy.hide_small_models`)."""

    def __init__(self, message: str, n: int):
        super().__init__(message)
        self.n = n


def _too_few(cohort: str, exposure: str, min_cell: int, n: int):
    raise SmallModelError(
        f"epigenome-wide analysis of {exposure} in cohort {cohort}: fewer than privacy.min_cell_size ({min_cell}) "
        "participants have the methylation matrix and every model variable; estimates on so few would describe "
        "them. Leave the cohort's methylation_matrix out of its tables, or lower privacy.min_cell_size if your "
        "data protection rules allow it.", n)


def hide_small_cpgs(fit: pd.DataFrame, min_cell: int) -> pd.DataFrame:
    """A CpG fitted on fewer than ``min_cell`` samples (after outlier removal or missing
    values) keeps its ``n`` but no estimate, and the status ``too_few_samples``: it is left
    out of the prior, the FDR and the meta-analysis like a CpG with no residual df."""
    small = (pd.to_numeric(fit["n"], errors="coerce") < min_cell).to_numpy(dtype=bool)
    if not small.any():
        return fit
    fit = fit.copy()
    columns = [c for c in _CPG_STATISTICS if c in fit]
    fit.loc[small, columns] = np.nan
    if "df_residual" in fit:  # no residual df: out of the prior (an integer column stays integer)
        fit.loc[small, "df_residual"] = 0
    fit.loc[small, "status"] = "too_few_samples"
    return fit


def _design(participants, cohort, exposure, covariates, samples, absorb: bool, min_cell: int = 1):
    people = participants[(participants.cohort == cohort) & participants.pseudo_id.isin(samples)]
    present = set(people.pseudo_id)  # once: a set per sample made this O(n²) (#19)
    people = people.set_index("pseudo_id").reindex([s for s in samples if s in present])
    used = [exposure, *covariates]
    complete = people[used].dropna()
    if len(complete):  # before the model's own check, whose message gives the count
        check_min_cell(complete, cohort, exposure, min_cell)
    if len(complete) < len(used) + 2:
        raise First1000Error(
            f"epigenome-wide analysis of {exposure} in cohort {cohort}: only {len(complete)} participants "
            f"have the methylation matrix and every model variable ({', '.join(used)}); need more than {len(used) + 1}.")
    factor = absorbed_factor(complete, covariates) if absorb else None
    matrix, names = design_matrix(complete.reset_index(), [v for v in used if v != factor])
    design = pd.DataFrame(matrix, index=complete.index, columns=names)
    return design, (complete[factor].astype(str) if factor is not None else None)


def ewas(
    source,
    design,
    terms,
    *,
    chunk_cpgs: int = 20000,
    scale: str = "beta",
    remove_outliers: bool = False,
    outlier_k: float = 3.0,
    beta_difference: bool = False,
    cpg_column: str = "cpg",
    file_format: str | None = None,
    npy_samples: Sequence[str] | None = None,
    npy_cpgs: Sequence | None = None,
    prefetch: bool = False,
    prior_method: str = "trigamma",
) -> EwasResult:
    """Run an EWAS end to end: read chunks, fit, gather, limma eBayes, summaries.

    Parameters
    ----------
    source : path, numpy.ndarray or pandas.DataFrame
        CpG x sample matrix (see :func:`first1000.io.methylation.read_methylation_chunks`).
    design : pandas.DataFrame or array-like
        Numeric design (see :func:`ewas_fit`); a DataFrame's index are the sample IDs
        that pick and order the matrix's columns. An array design needs an array or
        DataFrame source whose columns are already in design order.
    terms : str or sequence of str
        The reported coefficients (e.g. the exposure).
    chunk_cpgs : int, default 20000
        CpGs per chunk (memory ~ a few times chunk_cpgs x n_samples x 8 bytes).
    scale : {"beta", "m"}, default "beta"
        Scale of the stored values; the model is fitted on M-values.
    remove_outliers : bool, default False
        PACE 3*IQR rule (see :func:`iqr_outliers`), applied per CpG on the stored scale
        (beta values in PACE plans) before the conversion to M-values.
    outlier_k : float, default 3
    beta_difference : bool, default False
        Also fit the model on beta values: ``coef_beta``/``se_beta`` (ordinary OLS on the
        beta scale, same samples), the effect size PACE reports.
    cpg_column, file_format, npy_samples, npy_cpgs
        See :func:`first1000.io.methylation.read_methylation_chunks`.
    prefetch : bool, default False
        Read the next chunk in a background thread while fitting the current one. Off by
        default: Arrow already decodes on all cores, and on 2 cores the overlap slowed
        the benchmark; worth trying on slow (network) file systems.
    prior_method : {"trigamma", "unequal_df", "auto"}, default "trigamma"
        How limma's prior is estimated (see :func:`first1000.stats.ewas.fit_prior`).

    Returns
    -------
    first1000.stats.ewas.EwasResult

    Notes
    -----
    Stage a (:func:`ewas_fit`) runs per chunk; stage b (:func:`fit_prior`) on the gathered
    variances of all CpGs; stage c (:func:`moderate`) and :func:`multiple_testing` on all
    CpGs. Running the stages on shards gives bitwise the same table.
    """
    x, names, term_idx, samples = design_arrays(design, terms)
    if samples is None:
        if not isinstance(source, (np.ndarray, pd.DataFrame)):
            raise ModelError("reading a file needs a design DataFrame indexed by sample ID")
        if isinstance(source, pd.DataFrame):
            npy_cpgs = list(source.index) if npy_cpgs is None else npy_cpgs
            source = source.to_numpy(dtype=np.float64)
        samples = [f"s{j}" for j in range(x.shape[0])]  # positional, for the array reader
        if np.asarray(source).shape[1] != x.shape[0]:
            raise ModelError(
                f"the matrix has {np.asarray(source).shape[1]} columns but the design has "
                f"{x.shape[0]} rows"
            )
    want_beta = beta_difference or (remove_outliers and scale == "beta")
    if isinstance(chunk_cpgs, (int, np.integer)) and not isinstance(chunk_cpgs, bool):
        per_chunk = 2 if want_beta else 1
        pool = BufferPool(x.shape[0] * max(int(chunk_cpgs), 1), (3 if prefetch else 1) * per_chunk)
        alloc = pool.alloc
    else:
        pool, alloc = None, fresh  # iter_chunks raises the error
    chunks = iter_chunks(source, samples, chunk_cpgs, scale, want_beta, cpg_column, file_format, npy_samples,
                         npy_cpgs, alloc)
    if prefetch:
        chunks = prefetch_chunks(chunks)
    try:
        return ewas_from_chunks(chunks, x, names, term_idx, remove_outliers=remove_outliers, outlier_k=outlier_k,
                                outliers_on_beta=scale == "beta", beta_difference=beta_difference,
                                prior_method=prior_method, release=pool.release if pool is not None else None)
    finally:
        if pool is not None:
            pool.close()
        chunks.close()


def shard_rows(n_rows: int, shard: int, shards: int) -> tuple[int, int]:
    return n_rows * shard // shards, n_rows * (shard + 1) // shards


def fit_shard(matrix_path, design: pd.DataFrame, exposure: str, shard: int, shards: int, *,
              chunk_cpgs: int = 20000, remove_outliers: bool = True, outlier_k: float = 3.0,
              absorb: pd.Series | None = None) -> pd.DataFrame:
    """Stage a for the CpGs of one shard (a contiguous block of rows of the matrix: a
    Parquet file or an ingested matrix, :func:`first1000.io.methylation.open_matrix`);
    ``absorb``: the factor absorbed by demeaning (:func:`ewas_model`)."""
    start, stop = shard_rows(matrix_rows(matrix_path), shard, shards)
    fits = []
    # Only the shard's rows are read, in chunks of at most MAX_CHUNK_VALUES values (a chunk
    # of 20,000 CpGs is 80 MB at 500 samples but 7 GB at 44,000): memory is bounded whatever
    # the number of samples, and each CpG's fit does not depend on the chunking.
    chunk_cpgs = max(1, min(chunk_cpgs, MAX_CHUNK_VALUES // max(len(design), 1)))
    # Two buffers (M-values, betas) re-used chunk after chunk: faulting in fresh pages for
    # every chunk took 10% of a shard (#19).
    pool = BufferPool(len(design) * chunk_cpgs, 2)
    chunks = iter_chunks(matrix_path, [str(s) for s in design.index], chunk_cpgs, "beta", True, "cpg", None,
                         None, None, pool.alloc, rows=(start, stop))
    try:
        for cpgs, yt, beta in chunks:
            fits.append(ewas_fit(yt.T, design, [exposure], cpgs=cpgs, beta=beta.T, remove_outliers=remove_outliers,
                                 outlier_k=outlier_k, absorb=absorb, overwrite=True))  # buffers re-filled next
            pool.release(yt)
            pool.release(beta)
    finally:
        pool.close()
        chunks.close()
    if not fits:
        return ewas_fit(np.empty((0, len(design))), design, [exposure], cpgs=[], absorb=absorb)
    return pd.concat(fits, ignore_index=True)


def gather(shards: list[pd.DataFrame], annotation: pd.DataFrame | None, array: str):
    """Stage b (prior from all CpGs) and c (moderation), FDR, summary and annotation."""
    fit = pd.concat(shards, ignore_index=True)
    prior = fit_prior(fit.sigma2.to_numpy(float), fit.df_residual.fillna(0).to_numpy(float))
    table = multiple_testing(moderate(fit, prior))
    threshold = ARRAY_THRESHOLDS.get(array)
    table["array_significant"] = table.p_moderated < threshold if threshold else np.nan
    if annotation is not None:
        table = annotate(table, annotation)
    summary = ewas_summary(table, prior)
    summary["array"] = array
    summary["array_threshold"] = threshold
    return table, summary


def candidate_ewas(biomarkers: pd.DataFrame, participants: pd.DataFrame, cohort: str, exposure: str,
                   covariates: list[str], cpgs: list[str] | None = None, min_cell: int = 1) -> pd.DataFrame:
    """The EWAS engine on a declared set of candidate CpGs (e.g. NR3C1 exon 1F).

    ``biomarkers`` is the prepared methylation table (one row per participant, ``{cpg}_m``
    M-value columns). The same fit, limma moderation and FDR as the epigenome-wide run,
    with FDR controlled within the candidate set. ``min_cell`` (``privacy.min_cell_size``):
    :func:`check_min_cell` and :func:`hide_small_cpgs`.
    """
    columns = [c for c in biomarkers.columns if c.endswith("_m")]
    if cpgs is not None:
        columns = [f"{c}_m" for c in cpgs if f"{c}_m" in biomarkers.columns]
    rows = biomarkers[biomarkers.cohort == cohort].set_index("pseudo_id")[columns]
    values = rows.T
    values.index = [c[: -len("_m")] for c in columns]
    design, absorb = ewas_model(participants, cohort, exposure, covariates, list(rows.index), min_cell)
    fit = hide_small_cpgs(ewas_fit(values[list(design.index)], design, [exposure], cpgs=list(values.index),
                                   absorb=absorb), min_cell)
    prior = fit_prior(fit.sigma2.to_numpy(float), fit.df_residual.fillna(0).to_numpy(float))
    table = multiple_testing(moderate(fit, prior))
    table.insert(0, "cohort", cohort)
    table["df_prior"] = prior.df_prior
    table["s2_prior"] = prior.s2_prior
    return table


META_READ_COLUMNS = ["cpg", "term", "n", "coef", "se_moderated", "status"]


def meta_ewas(tables: dict[str, pd.DataFrame], annotation: pd.DataFrame | None, array: str,
              method: str = "FE") -> tuple[pd.DataFrame, pd.DataFrame]:
    """Meta-analysis of per-cohort EWAS results, CpG by CpG, as the PACE consortium does.

    Each cohort contributes its coefficient on the M-value scale and limma's moderated
    standard error (``se_moderated`` = stdev.unscaled × posterior s, the SE of limma's
    moderated t). They are combined by inverse-variance weighting (``method="FE"``, METAL's
    ``SCHEME STDERR``, the PACE default; ``"REML"`` or ``"DL"`` for random effects) with
    Cochran's Q, I² and the METAL direction string (cohorts in alphabetical order). FDR,
    Bonferroni and the array threshold are applied to the meta p-values (column ``p``).

    Returns the table (one row per CpG and term) and a one-row-per-term summary with λ.
    """
    from first1000.stats.ewas import genomic_inflation
    from first1000.stats.meta import meta_analyse

    cohorts = sorted(tables)
    long = pd.concat([t.reindex(columns=META_READ_COLUMNS).assign(cohort=c) for c, t in tables.items()],
                     ignore_index=True)
    long = long.rename(columns={"coef": "estimate", "se_moderated": "se"})
    meta = meta_analyse(long, by=("cpg", "term"), study="cohort", method=method, study_order=cohorts)
    n = long[long.status == "ok"].groupby(["cpg", "term"], sort=False).n.sum()
    table = pd.DataFrame({
        "cpg": meta.cpg, "term": meta.term,
        "n": n.reindex(pd.MultiIndex.from_frame(meta[["cpg", "term"]])).fillna(0).astype(int).to_numpy(),
        "k": meta.k.astype(int), "method": meta.method, "coef": meta.estimate, "se": meta.se,
        "ci_low": meta.ci_low, "ci_high": meta.ci_high, "z": meta.statistic, "p": meta.p,
        "i2": meta.I2, "q_het": meta.Q, "q_het_p": meta.Q_p, "tau2": meta.tau2, "direction": meta.direction,
        "status": meta.status,
    })
    table = multiple_testing(table, p="p")
    threshold = ARRAY_THRESHOLDS.get(array)
    table["array_significant"] = table.p < threshold if threshold else np.nan
    if annotation is not None:
        table = annotate(table, annotation)
    rows = []
    for term, part in table.groupby("term", sort=False):
        p = part.p.to_numpy(float)
        rows.append({"term": term, "cohorts": "+".join(cohorts), "method": method, "n_cpgs": len(part),
                     "n_tested": int(np.isfinite(p).sum()), "lambda": genomic_inflation(p),
                     "n_fdr_05": int((part.fdr < 0.05).sum()), "n_bonferroni_05": int((part.bonferroni < 0.05).sum()),
                     "median_i2": float(np.nanmedian(part.i2)) if part.i2.notna().any() else np.nan,
                     "n_q_het_p_05": int((part.q_het_p < 0.05).sum()), "array": array,
                     "array_threshold": threshold})
    return table, pd.DataFrame(rows)
