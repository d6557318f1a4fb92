"""The bundled demo cohort: two synthetic perinatal cohorts with planted effects.

``first1000 simulate --out resources/demo --seed 20261128`` writes the data set the demo
runs on. The two cohorts code their variables as real cohorts do, differently:

* ``ghent`` (Flemish-style): CSV and XLSX, IDs like ``GH-0001``, Flemish education
  categories, monthly net household income bands, BIMD neighbourhood deciles (1 = most
  deprived), child sex ``jongen``/``meisje``, dates ``dd/mm/yyyy``, ``-9`` for missing.
* ``rotterdam`` (Dutch-style): TSV and Parquet, numeric IDs, CBS education categories,
  yearly net income bands, a continuous neighbourhood status score, child sex ``1``/``2``,
  birth weight in kg, gestational age as ``weeks+days``, ISO dates, ``NA`` for missing.

Planted structure (all written to ``truth.yaml``; natural log throughout):

* lower SES raises log hair cortisol (by the same amount in every trimester's hair), and
  the 3rd trimester's lowers birth weight: a true mediated path SES -> ln hair cortisol
  (T3) -> birth weight, with a direct effect;
* maternal resilience (Brief Resilience Scale) lengthens newborn telomeres (ln T/S), more
  in rotterdam than in ghent (planted between-cohort heterogeneity);
* maternal depressive symptoms (EPDS) raise the M-value of three NR3C1 CpGs, ln IL-6 and
  lower ln lactate (so the lactate/pyruvate log ratio);
* formate, succinate, 1-methylhistidine, alpha-glucose, dimethylamine, pyruvate, CRP,
  the CD4/CD8 ratio and the other NR3C1 CpGs depend on no exposure at all; nor do
  mtDNA content, epigenetic gestational-age acceleration, Shannon diversity and the
  CLR of the chosen taxa.

Later additions come from a second random stream per cohort (:func:`_extra_rng`), so
that the files and effects above keep their values:

* ghent's participants table holds the EPDS, PSS-10 and BRS *items* (the mapping scores
  them, prorating a few participants with one missing item), both cohorts the 5-minute
  Apgar score and pre-eclampsia, gestational hypertension and gestational diabetes;
* about 10 % of the telomere samples are re-run on extra plates (inter-assay CV, ICC);
* an mtDNA qPCR table (MT-ND1 vs a nuclear gene, calibrator on every plate);
* the last 148 CpGs of the epigenome-wide matrix are the Knight 2016 gestational-age
  clock CpGs, whose betas track the clinical gestational age;
* an infant gut microbiome count table (25 genera, Dirichlet-multinomial).

A third stream per cohort (:func:`_third_rng`) adds:

* hair-sample covariates: washes per week, chemically treated hair and corticosteroid
  use in ghent, corticosteroid use only in rotterdam (no effect on cortisol planted);
* maternal CMV IgG serostatus (45 % positive) in both cohorts;
* for the participants with methylation data, the methylation plate (both cohorts) and
  cord-blood cell-type proportions (ghent; Dirichlet around typical cord-blood shares; no
  effect on methylation planted);
* IL-1β (about a third below detection, no exposure effect) and NK-cell activity
  (% lysis), which is higher in CMV-positive mothers and, among them only, lower with
  EPDS (planted effect modification by CMV serostatus);
* a rotterdam neonatal brain MRI sub-study (about half): right amygdala volume (mm³,
  larger with EPDS), hippocampal volume (mm³) and default-mode-network connectivity
  (Fisher z), neither of the last two related to any exposure.

A fourth stream per cohort (:func:`_fourth_rng`) adds the child follow-up to age 2 (and a
fifth, :func:`_fifth_rng`, the mediating CpGs of the children without a measured matrix)
(``child_followup``: ghent in days, rotterdam in months): visits near 6, 12 and 24 months
(90 %, 85 % and 80 % seen), weight, recumbent length (a fifth of the 24-month lengths
measured standing, 0.7 cm shorter) and head circumference drawn on the WHO 2006 standards
at the age corrected for prematurity, with an SES gradient in weight-for-length z that
widens with age (``SES_ON_WLZ_PER_YEAR`` SD per SES unit per year of age, none at birth),
and the ASQ-3 communication score at 24 months, lower with maternal EPDS
(``EPDS_ON_ASQ_COMMUNICATION`` points per EPDS point directly, and through the first five
planted EWAS CpGs, ``HIGHDIM_MEDIATORS``, each lowering it by ``CPG_ON_ASQ_COMMUNICATION``
points per M-value unit: a high-dimensional mediation to find among the matrix's CpGs).

The SES index the effects are planted on is the one the pipeline computes: the mean of
within-cohort z-scores (SD with ddof=1) of the ISCED 2011 level, ln OECD-equivalised
household income (band midpoints declared in ``config/cohorts/*.yaml``) and the
neighbourhood indicator (higher = more advantaged).
"""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from first1000.io import atomic_path

DEMO_SEED = 20261128

# Exposure -> biomarker effects, natural units (per unit of the exposure).
SES_ON_CORTISOL_T3 = -0.20  # ln pg/mg per unit of the SES index
CORTISOL_T3_ON_BIRTH_WEIGHT = -140.0  # g per ln pg/mg
SES_DIRECT_ON_BIRTH_WEIGHT = 25.0  # g per unit of the SES index
# ln T/S per point of the Brief Resilience Scale; differs between the cohorts (planted
# heterogeneity, as consortia see it: the meta-analysis must show it in I2).
RESILIENCE_ON_TELOMERES = {"ghent": 0.06, "rotterdam": 0.14}
EPDS_ON_NR3C1 = 0.025  # M-value per EPDS point
EPDS_ON_IL6 = 0.015  # ln pg/mL per EPDS point
EPDS_ON_LACTATE = -0.012  # ln umol/L per EPDS point
# Third stream (see the module docstring): NK-cell activity lower with EPDS among CMV
# seropositive mothers only (planted effect modification), neonatal amygdala volume
# larger with EPDS (rotterdam MRI sub-study).
EPDS_ON_NK_CMV_POSITIVE = -0.025  # ln % lysis per EPDS point, CMV IgG positive
CMV_ON_NK = 0.15  # ln % lysis, CMV positive vs negative
CMV_PREVALENCE = 0.45
EPDS_ON_AMYGDALA = 6.0  # mm3 per EPDS point (right amygdala, neonatal MRI; larger than published, for power)
MRI_SHARE = 0.5  # rotterdam participants with a neonatal MRI
SES_ON_WLZ_PER_YEAR = -0.25  # weight-for-length z per SES unit per year of age (lower SES: heavier for length)
EPDS_ON_ASQ_COMMUNICATION = -0.5  # ASQ-3 communication points at 24 months per EPDS point (direct)
# ... and through cord-blood methylation: the first 5 planted EWAS CpGs (EPDS raises their
# M-value by EPDS_ON_NR3C1 per point) lower the 24-month ASQ-3 communication score.
HIGHDIM_MEDIATORS = [f"cg90{k:07d}" for k in range(5)]
CPG_ON_ASQ_COMMUNICATION = -10.0  # ASQ-3 points per M-value unit of each of HIGHDIM_MEDIATORS
FOLLOWUP_VISITS = ((182.6, 7.0, 0.90), (365.25, 10.0, 0.85), (730.5, 6.0, 0.80))  # age (days), SD, share seen

NR3C1_CPGS = [
    "cg04111177", "cg15910486", "cg18068240", "cg15645634",
    "cg27107893", "cg12466613", "cg26464411", "cg10847032",
]
NR3C1_PLANTED = ["cg04111177", "cg15910486", "cg27107893"]

METABOLITES = {  # column name -> (median umol/L, LOD umol/L)
    "formate": (30.0, 4.0),
    "succinate": (5.0, 2.5),
    "1-methylhistidine": (8.0, 1.5),
    "alpha-glucose": (4500.0, 50.0),
    "dimethylamine": (3.0, 2.0),
    "lactate": (1800.0, 50.0),
    "pyruvate": (90.0, 5.0),
}

GHENT_EDUCATION = [  # (category, ISCED level, share)
    ("lager onderwijs", 1, 0.02), ("lager secundair onderwijs", 2, 0.08),
    ("hoger secundair onderwijs", 3, 0.30), ("se-n-se", 4, 0.03), ("hbo5", 5, 0.04),
    ("bachelor", 6, 0.30), ("master", 7, 0.20), ("doctoraat", 8, 0.03),
]
ROTTERDAM_EDUCATION = [
    ("basisonderwijs", 1, 0.03), ("vmbo", 2, 0.10), ("mbo-1", 2, 0.02),
    ("havo/vwo onderbouw", 2, 0.02), ("havo/vwo", 3, 0.08), ("mbo 2-4", 3, 0.27),
    ("hbo associate degree", 5, 0.02), ("hbo bachelor", 6, 0.22), ("wo bachelor", 6, 0.04),
    ("wo master", 7, 0.17), ("doctoraat", 8, 0.03),
]
# Income band labels, edges (EUR) and the midpoints the cohort mapping declares.
GHENT_INCOME = {  # monthly net household income
    "edges": [0, 1500, 2500, 3500, 5000, np.inf],
    "labels": ["minder dan 1500", "1500-2499", "2500-3499", "3500-4999", "5000 of meer"],
    "midpoints": [1000, 2000, 3000, 4250, 6000],
}
ROTTERDAM_INCOME = {  # yearly net household income
    "edges": [0, 20000, 30000, 45000, 60000, np.inf],
    "labels": ["< 20.000", "20.000-29.999", "30.000-44.999", "45.000-59.999", ">= 60.000"],
    "midpoints": [15000, 25000, 37500, 52500, 75000],
}

COVARIATE_NOTE = "maternal_age, bmi, parity, smoking, child_sex"

#: Clock whose CpGs replace the last synthetic CpGs of the demo's epigenome-wide matrix.
DEMO_CLOCK = "knight2016"
N_EWAS_CPGS = 2000
GENERA = [
    "Bifidobacterium", "Bacteroides", "Escherichia/Shigella", "Streptococcus", "Enterococcus",
    "Staphylococcus", "Clostridium", "Veillonella", "Klebsiella", "Lactobacillus", "Enterobacter",
    "Parabacteroides", "Faecalibacterium", "Ruminococcus", "Blautia", "Collinsella", "Akkermansia",
    "Prevotella", "Rothia", "Haemophilus", "Eggerthella", "Citrobacter", "Lachnoclostridium",
    "Actinomyces", "Megasphaera",
]


def ewas_cpg_ids() -> list[str]:
    """CpG IDs of the demo's epigenome-wide matrix: synthetic IDs, then the clock's CpGs."""
    from first1000.mechanisms.clocks import load_clock

    clock = load_clock(DEMO_CLOCK).cpgs
    return [f"cg90{k:07d}" for k in range(N_EWAS_CPGS - len(clock))] + list(clock)


def _extra_rng(seed: int, index: int) -> np.random.Generator:
    """The second random stream of cohort ``index`` (additions after the first release)."""
    return np.random.default_rng(np.random.SeedSequence([seed, 1000 + index]))


def _third_rng(seed: int, index: int) -> np.random.Generator:
    """The third random stream of cohort ``index`` (hair covariates, CMV, IL-1β, NK, MRI)."""
    return np.random.default_rng(np.random.SeedSequence([seed, 2000 + index]))


def _fourth_rng(seed: int, index: int) -> np.random.Generator:
    """The fourth random stream of cohort ``index`` (child follow-up to age 2)."""
    return np.random.default_rng(np.random.SeedSequence([seed, 3000 + index]))


def _fifth_rng(seed: int, index: int) -> np.random.Generator:
    """The fifth random stream of cohort ``index`` (the unmeasured children's mediating CpGs),
    so that the follow-up's own draws keep their values."""
    return np.random.default_rng(np.random.SeedSequence([seed, 4000 + index]))


def _followup(rng: np.random.Generator, people: pd.DataFrame, ids: list[str], cohort: str,
              ewas: pd.DataFrame | None = None, cpg_rng: np.random.Generator | None = None) -> pd.DataFrame:
    """Child follow-up visits to age 2 on the WHO 2006 standards (see the module doc)."""
    from first1000.scoring.growth import HEIGHT_FROM_DAYS, corrected_age_days, who_value

    n = len(people)
    # The mediating CpGs' M-values: measured (the epigenome-wide matrix's children), else
    # drawn from the same model (every child has cord-blood methylation; not all measured).
    epds_all = people.epds.to_numpy(float)
    cpg_effect = np.zeros(n)
    if ewas is not None:
        rows = ewas.set_index("cpg").loc[HIGHDIM_MEDIATORS].astype(float)
        measured = pd.Series(range(n), index=ids).reindex(rows.columns).to_numpy()
        beta = rows.to_numpy()
        m_measured = np.log2(beta / (1 - beta))
        mean = m_measured.mean(axis=1)
        m_all = (mean[:, None] + EPDS_ON_NR3C1 * (epds_all - epds_all[measured].mean())[None, :]
                 + (cpg_rng or np.random.default_rng(0)).normal(0, 0.4, (len(HIGHDIM_MEDIATORS), n)))
        m_all[:, measured] = m_measured
        cpg_effect = CPG_ON_ASQ_COMMUNICATION * (m_all - mean[:, None]).sum(axis=0)
    sex = np.where(people.male.to_numpy() == 1, "male", "female")
    ses = people.ses_index.to_numpy()
    epds = people.epds.to_numpy(float)
    ga = people.gestational_age_days.to_numpy(float)
    length_level = rng.normal(0, 0.9, n) + 0.15 * ses
    weight_level = rng.normal(0.2, 0.8, n)
    head_level = rng.normal(0, 0.9, n)
    rows = []
    for visit, (mean_age, sd, seen) in enumerate(FOLLOWUP_VISITS):
        who = np.flatnonzero(rng.random(n) < seen)
        age = np.clip(np.round(mean_age + rng.normal(0, sd, who.size)), 0, HEIGHT_FROM_DAYS - 1)
        corrected = np.maximum(np.round(corrected_age_days(age, ga[who])), 0).astype(np.int64)
        years = age / 365.25
        laz = np.clip(length_level[who] + rng.normal(0, 0.3, who.size), -3, 3)
        wlz = np.clip(weight_level[who] + SES_ON_WLZ_PER_YEAR * ses[who] * years + rng.normal(0, 0.35, who.size),
                      -3, 3)
        hcz = np.clip(head_level[who] + rng.normal(0, 0.3, who.size), -3, 3)
        length = np.round(who_value("laz", sex[who], corrected, laz), 1)
        length = np.clip(length, 45.0, 110.0)
        weight = np.round(who_value("wlz", sex[who], length, wlz), 2)
        head = np.round(who_value("hcz", sex[who], corrected, hcz), 1)
        standing = (visit == 2) & (rng.random(who.size) < 0.2)
        asq = np.full(who.size, np.nan)
        if visit == 2:
            raw = 45 + EPDS_ON_ASQ_COMMUNICATION * (epds[who] - 7) + cpg_effect[who] + rng.normal(0, 8, who.size)
            asq = np.clip(5 * np.round(raw / 5), 0, 60)
        rows.append(pd.DataFrame({"who": who, "age": age, "weight": weight,
                                  "length": np.round(np.where(standing, length - 0.7, length), 1),
                                  "measure": np.where(standing, "h", "l"), "head": head, "asq": asq}))
    visits = pd.concat(rows, ignore_index=True).sort_values(["who", "age"], kind="stable")
    child = np.asarray(ids, dtype=object)[visits.who.to_numpy()]
    if cohort == "ghent":
        return pd.DataFrame({"participant_id": child, "leeftijd_dagen": visits.age.astype(int).to_numpy(),
                             "gewicht_kg": visits.weight.to_numpy(), "lengte_cm": visits.length.to_numpy(),
                             "meting": np.where(visits.measure == "h", "H", "L"),
                             "hoofdomtrek_cm": visits["head"].to_numpy(),
                             "asq_communicatie": np.where(visits.asq.isna(), "-9",
                                                          visits.asq.map("{:.0f}".format))})
    return pd.DataFrame({"id": child, "age_months": np.round(visits.age.to_numpy() / 30.4375, 2),
                         "weight_kg": visits.weight.to_numpy(), "length_cm": visits.length.to_numpy(),
                         "length_measure": visits.measure.to_numpy(), "head_circumference_cm": visits["head"].to_numpy(),
                         "asq_communication": visits.asq.to_numpy()})


def _allocate(rng, totals, k, lo, hi):
    """k whole-number item scores in [lo, hi] per row summing to each total (random split)."""
    out = np.full((len(totals), k), lo, dtype=int)
    for i, total in enumerate(np.asarray(totals, int)):
        for _ in range(int(total) - k * lo):
            free = np.flatnonzero(out[i] < hi)
            out[i, rng.choice(free)] += 1
    return out


def _items(rng, people, missing_code):
    """EPDS, PSS-10 and BRS item responses (as coded in the questionnaires) from the scores."""
    from first1000.scoring.questionnaires import INSTRUMENTS

    columns = {}
    specs = (("epds", "epds", people.epds.to_numpy()),
             ("pss10", "pss", people.pss.to_numpy()),
             ("brs", "brs", np.round(people.brs.to_numpy() * 6)))
    n = len(people)
    for instrument, prefix, totals in specs:
        d = INSTRUMENTS[instrument]
        k, lo, hi = d["items"], d["min"], d["max"]
        scores = _allocate(rng, np.clip(totals, k * lo, k * hi), k, lo, hi)
        responses = scores.copy()
        for r in d["reversed"]:
            responses[:, r - 1] = lo + hi - scores[:, r - 1]
        text = responses.astype(str).astype(object)
        gap = rng.random(n) < 0.04  # one unanswered item: the score is prorated
        text[gap, rng.integers(0, k, size=n)[gap]] = missing_code
        for j in range(k):
            columns[f"{prefix}_{j + 1}"] = text[:, j]
    return pd.DataFrame(columns)


def _qpcr_runs(rng, samples, ln_ratio, calibrator, targets, *, reference_ct, gap, first_plate, prefix="P",
               per_plate=15):
    """qPCR wells in triplicate: per plate the calibrator and up to ``per_plate`` samples.

    Ct(reference) ~ ``reference_ct``; Ct(target) = Ct(reference) - ``gap`` - ln ratio / ln 2,
    with plate shifts of each assay that only the calibrator on the plate removes.
    """
    rows = []
    for p, start in enumerate(range(0, len(samples), per_plate)):
        plate = f"{prefix}{first_plate + p:02d}"
        shift_t, shift_s = rng.normal(scale=0.15), rng.normal(scale=0.05)
        well = 0
        for sample, value in [(calibrator, 0.0)] + list(zip(samples[start:start + per_plate],
                                                           ln_ratio[start:start + per_plate])):
            ct_s = reference_ct + rng.normal(scale=0.4) + shift_s
            ct_t = ct_s - gap + shift_t - shift_s - value / np.log(2)
            for target, ct in ((targets[0], ct_t), (targets[1], ct_s)):
                for _ in range(3):
                    well += 1
                    rows.append((plate, f"{'ABCDEFGH'[(well - 1) // 12]}{(well - 1) % 12 + 1}", sample, target,
                                 round(ct + rng.normal(scale=0.06), 3)))
    return pd.DataFrame(rows, columns=["plate", "well", "sample", "target", "ct"])


def _zscore(x: np.ndarray) -> np.ndarray:
    return (x - x.mean()) / x.std(ddof=1)


def _ordinal(latent: np.ndarray, shares: list[float]) -> np.ndarray:
    """Cut a latent variable at its empirical quantiles to get categories with given shares."""
    cuts = np.quantile(latent, np.cumsum(shares)[:-1])
    return np.searchsorted(cuts, latent, side="right")


def _simulate_people(rng: np.random.Generator, n: int, cohort: str) -> pd.DataFrame:
    """Draw one cohort's participants on the harmonised scale (before cohort coding)."""
    ses_latent = rng.normal(size=n)
    education = GHENT_EDUCATION if cohort == "ghent" else ROTTERDAM_EDUCATION
    edu_idx = _ordinal(ses_latent + rng.normal(scale=0.8, size=n), [e[2] for e in education])
    income_spec = GHENT_INCOME if cohort == "ghent" else ROTTERDAM_INCOME
    monthly = np.exp(8.0 + 0.35 * ses_latent + rng.normal(scale=0.35, size=n))
    yearly_factor = 1 if cohort == "ghent" else 12
    band = np.searchsorted(income_spec["edges"][1:-1], monthly * yearly_factor, side="right")
    adults = rng.choice([1, 2, 2, 2, 2, 2, 2, 3], size=n)
    children = rng.choice([0, 0, 0, 1, 1, 2, 3], size=n)
    oecd = 1 + 0.5 * (adults - 1) + 0.3 * children
    midpoint_monthly = np.asarray(income_spec["midpoints"], float)[band] / yearly_factor
    if cohort == "ghent":  # BIMD decile, 1 = most deprived
        neighbourhood = np.clip(
            np.round(5.5 + 2.2 * (0.6 * ses_latent + 0.8 * rng.normal(size=n))), 1, 10
        )
    else:  # neighbourhood status score, higher = more advantaged
        neighbourhood = np.round(0.9 * (0.6 * ses_latent + 0.8 * rng.normal(size=n)), 2)
    isced = np.array([education[i][1] for i in edu_idx], float)
    ses_index = (
        _zscore(isced) + _zscore(np.log(midpoint_monthly / oecd)) + _zscore(neighbourhood)
    ) / 3.0

    age = np.round(np.clip(31 + 1.5 * ses_latent + rng.normal(scale=4.2, size=n), 17, 46), 1)
    bmi = np.round(np.clip(25 - 1.0 * ses_latent + rng.normal(scale=4.3, size=n), 16, 48), 1)
    parity = np.minimum(rng.poisson(0.8, size=n), 5)
    smoking = (rng.random(n) < 1 / (1 + np.exp(2.3 + 0.6 * ses_latent))).astype(int)
    male = (rng.random(n) < 0.51).astype(int)

    stress = -0.25 * ses_latent + np.sqrt(1 - 0.25**2) * rng.normal(size=n)
    epds = np.clip(np.round(7 + 4.5 * (0.8 * stress + 0.6 * rng.normal(size=n))), 0, 30)
    pss = np.clip(np.round(14 + 5.5 * (0.6 * stress + 0.8 * rng.normal(size=n))), 0, 40)
    brs = np.clip(np.round(3.5 - 0.6 * (0.4 * stress + 0.9 * rng.normal(size=n)), 2), 1, 5)

    # Hair cortisol (ln pg/mg): the 3rd-trimester segment carries the SES effect.
    person = rng.normal(scale=0.45, size=n)
    cov_effect = 0.010 * (bmi - 25) + 0.15 * smoking + 0.02 * (parity > 0)
    ln_cort = {
        window: np.log(median) + SES_ON_CORTISOL_T3 * ses_index + cov_effect + person
        + rng.normal(scale=0.35, size=n)
        for window, median in (("t3", 20.1), ("t2", 6.8), ("t1", 5.7))
    }
    gestational_age = np.where(
        rng.random(n) < 0.07, rng.integers(224, 259, size=n),
        np.clip(np.round(281 + rng.normal(scale=8, size=n)), 259, 300),
    ).astype(int)
    birth_weight = np.round(
        3450 + SES_DIRECT_ON_BIRTH_WEIGHT * ses_index
        + CORTISOL_T3_ON_BIRTH_WEIGHT * (ln_cort["t3"] - np.log(20.1))
        - 160 * smoking + 120 * male + 8 * (bmi - 25) + 40 * (parity > 0)
        + 22 * (gestational_age - 281) + rng.normal(scale=330, size=n)
    )
    ln_ts = 0.0 + RESILIENCE_ON_TELOMERES[cohort] * (brs - 3.5) - 0.05 * male + rng.normal(scale=0.22, size=n)
    delivery = pd.Timestamp("2023-01-01") + pd.to_timedelta(rng.integers(0, 730, size=n), "D")
    return pd.DataFrame({
        "education_category": [education[i][0] for i in edu_idx],
        "income_band": np.array(income_spec["labels"])[band],
        "adults": adults, "children": children, "neighbourhood": neighbourhood,
        "ses_index": ses_index, "maternal_age": age, "bmi": bmi, "parity": parity,
        "smoking": smoking, "male": male, "epds": epds.astype(int), "pss": pss.astype(int),
        "brs": brs, "ln_cort_t1": ln_cort["t1"], "ln_cort_t2": ln_cort["t2"],
        "ln_cort_t3": ln_cort["t3"], "gestational_age_days": gestational_age,
        "birth_weight_g": birth_weight.astype(int), "ln_ts": ln_ts, "delivery": delivery,
    })


def _qpcr(rng, ids, ln_ts, calibrator_id, single_copy, sd_bad_share=0.02):
    """qPCR Ct values in triplicate; each plate holds a calibrator and ~15 samples.

    Plate effects differ between the telomere and the single-copy assay, so only
    normalisation to each plate's calibrator removes them (Cawthon 2002; Pfaffl 2001).
    """
    rows = []
    per_plate = 15
    order = rng.permutation(len(ids))
    for p, start in enumerate(range(0, len(ids), per_plate)):
        plate = f"P{p + 1:02d}"
        shift_t, shift_s = rng.normal(scale=0.15), rng.normal(scale=0.05)
        members = [(calibrator_id, 0.0)] + [(ids[i], ln_ts[i]) for i in order[start:start + per_plate]]
        well = 0
        for sample, lts in members:
            ct_s = 24.0 + rng.normal(scale=0.4) + shift_s
            ct_t = ct_s - 9.0 + shift_t - shift_s - lts / np.log(2)
            bad = sample != calibrator_id and rng.random() < sd_bad_share
            for target, ct in (("telomere", ct_t), (single_copy, ct_s)):
                for _ in range(3):
                    noise = rng.normal(scale=0.6 if bad and target == "telomere" else 0.06)
                    well += 1
                    rows.append((plate, f"{'ABCDEFGH'[(well - 1) // 12]}{(well - 1) % 12 + 1}",
                                 sample, target, round(ct + noise, 3)))
    return pd.DataFrame(rows, columns=["plate", "well", "sample", "target", "ct"])


def _beta_from_m(m):
    return 2.0**m / (1 + 2.0**m)


class _ClockBetas:
    """Betas of the demo clock's CpGs that make it read the clinical gestational age.

    beta_j = reference median_j + coef_j (GA - clock at the reference) / sum coef^2, plus
    noise (SD 0.015, about 0.7 weeks of DNAm GA), clipped to [0.001, 0.999].
    """

    @property
    def cpgs(self) -> list[str]:
        from first1000.mechanisms.clocks import load_clock

        return load_clock(DEMO_CLOCK).cpgs

    def __call__(self, rng, ga_weeks):
        from first1000.mechanisms.clocks import load_clock, load_reference

        clock = load_clock(DEMO_CLOCK)
        coef = clock.coefficients.to_numpy(float)
        ref = load_reference().reindex(clock.cpgs).to_numpy(float)
        at_reference = clock.intercept + coef @ ref
        shift = (np.asarray(ga_weeks, float) - at_reference) / (coef @ coef)
        beta = ref[:, None] + coef[:, None] * shift[None, :] + rng.normal(scale=0.015, size=(len(coef), len(shift)))
        return np.clip(beta, 0.001, 0.999)


_clock_betas = _ClockBetas()


def simulate_cohort(rng: np.random.Generator, cohort: str, n: int, extra: np.random.Generator | None = None,
                    third: np.random.Generator | None = None):
    """Return ({file name: DataFrame}, participant IDs) for one cohort, in its own coding.

    ``extra``, ``third``: the second and third random streams (the additions listed in
    the module docstring).
    """
    extra = extra if extra is not None else np.random.default_rng(0)
    third = third if third is not None else np.random.default_rng(1)
    people = _simulate_people(rng, n, cohort)
    ghent = cohort == "ghent"
    ids = (
        [f"GH-{i + 1:04d}" for i in range(n)] if ghent
        else [str(v) for v in 100000 + rng.choice(900000, size=n, replace=False)]
    )
    bmi_missing = rng.random(n) < 0.02
    if ghent:
        participants = pd.DataFrame({
            "participant_id": ids,
            "maternal_age_y": people.maternal_age,
            "bmi_kg_m2": np.where(bmi_missing, "-9", people.bmi.astype(str)),
            "parity": people.parity,
            "smoking_pregnancy": np.where(people.smoking == 1, "ja", "nee"),
            "child_sex": np.where(people.male == 1, "jongen", "meisje"),
            "gestational_age_days": people.gestational_age_days,
            "birth_weight_g": people.birth_weight_g,
            "epds_total": people.epds, "pss10_total": people.pss, "brs_mean": people.brs,
            "education": people.education_category, "income_band": people.income_band,
            "household_adults": people.adults, "household_children_under14": people.children,
            "employment": rng.choice(["werkend", "werkend", "werkend", "werkloos", "student"], size=n),
            "bimd_decile": people.neighbourhood.astype(int),
            "delivery_date": people.delivery.dt.strftime("%d/%m/%Y"),
        })
    else:
        ga = people.gestational_age_days
        participants = pd.DataFrame({
            "id": ids,
            "leeftijd_moeder": people.maternal_age,
            "bmi": np.where(bmi_missing, "NA", people.bmi.astype(str)),
            "pariteit": people.parity,
            "roken": people.smoking,
            "geslacht_kind": np.where(people.male == 1, 1, 2),
            "zwangerschapsduur": [f"{d // 7}+{d % 7}" for d in ga],
            "geboortegewicht_kg": (people.birth_weight_g / 1000).round(3),
            "vroeggeboorte": (ga < 259).astype(int),
            "epds": people.epds, "pss10": people.pss, "brs": people.brs,
            "opleiding": people.education_category, "netto_jaarinkomen": people.income_band,
            "n_volwassenen": people.adults, "n_kinderen_onder_14": people.children,
            "werksituatie": rng.choice(["betaald werk", "betaald werk", "werkloos", "studerend"], size=n),
            "wijk_statusscore": people.neighbourhood,
            "bevallingsdatum": people.delivery.dt.strftime("%Y-%m-%d"),
        })
    id_col = "participant_id" if ghent else "id"
    # Questionnaire items (ghent), Apgar score and pregnancy complications (both).
    if ghent:
        items = _items(extra, people, "-9")
        participants = pd.concat([participants.drop(columns=["epds_total", "pss10_total", "brs_mean"]), items],
                                 axis=1)
    apgar = np.clip(10 - extra.poisson(0.6, size=n) - 4 * (extra.random(n) < 0.02), 0, 10).astype(int)
    complications = {name: (extra.random(n) < share).astype(int)
                     for name, share in (("pe", 0.03), ("gh", 0.06), ("gdm", 0.05))}
    if ghent:
        participants["apgar_5min"] = apgar
        for name, column in (("pe", "pre_eclampsie"), ("gh", "zwangerschapshypertensie"),
                             ("gdm", "zwangerschapsdiabetes")):
            participants[column] = np.where(complications[name] == 1, "ja", "nee")
    else:
        participants["apgar_5"] = apgar
        for name, column in (("pe", "pre_eclampsie"), ("gh", "zwangerschapshypertensie"), ("gdm", "gdm")):
            participants[column] = complications[name]

    # Third stream: hair-sample covariates (ghent all three, rotterdam corticosteroids
    # only), maternal CMV serostatus (both).
    washes = np.clip(np.round(third.gamma(4.0, 0.9, size=n)), 0, 21).astype(int)
    treated = third.random(n) < 0.3
    steroids = third.random(n) < 0.05
    cmv = third.random(n) < CMV_PREVALENCE
    if ghent:
        participants["haarwassen_per_week"] = washes
        participants["haar_gekleurd"] = np.where(treated, "ja", "nee")
        participants["corticosteroiden"] = np.where(steroids, "ja", "nee")
        participants["cmv_igg"] = np.where(cmv, "positief", "negatief")
    else:
        participants["corticosteroiden"] = steroids.astype(int)
        participants["cmv_igg"] = cmv.astype(int)

    # Hair cortisol segments, sampled at delivery; 1 cm of hair ~ 1 month.
    has_hair = rng.random(n) < 0.9
    loq = 1.5
    segments = [("t3", 0, 3), ("t2", 3, 6), ("t1", 6, 9)] if ghent else [("t3", 0, 3), ("t2", 3, 6)]
    hair_rows = []
    for i in np.flatnonzero(has_hair):
        for window, start, end in segments:
            value = float(np.exp(people[f"ln_cort_{window}"].iloc[i]))
            text = "<LOQ" if value < loq else f"{value:.2f}"
            hair_rows.append((ids[i], start, end, text))
    hair = pd.DataFrame(hair_rows, columns=["participant_id", "segment_from_cm", "segment_to_cm", "cortisol_pg_mg"])
    if not ghent:
        hair = pd.DataFrame({
            "id": hair.participant_id,
            "segment": hair.segment_from_cm.astype(str) + "-" + hair.segment_to_cm.astype(str),
            "hair_segment_from_cm": hair.segment_from_cm, "hair_segment_to_cm": hair.segment_to_cm,
            "cortisol_pg_mg": hair.cortisol_pg_mg,
        })

    has_tl = rng.random(n) < 0.85
    tl_idx = np.flatnonzero(has_tl)
    qpcr = _qpcr(rng, [ids[i] for i in tl_idx], people.ln_ts.to_numpy()[tl_idx],
                 "CAL" if ghent else "IRC-1", "36B4" if ghent else "albumin")
    # About 10 % of the samples re-run on extra plates (inter-assay CV and ICC).
    rerun = np.sort(extra.choice(len(tl_idx), size=len(tl_idx) // 10, replace=False))
    n_plates = qpcr.plate.nunique()
    again = _qpcr_runs(extra, [ids[tl_idx[i]] for i in rerun], people.ln_ts.to_numpy()[tl_idx][rerun],
                       "CAL" if ghent else "IRC-1", ("telomere", "36B4" if ghent else "albumin"),
                       reference_ct=24.0, gap=9.0, first_plate=n_plates + 1)
    qpcr = pd.concat([qpcr, again], ignore_index=True)
    if not ghent:
        qpcr = qpcr.rename(columns={"plate": "Plate", "well": "Well", "sample": "Sample", "target": "Target", "ct": "Ct"})

    # mtDNA content (MT-ND1 vs a nuclear single-copy gene), no exposure effect.
    mt_idx = np.flatnonzero(extra.random(n) < 0.85)
    mt_order = extra.permutation(mt_idx)
    ln_mt = 0.1 * (people.maternal_age.to_numpy()[mt_order] - 31) / 4.2 + extra.normal(scale=0.3, size=len(mt_order))
    mt_targets = ("MT-ND1", "B2M" if ghent else "HBB")
    mtdna = _qpcr_runs(extra, [ids[i] for i in mt_order], ln_mt, "CAL" if ghent else "IRC-1", mt_targets,
                       reference_ct=25.5, gap=8.0, first_plate=1, prefix="MT")
    rerun = extra.choice(len(mt_order), size=len(mt_order) // 10, replace=False)
    mtdna = pd.concat([mtdna, _qpcr_runs(extra, [ids[mt_order[i]] for i in rerun], ln_mt[rerun],
                                         "CAL" if ghent else "IRC-1", mt_targets, reference_ct=25.5, gap=8.0,
                                         first_plate=mtdna.plate.nunique() + 1, prefix="MT")],
                      ignore_index=True)

    # Candidate CpGs (NR3C1); cord blood beta values.
    has_meth = rng.random(n) < 0.8
    m_idx = np.flatnonzero(has_meth)
    meth = {id_col: [ids[i] for i in m_idx]}
    for j, cpg in enumerate(NR3C1_CPGS):
        effect = EPDS_ON_NR3C1 if cpg in NR3C1_PLANTED else 0.0
        m = -3.0 + 0.25 * j + effect * people.epds.to_numpy()[m_idx] + rng.normal(scale=0.35, size=len(m_idx))
        meth[cpg] = np.round(_beta_from_m(m), 5)
    methylation = pd.DataFrame(meth)

    # A small epigenome-wide matrix (CpG x sample): 2,000 CpGs, 10 planted for EPDS; the
    # last 148 are the Knight 2016 clock's CpGs, tracking gestational age.
    n_cpg = N_EWAS_CPGS
    cpg_ids = ewas_cpg_ids()
    base = rng.normal(0.0, 2.0, size=(n_cpg, 1))
    m_mat = base + rng.normal(scale=0.4, size=(n_cpg, len(m_idx)))
    m_mat[:10] += EPDS_ON_NR3C1 * people.epds.to_numpy()[m_idx][None, :]
    beta = _beta_from_m(m_mat)
    beta[-len(_clock_betas.cpgs):] = _clock_betas(extra, people.gestational_age_days.to_numpy()[m_idx] / 7.0)
    ewas = pd.DataFrame(np.round(beta, 4).astype(np.float32), columns=meth[id_col])
    ewas.insert(0, "cpg", cpg_ids)

    has_nmr = rng.random(n) < 0.85
    nmr_idx = np.flatnonzero(has_nmr)
    epds_nmr = people.epds.to_numpy()[nmr_idx]
    nmr = {id_col: [ids[i] for i in nmr_idx]}
    for name, (median, lod) in METABOLITES.items():
        effect = EPDS_ON_LACTATE if name == "lactate" else 0.0
        value = np.exp(np.log(median) + effect * (epds_nmr - 7) + rng.normal(scale=0.3, size=len(nmr_idx)))
        nmr[name] = np.where(value < lod, "<LOD", np.char.mod("%.2f", value))
    metabolites = pd.DataFrame(nmr)

    has_imm = rng.random(n) < 0.8
    imm_idx = np.flatnonzero(has_imm)
    epds_imm = people.epds.to_numpy()[imm_idx]
    il6 = np.exp(np.log(1.5) + EPDS_ON_IL6 * (epds_imm - 7) + rng.normal(scale=0.6, size=len(imm_idx)))
    crp = np.exp(np.log(4.0) + rng.normal(scale=0.9, size=len(imm_idx)))
    cd4cd8 = np.exp(np.log(1.8) + rng.normal(scale=0.3, size=len(imm_idx)))
    immune = pd.DataFrame({
        id_col: [ids[i] for i in imm_idx],
        "il6_pg_ml": np.where(il6 < 0.4, "<LOD", np.char.mod("%.3f", il6)),
        "crp_mg_l": np.round(crp, 2), "cd4_cd8_ratio": np.round(cd4cd8, 3),
    })
    # Third stream: IL-1β (about a third below detection, no exposure effect) and NK-cell
    # activity (% lysis; lower with EPDS among CMV seropositive mothers only).
    il1b = np.exp(np.log(0.3) + third.normal(scale=0.8, size=len(imm_idx)))
    cmv_imm = cmv[imm_idx]
    ln_nk = (np.log(25.0) + CMV_ON_NK * cmv_imm + EPDS_ON_NK_CMV_POSITIVE * cmv_imm * (epds_imm - 7)
             + third.normal(scale=0.35, size=len(imm_idx)))
    immune["il1b_pg_ml"] = np.where(il1b < 0.2, "<LOD", np.char.mod("%.3f", il1b))
    immune["nk_lysis_pct"] = np.round(np.clip(np.exp(ln_nk), 1.0, 95.0), 1)

    # Infant gut microbiome (stool at about 1 month): 25 genera, Dirichlet-multinomial counts.
    mb_idx = np.flatnonzero(extra.random(n) < 0.7)
    profile = np.sort(extra.dirichlet(np.full(len(GENERA), 0.6)))[::-1]
    depth = np.round(np.exp(extra.normal(np.log(30000), 0.5, size=len(mb_idx)))).astype(int)
    shares = extra.dirichlet(profile * 40 + 1e-3, size=len(mb_idx))
    reads = np.array([extra.multinomial(d, p / p.sum()) for d, p in zip(depth, shares)])
    microbiome = pd.DataFrame(reads, columns=GENERA)
    microbiome.insert(0, id_col, [ids[i] for i in mb_idx])

    # Third stream: a neonatal brain MRI sub-study in rotterdam (generic CNS table).
    brain = None
    if not ghent:
        mri_idx = np.flatnonzero(third.random(n) < MRI_SHARE)
        male_mri = people.male.to_numpy()[mri_idx]
        brain = pd.DataFrame({
            "id": [ids[i] for i in mri_idx],
            "amygdala_vol_r_mm3": np.round(620 + 25 * male_mri + EPDS_ON_AMYGDALA * (people.epds.to_numpy()[mri_idx] - 7)
                                           + third.normal(scale=55, size=len(mri_idx)), 1),
            "hippocampus_vol_mm3": np.round(1450 + 60 * male_mri + third.normal(scale=110, size=len(mri_idx)), 1),
            "dmn_fc_z": np.round(0.28 + third.normal(scale=0.09, size=len(mri_idx)), 3),
        })

    # Third stream: cord-blood cell-type proportions (ghent) and the methylation plate
    # (both) of the participants with methylation data; no effect on methylation planted.
    cells = third.dirichlet(np.array([10.0, 15.0, 4.0, 8.0, 8.0, 45.0, 10.0]) * 2, size=len(m_idx))
    plates = np.array([f"plate_{1 + k // 96}" for k in range(len(m_idx))])
    if ghent:
        for j, name in enumerate(("cd8t", "cd4t", "nk", "bcell", "mono", "gran", "nrbc")):
            column = np.full(n, "-9", dtype=object)
            column[m_idx] = np.char.mod("%.4f", cells[:, j])
            participants[f"cel_{name}"] = column
        batch = np.full(n, "-9", dtype=object)
    else:
        batch = np.full(n, "NA", dtype=object)
    batch[m_idx] = plates
    participants["methylatie_plaat" if ghent else "methylation_plate"] = batch

    if ghent:
        files = {
            "participants.csv": participants, "hair_cortisol.csv": hair,
            "telomere_qpcr.csv": qpcr, "methylation_nr3c1.csv": methylation,
            "methylation_ewas.parquet": ewas, "metabolites.xlsx": metabolites,
            "immune.csv": immune, "mtdna_qpcr.csv": mtdna, "microbiome.csv": microbiome,
        }
    else:
        files = {
            "participants.tsv": participants, "hair_cortisol.tsv": hair,
            "telomere_qpcr.xlsx": qpcr, "methylation_nr3c1.parquet": methylation,
            "methylation_ewas.parquet": ewas, "metabolites.tsv": metabolites,
            "immune.tsv": immune, "mtdna_qpcr.tsv": mtdna, "microbiome.tsv": microbiome,
            "brain_mri.tsv": brain,
        }
    return files, people


def _write_xlsx(df: pd.DataFrame, path: Path) -> None:
    """XLSX with fixed timestamps so that the same data give the same bytes."""
    buffer = io.BytesIO()
    with pd.ExcelWriter(buffer, engine="openpyxl") as writer:
        df.to_excel(writer, index=False, sheet_name="data")
        fixed = pd.Timestamp("2026-01-01").to_pydatetime()
        writer.book.properties.created = fixed
        writer.book.properties.modified = fixed
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    with atomic_path(path) as tmp, zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            fixed_info = zipfile.ZipInfo(info.filename, date_time=(2026, 1, 1, 0, 0, 0))
            fixed_info.compress_type = zipfile.ZIP_DEFLATED
            content = source.read(info.filename)
            if info.filename == "docProps/core.xml":  # openpyxl stamps the save time here
                content = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                                 rb"\g<1>2026-01-01T00:00:00Z\g<2>", content)
            out.writestr(fixed_info, content)


def _write(df: pd.DataFrame, path: Path) -> None:
    suffix = path.suffix
    if suffix == ".xlsx":
        _write_xlsx(df, path)
        return
    with atomic_path(path) as tmp:
        if suffix == ".parquet":
            df.to_parquet(tmp, index=False, compression="zstd")
        else:
            df.to_csv(tmp, sep="," if suffix == ".csv" else "\t", index=False, lineterminator="\n")


def annotation(seed: int) -> pd.DataFrame:
    """A synthetic array annotation (CpG, chromosome, position, gene) for the demo matrix.

    The demo's epigenome-wide CpGs are synthetic: positions are drawn uniformly over
    autosomes 1-22 and genes are placeholder names (GENE0001...), so that the Manhattan
    plot and the gene column can be exercised. The NR3C1 candidate CpGs lie on chr5.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, 450]))
    n_cpg = 2000
    chrom = np.sort(rng.integers(1, 23, size=n_cpg))
    pos = rng.integers(1_000_000, 150_000_000, size=n_cpg)
    order = np.lexsort((pos, chrom))
    ids = np.array(ewas_cpg_ids())
    genes = np.where(rng.random(n_cpg) < 0.7, [f"GENE{k // 3 + 1:04d}" for k in range(n_cpg)], "")
    frame = pd.DataFrame({"cpg": ids, "chr": [f"chr{c}" for c in chrom[order]], "pos": pos[order], "gene": genes})
    nr3c1 = pd.DataFrame({"cpg": NR3C1_CPGS, "chr": "chr5", "pos": 143_400_000 + 200 * np.arange(len(NR3C1_CPGS)),
                          "gene": "NR3C1"})
    return pd.concat([frame, nr3c1], ignore_index=True)


def truth(seed: int, sizes: dict[str, int]) -> dict:
    """The planted effects, as the pipeline reports them (response ~ predictor + covariates)."""
    planted = [
        dict(predictor="ses_index", response="hair_cortisol_t3_ln", mechanism="hpa",
             estimate=SES_ON_CORTISOL_T3, unit="ln pg/mg per unit of the SES index"),
        dict(predictor="resilience", response="telomere_ts_ln", mechanism="telomeres",
             estimate=float(np.mean(list(RESILIENCE_ON_TELOMERES.values()))),
             by_cohort=dict(RESILIENCE_ON_TELOMERES), unit="ln T/S per BRS point"),
        dict(predictor="epds", response="il6_ln", mechanism="immune",
             estimate=EPDS_ON_IL6, unit="ln pg/mL per EPDS point"),
        dict(predictor="epds", response="lactate_ln", mechanism="metabolites",
             estimate=EPDS_ON_LACTATE, unit="ln umol/L per EPDS point"),
        dict(predictor="epds", response="lactate_pyruvate_ln_ratio", mechanism="metabolites",
             estimate=EPDS_ON_LACTATE, unit="ln ratio per EPDS point"),
    ] + [
        dict(predictor="epds", response=f"{cpg}_m", mechanism="methylation",
             estimate=EPDS_ON_NR3C1, unit="M-value per EPDS point")
        for cpg in NR3C1_PLANTED
    ] + [
        # The SES gradient in weight-for-length z widens with age: none at birth, this at each visit.
        dict(predictor="ses_index", response=f"wlz_{visit}", mechanism="growth",
             estimate=SES_ON_WLZ_PER_YEAR * FOLLOWUP_VISITS[i][0] / 365.25,
             unit="SD per unit of the SES index")
        for i, visit in ((1, "12m"), (2, "24m"))
    ] + [
        dict(predictor="epds", response="asq_communication_24m", mechanism="growth",
             estimate=EPDS_ON_ASQ_COMMUNICATION + len(HIGHDIM_MEDIATORS) * EPDS_ON_NR3C1 * CPG_ON_ASQ_COMMUNICATION,
             unit="ASQ-3 points per EPDS point (direct and through methylation)"),
    ]
    null = ["formate_ln", "succinate_ln", "methylhistidine_1_ln", "alpha_glucose_ln",
            "dimethylamine_ln", "pyruvate_ln", "crp_ln", "cd4_cd8_ln_ratio", "mtdna_content_ln",
            "epigenetic_ga_acceleration", "shannon", "bifidobacterium_clr", "bacteroides_clr", "il1b_ln",
            "hippocampus_volume", "dmn_connectivity", "hcz_12m"] + [
        f"{cpg}_m" for cpg in NR3C1_CPGS if cpg not in NR3C1_PLANTED
    ]
    return {
        "seed": seed,
        "participants": sizes,
        "log": "natural",
        "covariates": COVARIATE_NOTE,
        "ses_index": "mean of within-cohort z-scores (ddof=1) of ISCED level, ln equivalised "
                     "income (OECD-modified scale, band midpoints) and the neighbourhood indicator",
        "planted": planted,
        "mediation": [dict(
            exposure="ses_index", mediator="hair_cortisol_t3_ln", outcome="birth_weight",
            a=SES_ON_CORTISOL_T3, b=CORTISOL_T3_ON_BIRTH_WEIGHT, direct=SES_DIRECT_ON_BIRTH_WEIGHT,
            indirect=SES_ON_CORTISOL_T3 * CORTISOL_T3_ON_BIRTH_WEIGHT,
            total=SES_DIRECT_ON_BIRTH_WEIGHT + SES_ON_CORTISOL_T3 * CORTISOL_T3_ON_BIRTH_WEIGHT,
            unit="g per unit of the SES index",
        )],
        "single_cohort": [dict(
            cohort="rotterdam", predictor="epds", response="amygdala_volume_right", mechanism="cns",
            estimate=EPDS_ON_AMYGDALA, unit="mm3 per EPDS point",
        )],
        "effect_modification": [dict(
            exposure="epds", biomarker="nk_activity_ln", modifier="cmv_seropositive",
            estimate_by_stratum={"0": 0.0, "1": EPDS_ON_NK_CMV_POSITIVE}, unit="ln % lysis per EPDS point",
        )],
        "no_effect": null,
        "high_dimensional_mediation": dict(
            exposure="epds", outcome="asq_communication_24m", mediators=list(HIGHDIM_MEDIATORS),
            a=EPDS_ON_NR3C1, b=CPG_ON_ASQ_COMMUNICATION, direct=EPDS_ON_ASQ_COMMUNICATION,
            exposure_only=[f"cg90{k:07d}" for k in range(len(HIGHDIM_MEDIATORS), 10)],
            unit="a: M-value per EPDS point; b: ASQ-3 points per M-value unit; direct: points per EPDS point"),
        "longitudinal": [dict(
            exposure="ses_index", outcome="wlz", estimate_per_year=SES_ON_WLZ_PER_YEAR,
            unit="SD per unit of the SES index per year of age (exposure x age)",
        ), dict(
            # the same SES effect on ln hair cortisol in every hair window: no change over the pregnancy
            mechanism="hpa", exposure="ses_index", outcome="hair_cortisol_ln", estimate_mid_pregnancy=SES_ON_CORTISOL_T3,
            estimate_per_month=0.0, unit="ln pg/mg per unit of the SES index (per month of pregnancy)",
        )],
        "epigenome_wide": {"planted_cpgs": [f"cg90{k:07d}" for k in range(10)],
                           "exposure": "epds", "estimate": EPDS_ON_NR3C1, "unit": "M-value per EPDS point"},
    }


def simulate(out, seed: int = DEMO_SEED, sizes: dict[str, int] | None = None) -> dict:
    """Write the demo cohort to ``out`` and return the truth dictionary."""
    out = Path(out)
    sizes = sizes or {"ghent": 450, "rotterdam": 550}
    root = np.random.SeedSequence(seed)
    for index, (child, cohort) in enumerate(zip(root.spawn(len(sizes)), sizes)):
        files, people = simulate_cohort(np.random.default_rng(child), cohort, sizes[cohort],
                                        _extra_rng(seed, index), _third_rng(seed, index))
        table = files["participants.csv" if cohort == "ghent" else "participants.tsv"]
        ids = list(table["participant_id" if cohort == "ghent" else "id"])
        files["child_followup.csv" if cohort == "ghent" else "child_followup.tsv"] = _followup(
            _fourth_rng(seed, index), people, ids, cohort, files["methylation_ewas.parquet"], _fifth_rng(seed, index))
        for name, df in files.items():
            _write(df, out / cohort / name)
    _write(annotation(seed), out / "methylation_annotation.tsv")
    facts = truth(seed, sizes)
    with atomic_path(out / "truth.yaml") as tmp:
        tmp.write_text(
            "# Planted effects of the first1000 demo cohort (written by `first1000 simulate`).\n"
            + yaml.safe_dump(facts, sort_keys=False), encoding="utf-8")
    return facts
