"""The analysis plan a validated config declares, as plain functions of it.

Which mechanisms each cohort can analyse, the mediation paths and effect-modification
models of a mechanism, its sensitivity analyses and extra covariates, the cohorts with an
epigenome-wide matrix: all of it is decided here from the config alone (nothing is read
from the data), at parse time, so the workflow knows its jobs and targets before any job
runs. The params of each rule (``first1000.stages.*._params``) take their slices from it;
no job calls it.
"""

from __future__ import annotations

from pathlib import Path

from first1000.config import where
from first1000.errors import ConfigError
from first1000.labels import DERIVED_VARIABLES, model_family
from first1000.mechanisms import PREPARERS

CONDA_ENV = "../envs/first1000.yaml"  # relative to workflow/rules


def cohort_tables(cfg: dict, cohort: str) -> dict[str, str]:
    """Standard table -> path, for one cohort."""
    return {name: spec["path"] for name, spec in cfg["cohorts"][cohort]["_mapping"]["tables"].items()}


def site_manifests(cfg: dict) -> dict[str, dict]:
    """Site -> its checked export manifest (summary-statistics-only runs)."""
    from first1000.io.summary_statistics import read_manifest  # local: only runs on sites' exports

    if "_manifests" not in cfg:  # read (and checksum) once per loaded config
        cfg["_manifests"] = {site: read_manifest(site, spec["path"]) for site, spec in sorted(cfg["sites"].items())}
    return cfg["_manifests"]


def site_file(cfg: dict, site: str, name: str) -> str:
    return str(Path(cfg["sites"][site]["path"]) / name)


def analysed_mechanisms(cfg: dict) -> dict[str, dict[str, str]]:
    """Mechanism -> {cohort: ingested table path} for the cohorts that provide its table.

    In a summary-statistics-only run: mechanism -> {site: exported associations} for the
    sites whose export analysed that mechanism.
    """
    out = {}
    if cfg["_mode"] == "sites":
        manifests = site_manifests(cfg)
        for mechanism in cfg["mechanisms"]:
            sites = {s: site_file(cfg, s, "associations.tsv") for s, m in manifests.items()
                     if mechanism in m["analysis"]["mechanisms"]}
            if sites:
                out[mechanism] = sites
        return out
    for mechanism in cfg["mechanisms"]:
        _, table = PREPARERS[mechanism]
        cohorts = {c: f"results/ingest/{c}/{table}.parquet" for c in sorted(cfg["cohorts"])
                   if table in cohort_tables(cfg, c)}
        if cohorts:
            out[mechanism] = cohorts
    return out


def mood_available(cfg: dict) -> bool:
    """Whether any cohort's mapping provides a maternal-mood score (a mood variable by any
    rule but ``impossible``/``undetermined``, or a ``questionnaire_score``): the mood QC
    table and figure are made only then."""
    from first1000.scoring.questionnaires import MOOD_VARIABLES  # local: light import at parse time

    for cohort in cfg["cohorts"].values():
        for name, rule in cohort["_mapping"].get("variables", {}).items():
            if not isinstance(rule, dict) or rule.get("rule") in ("impossible", "undetermined"):
                continue
            if name in MOOD_VARIABLES or rule.get("operation") == "questionnaire_score":
                return True
    return False


def ewas_cohorts(cfg: dict, exposure: str | None = None) -> list[str]:
    """Cohorts with a methylation matrix (the epigenome-wide analysis runs in each). In a
    summary-statistics run: the sites whose export holds an EWAS of ``exposure`` (of any
    configured exposure without it): sites may have exported different exposures."""
    if not cfg["epigenome_wide"]["exposures"]:
        return []
    if cfg["_mode"] == "sites":
        wanted = set(cfg["epigenome_wide"]["exposures"]) if exposure is None else {exposure}
        return [s for s, m in site_manifests(cfg).items() if wanted & set(m["ewas_exposures"])]
    return [c for c in sorted(cfg["cohorts"]) if "methylation_matrix" in cohort_tables(cfg, c)]


def ewas_meta_wanted(cfg: dict, exposure: str) -> bool:
    """Whether the EWAS of ``exposure`` is meta-analysed: over two cohorts or more; in a
    summary-statistics run over the sites that exported it, even one (its EWAS reaches the
    report only through that step: an exposure exported by one site gave no output and no
    message)."""
    k = len(ewas_cohorts(cfg, exposure))
    return k > 1 or (cfg["_mode"] == "sites" and k == 1)


def matrix_sources(cfg: dict, cohorts) -> list[str]:
    """The Parquet methylation matrices of ``cohorts`` (in their order; cohorts with a text
    matrix or none are skipped). A Parquet matrix of row groups of up to 40,000 CpGs is not
    copied by its ingest job: the jobs that read its values read the file itself and
    declare it as an input (:func:`first1000.io.methylation.open_matrix`); one of larger
    row groups is copied, and the declared file is then not read."""
    out = []
    for cohort in cohorts:
        spec = cfg["cohorts"][cohort]["_mapping"]["tables"].get("methylation_matrix")
        if spec and Path(spec["path"]).suffix.lower() == ".parquet":  # first1000.ingest.references_matrix
            out.append(spec["path"])
    return out


def mediation_paths(cfg: dict, mechanism: str) -> list[dict]:
    """The declared paths analysed with this mechanism: those whose first mediator is one of
    its biomarkers (a second mediator may come from another mechanism, e.g. cortisol ->
    NR3C1 methylation)."""
    biomarkers = set(cfg["mechanisms"][mechanism]["biomarkers"])
    return [p for p in cfg["mediation"]["paths"] if mediators_of(p)[0] in biomarkers]


def mediation_mechanisms(cfg: dict, mechanism: str) -> list[str]:
    """This mechanism and those of the other mediators of its paths, and of an outcome that
    is a prepared biomarker (a child's score at a follow-up visit, e.g. ``wlz_12m``): the
    prepared tables its mediation needs."""
    needed = [mechanism]
    for path in mediation_paths(cfg, mechanism):
        for name in [*mediators_of(path)[1:], path["outcome"]]:
            needed += [m for m, spec in cfg["mechanisms"].items() if name in spec["biomarkers"]]
    return list(dict.fromkeys(needed))


def mediators_of(path: dict) -> list[str]:
    """The mediator(s) of a declared path (one name, or a list of parallel mediators)."""
    return list(path["mediator"]) if isinstance(path["mediator"], list) else [path["mediator"]]


def site_inputs(cfg: dict) -> list[str]:
    """Every file of every site's export (their checksums go into the provenance)."""
    files = []
    for site, manifest in site_manifests(cfg).items():
        files.append(site_file(cfg, site, "manifest.json"))
        files.extend(site_file(cfg, site, name) for name in sorted(manifest["files"]))
    return files


def mechanism_covariates(cfg: dict, mechanism: str) -> list[str]:
    """The covariates of a mechanism's models: its own ``covariates``, else the study's."""
    return list(cfg["mechanisms"][mechanism].get("covariates", cfg["covariates"]))


def optional_covariates(cfg: dict, mechanism: str) -> list[str]:
    """Covariates the mechanism adds where a cohort recorded them (e.g. hair washing)."""
    module, _ = PREPARERS[mechanism]
    found = getattr(module, "optional_covariates", None)
    return found(cfg["preparation"].get(mechanism, {})) if found else []


def sensitivity_analyses(cfg: dict, mechanism: str) -> list[dict]:
    """The mechanism's declared sensitivity analyses (e.g. winsorised cortisol)."""
    module, _ = PREPARERS[mechanism]
    found = getattr(module, "sensitivity_analyses", None)
    return found(cfg["preparation"].get(mechanism, {})) if found else []


def ewas_covariates(cfg: dict) -> tuple[list[str], list[str]]:
    """The EWAS covariates: ``epigenome_wide.covariates`` (default: the study's), and the
    methylation cell-type and batch covariates added in each cohort that gives them."""
    covariates = list(cfg["epigenome_wide"].get("covariates", cfg["covariates"]))
    extra = [v for v in cfg["preparation"].get("methylation", {}).get("covariates", []) if v not in covariates]
    return covariates, extra


def study_labels(cfg: dict) -> dict:
    """Cohort (or site) name -> its label, for a run on cohorts or on sites' exports."""
    studies = {**cfg.get("cohorts", {}), **cfg.get("sites", {})}
    return {name: spec.get("label", name) for name, spec in studies.items()}


def mechanism_label(cfg: dict, mechanism: str) -> str:
    return cfg["mechanisms"][mechanism].get("label", mechanism)


# --------------------------------------------------------------------------- effect modification
def _family(variable: str, data_schema: dict) -> str:
    return model_family(variable, data_schema)


def mechanism_models(spec: dict, data_schema: dict) -> list[tuple[str, str, str]]:
    """(predictor, response, family) of every association model of one mechanism."""
    models = [(e, b, "gaussian") for b in spec["biomarkers"] for e in spec["exposures"]]
    for outcome in spec.get("outcomes", []):
        models += [(b, outcome, _family(outcome, data_schema)) for b in spec["biomarkers"]]
    return models


def modification_models(cfg: dict, mechanism: str) -> list[dict]:
    """The effect-modification models of one mechanism, from ``cfg["effect_modification"]``.

    Without ``pairs``: every declared modifier for every exposure -> biomarker model of the
    mechanism (a modifier is never tested on a model where it is the exposure or the
    response). With ``pairs``: exactly the declared pairs that are association models of
    this mechanism (exposure -> biomarker, or biomarker -> outcome when the pair names an
    ``outcome`` and its ``exposure`` is one of the mechanism's biomarkers).

    Returns dicts with keys ``exposure``, ``response``, ``modifier`` and ``family``, in
    the order exposure, modifier, response of the config.
    """
    settings = cfg.get("effect_modification") or {}
    spec = cfg["mechanisms"][mechanism]
    data_schema = cfg.get("_data_schema", {})
    known = {(p, r): f for p, r, f in mechanism_models(spec, data_schema)}
    wanted = []
    if settings.get("pairs"):
        for pair in settings["pairs"]:
            response = pair.get("biomarker", pair.get("outcome"))
            if (pair["exposure"], response) in known:
                wanted.append((pair["exposure"], pair["modifier"], response))
    else:
        for exposure in spec["exposures"]:
            for modifier in settings.get("modifiers", []):
                wanted += [(exposure, modifier, b) for b in spec["biomarkers"]]
    out, seen = [], set()
    for exposure, modifier, response in wanted:
        if modifier in (exposure, response) or (exposure, modifier, response) in seen:
            continue
        seen.add((exposure, modifier, response))
        out.append(dict(exposure=exposure, response=response, modifier=modifier,
                        family=known[(exposure, response)]))  # fmt: skip
    return out


def strata_figures(cfg: dict, mechanism: str) -> list[tuple[str, str]]:
    """(exposure, modifier) of every stratified forest plot of one mechanism."""
    return list(dict.fromkeys((m["exposure"], m["modifier"]) for m in modification_models(cfg, mechanism)))


#: The harmonised variables a derived SES variable is computed from (first1000.harmonise.ses).
_SES_SOURCES = {
    "education_group": ["education_isced"],
    "income_equivalised": ["household_income"], "income_equivalised_ln": ["household_income"],
    "income_ridit": ["household_income"], "income_quintile": ["household_income"],
    "material_deprivation": ["material_deprivation_items"],
    "severe_material_deprivation": ["material_deprivation_items"],
}


def _mapped(cohort: dict, variable: str) -> bool:
    """Whether a cohort's mapping provides a harmonised variable (or the one it is derived from)."""
    rules = cohort["_mapping"].get("variables", {})
    sources = _SES_SOURCES.get(variable, [variable])
    return any(isinstance(rules.get(v), dict) and rules[v].get("rule") not in ("impossible", "undetermined")
               for v in sources)


def config_warnings(cfg: dict) -> list[str]:
    """What the config and the cohorts' mappings let one know before any job runs, that is
    not an error: a cohort whose mapped SES indicators are fewer than ``min_indicators``
    (it has no SES index) or one discrete indicator (its SES index may not form tertiles)."""
    if cfg["_mode"] != "cohorts":
        return []
    out = []
    settings = cfg["ses_index"]
    # PC1 scores need every indicator; the z-score mean at least min_indicators
    needed = len(settings["indicators"]) if settings["method"] == "pca" else settings["min_indicators"]
    for name, cohort in sorted(cfg["cohorts"].items()):
        mapped = [v for v in settings["indicators"] if _mapped(cohort, v)]
        if len(mapped) < needed:
            out.append(
                f"cohort {name}: its mapping provides {len(mapped)} of the SES index's indicators "
                f"({', '.join(mapped) or 'none'}), fewer than the {needed} the index needs "
                f"(`ses_index.{'indicators' if settings['method'] == 'pca' else 'min_indicators'}`): this "
                "cohort has no SES index, its models of ses_index are not fitted and its Table 1 has no SES "
                "tertiles.")
        elif len(mapped) == 1 and cfg["_data_schema"].get(
                mapped[0], {}).get("type") in ("integer", "categorical", "binary", "ordinal"):
            out.append(
                f"cohort {name}: its SES index is formed from one discrete indicator ({mapped[0]}), so it "
                "has few distinct values: where two tertile cut points fall on one value, its Table 1 "
                "shows all participants only, with a row saying why.")
    return out


def check_mechanisms_have_data(cfg: dict) -> None:
    """Every configured mechanism has its table in at least one cohort's mapping (else its
    biomarkers are in no cohort): one :class:`ConfigError` naming them all."""
    if cfg.get("_mode") != "cohorts":
        return
    missing = [m for m in cfg["mechanisms"]
               if not any(PREPARERS[m][1] in cohort_tables(cfg, c) for c in cfg["cohorts"])]
    if missing:
        listed = "; ".join(f"`{m}` (table `{PREPARERS[m][1]}`)" for m in missing)
        raise ConfigError(
            f"{where(cfg.get('_source'), ['mechanisms'])}: no cohort's mapping has a table of "
            f"{'these mechanisms' if len(missing) > 1 else 'this mechanism'}: {listed}, so none of "
            "its biomarkers is in any cohort. Map the table under `tables:` of a cohort's mapping file, or "
            "remove the mechanism from `mechanisms`.")


def check_settings(cfg: dict) -> None:
    """Check the variables of ``effect_modification`` and ``missing_data``.

    Modifiers and auxiliary variables must be harmonised or derived variables; a pair's
    exposure, biomarker/outcome and modifier must form an association model of at least
    one configured mechanism. Raises one :class:`ConfigError` naming the key.
    """
    import difflib

    source = cfg.get("_source")
    check_mechanisms_have_data(cfg)
    known = set(cfg.get("_data_schema", {})) | set(DERIVED_VARIABLES)

    def check(var, keys):
        if var not in known:
            hint = difflib.get_close_matches(var, sorted(known), n=1)
            raise ConfigError(f"{where(source, keys)}: `{var}` is not a harmonised or derived variable"
                              f"{f' (did you mean `{hint[0]}`?)' if hint else ''}.")

    settings = cfg.get("effect_modification") or {}
    for i, var in enumerate(settings.get("modifiers", [])):
        check(var, ["effect_modification", "modifiers", i])
    for i, var in enumerate((cfg.get("missing_data") or {}).get("auxiliary", [])):
        check(var, ["missing_data", "auxiliary", i])
    data_schema = cfg.get("_data_schema", {})
    for i, pair in enumerate(settings.get("pairs", [])):
        keys = ["effect_modification", "pairs", i]
        check(pair["modifier"], keys + ["modifier"])
        response = pair.get("biomarker", pair.get("outcome"))
        models = {(p, r) for spec in cfg["mechanisms"].values() for p, r, _ in mechanism_models(spec, data_schema)}
        if (pair["exposure"], response) not in models:
            kind = "biomarker" if "biomarker" in pair else "outcome"
            raise ConfigError(
                f"{where(source, keys)}: `{pair['exposure']}` -> `{response}` is not an association model of "
                f"any configured mechanism (a pair names an exposure and a {kind} of one mechanism"
                f"{'' if kind == 'biomarker' else ', its exposure being a biomarker of that mechanism'}).")
        if pair["modifier"] in (pair["exposure"], response):
            raise ConfigError(f"{where(source, keys + ['modifier'])}: the modifier `{pair['modifier']}` is "
                              "the pair's exposure or response; choose a third variable.")
