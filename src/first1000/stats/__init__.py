"""Statistical engines of first1000: association models, multiple testing, bootstrap, mediation.

Every public function takes a DataFrame plus column names and returns plain numbers or a
tidy DataFrame with fixed columns. Data problems (too few rows, zero variance, separation)
come back as NaN numbers with a ``status`` text instead of exceptions, so one bad analysis
never stops a pipeline run; :class:`first1000.errors.ModelError` is raised only for misuse
(unknown option, missing column). This subpackage imports nothing of first1000 except
:mod:`first1000.errors`.
"""

from first1000.stats.bootstrap import (
    analysis_rng,
    batched_ols,
    bias_corrected_ci,
    bootstrap_p,
    percentile_ci,
    pingouin_resample_counts,
    resample_counts,
)
from first1000.stats.ewas import ewas_fit, ewas_summary, fit_prior, moderate, read_methylation_chunks
from first1000.stats.mediation import mediation_linear
from first1000.stats.meta import log_risk_ratio, meta_analyse
from first1000.stats.multitest import bh_fdr
from first1000.stats.regression import design_matrix, fit_association

__all__ = [
    "ewas_fit",
    "ewas_summary",
    "fit_prior",
    "moderate",
    "read_methylation_chunks",
    "log_risk_ratio",
    "meta_analyse",
    "analysis_rng",
    "batched_ols",
    "bh_fdr",
    "bias_corrected_ci",
    "bootstrap_p",
    "design_matrix",
    "fit_association",
    "mediation_linear",
    "percentile_ci",
    "pingouin_resample_counts",
    "resample_counts",
]
