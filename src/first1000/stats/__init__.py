"""Statistical engines of first1000: association models, multiple testing, bootstrap, mediation.

Every public function takes a DataFrame plus column names and returns plain numbers or a
tidy DataFrame with fixed columns. Data problems (too few rows, zero variance, separation)
come back as NaN numbers with a ``status`` text instead of exceptions, so one bad analysis
never stops a pipeline run; :class:`first1000.errors.ModelError` is raised only for misuse
(unknown option, missing column). This subpackage imports nothing of first1000 except
:mod:`first1000.errors`.
"""

import importlib

#: Public name -> the engine module that defines it. Imported on first use (PEP 562): a job
#: that needs one engine does not pay for importing the others (statsmodels, scipy.stats).
_EXPORTS = {
    "analysis_rng": "bootstrap", "batched_ols": "bootstrap", "bias_corrected_ci": "bootstrap",
    "bootstrap_p": "bootstrap", "percentile_ci": "bootstrap", "pingouin_resample_counts": "bootstrap",
    "resample_counts": "bootstrap", "ewas_fit": "ewas", "ewas_summary": "ewas", "fit_prior": "ewas",
    "moderate": "ewas", "mediation_linear": "mediation", "log_risk_ratio": "meta", "meta_analyse": "meta",
    "bh_fdr": "multitest", "design_matrix": "regression", "fit_association": "regression",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name in _EXPORTS:
        return getattr(importlib.import_module(f"first1000.stats.{_EXPORTS[name]}"), name)
    raise AttributeError(f"module 'first1000.stats' has no attribute {name!r}")
