"""Associations: the models of one mechanism per cohort, pooled and meta-analysed.

Each mechanism is analysed in every cohort separately and in all cohorts together
("pooled": individual data of all cohorts with cohort as a fixed-effect covariate).

* exposure -> biomarker: ``biomarker ~ exposure + covariates`` (linear);
* biomarker -> outcome: ``outcome ~ biomarker + covariates`` (linear, or logistic when the
  outcome is binary; the estimate is then a log odds ratio).

With several cohorts, the per-cohort estimates are also meta-analysed as a consortium
would (cohort = "meta"): random effects, REML tau², with I², Q and a METAL-style
direction string (see :func:`first1000.stats.meta.meta_analyse`).

Benjamini-Hochberg FDR is controlled within each mechanism and cohort (all models of the
mechanism in that cohort form one family).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from first1000.config import META, POOLED
from first1000.labels import BIRTH_OUTCOMES, effect_unit, model_family
from first1000.privacy import hide_small_models
from first1000.stats.meta import meta_analyse
from first1000.stats.multitest import bh_fdr
from first1000.stats.regression import check_column_types, fit_association, model_name

ASSOCIATION_COLUMNS = ["cohort", "mechanism", "predictor", "response", "model", "n", "n_missing", "estimate", "se",
                       "ci_low", "ci_high", "p", "q", "family", "covariates", "unit", "status"]
HETEROGENEITY_COLUMNS = ["k", "i2", "tau2", "q_het", "q_het_p", "direction"]
#: Percent difference per unit of the predictor, for biomarkers analysed on the ln scale.
PERCENT_COLUMNS = ["percent_difference", "percent_ci_low", "percent_ci_high"]


def analysis_table(participants: pd.DataFrame, biomarkers: pd.DataFrame) -> pd.DataFrame:
    """Harmonised participants joined with one mechanism's prepared biomarkers."""
    return participants.merge(biomarkers.drop(columns="cohort"), on="pseudo_id", how="left",
                              validate="one_to_one")


#: Outcomes defined for births only (config ``analysis_population``).


def births_only(table: pd.DataFrame, outcome: str, from_days: float | None) -> pd.DataFrame:
    """``table`` for a model of ``outcome``: without the participants whose
    ``gestational_age`` is below ``from_days`` (pregnancy losses) when ``outcome`` is a
    birth outcome (:data:`BIRTH_OUTCOMES`); unchanged otherwise or with ``from_days`` None.
    A participant without a gestational age stays (the outcome model drops them if the
    outcome is missing)."""
    if from_days is None or outcome not in BIRTH_OUTCOMES or "gestational_age" not in table:
        return table
    ga = pd.to_numeric(table["gestational_age"], errors="coerce")
    loss = (ga < from_days).to_numpy(dtype=bool)
    return table[~loss] if loss.any() else table


def cohort_subsets(table: pd.DataFrame, covariates: list[str], optional=()):
    """(cohort name, data, covariates) per cohort, then pooled with cohort as covariate.

    ``optional`` covariates (e.g. hair washing for hair cortisol) are added in each cohort
    that recorded them (any non-missing value), and in the pooled model when every
    cohort recorded them; a categorical one (array batch) enters the pooled model nested
    within cohort (``{name}_within_cohort``), which then replaces the cohort term.
    """
    cohorts = sorted(table.cohort.unique())
    optional = [v for v in optional if v not in covariates and v in table]
    recorded = {c: [v for v in optional if table.loc[table.cohort == c, v].notna().any()] for c in cohorts}
    for cohort in cohorts:
        yield cohort, table[table.cohort == cohort], [*covariates, *recorded[cohort]]
    if len(cohorts) > 1:
        common = [v for v in optional if all(v in recorded[c] for c in cohorts)]
        # A categorical one (e.g. array batch) is cohort-specific: nested within cohort, whose
        # levels then carry the cohort effect too, so "cohort" itself is left out.
        nested = [v for v in common if not pd.api.types.is_numeric_dtype(table[v])]
        if nested:
            label = table.cohort.astype(str)
            table = table.assign(**{f"{v}_within_cohort": (label + ":" + table[v].astype(str)).where(table[v].notna())
                                    for v in nested})
            common = [f"{v}_within_cohort" if v in nested else v for v in common]
            yield POOLED, table, [*covariates, *common]
        else:
            yield POOLED, table, [*covariates, *common, "cohort"]


def associations(table: pd.DataFrame, mechanism: str, spec: dict, covariates: list[str],
                 data_schema: dict, meta: dict | None = None, missing_data: dict | None = None,
                 seed: int = 0, optional_covariates=(), birth_outcomes_from: float | None = None,
                 min_cell: int = 1, firth: bool = False) -> pd.DataFrame:
    """All exposure->biomarker and biomarker->outcome models of one mechanism.

    ``firth`` (config ``associations.firth``): logistic models by Firth's penalised
    likelihood (:func:`~first1000.stats.regression.firth_logit`; ``model`` "logistic
    (Firth)"), finite under separation (a rare outcome such as SGA in a small cohort).

    ``min_cell`` (config ``privacy.min_cell_size``): a cohort's model fitted on fewer
    participants is not shown and not meta-analysed
    (:func:`first1000.privacy.hide_small_models`).

    ``birth_outcomes_from`` (config ``analysis_population.birth_outcomes_from_gestational_age_days``):
    a model whose outcome is a birth outcome leaves out the participants with a
    gestational age below it (:func:`births_only`; counted in ``n_missing``).

    ``missing_data`` (the config's ``missing_data``): with ``method:
    multiple_imputation`` every model is fitted by
    :func:`~first1000.stats.imputation.fit_association_mi` in each cohort (and pooled):
    ``m`` imputations by chained equations of the model's variables plus the
    ``auxiliary`` variables observed in that cohort, pooled by Rubin's rules; each model
    draws from its own stream (``seed`` with keys cohort, mechanism, response,
    predictor), so results are reproducible and independent of the other models. The
    table then also has ``m`` and ``fmi`` (fraction of missing information); ``n``
    counts all analysed rows. Otherwise complete cases (:func:`fit_association`).
    ``optional_covariates``: see :func:`cohort_subsets`. ``n_missing``: the cohort's
    participants left out of the model (incomplete or not measured; 0 under multiple
    imputation). A used column that mixes numbers and text is refused with an
    :class:`~first1000.errors.InputTableError` naming it, the mechanism and the cohort.
    """
    mi = (missing_data or {}).get("method") == "multiple_imputation"
    if mi:
        from first1000.stats.imputation import fit_association_mi
    rows = []
    for cohort, data, covs in cohort_subsets(table, covariates, optional_covariates):
        models = [(b, e, model_family(b, data_schema)) for b in spec["biomarkers"] for e in spec["exposures"]]
        for outcome in spec.get("outcomes", []):
            models += [(outcome, b, model_family(outcome, data_schema)) for b in spec["biomarkers"]]
        cohort_data = data
        for response, predictor, family in models:
            data = births_only(cohort_data, response, birth_outcomes_from)
            check_column_types(data, [response, predictor, *covs], where=f"mechanism {mechanism}, cohort {cohort}")
            absent = [v for v in (response, predictor) if data[v].notna().sum() == 0]
            if absent:
                fit = dict(n=0, estimate=np.nan, se=np.nan, ci_low=np.nan, ci_high=np.nan, p=np.nan,
                           model=model_name(family, firth),
                           status=f"{absent[0]} is not measured in cohort {cohort}")
                if mi:
                    fit.update(m=0, fmi=np.nan)
            elif mi:
                used = (response, predictor, *covs)
                auxiliary = [a for a in missing_data.get("auxiliary", []) if a not in used and data[a].notna().any()]
                fit = fit_association_mi(data, response, predictor, covs, family=family, m=missing_data["m"],
                                         seed=seed, auxiliary=auxiliary, max_iter=missing_data["max_iter"],
                                         method=missing_data.get("imputation_method", "norm.boot"),
                                         keys=(cohort, mechanism, response, predictor), firth=firth)
                fit = {k: v for k, v in fit.items() if k not in ("df", "riv", "lambda", "n_complete")}
            else:
                fit = fit_association(data, response, predictor, covs, family=family, firth=firth)
            fit["n_missing"] = len(cohort_data) - int(fit["n"])
            rows.append(dict(cohort=cohort, mechanism=mechanism, predictor=predictor, response=response,
                             family=family, covariates="+".join(covs),
                             unit=effect_unit(response, predictor, family, data_schema), **fit))
    if not rows:  # no participant at all: an empty table with the contract's columns
        return pd.DataFrame(columns=ASSOCIATION_COLUMNS)
    out = combine_cohorts(hide_small_models(pd.DataFrame(rows), min_cell), meta)
    if mi:  # the complete-case columns, then the imputation's
        out = out[[c for c in out.columns if c not in ("m", "fmi")] + ["m", "fmi"]]
    return out


def sensitivity_associations(table: pd.DataFrame, main: pd.DataFrame, analyses: list[dict], **kwargs
                             ) -> pd.DataFrame:
    """The mechanism's association models re-fitted under each sensitivity analysis.

    An analysis either replaces biomarkers by alternative columns of the prepared table
    (``replace: {biomarker: column}``, e.g. winsorised values) or excludes the
    participants flagged in a column (``exclude: column``, e.g. CRP > 10 mg/L). Every
    row is set beside the main analysis's estimate, interval and n of the same model
    (``*_main``); ``kwargs`` are those of :func:`associations`.
    """
    frames = []
    keys = ["cohort", "predictor", "response"]
    reference = main[[*keys, "n", "estimate", "ci_low", "ci_high"]].rename(
        columns={c: f"{c}_main" for c in ("n", "estimate", "ci_low", "ci_high")})
    for analysis in analyses:
        data = table
        if analysis.get("exclude"):
            data = data[~data[analysis["exclude"]].astype("boolean").fillna(False).to_numpy(dtype=bool)]
        replace = analysis.get("replace", {})
        if replace:
            data = data.assign(**{biomarker: data[column] for biomarker, column in replace.items()})
        out = associations(data, **kwargs)
        if replace:  # only the models of the replaced biomarkers
            out = out[out.predictor.isin(list(replace)) | out.response.isin(list(replace))]
        out = out.merge(reference, on=keys, how="left", validate="one_to_one")
        out.insert(0, "description", analysis["description"])
        out.insert(0, "analysis", analysis["name"])
        frames.append(out)
    if not frames:
        return pd.DataFrame(columns=["analysis", "description", *ASSOCIATION_COLUMNS])
    return pd.concat(frames, ignore_index=True)


def combine_cohorts(out: pd.DataFrame, meta: dict | None = None) -> pd.DataFrame:
    """Per-cohort (and pooled) association rows -> plus meta-analysis rows, FDR, column order.

    Used on individual data (after :func:`associations` fitted every cohort) and in a
    summary-statistics-only run on the cohorts' exported rows, so both give the same
    meta-analysis of the same per-cohort estimates.
    """
    out = out[out.cohort != META].reset_index(drop=True)
    out = out.drop(columns=["q", *HETEROGENEITY_COLUMNS, *PERCENT_COLUMNS], errors="ignore")
    cohorts = sorted(c for c in out.cohort.unique() if c != POOLED)
    if len(cohorts) > 1:
        meta = meta or {"method": "REML", "knapp_hartung": False}
        out = pd.concat([out, meta_rows(out[out.cohort.isin(cohorts)], cohorts, **meta)], ignore_index=True)
    out["q"] = np.nan
    for cohort, index in out.groupby("cohort", sort=False).groups.items():
        out.loc[index, "q"] = bh_fdr(out.loc[index, "p"].to_numpy(dtype=float))
    out = with_percent_difference(out)
    front = ASSOCIATION_COLUMNS + [c for c in HETEROGENEITY_COLUMNS if c in out] + PERCENT_COLUMNS
    return out.reindex(columns=front + [c for c in out.columns if c not in front])


def with_percent_difference(out: pd.DataFrame) -> pd.DataFrame:
    """Add the percent difference in a log-scale biomarker per unit of the predictor.

    For a linear model of ln(biomarker), ``100 * (exp(b) - 1)`` is the percent difference
    in the biomarker's geometric mean per unit of the predictor (telomere studies report
    T/S this way); the interval is the transformed CI. Blank for responses not on the
    natural-log scale (the ``unit`` column starts with "ln ") and for logistic models.
    """
    out = out.copy()
    unit = out["unit"].astype("string").fillna("")
    log_scale = (out["family"] == "gaussian").to_numpy() & unit.str.startswith("ln ").to_numpy(dtype=bool)
    for column, source in zip(PERCENT_COLUMNS, ("estimate", "ci_low", "ci_high")):
        values = pd.to_numeric(out[source], errors="coerce").to_numpy(dtype=float)
        out[column] = np.where(log_scale, 100 * np.expm1(values), np.nan)
    return out


def meta_rows(per_cohort: pd.DataFrame, cohorts: list[str], method: str = "REML",
              knapp_hartung: bool = False) -> pd.DataFrame:
    """Meta-analysis (default random effects, REML) of each predictor -> response across cohorts."""
    meta = meta_analyse(per_cohort, by=("predictor", "response"), study="cohort", method=method,
                        knapp_hartung=knapp_hartung, study_order=cohorts)
    first = per_cohort.drop_duplicates(["predictor", "response"]).set_index(["predictor", "response"])
    # Cohorts may adjust for different sets (e.g. hair covariates where recorded): list each.
    sets = per_cohort.groupby(["predictor", "response"], sort=False).apply(
        lambda g: g.covariates.iloc[0] if g.covariates.nunique() <= 1
        else "; ".join(f"{c}: {v}" for c, v in zip(g.cohort, g.covariates)), include_groups=False)
    first = first.assign(covariates=sets.reindex(first.index))
    ok = per_cohort[per_cohort.status == "ok"].groupby(["predictor", "response"])
    n = ok.n.sum()
    n_missing = ok.n_missing.sum() if "n_missing" in per_cohort else None
    keys = pd.MultiIndex.from_frame(meta[["predictor", "response"]])
    out = pd.DataFrame({
        "cohort": META, "mechanism": first.mechanism.reindex(keys).to_numpy(),
        "predictor": meta.predictor, "response": meta.response,
        "model": first.model.reindex(keys).to_numpy(),
        "n": n.reindex(keys).fillna(0).astype(int).to_numpy(),
        "n_missing": (n_missing.reindex(keys).fillna(0).astype(int).to_numpy() if n_missing is not None
                      else np.nan),
        "estimate": meta.estimate, "se": meta.se, "ci_low": meta.ci_low, "ci_high": meta.ci_high, "p": meta.p,
        "family": first.family.reindex(keys).to_numpy(), "covariates": first.covariates.reindex(keys).to_numpy(),
        "unit": first.unit.reindex(keys).to_numpy(), "status": meta.status,
        "k": meta.k.astype(int), "i2": meta.I2, "tau2": meta.tau2, "q_het": meta.Q, "q_het_p": meta.Q_p,
        "direction": meta.direction,
    })
    return out
