"""Association and mediation stages: models per mechanism, cohort and pooled.

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

from first1000.config import POOLED
from first1000.labels import effect_unit
from first1000.stats.mediation import mediation_linear
from first1000.stats.meta import meta_analyse
from first1000.stats.multitest import bh_fdr
from first1000.stats.regression import fit_association

META = "meta"
ASSOCIATION_COLUMNS = ["cohort", "mechanism", "predictor", "response", "model", "n", "estimate", "se",
                       "ci_low", "ci_high", "p", "q", "family", "covariates", "unit", "status"]
HETEROGENEITY_COLUMNS = ["k", "i2", "tau2", "q_het", "q_het_p", "direction"]
MEDIATION_COLUMNS = ["cohort", "exposure", "mediator", "outcome", "effect", "estimate", "se", "ci_low",
                     "ci_high", "p", "n", "n_boot", "ci_method", "seed", "covariates", "status"]


def analysis_table(participants: pd.DataFrame, biomarkers: pd.DataFrame) -> pd.DataFrame:
    """Harmonised participants joined with one mechanism's prepared biomarkers."""
    return participants.merge(biomarkers.drop(columns="cohort"), on="pseudo_id", how="left",
                              validate="one_to_one")


def cohort_subsets(table: pd.DataFrame, covariates: list[str]):
    """(cohort name, data, covariates) per cohort, then pooled with cohort as covariate."""
    cohorts = sorted(table.cohort.unique())
    for cohort in cohorts:
        yield cohort, table[table.cohort == cohort], covariates
    if len(cohorts) > 1:
        yield POOLED, table, [*covariates, "cohort"]


def associations(table: pd.DataFrame, mechanism: str, spec: dict, covariates: list[str],
                 data_schema: dict, meta: dict | None = None) -> pd.DataFrame:
    """All exposure->biomarker and biomarker->outcome models of one mechanism."""
    rows = []
    for cohort, data, covs in cohort_subsets(table, covariates):
        models = [(b, e, "gaussian") for b in spec["biomarkers"] for e in spec["exposures"]]
        for outcome in spec.get("outcomes", []):
            family = "binomial" if data_schema.get(outcome, {}).get("type") == "binary" else "gaussian"
            models += [(outcome, b, family) for b in spec["biomarkers"]]
        for response, predictor, family in models:
            absent = [v for v in (response, predictor) if data[v].notna().sum() == 0]
            if absent:
                fit = dict(n=0, estimate=np.nan, se=np.nan, ci_low=np.nan, ci_high=np.nan, p=np.nan,
                           model="logistic" if family == "binomial" else "linear",
                           status=f"{absent[0]} is not measured in cohort {cohort}")
            else:
                fit = fit_association(data, response, predictor, covs, family=family)
            rows.append(dict(cohort=cohort, mechanism=mechanism, predictor=predictor, response=response,
                             family=family, covariates="+".join(covs),
                             unit=effect_unit(response, predictor, family, data_schema), **fit))
    if not rows:  # no participant at all: an empty table with the contract's columns
        return pd.DataFrame(columns=ASSOCIATION_COLUMNS)
    out = pd.DataFrame(rows)
    cohorts = sorted(c for c in out.cohort.unique() if c != POOLED)
    if len(cohorts) > 1:
        meta = meta or {"method": "REML", "knapp_hartung": False}
        out = pd.concat([out, meta_rows(out[out.cohort.isin(cohorts)], cohorts, **meta)], ignore_index=True)
    out["q"] = np.nan
    for cohort, index in out.groupby("cohort", sort=False).groups.items():
        out.loc[index, "q"] = bh_fdr(out.loc[index, "p"].to_numpy(dtype=float))
    front = ASSOCIATION_COLUMNS + [c for c in HETEROGENEITY_COLUMNS if c in out]
    return out.reindex(columns=front + [c for c in out.columns if c not in front])


def meta_rows(per_cohort: pd.DataFrame, cohorts: list[str], method: str = "REML",
              knapp_hartung: bool = False) -> pd.DataFrame:
    """Meta-analysis (default random effects, REML) of each predictor -> response across cohorts."""
    meta = meta_analyse(per_cohort, by=("predictor", "response"), study="cohort", method=method,
                        knapp_hartung=knapp_hartung, study_order=cohorts)
    first = per_cohort.drop_duplicates(["predictor", "response"]).set_index(["predictor", "response"])
    n = per_cohort[per_cohort.status == "ok"].groupby(["predictor", "response"]).n.sum()
    keys = pd.MultiIndex.from_frame(meta[["predictor", "response"]])
    out = pd.DataFrame({
        "cohort": META, "mechanism": first.mechanism.reindex(keys).to_numpy(),
        "predictor": meta.predictor, "response": meta.response,
        "model": first.model.reindex(keys).to_numpy(),
        "n": n.reindex(keys).fillna(0).astype(int).to_numpy(),
        "estimate": meta.estimate, "se": meta.se, "ci_low": meta.ci_low, "ci_high": meta.ci_high, "p": meta.p,
        "family": first.family.reindex(keys).to_numpy(), "covariates": first.covariates.reindex(keys).to_numpy(),
        "unit": first.unit.reindex(keys).to_numpy(), "status": meta.status,
        "k": meta.k.astype(int), "i2": meta.I2, "tau2": meta.tau2, "q_het": meta.Q, "q_het_p": meta.Q_p,
        "direction": meta.direction,
    })
    return out


def mediation(table: pd.DataFrame, paths: list[dict], covariates: list[str], n_boot: int, seed: int,
              ci_method: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Every declared path of one mechanism, per cohort and pooled.

    Each (cohort, exposure, mediator, outcome) draws its bootstrap resamples from its own
    stream ``SeedSequence([seed, hash(keys)])``, so adding a path never changes another.
    """
    effects, path_rows = [], []
    for path in paths:
        covs_path = path.get("covariates", covariates)
        for cohort, data, covs in cohort_subsets(table, covs_path):
            keys = (cohort, path["exposure"], path["mediator"], path["outcome"])
            eff, pth = mediation_linear(data, path["exposure"], path["mediator"], path["outcome"], covs,
                                        n_boot=n_boot, seed=seed, ci_method=ci_method, keys=keys)
            effects.append(eff.assign(cohort=cohort, covariates="+".join(covs)))
            path_rows.append(pth.assign(cohort=cohort))
    if not effects:
        return pd.DataFrame(columns=MEDIATION_COLUMNS), pd.DataFrame()
    eff = pd.concat(effects, ignore_index=True)
    eff = eff.reindex(columns=MEDIATION_COLUMNS + [c for c in eff.columns if c not in MEDIATION_COLUMNS])
    pth = pd.concat(path_rows, ignore_index=True)
    front = ["cohort", "exposure", "mediator", "outcome", "path"]
    return eff, pth[front + [c for c in pth.columns if c not in front]]
