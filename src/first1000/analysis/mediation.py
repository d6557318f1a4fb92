"""Mediation: each declared path exposure -> mediator(s) -> outcome of one mechanism, per
cohort, pooled and meta-analysed (the engines are :mod:`first1000.stats.causal` and
:mod:`first1000.stats.sequential`)."""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from first1000.analysis.associations import HETEROGENEITY_COLUMNS, META, births_only, cohort_subsets
from first1000.config import POOLED
from first1000.labels import model_family
from first1000.privacy import SMALL_MODEL, hide_small_models
from first1000.stats.meta import meta_analyse
from first1000.stats.multitest import bh_fdr
from first1000.stats.regression import check_column_types, fit_association

LOG = logging.getLogger(__name__)

MEDIATION_COLUMNS = ["cohort", "exposure", "mediator", "outcome", "effect", "scale", "estimate", "se", "ci_low",
                     "ci_high", "p", "q", "n", "n_missing", "n_boot", "n_boot_dropped", "contrast", "a0", "a1",
                     "ci_method", "seed", "covariates", "status"]

#: Settings of the ``mediation`` config section read with these defaults (so a config whose
#: schema does not list them yet still works).
REPORTING_DEFAULTS = {"firth": False, "pm_min_total_effect": 0.0, "max_dropped_resamples": 0.05}


def _family(variable: str, data_schema: dict) -> str:
    return model_family(variable, data_schema)


def path_coefficients(data: pd.DataFrame, exposure: str, mediator: str, outcome: str, mediator_covs: list[str],
                      outcome_covs: list[str], mediator_family: str, outcome_family: str,
                      firth: bool = False) -> pd.DataFrame:
    """The regression paths behind a mediation, from full-data fits on the same complete cases.

    ``a`` (X→M in the mediator model), ``b`` (M→Y given X), ``c_prime`` (X→Y given M) and
    ``c`` (X→Y without M), each on its model's scale (difference for linear models, log
    odds for logistic ones) with a Wald CI, for the path diagram. With an exposure–mediator
    interaction, b and c' are the main-effect coefficients of a model without it. ``firth``:
    logistic models Firth-penalised (:func:`first1000.stats.regression.firth_logit`).
    """
    used = list(dict.fromkeys([exposure, mediator, outcome, *mediator_covs, *outcome_covs]))
    complete = data[used].dropna()
    specs = {
        "a": (mediator, exposure, mediator_covs, mediator_family),
        "b": (outcome, mediator, [exposure, *outcome_covs], outcome_family),
        "c_prime": (outcome, exposure, [mediator, *outcome_covs], outcome_family),
        "c": (outcome, exposure, outcome_covs, outcome_family),
    }
    rows = []
    for name, (response, predictor, covs, family) in specs.items():
        fit = fit_association(complete, response, predictor, covs, family=family, firth=firth)
        rows.append(dict(exposure=exposure, mediator=mediator, outcome=outcome, path=name,
                         **{k: fit[k] for k in ("estimate", "se", "ci_low", "ci_high", "p", "n", "status")},
                         family=family))
    return pd.DataFrame(rows)


def mediation_mi(data: pd.DataFrame, run, columns: list[str], missing_data: dict, seed: int,
                 keys: tuple) -> pd.DataFrame:
    """One mediation analysis under multiple imputation ("MI, then bootstrap, Rubin").

    The analysis variables (and the declared auxiliary ones) are imputed m times
    (:func:`first1000.stats.imputation.impute`); the mediation analysis ``run(data)`` is
    done on each completed data set with its own bootstrap; each effect is then pooled by
    Rubin's rules with the bootstrap variance as the within-imputation variance
    (:func:`first1000.stats.imputation.pool_rubin`; Schomaker & Heumann, Stat. Med.
    37:2252–2266, 2018, "MI Boot Rubin", which keeps nominal coverage). Ratio-scale effects
    are pooled on the log scale. The CI is then Rubin's t interval (``ci_method`` says so)
    and ``n`` counts every analysed participant; ``m`` and ``fmi`` are added.
    """
    from first1000.stats.imputation import impute, pool_rubin

    auxiliary = [a for a in missing_data.get("auxiliary", []) if a not in columns and data[a].notna().any()]
    completed = impute(data, columns, auxiliary=auxiliary, m=missing_data["m"], seed=seed,
                       max_iter=missing_data["max_iter"], keys=("mediation", *keys),
                       method=missing_data.get("imputation_method", "norm.boot"))
    runs = [run(d) for d in completed]
    first = runs[0].copy()
    for i, row in first.iterrows():
        estimates = np.array([r.loc[i, "estimate"] for r in runs], dtype=float)
        ses = np.array([r.loc[i, "se"] for r in runs], dtype=float)
        # the first imputed data set whose analysis reported a problem (e.g. pm not reported)
        why = next((r.loc[i, "status"] for r in runs if r.loc[i, "status"] != "ok"), None)
        if why:
            first.loc[i, "status"] = why
        ratio = row["scale"] in RATIO_SCALES and row["effect"] not in NOT_POOLABLE
        if ratio:
            estimates = np.log(estimates)
        if not (np.isfinite(estimates).all() and np.isfinite(ses).all()):
            first.loc[i, ["estimate", "se", "ci_low", "ci_high", "p"]] = np.nan
            first.loc[i, "status"] = "not estimable in every imputed data set" + (f" ({why})" if why else "")
            continue
        pooled = pool_rubin(estimates, ses**2, n=int(first.loc[i, "n"]))
        back = np.exp if ratio else (lambda v: v)
        first.loc[i, ["estimate", "ci_low", "ci_high"]] = [back(pooled["estimate"]), back(pooled["ci_low"]),
                                                           back(pooled["ci_high"])]
        first.loc[i, ["se", "p"]] = [pooled["se"], pooled["p"]]
        first.loc[i, "fmi"] = pooled["fmi"]
    first["ci_method"] = first["ci_method"].astype(str) + f" within, Rubin's rules over m={missing_data['m']}"
    first["m"] = missing_data["m"]
    first["n_boot"] = np.min([r.n_boot.to_numpy(float) for r in runs], axis=0)
    if "n_boot_dropped" in first:
        first["n_boot_dropped"] = np.max([r.n_boot_dropped.to_numpy(float) for r in runs], axis=0)
    return first


def mediation(table: pd.DataFrame, paths: list[dict], covariates: list[str], settings: dict, seed: int,
              data_schema: dict | None = None, meta: dict | None = None, missing_data: dict | None = None,
              mechanism: str | None = None, birth_outcomes_from: float | None = None, min_cell: int = 1
              ) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Every declared path of one mechanism, per cohort and pooled (and meta-analysed).

    ``min_cell`` (config ``privacy.min_cell_size``): a cohort's path fitted on fewer
    participants shows no effect, regression path or sensitivity analysis and is not
    meta-analysed (:func:`first1000.privacy.hide_small_models`).

    ``birth_outcomes_from`` (config ``analysis_population``): a path whose outcome is a
    birth outcome leaves out the participants with a gestational age below it
    (:func:`~first1000.analysis.associations.births_only`; counted in ``n_missing``).

    Counterfactual natural effects by :func:`first1000.stats.causal.causal_mediation`
    (g-formula over the cohort's covariate distribution): logistic models for binary
    mediators and outcomes (effects on the risk-difference, risk-ratio and odds-ratio
    scales), linear otherwise; the declared exposure contrast, optional exposure–mediator
    interaction, bootstrap (or quasi-Bayesian) intervals. Each (cohort, exposure, mediator,
    outcome) draws from its own stream ``SeedSequence([seed, hash(keys)])``, so adding a
    path never changes another. ``q``: Benjamini–Hochberg FDR of the total natural indirect
    effect (first scale) across the mechanism's paths, within each cohort.

    Reporting (``settings`` keys read with :data:`REPORTING_DEFAULTS`): ``firth`` fits the
    logistic models by Firth's penalised likelihood (full data, resamples and the path
    table); ``pm_min_total_effect`` and ``max_dropped_resamples`` are passed to
    :func:`~first1000.stats.causal.causal_mediation` (``pm`` suppressed when the total
    effect's CI includes the null; a warning status when more than that share of the
    resamples was dropped, also logged). A two-valued exposure (e.g. coded 1/2, or
    declared binary) is compared low -> high. ``n_missing``: the cohort's participants
    left out of the path as incomplete. Columns mixing numbers and text are refused
    (:class:`~first1000.errors.InputTableError` naming the column, ``mechanism`` and
    cohort).

    Returns the effects, the regression paths (a, b, c', c) and the sensitivity analysis
    (Imai's rho curve and E-values; :func:`mediation_sensitivity_rows`).
    """
    from first1000.stats.causal import causal_mediation

    report = {k: settings.get(k, v) for k, v in REPORTING_DEFAULTS.items()}
    data_schema = data_schema or {}
    mi = (missing_data or {}).get("method") == "multiple_imputation"
    effects, path_rows, sensitivity = [], [], []
    for path in paths:
        x, y = path["exposure"], path["outcome"]
        mediators = list(path["mediator"]) if isinstance(path["mediator"], list) else [path["mediator"]]
        m = mediators if len(mediators) > 1 else mediators[0]  # several: each separately and jointly
        covs_path = path.get("covariates", covariates)
        m_families = {name: _family(name, data_schema) for name in mediators}
        m_family = m_families if len(mediators) > 1 else m_families[m]
        y_family = _family(y, data_schema)
        interaction = path.get("interaction", settings["interaction"])
        contrast = path.get("contrast", settings["contrast"])
        contrast = tuple(contrast) if isinstance(contrast, list) else contrast
        if data_schema.get(x, {}).get("type") == "binary":
            contrast = None  # the two observed values, lower -> higher (0 -> 1, or 1 -> 2)
        for cohort, data, covs in cohort_subsets(table, covs_path):
            size = len(data)  # the cohort's participants, births or not
            data = births_only(data, y, birth_outcomes_from)
            extra = covs[len(covs_path):]  # "cohort" in the pooled analysis
            m_covs = [*path.get("mediator_covariates", covs_path), *extra]
            y_covs = [*path.get("outcome_covariates", covs_path), *extra]
            keys = (cohort, x, "+".join(mediators), y)

            if path.get("sequential"):  # M1 -> M2: path-specific effects (stats/sequential.py)
                def run(d, keys=keys, covs=covs, contrast=contrast, interaction=interaction, x=x, y=y,
                        mediators=mediators, y_family=y_family):
                    from first1000.stats.sequential import sequential_mediation

                    return sequential_mediation(
                        d, x, mediators[0], mediators[1], y, covariates=covs, contrast=contrast,
                        n_boot=settings["n_boot"], seed=seed, keys=keys, interaction=interaction,
                        outcome_family=y_family,
                        ci_method="percentile" if settings["inference"] == "quasi_bayes" else settings["ci_method"])
            else:
                def run(d, keys=keys, covs=covs, m_covs=m_covs, y_covs=y_covs, contrast=contrast, interaction=interaction,
                        x=x, m=m, y=y, m_family=m_family, y_family=y_family, path=path):
                    return causal_mediation(
                        d, x, m, y, covariates=covs, mediator_covariates=m_covs, outcome_covariates=y_covs,
                        mediator_family=m_family, outcome_family=y_family, interaction=interaction, contrast=contrast,
                        cde_at=path.get("cde_at"), inference=settings["inference"], n_boot=settings["n_boot"],
                        seed=seed, keys=keys,
                        ci_method="percentile" if settings["inference"] == "quasi_bayes" else settings["ci_method"],
                        firth=bool(report["firth"]), pm_min_total_effect=float(report["pm_min_total_effect"]),
                        max_dropped=float(report["max_dropped_resamples"]))

            used = list(dict.fromkeys([x, *mediators, y, *m_covs, *y_covs]))
            where = ", ".join(filter(None, [f"mechanism {mechanism}" if mechanism else "",
                                            f"mediation path {x} -> {'+'.join(mediators)} -> {y}",
                                            f"cohort {cohort}"]))
            check_column_types(data, used, where=where)
            if mi and data[used].isna().any().any():
                eff = mediation_mi(data[[c for c in dict.fromkeys([*used, *missing_data.get("auxiliary", [])])
                                         if c in data]], run, used, missing_data, seed, keys)
            else:
                eff = run(data)
            if path.get("sequential"):
                eff = sequential_reporting(eff, settings["n_boot"] if settings["inference"] == "bootstrap" else None,
                                           float(report["max_dropped_resamples"]),
                                           float(report["pm_min_total_effect"]))
            eff = eff.assign(n_missing=size - pd.to_numeric(eff["n"]))  # every engine; 0 under MI (but losses)
            eff = hide_small_models(eff, min_cell)
            hidden = eff.status.astype(str).eq(SMALL_MODEL.format(min_cell=min_cell)).any()
            warned = eff.status.astype(str).str.startswith("warning:")
            if warned.any():
                LOG.warning("%s, %s: %s", where, eff.mediator[warned].iloc[0], eff.status[warned].iloc[0])
            effects.append(eff.assign(cohort=cohort, covariates="+".join(dict.fromkeys([*m_covs, *y_covs])),
                                      interaction=bool(interaction)))
            for name in mediators:
                path_rows.append(hide_small_models(path_coefficients(
                    data, x, name, y, m_covs, y_covs, m_families[name], y_family, firth=bool(report["firth"])),
                    min_cell).assign(cohort=cohort))
            if settings["sensitivity"] and len(mediators) == 1 and not hidden:
                sensitivity.append(mediation_sensitivity_rows(
                    data, eff, x, m, y, m_covs, y_covs, m_family, y_family, interaction, contrast,
                    settings["n_boot"], seed, keys).assign(
                        cohort=cohort, n=int(pd.to_numeric(eff["n"]).max()),
                        covariates="+".join(dict.fromkeys([*m_covs, *y_covs]))))
    if not effects:
        return pd.DataFrame(columns=MEDIATION_COLUMNS), pd.DataFrame(), pd.DataFrame()
    eff = pd.concat(effects, ignore_index=True)
    # A mediator analysed alone and again within a joint path: its own rows once (the first
    # declared path's; the joint path adds its joint_* rows).
    eff = eff.drop_duplicates(["cohort", "exposure", "mediator", "outcome", "effect", "scale"]).reset_index(drop=True)
    eff = combine_mediation(eff, meta)
    front = ["cohort", "exposure", "mediator", "outcome", "path"]
    # A mediator in a joint path and in its own path: one set of regression paths (the first).
    pth = pd.concat(path_rows, ignore_index=True).drop_duplicates(front).reset_index(drop=True)
    sens = pd.concat(sensitivity, ignore_index=True) if sensitivity else pd.DataFrame()
    if len(sens):
        sens = sens[["cohort", *[c for c in sens.columns if c != "cohort"]]]
        # the contrast's a0/a1 (the exposure's quartiles under contrast: iqr) as the effects show them
        sens = hide_small_models(sens, min_cell)
    return eff, pth[front + [c for c in pth.columns if c not in front]], sens


def sequential_reporting(eff: pd.DataFrame, n_boot: int | None, max_dropped: float = 0.05,
                         pm_min_total_effect: float = 0.0, alpha: float = 0.05) -> pd.DataFrame:
    """The reporting rules of :func:`~first1000.stats.causal.causal_mediation` applied to
    the rows of :func:`~first1000.stats.sequential.sequential_mediation`.

    ``n_boot_dropped`` = ``n_boot`` requested - resamples used (bootstrap only), with the
    warning status of :func:`~first1000.stats.causal.dropped_status` beyond
    ``max_dropped``; ``firth`` False (the sequential engine fits maximum likelihood);
    ``pm_joint`` suppressed by :func:`~first1000.stats.causal.pm_problem` (the CI of
    ``te`` of the same scale, on the log scale for ratios) and never given a
    bias-corrected or BCa interval (those are blanked: the replicates are not kept).
    """
    from first1000.stats.causal import RATIO_SCALES as RATIOS, dropped_status, pm_problem

    eff = eff.copy()
    eff["firth"] = False
    if n_boot is not None:
        used = pd.to_numeric(eff["n_boot"], errors="coerce")
        eff["n_boot_dropped"] = (n_boot - used).where(used > 0, 0)
        for i in eff.index[(eff.status == "ok") & (used > 0)]:
            warning = dropped_status(int(n_boot - used[i]), n_boot, max_dropped)
            if warning:
                eff.loc[i, "status"] = warning
    else:
        eff["n_boot_dropped"] = 0
    for scale in eff.scale.unique():
        te = eff[(eff.scale == scale) & (eff.effect == "te")]
        pm = eff.index[(eff.scale == scale) & (eff.effect == "pm_joint")]
        if te.empty or pm.empty:
            continue
        est, lo, hi = (float(te[c].iloc[0]) for c in ("estimate", "ci_low", "ci_high"))
        if scale in RATIOS:
            with np.errstate(divide="ignore", invalid="ignore"):
                est, lo, hi = np.log(est), np.log(lo), np.log(hi)
        why = pm_problem(est, (lo, hi), alpha, pm_min_total_effect)
        if why and np.isfinite(eff.loc[pm, "estimate"].astype(float)).any():
            eff.loc[pm, ["estimate", "se", "ci_low", "ci_high", "p"]] = np.nan
            eff.loc[pm, "status"] = [why if s == "ok" else f"{s}; {why}" for s in eff.loc[pm, "status"]]
        elif not str(eff.loc[pm[0], "ci_method"]).startswith("percentile"):
            eff.loc[pm, ["ci_low", "ci_high"]] = np.nan
    return eff


def mediation_sensitivity_rows(data, eff, x, m, y, m_covs, y_covs, m_family, y_family, interaction, contrast,
                               n_boot, seed, keys) -> pd.DataFrame:
    """Sensitivity of one path in one cohort to unmeasured confounding, as one long table.

    ``part = "curve"``: Imai, Keele & Yamamoto's natural indirect (nie) and direct (nde)
    effects as a function of rho, the correlation of the mediator and outcome model errors
    (linear mediator and outcome, no interaction, same covariates; Stat. Sci. 25:51–71,
    2010), with bootstrap CIs. ``part = "summary"``: per effect the rho at which it is 0 and
    the E-values (VanderWeele & Ding 2017) of the estimate and of the CI limit nearest the
    null. Other model types get the E-values of their natural effects only (ratio scale for
    binary outcomes: the risk ratio; continuous outcomes via the standardised difference).
    """
    from first1000.stats.causal import e_value, mediation_sensitivity

    linear = m_family == y_family == "gaussian" and not interaction and list(m_covs) == list(y_covs)
    if linear:
        curve, summary = mediation_sensitivity(data, x, m, y, covariates=list(m_covs), contrast=contrast,
                                               rho=np.round(np.linspace(-0.9, 0.9, 37), 2), n_boot=n_boot,
                                               seed=seed, keys=(*keys, "sensitivity"))
        return pd.concat([curve.assign(part="curve"), summary.assign(part="summary")], ignore_index=True).assign(
            exposure=x, mediator=m, outcome=y)
    rows = []
    scale = "risk_ratio" if y_family == "binomial" else "difference"
    sd = float(data[y].std(ddof=1)) if scale == "difference" else None
    for effect, name in (("pnde", "nde"), ("tnie", "nie")):
        row = eff[(eff.effect == effect) & (eff.scale == scale)]
        if row.empty:
            continue
        r = row.iloc[0]
        e_point, e_ci = e_value(r.estimate, r.ci_low, r.ci_high, scale=scale, sd=sd)
        rows.append(dict(effect=name, estimate=r.estimate, ci_low=r.ci_low, ci_high=r.ci_high, rho_at_zero=np.nan,
                         e_value_point=e_point, e_value_ci=e_ci, part="summary"))
    return pd.DataFrame(rows).assign(exposure=x, mediator=m, outcome=y)


#: Mediation effects that are not meta-analysed (a ratio of effects has no usable SE).
NOT_POOLABLE = ("proportion_mediated", "pm", "joint_pm", "pm_joint")
#: Effect scales that are ratios (meta-analysed on the log scale).
RATIO_SCALES = ("risk_ratio", "odds_ratio", "rate_ratio")


def combine_mediation(eff: pd.DataFrame, meta: dict | None = None) -> pd.DataFrame:
    """Per-cohort (and pooled) mediation rows -> plus meta-analysis rows (cohort "meta").

    Each effect (total, direct, indirect) of each path is combined across cohorts by
    inverse-variance weighting of the cohorts' estimates with their bootstrap SEs (the
    normal approximation to each cohort's bootstrap distribution), random effects by
    default as for the associations; the proportion mediated is not pooled. ``n`` is the
    sum over cohorts, ``n_boot`` the smallest cohort's. As in :func:`combine_cohorts`, the
    same function serves runs on individual data and summary-statistics-only runs.
    """
    eff = eff[eff.cohort != META].reset_index(drop=True)
    eff = eff.drop(columns=HETEROGENEITY_COLUMNS, errors="ignore")
    cohorts = sorted(c for c in eff.cohort.unique() if c != POOLED)
    if len(cohorts) > 1:
        meta = meta or {"method": "REML", "knapp_hartung": False}
        keys = [k for k in ("exposure", "mediator", "outcome", "effect", "scale", "contrast") if k in eff]
        per = eff[eff.cohort.isin(cohorts) & ~eff.effect.isin(NOT_POOLABLE)].copy()
        ratio = per.scale.isin(RATIO_SCALES) if "scale" in per else pd.Series(False, index=per.index)
        per.loc[ratio, "estimate"] = np.log(per.loc[ratio, "estimate"].astype(float))  # SE is of the log ratio
        if len(per):
            pooled = meta_analyse(per, by=keys, study="cohort", method=meta["method"],
                                  knapp_hartung=meta["knapp_hartung"], study_order=cohorts)
            if "scale" in pooled:
                back = pooled.scale.isin(RATIO_SCALES).to_numpy()
                for column in ("estimate", "ci_low", "ci_high"):
                    pooled.loc[back, column] = np.exp(pooled.loc[back, column])
            ok = per[per.status == "ok"].groupby(keys, sort=False)
            index = pd.MultiIndex.from_frame(pooled[keys])
            first = per.drop_duplicates(keys).set_index(keys)
            rows = pooled[keys].assign(
                cohort=META, estimate=pooled.estimate, se=pooled.se, ci_low=pooled.ci_low, ci_high=pooled.ci_high,
                p=pooled.p, n=ok.n.sum().reindex(index).fillna(0).astype(int).to_numpy(),
                **({"n_missing": ok.n_missing.sum().reindex(index).fillna(0).astype(int).to_numpy()}
                   if "n_missing" in per else {}),
                n_boot=ok.n_boot.min().reindex(index).to_numpy(),
                **({"n_boot_dropped": per.groupby(keys, sort=False).n_boot_dropped.max().reindex(index).to_numpy()}
                   if "n_boot_dropped" in per else {}),
                ci_method=f"meta ({meta['method']}) of bootstrap SEs",
                seed=first.seed.reindex(index).to_numpy() if "seed" in first else np.nan,
                covariates=first.covariates.reindex(index).to_numpy() if "covariates" in first else "",
                status=pooled.status, k=pooled.k.astype(int), i2=pooled.I2, tau2=pooled.tau2, q_het=pooled.Q,
                q_het_p=pooled.Q_p, direction=pooled.direction)
            eff = pd.concat([eff, rows], ignore_index=True)
    eff = eff.reset_index(drop=True)
    eff["q"] = np.nan
    if "scale" in eff:  # FDR of the total natural indirect effects (first scale) across paths, per cohort
        first_scale = eff.groupby(["cohort", "exposure", "mediator", "outcome"], sort=False).scale.transform("first")
        tnie = (eff.effect == "tnie") & (eff.scale == first_scale)
        for _, index in eff[tnie].groupby("cohort", sort=False).groups.items():
            eff.loc[index, "q"] = bh_fdr(eff.loc[index, "p"].to_numpy(dtype=float))
    front = MEDIATION_COLUMNS + [c for c in HETEROGENEITY_COLUMNS if c in eff]
    return eff.reindex(columns=front + [c for c in eff.columns if c not in front])
