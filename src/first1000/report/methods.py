"""The methods section of a run, written from the config as run (``results/methods.md``).

Every sentence is chosen by a setting the run used and cites the method or data it names
(``[@key]``); the citations are numbered in order of first use and only those cited are
listed, so the reference list holds every method and dataset the run used and nothing else.
Nothing here reads data: the paragraph describes what the run did, not what it found.
"""

from __future__ import annotations

import re

#: key -> reference, for every method and dataset a run can use.
REFERENCES = {
    "snakemake": "Mölder F, Jablonski KP, Letcher B, et al. Sustainable data analysis with Snakemake. F1000Research 2021;10:33.",
    "statsmodels": "Seabold S, Perktold J. Statsmodels: econometric and statistical modeling with Python. Proc 9th Python in Science Conf 2010:92-96.",
    "bh": "Benjamini Y, Hochberg Y. Controlling the false discovery rate: a practical and powerful approach to multiple testing. J R Stat Soc B 1995;57:289-300.",
    "isced": "UNESCO Institute for Statistics. International Standard Classification of Education: ISCED 2011. Montreal: UIS; 2012.",
    "oecd_scale": "Hagenaars A, de Vos K, Zaidi MA. Poverty statistics in the late 1980s: research based on micro-data. Luxembourg: Eurostat; 1994.",
    "who_growth": "WHO Multicentre Growth Reference Study Group. WHO Child Growth Standards based on length/height, weight and age. Acta Paediatr Suppl 2006;450:76-85.",
    "corrected_age": "Engle WA; American Academy of Pediatrics Committee on Fetus and Newborn. Age terminology during the perinatal period. Pediatrics 2004;114:1362-1364.",
    "hima": "Zhang H, Zheng Y, Zhang Z, et al. Estimating and testing high-dimensional mediation effects in epigenetic studies. Bioinformatics 2016;32:3150-3154.",
    "lfmm2": "Caye K, Jumentier B, Lepeule J, François O. LFMM 2: fast and accurate inference of gene-environment associations in genome-wide studies. Mol Biol Evol 2019;36:852-860.",
    "hdmax2": "Jumentier B, Barot CC, Estavoyer M, et al. High-dimensional mediation analysis: a new method applied to maternal smoking, placental DNA methylation, and birth outcomes. Environ Health Perspect 2023;131:047011.",
    "lmm_reml": "Laird NM, Ware JH. Random-effects models for longitudinal data. Biometrics 1982;38:963-974.",
    "intergrowth": "Villar J, Cheikh Ismail L, Victora CG, et al. International standards for newborn weight, length, and head circumference by gestational age and sex: the Newborn Cross-Sectional Study of the INTERGROWTH-21st Project. Lancet 2014;384:857-868.",
    "epds": "Cox JL, Holden JM, Sagovsky R. Detection of postnatal depression: development of the 10-item Edinburgh Postnatal Depression Scale. Br J Psychiatry 1987;150:782-786.",
    "pss10": "Cohen S, Kamarck T, Mermelstein R. A global measure of perceived stress. J Health Soc Behav 1983;24:385-396.",
    "brs": "Smith BW, Dalen J, Wiggins K, et al. The Brief Resilience Scale: assessing the ability to bounce back. Int J Behav Med 2008;15:194-200.",
    "cronbach": "Cronbach LJ. Coefficient alpha and the internal structure of tests. Psychometrika 1951;16:297-334.",
    "hornung": "Hornung RW, Reed LD. Estimation of average concentration in the presence of nondetectable values. Appl Occup Environ Hyg 1990;5:46-51.",
    "pqn": "Dieterle F, Ross A, Schlotterbeck G, Senn H. Probabilistic quotient normalization as robust method to account for dilution of complex biological mixtures. Anal Chem 2006;78:4281-4290.",
    "pfaffl": "Pfaffl MW. A new mathematical model for relative quantification in real-time RT-PCR. Nucleic Acids Res 2001;29:e45.",
    "cawthon": "Cawthon RM. Telomere measurement by quantitative PCR. Nucleic Acids Res 2002;30:e47.",
    "aitchison": "Aitchison J. The Statistical Analysis of Compositional Data. London: Chapman and Hall; 1986.",
    "pearson_crp": "Pearson TA, Mensah GA, Alexander RW, et al. Markers of inflammation and cardiovascular disease. Circulation 2003;107:499-511.",
    "knight2016": "Knight AK, Craig JM, Theda C, et al. An epigenetic clock for gestational age at birth based on blood methylation data. Genome Biol 2016;17:206.",
    "bohlin2016": "Bohlin J, Håberg SE, Magnus P, et al. Prediction of gestational age based on genome-wide differentially methylated regions. Genome Biol 2016;17:207.",
    "horvath2013": "Horvath S. DNA methylation age of human tissues and cell types. Genome Biol 2013;14:R115.",
    "hannum2013": "Hannum G, Guinney J, Zhao L, et al. Genome-wide methylation profiles reveal quantitative views of human aging rates. Mol Cell 2013;49:359-367.",
    "dersimonian": "DerSimonian R, Laird N. Meta-analysis in clinical trials. Control Clin Trials 1986;7:177-188.",
    "reml": "Viechtbauer W. Bias and efficiency of meta-analytic variance estimators in the random-effects model. J Educ Behav Stat 2005;30:261-293.",
    "knapp_hartung": "Knapp G, Hartung J. Improved tests for a random effects meta-regression with a single covariate. Stat Med 2003;22:2693-2710.",
    "higgins_i2": "Higgins JPT, Thompson SG. Quantifying heterogeneity in a meta-analysis. Stat Med 2002;21:1539-1558.",
    "metal": "Willer CJ, Li Y, Abecasis GR. METAL: fast and efficient meta-analysis of genomewide association scans. Bioinformatics 2010;26:2190-2191.",
    "limma": "Ritchie ME, Phipson B, Wu D, et al. limma powers differential expression analyses for RNA-sequencing and microarray studies. Nucleic Acids Res 2015;43:e47.",
    "smyth2004": "Smyth GK. Linear models and empirical Bayes methods for assessing differential expression in microarray experiments. Stat Appl Genet Mol Biol 2004;3:Article 3.",
    "pace_outliers": "Tukey JW. Exploratory Data Analysis. Reading, MA: Addison-Wesley; 1977.",
    "saffari_threshold": "Saffari A, Silver MJ, Zavattari P, et al. Estimation of a significance threshold for epigenome-wide association studies. Genet Epidemiol 2018;42:20-33.",
    "mansell_threshold": "Mansell G, Gorrie-Stone TJ, Bao Y, et al. Guidance for DNA methylation studies: statistical insights from the Illumina EPIC array. BMC Genomics 2019;20:366.",
    "vanderweele2015": "VanderWeele TJ. Explanation in Causal Inference: Methods for Mediation and Interaction. New York: Oxford University Press; 2015.",
    "imai2010": "Imai K, Keele L, Tingley D. A general approach to causal mediation analysis. Psychol Methods 2010;15:309-334.",
    "evalue": "VanderWeele TJ, Ding P. Sensitivity analysis in observational research: introducing the E-value. Ann Intern Med 2017;167:268-274.",
    "efron": "Efron B, Tibshirani RJ. An Introduction to the Bootstrap. New York: Chapman and Hall; 1993.",
    "firth": "Firth D. Bias reduction of maximum likelihood estimates. Biometrika 1993;80:27-38.",
    "daniel_sequential": "Daniel RM, De Stavola BL, Cousens SN, Vansteelandt S. Causal mediation analysis with multiple mediators. Biometrics 2015;71:1-14.",
    "mice": "van Buuren S, Groothuis-Oudshoorn K. mice: Multivariate Imputation by Chained Equations in R. J Stat Softw 2011;45(3):1-67.",
    "rubin": "Rubin DB. Multiple Imputation for Nonresponse in Surveys. New York: Wiley; 1987.",
    "barnard_rubin": "Barnard J, Rubin DB. Small-sample degrees of freedom with multiple imputation. Biometrika 1999;86:948-955.",
    "schomaker": "Schomaker M, Heumann C. Bootstrap inference when using multiple imputation. Stat Med 2018;37:2252-2266.",
    "knol_em": "Knol MJ, VanderWeele TJ. Recommendations for presenting analyses of effect modification and interaction. Int J Epidemiol 2012;41:514-520.",
}

INSTRUMENT_KEYS = {"epds": "epds", "pss10": "pss10", "pss": "pss10", "brs": "brs"}
META_WORDS = {"FE": "fixed-effect (inverse-variance) meta-analysis",
              "DL": "random-effects meta-analysis with the DerSimonian–Laird estimator of τ² [@dersimonian]",
              "REML": "random-effects meta-analysis with the restricted maximum-likelihood estimator of τ² [@reml]"}
CONTRAST_WORDS = {"sd": "the mean with the mean + 1 SD", "iqr": "the 25th with the 75th percentile"}
CI_WORDS = {"percentile": "percentile", "bias_corrected": "bias-corrected", "bca": "bias-corrected and accelerated"}


def _join(items) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def methods_markdown(settings: dict, versions: dict[str, str]) -> str:
    """The methods section (Markdown) of a run. ``settings`` (built by the rule's params
    from the validated config): ``cohorts`` (labels), ``mechanisms`` (the analysed ones:
    label, biomarkers, exposures, outcomes, covariates), ``covariates``, ``fdr``, ``seed``,
    ``meta_analysis``, ``missing_data``, ``mediation``, ``effect_modification``,
    ``epigenome_wide`` (with ``cohorts``: those with a methylation matrix), ``preparation``
    (of the analysed mechanisms), ``ses_index`` (with ``used``), ``instruments`` (scored
    questionnaires), ``intergrowth`` (birth-weight z-scores used), ``births_from`` (days),
    ``logistic`` (a logistic model is fitted), ``labels`` (variable -> label in a sentence).
    ``mode``: ``cohorts`` or ``sites``. ``versions``: package -> version (results/provenance/versions.tsv)."""
    s = settings
    parts = []
    cohorts = s["cohorts"]
    mechanisms = s["mechanisms"]
    n_cohorts = len(cohorts)
    parts.append("## Data and variables\n")
    if s.get("mode") == "sites":
        text = (f"The analysis meta-analysed the summary statistics exported by {n_cohorts} "
                f"site{'s' * (n_cohorts != 1)} ({_join(cohorts)}), each from its own first1000 run on its "
                "participants' data, which stayed at the site.")
    else:
        text = (f"The analysis ran on {n_cohorts} cohort{'s' * (n_cohorts != 1)} ({_join(cohorts)}), each mapped "
                "onto one harmonised vocabulary by a declared rule per variable (direct, recode, derive), with "
                "values outside their plausible range or unmapped codes reported per cohort.")
    if s["ses_index"]["used"]:
        indicators = list(s["ses_index"]["indicators"])
        named = [s["labels"].get(i, i) for i in indicators]
        how = ("the mean of the direction-aligned within-cohort z-scores" if s["ses_index"]["method"] == "zmean"
               else "the first principal component of the direction-aligned within-cohort z-scores")
        text += (f" Socio-economic status was summarised as a composite index, {how} of {_join(named)}")
        cites = []
        if any(i.startswith("education") for i in indicators):
            cites.append("[@isced]")
        if any(i.startswith("income") for i in indicators):
            cites.append("[@oecd_scale]")
        text += (" " + " ".join(cites) if cites else "") + "."
    if s["instruments"]:
        scored = [f"{name} [@{INSTRUMENT_KEYS[name]}]" if name in INSTRUMENT_KEYS else name
                  for name in s["instruments"]]
        text += (f" Questionnaires ({_join(scored)}) were scored from their items with the instruments' "
                 "reverse-scored items, prorated when at most 20% of the items were missing; internal consistency "
                 "is Cronbach's α [@cronbach].")
    if s["intergrowth"]:
        text += " Birth-weight z-scores and SGA/LGA are by the INTERGROWTH-21st newborn standards [@intergrowth]."
    text += (f" Birth outcomes were analysed in births: participants with a gestational age below {s['births_from']:g}"
             " days (pregnancy losses) were left out of every model of a birth outcome.")
    parts.append(text + "\n")

    parts.append("## Biomarkers\n")
    prep = s["preparation"]
    lines = []
    for name, spec in mechanisms.items():
        lines.append(_mechanism_sentence(name, spec, prep.get(name) or {}))
    parts.append("\n".join(f"- {line}" for line in lines) + "\n")

    parts.append("## Statistical analysis\n")
    fams = {"linear"}
    if s["logistic"]:
        fams.add("logistic")
    text = ("Each exposure → biomarker and biomarker → outcome association was estimated by "
            f"{'linear regression' if fams == {'linear'} else 'linear regression (logistic regression for binary outcomes and detected/not-detected biomarkers)'}"
            " (first1000's implementation, which matches statsmodels [@statsmodels]), adjusted for "
            + _covariate_text(s) + "." + _optional_covariate_text(s))
    if "logistic" in fams and s.get("associations", {}).get("firth"):
        text += (" The logistic models were fitted by Firth's penalised likelihood [@firth], which gives finite "
                 "estimates when an outcome is rare or separated, with Wald confidence intervals.")
    if n_cohorts > 1:
        meta = s["meta_analysis"]
        fitted = ("Models were fitted at each site, and the site estimates" if s.get("mode") == "sites" else
                  "Models were fitted per cohort and in all cohorts together (cohort as a covariate), and the cohort "
                  "estimates")
        text += f" {fitted} combined by {META_WORDS[meta['method']]}"
        if meta.get("knapp_hartung") and meta["method"] != "FE":
            text += " with the Knapp–Hartung adjustment [@knapp_hartung]"
        text += "; heterogeneity is given as I² [@higgins_i2] and the direction per cohort [@metal]."
    if s.get("min_cell_size", 1) > 1 and s.get("mode") != "sites":  # a site applies its own
        text += (f" A cohort's model fitted on fewer than {s['min_cell_size']} participants (the disclosure-control "
                 "threshold) is reported by its size only" + (" and was left out of the meta-analysis."
                                                              if n_cohorts > 1 else "."))
    text += (f" P-values were adjusted by the Benjamini–Hochberg false discovery rate [@bh] within mechanism and "
             f"cohort, q < {s['fdr']:g}.")
    md = s["missing_data"]
    if md["method"] == "multiple_imputation":
        how = ("predictive mean matching" if md.get("imputation_method") == "pmm"
               else "linear regression on bootstrap samples (norm.boot)")
        text += (f" Missing values were multiply imputed by chained equations [@mice] ({md['m']} imputations, "
                 f"{how}) and the estimates pooled by Rubin's rules [@rubin] with Barnard–Rubin degrees of freedom "
                 "[@barnard_rubin].")
    else:
        text += " Each model used the participants with complete data on its variables."
    parts.append(text + "\n")

    med = s["mediation"]
    if med["paths"]:
        text = ("Mediation (exposure → biomarker → outcome) was estimated in the counterfactual framework "
                "[@vanderweele2015]: controlled, natural direct and indirect and total effects, and the proportion "
                "mediated where the total effect's 95% CI excludes the null, by the g-formula over the cohort's "
                "covariate distribution.")
        contrast = med["contrast"]
        words = CONTRAST_WORDS.get(contrast) if isinstance(contrast, str) else f"{contrast[0]:g} with {contrast[1]:g}"
        text += (f" A continuous exposure compared {words}; an exposure with two values, the lower with the higher.")
        if med["inference"] == "bootstrap":
            text += (f" Confidence intervals are {CI_WORDS[med['ci_method']]} intervals of {med['n_boot']} case-resampling "
                     "bootstrap replicates [@efron].")
        else:
            text += (f" Confidence intervals are from {med['n_boot']} quasi-Bayesian Monte Carlo draws [@imai2010].")
        if med.get("interaction") or any(p.get("interaction") for p in med["paths"]):
            text += " Exposure × mediator interaction was allowed in the outcome model where declared."
        if any(isinstance(p["mediator"], list) for p in med["paths"]):
            text += " Paths with two mediators were analysed jointly, or sequentially where declared [@daniel_sequential]."
        if med.get("firth"):
            text += " Logistic models were Firth-penalised [@firth]."
        if n_cohorts > 1:
            text += (" Each path was estimated at each site, and the site estimates meta-analysed as the associations."
                     if s.get("mode") == "sites" else
                     " Each path was estimated per cohort and in all cohorts together (cohort as a covariate), and "
                     "the cohort estimates meta-analysed as the associations.")
        if med["inference"] == "bootstrap":
            text += (f" A cohort's path with more than {med.get('max_dropped_resamples', 0.05):.0%} of its resamples "
                     "not fitted (separation, a singular design) was flagged" + (" and left out of the meta-analysis."
                                                                                 if n_cohorts > 1 else "."))
        if med.get("sensitivity"):
            text += (" Sensitivity to unmeasured mediator–outcome confounding is given by the correlation ρ of the "
                     "model errors [@imai2010] and E-values [@evalue].")
        if md["method"] == "multiple_imputation":
            text += " Under multiple imputation each imputed data set was bootstrapped and the results pooled [@schomaker]."
        parts.append(text + "\n")

    # the mixed models need individual data: a summary-statistics run has none
    for name, spec in ((s.get("longitudinal") or {}) if s.get("mode") != "sites" else {}).items():
        exposures = _join([s['labels'].get(e, e) for e in spec['exposures']])
        if name == "hpa":
            slope = ("a random intercept and a random slope on the month of pregnancy" if spec["random_slope"]
                     else "a random intercept")
            text = (f"Hair cortisol of every hair window ({spec['label']}) was modelled in one linear mixed model "
                    f"[@lmm_reml] per exposure with {slope} per mother, fitted by restricted maximum likelihood: ln "
                    f"cortisol on {exposures}, a fixed effect per window and the exposure × month-of-pregnancy "
                    "interaction (the window's nominal midpoint, centred at 4.5 months: the association at "
                    "mid-pregnancy and its change per month), with the same covariates and hair covariates")
        else:
            slope = "a random intercept and a random slope on age" if spec["random_slope"] else "a random intercept"
            text = (f"The repeated measures of {spec['label']} ({_join(spec['scores'])}) were modelled over age by "
                    f"linear mixed models [@lmm_reml] with {slope} per child, fitted by restricted maximum likelihood: "
                    f"each score on {exposures}, age and their interaction (the change of the association per year "
                    "of age), with the same covariates")
        text += (", per cohort, in all cohorts together (cohort as a fixed effect) and meta-analysed as above."
                 if n_cohorts > 1 else ".")
        parts.append(text + "\n")

    highdim = [p for p in med.get("high_dimensional") or []
               if p.get("mediators", "methylation") != "methylation" or s["epigenome_wide"]["cohorts"]]
    if highdim:
        def through(p):
            return "CpGs" if p.get("mediators", "methylation") == "methylation" else f"the {p['mediators']} biomarkers"

        pairs = [f"{s['labels'].get(p['exposure'], p['exposure'])} → {through(p)} → "
                 f"{s['labels'].get(p['outcome'], p['outcome'])}" for p in highdim]
        text = (f"High-dimensional mediation ({_join(pairs)}) was estimated per cohort by HIMA [@hima]: sure "
                "independence screening of the candidate mediators by their outcome model, a lasso outcome model with "
                "the penalty chosen by BIC, and the joint significance of both paths of each selected candidate with "
                "Benjamini–Hochberg control of the false discovery rate [@bh].")
        adjusted = [(pair, int(p["latent_factors"])) for pair, p in zip(pairs, highdim) if p.get("latent_factors")]
        if adjusted:
            which = _join([f"{pair} ({k} factor{'s' if k > 1 else ''})" for pair, k in adjusted])
            text += (f" For {which}, latent factors of the candidates, estimated by the ridge latent factor mixed "
                     "model LFMM2 [@lfmm2], were added to the covariates of every step against unmeasured "
                     "confounding, as in hdmax2 [@hdmax2].")
        parts.append(text + "\n")

    em = s["effect_modification"]
    if em["pairs"] or em["modifiers"]:
        parts.append("Effect modification was assessed by exposure × modifier interaction terms with stratum-specific "
                     "estimates, presented as recommended by Knol and VanderWeele [@knol_em].\n")

    ewas = s["epigenome_wide"]
    if ewas["exposures"] and ewas["cohorts"]:
        text = (f"Epigenome-wide associations of {_join(ewas['exposures'])} with every CpG's M-value were estimated "
                "by linear models with limma's empirical-Bayes moderated t-statistics [@limma] [@smyth2004] "
                "(first1000's implementation, which matches R limma's lmFit and eBayes), adjusted for "
                + (_join([s["labels"].get(c, c) for c in ewas.get("covariates", [])]) or "no covariates"))
        if ewas.get("extra_covariates"):
            text += (" and, in each cohort that gave them, " + _join([s["labels"].get(c, c)
                                                                      for c in ewas["extra_covariates"]]))
        if ewas["remove_outliers"]:
            text += f", after removing values beyond {ewas['outlier_k']:g} interquartile ranges of each CpG's quartiles [@pace_outliers]"
        text += "; FDR and Bonferroni corrections are reported"
        if ewas["array"] == "450K":
            text += ", with the array-wide threshold of Saffari et al. [@saffari_threshold]"
        elif ewas["array"] == "EPIC":
            text += ", with the EPIC threshold of Mansell et al. [@mansell_threshold]"
        text += "."
        if len(ewas["cohorts"]) > 1:
            text += f" Per-CpG results were combined across cohorts by {META_WORDS[ewas['meta_method']]}."
        parts.append(text + "\n")

    parts.append("## Software and reproducibility\n")
    shown = [f"{name} {versions[name]}" for name in ("python", "snakemake", "numpy", "scipy", "pandas", "statsmodels",
                                                     "scikit-learn", "matplotlib") if name in versions]
    parts.append(f"The workflow (first1000 {versions.get('first1000', '')}) ran on Snakemake [@snakemake], with "
                 f"{_join(shown)}; random numbers from seed {s['seed']}. The config as run, SHA-256 checksums of every "
                 "input and every package version are in results/provenance/.\n")
    return _numbered("# Methods\n\n*Written by first1000 from the config of this run.*\n\n" + "\n".join(parts))


def _optional_covariate_text(s: dict) -> str:
    """The mechanisms' own covariates, added in each cohort that recorded them (hair
    covariates, cell types and array batch)."""
    out = []
    for spec in s["mechanisms"].values():
        extra = [c for c in spec.get("optional_covariates", []) if c not in (spec.get("covariates") or s["covariates"])]
        if extra:
            out.append(f" The {spec['label']} models were also adjusted, in each cohort that recorded them, for "
                       f"{_join([s['labels'].get(c, c) for c in extra])}.")
    return "".join(out)


def _covariate_text(s: dict) -> str:
    groups = {}
    for spec in s["mechanisms"].values():
        groups.setdefault(tuple(spec.get("covariates") or s["covariates"]), []).append(spec["label"])
    named = {covs: [s["labels"].get(c, c) for c in covs] for covs in groups}
    if len(groups) == 1:
        return _join(next(iter(named.values()))) if next(iter(groups)) else "no covariates"
    parts = [f"{_join(named[covs]) if covs else 'no covariates'} ({_join(labels)})" for covs, labels in groups.items()]
    return "; ".join(parts)


def _mechanism_sentence(name: str, spec: dict, prep: dict) -> str:
    label = spec["label"]
    biomarkers = _join(spec["biomarkers"])
    if name == "hpa":
        return (f"{label}: hair cortisol (pg/mg) per segment window, ln-transformed, values below the limit of "
                f"quantification at LOQ/√2 [@hornung]; a sensitivity analysis re-fitted its models with each "
                f"window's values winsorised at the mean ± {prep.get('outlier_sd', 3):g} SD of its cohort; analysed "
                f"as {biomarkers}.")
    if name in ("telomeres", "mitochondria"):
        what = "telomere length as the T/S ratio [@cawthon]" if name == "telomeres" else "mtDNA content"
        return (f"{label}: {what} by efficiency-corrected relative quantification of qPCR replicates against a "
                f"calibrator [@pfaffl], ln-transformed; analysed as {biomarkers}.")
    if name == "metabolites":
        norm = prep.get("normalisation", "none")
        text = f"{label}: NMR concentrations (µmol/L)"
        if norm == "pqn":
            text += ", probabilistic quotient normalisation [@pqn]"
        elif norm == "creatinine":
            text += ", normalised to creatinine"
        return (text + f"; values below the limit of detection at LOD/√2 [@hornung] up to {prep.get('lod_max_pct', 20):g}% "
                f"below it, else detected/not detected; ln-transformed; analysed as {biomarkers}.")
    if name == "immune":
        text = (f"{label}: markers ln-transformed, values below the limit of detection at LOD/√2 [@hornung] up to "
                f"{prep.get('lod_max_pct', 50):g}% below it, else detected/not detected")
        if prep.get("crp_exclusion_mg_l") is not None:
            text += (f"; a sensitivity analysis left out CRP above {prep['crp_exclusion_mg_l']:g} mg/L "
                     "[@pearson_crp]")
        return text + f"; analysed as {biomarkers}."
    if name == "epigenetic_age":
        clock = prep.get("clock", "knight2016")
        return f"{label}: the {clock} clock [@{clock}] applied to the methylation matrix; analysed as {biomarkers}."
    if name == "microbiome":
        return (f"{label}: counts filtered by depth and prevalence, centred log-ratio transformed [@aitchison], with "
                f"Shannon diversity; analysed as {biomarkers}.")
    if name == "methylation":
        return f"{label}: candidate CpGs as M-values; analysed as {biomarkers}."
    if name == "growth":
        return (f"{label}: the child's weight, length/height and head circumference at follow-up visits to age 2 as "
                "WHO 2006 Child Growth Standards z-scores [@who_growth] (computed as WHO's software does; at the age "
                "corrected for prematurity for children born before 37 weeks [@corrected_age] unless a cohort's "
                "table declares chronological age), and "
                f"neurodevelopment scores; the measurement nearest each visit's target age; analysed as {biomarkers}.")
    return f"{label}: measures as declared in the config; analysed as {biomarkers}."


def _numbered(text: str) -> str:
    order = []
    for key in re.findall(r"\[@([a-z0-9_]+)\]", text):
        if key not in order:
            order.append(key)
    for i, key in enumerate(order, 1):
        text = text.replace(f"[@{key}]", f"[{i}]")
    text = re.sub(r"\] \[", ", ", text)  # [1] [2] -> [1, 2]
    refs = "\n".join(f"{i}. {REFERENCES[key]}" for i, key in enumerate(order, 1))
    return f"{text}\n## References\n\n{refs}\n"


def cited(text: str) -> list[str]:
    """The reference keys a methods text lists (for tests)."""
    listed = text.split("## References", 1)[1]
    return [key for key, ref in REFERENCES.items() if ref in listed]
