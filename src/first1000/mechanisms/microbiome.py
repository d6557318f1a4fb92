"""Gut microbiome: filters, zero replacement, CLR and Shannon diversity.

Counts are *wide*: one row per sample (index = pseudo_id, in the source file's row
order, so messages name spreadsheet rows = position + 2), one column per taxon (or
ASV), read counts (relative abundances work too except for the depth filter).

Order of the steps (:func:`prepare_counts`):

1. :func:`filter_depth` -- samples with total counts < ``min_depth`` (default 10,000
   reads) are removed.
2. :func:`filter_prevalence` -- on the samples kept, taxa present (count > 0) in fewer
   than ``min_prevalence`` of them (a fraction, default 0.10) are removed. Both report
   how many samples/taxa went.
3. :func:`replace_zeros` -- declared zero replacement before any log ratio:
   ``"pseudocount"`` adds ``pseudocount`` (e.g. 0.5 or 1) to every count;
   ``"multiplicative"`` is the multiplicative replacement of Martin-Fernandez et al.
   (2003, Math Geol 35:253), as scikit-bio's ``multi_replace``
   (``multiplicative_replacement`` before 0.6): on proportions, zeros become delta
   (default (1/D)^2 for D taxa) and the non-zero parts are shrunk by (1 - delta *
   zeros_in_sample) so each row still sums to 1.
4. :func:`clr` -- ln(x) - mean(ln x) per sample (rows sum to 0).

:func:`shannon` is computed on the filtered counts *before* zero replacement (zeros
contribute 0): H = -sum p ln p with natural logs by default (``base`` to change it;
scikit-bio's default changed from 2 to e in 0.6.1, so state the base). Diversity is
usually computed before the prevalence filter (rare taxa carry diversity):
:func:`prepare_counts` does so.

Negative or non-numeric counts are an :class:`InputTableError` naming the column, the
rule and the rows.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from first1000.errors import ConfigError, InputTableError, format_rows

#: The QC figure of this mechanism (first1000.figures.qc.QC_FIGURES).
QC_FIGURE = "microbiome_filters"


def check_counts(counts: pd.DataFrame, *, where: str = "microbiome", rule: str = "microbiome") -> pd.DataFrame:
    """Counts as floats; missing, non-numeric or negative values are an error."""
    out = {}
    for col in counts.columns:
        raw = counts[col]
        x = pd.to_numeric(raw, errors="coerce").to_numpy(float)
        for bad, problem in ((np.isnan(x), "missing or not a number"), (x < 0, "negative count")):
            if bad.any():
                raise InputTableError(f"{where}, column '{col}', {format_rows(np.flatnonzero(bad) + 2)}: {problem} "
                                      f"(rule: {rule}). Abundance tables need a number >= 0 in every cell "
                                      "(0 for a taxon not seen).")
        out[col] = x
    return pd.DataFrame(out, index=counts.index)


def filter_depth(counts: pd.DataFrame, min_depth: float = 10_000):
    """Drop samples with total counts < ``min_depth``. Returns ``(kept, report)``."""
    depth = counts.sum(axis=1)
    keep = depth >= min_depth
    return counts.loc[keep], dict(min_depth=min_depth, n_samples_in=len(counts),
                                  n_samples_removed=int((~keep).sum()), n_samples_kept=int(keep.sum()))


def filter_prevalence(counts: pd.DataFrame, min_prevalence: float = 0.10):
    """Drop taxa present (> 0) in fewer than ``min_prevalence`` (fraction) of the samples."""
    if not 0 <= min_prevalence <= 1:
        raise ConfigError("microbiome: `min_prevalence` is a fraction between 0 and 1 (0.10 = 10 % of samples).")
    prevalence = (counts > 0).mean(axis=0) if len(counts) else pd.Series(0.0, index=counts.columns)
    keep = prevalence >= min_prevalence
    return counts.loc[:, keep], dict(min_prevalence=min_prevalence, n_taxa_in=counts.shape[1],
                                     n_taxa_removed=int((~keep).sum()), n_taxa_kept=int(keep.sum()))


def closure(x) -> np.ndarray:
    x = np.asarray(x, float)
    return x / x.sum(axis=-1, keepdims=True)


def multiplicative_replacement(x, delta: float | None = None) -> np.ndarray:
    """Martin-Fernandez multiplicative zero replacement on proportions (rows sum to 1)."""
    p = closure(x)
    zeros = p == 0
    d = p.shape[-1]
    if delta is None:
        delta = (1.0 / d) ** 2
    n_zero = zeros.sum(axis=-1, keepdims=True)
    if np.any(n_zero * delta >= 1):
        raise ConfigError("microbiome: multiplicative replacement delta too large for the number of zeros.")
    return np.where(zeros, delta, (1 - n_zero * delta) * p)


def replace_zeros(counts: pd.DataFrame, method: str = "pseudocount", pseudocount: float = 0.5,
                  delta: float | None = None) -> pd.DataFrame:
    """Declared zero replacement: ``pseudocount`` (counts + c) or ``multiplicative`` (proportions)."""
    if method == "pseudocount":
        if not pseudocount > 0:
            raise ConfigError("microbiome: the pseudocount must be above 0 (e.g. 0.5 or 1).")
        return counts.astype(float) + pseudocount
    if method == "multiplicative":
        return pd.DataFrame(multiplicative_replacement(counts.to_numpy(float), delta),
                            index=counts.index, columns=counts.columns)
    raise ConfigError(f"microbiome: unknown zero replacement `{method}`; use `pseudocount` or `multiplicative`.")


def clr(x: pd.DataFrame) -> pd.DataFrame:
    """Centred log-ratio per sample: ln x - mean(ln x). Needs strictly positive values."""
    values = np.asarray(x, float)
    if (values <= 0).any():
        raise ConfigError("microbiome: CLR needs positive values; replace zeros first (`zero_replacement`).")
    logs = np.log(values)
    out = logs - logs.mean(axis=1, keepdims=True)
    if isinstance(x, pd.DataFrame):
        return pd.DataFrame(out, index=x.index, columns=x.columns)
    return out


def shannon(counts, base: float = np.e):
    """Shannon diversity H = -sum p log_base p per sample (0 log 0 = 0); NaN for an empty sample."""
    values = np.atleast_2d(np.asarray(counts, float))
    total = values.sum(axis=1, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        p = values / total
        terms = np.where(p > 0, p * np.log(p), 0.0)
    h = -terms.sum(axis=1) / np.log(base)
    h = np.where(total[:, 0] > 0, h, np.nan)
    if isinstance(counts, pd.DataFrame):
        return pd.Series(h, index=counts.index, name="shannon")
    return h if np.ndim(counts) > 1 else float(h[0])


def prepare_counts(counts: pd.DataFrame, *, min_depth: float = 10_000, min_prevalence: float = 0.10,
                   zero_replacement: str = "pseudocount", pseudocount: float = 0.5, delta: float | None = None,
                   shannon_base: float = np.e, where: str = "microbiome"):
    """Filters -> Shannon (before the prevalence filter) -> zero replacement -> CLR.

    Returns ``(clr_values, shannon, report)``: clr_values has the kept samples x taxa,
    shannon a Series over the kept samples, report the counts removed (no values).
    """
    counts = check_counts(counts, where=where)
    deep, depth_report = filter_depth(counts, min_depth)
    diversity = shannon(deep, base=shannon_base)
    kept, prevalence_report = filter_prevalence(deep, min_prevalence)
    if kept.shape[1] == 0 or kept.shape[0] == 0:
        raise ConfigError(f"{where}: no samples or taxa left after the depth ({min_depth}) and prevalence "
                          f"({min_prevalence}) filters; lower them in the config.")
    replaced = replace_zeros(kept, zero_replacement, pseudocount, delta)
    report = {**depth_report, **prevalence_report, "zero_replacement": zero_replacement,
              "pseudocount": pseudocount if zero_replacement == "pseudocount" else np.nan,
              "shannon_log_base": float(shannon_base)}
    return clr(replaced), diversity, report


#: Fewest samples for which the QC table reports the 5th/95th percentiles of the depth
#: (as for hair cortisol, :data:`first1000.mechanisms.hpa.TAIL_MIN_N`); quartiles need 5.
DEPTH_TAIL_MIN_N = 20
DEPTH_QUARTILE_MIN_N = 5


def depth_summary(depth: pd.Series) -> dict:
    """Quartiles (>= 5 samples) and 5th/95th percentiles (>= 20) of the reads per sample.

    Interpolated quantiles of all samples (before the depth filter), for the QC figure's
    depth box; NaN for smaller cohorts. The prepare job then blanks each quantile without
    ``privacy.min_cell_size`` samples on each side of it
    (:func:`first1000.privacy.protect_quantiles`): an interpolated quantile can be exactly
    one sample's depth (the 5th percentile of 21 is the second lowest).
    """
    x = pd.to_numeric(depth, errors="coerce").dropna().to_numpy(float)
    out = dict(depth_p05=np.nan, depth_q1=np.nan, depth_q3=np.nan, depth_p95=np.nan)
    if len(x) >= DEPTH_QUARTILE_MIN_N:
        out["depth_q1"], out["depth_q3"] = (float(v) for v in np.quantile(x, [0.25, 0.75]))
    if len(x) >= DEPTH_TAIL_MIN_N:
        out["depth_p05"], out["depth_p95"] = (float(v) for v in np.quantile(x, [0.05, 0.95]))
    return out


def prepare(tables: dict[str, pd.DataFrame], settings: dict):
    """The ``microbiome`` mechanism: per cohort, :func:`prepare_counts` on the wide counts.

    ``settings``: ``min_depth``, ``min_prevalence``, ``zero_replacement``,
    ``pseudocount``, ``shannon_base`` (see :func:`prepare_counts`) and ``taxa``: the taxa
    (standard column names) whose CLR value is a biomarker (``{taxon}_clr``). Biomarkers:
    ``shannon`` and the chosen ``{taxon}_clr``; samples below the depth filter get none.
    QC per cohort: the samples and taxa in, removed and kept by each filter, the zero
    replacement, the log base of the Shannon index, which chosen taxa the prevalence
    filter removed (their CLR is missing), and the reads per sample before the depth
    filter (median; quartiles and 5th/95th percentiles, :func:`depth_summary`).
    """
    taxa = list(settings.get("taxa", []))
    frames, qc = [], []
    for cohort, long in tables.items():
        counts = long.pivot(index="pseudo_id", columns="marker", values="value").sort_index(axis=1)
        counts.columns.name = None
        where = f"{cohort} microbiome_counts"
        unknown = [t for t in taxa if t not in counts.columns]
        if unknown:
            raise ConfigError(f"preparation.microbiome.taxa: `{unknown[0]}` is not a taxon of the {where} table "
                              "(give the standard column name: lower case, other characters as '_').")
        values, diversity, report = prepare_counts(
            counts, min_depth=settings.get("min_depth", 10_000), min_prevalence=settings.get("min_prevalence", 0.10),
            zero_replacement=settings.get("zero_replacement", "pseudocount"),
            pseudocount=settings.get("pseudocount", 0.5), shannon_base=settings.get("shannon_base", np.e),
            where=where)
        out = pd.DataFrame({"pseudo_id": counts.index.to_numpy(), "cohort": cohort})
        out["shannon"] = diversity.reindex(counts.index).to_numpy(float)
        for taxon in taxa:
            column = values[taxon] if taxon in values.columns else pd.Series(np.nan, index=values.index)
            out[f"{taxon}_clr"] = column.reindex(counts.index).to_numpy(float)
        frames.append(out)
        dropped = [t for t in taxa if t not in values.columns]
        qc.append(dict(cohort=cohort, **report, n_taxa_chosen=len(taxa),
                       chosen_taxa_removed=", ".join(dropped),
                       median_depth=float(counts.sum(axis=1).median()), **depth_summary(counts.sum(axis=1))))
    return pd.concat(frames, ignore_index=True), pd.DataFrame(qc)
