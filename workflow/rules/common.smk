# Helpers of the workflow: config validation, the params and inputs of each rule, targets.
#
# A job reads only what its rule declares. The params `settings` of every rule are the
# exact slice of the validated config its stage uses (built by `<stage>_params` in
# first1000.stages.<module>), and every file its stage reads is an input. Scripts pass
# snakemake.input, output, params and log to first1000.stages.run and nothing else.
import sys

from snakemake.exceptions import WorkflowError

from first1000.config import snakemake_config
from first1000.errors import First1000Error
from first1000.labels import report_category
from first1000.preflight import preflight, preflight_workers, unexpected_failure
from first1000.plan import (
    CONDA_ENV,
    analysed_mechanisms,
    config_warnings,
    cohort_tables,
    ewas_cohorts,
    ewas_meta_wanted,
    mediation_paths,
    mood_available,
    modification_models,
    sensitivity_analyses,
    site_file,
    site_inputs,
)
from first1000.stages import (
    analyse,
    ewas,
    export,
    figures,
    harmonise,
    ingest,
    job_environment,
)
from first1000.stages import longitudinal, modification, prepare, provenance, sites

# Every job's process inherits these (NumPy's huge pages off: faster large arrays on
# virtual machines; see first1000.stages.JOB_ENVIRONMENT); a value the user set wins.
job_environment()

# A param of every rule: the versions of first1000, Python and the packages that compute
# (first1000.stages.provenance.PACKAGES). After an upgrade every job runs again, so the
# results are what a run from scratch gives with the software the provenance lists.
SOFTWARE = provenance.software_trigger()


def snakemake_cores(workflow):
    """--cores of this run (None when not given, as on a cluster with --jobs)."""
    try:
        return workflow.cores
    except WorkflowError:
        return None


try:
    # only the main process creates a missing key (on the first run); a job never does
    CFG = preflight(
        snakemake_config(workflow.configfiles, workflow.config_settings.config, config),
        cache=".snakemake/first1000-preflight.json",
        create_key=workflow.is_main_process,
        # the tables' check on --cores processes (in the main process only)
        workers=(
            preflight_workers(snakemake_cores(workflow))
            if workflow.is_main_process
            else 1
        ),
    )
    MECHANISMS = analysed_mechanisms(CFG)
    EWAS_COHORTS = ewas_cohorts(CFG)
    if workflow.is_main_process:
        for warning in config_warnings(CFG):
            sys.stderr.write(f"first1000: warning: {warning}\n")
except First1000Error as exc:
    sys.stderr.write(f"first1000: error: {exc}\n")
    sys.exit(1)
except Exception as exc:  # a bug: one message, the traceback without values in a log
    sys.stderr.write(unexpected_failure(exc) + "\n")
    sys.exit(1)

# Report captions read the settings as validated (defaults filled in); jobs never do.
config.update(
    {
        key: value
        for key, value in CFG.items()
        if not key.startswith("_") and key not in ("cohorts", "sites")
    }
)
# A summary-statistics-only run (no individual data) meta-analyses the sites' exports.
SITES_MODE = CFG["_mode"] == "sites"
COHORTS = sorted(CFG["cohorts"])
SITES = sorted(CFG["sites"])
EWAS = CFG["epigenome_wide"]
# The searchable views of the result tables, made by one job (rule table_views).
TABLE_VIEWS = figures.table_view_list(CFG)


wildcard_constraints:
    cohort="|".join(COHORTS) or "none",
    mechanism="|".join(MECHANISMS) or "none",
    table="hair_cortisol|telomere_qpcr|mtdna_qpcr|methylation_candidates|methylation_matrix|metabolites|immune|microbiome_counts|cns_measures|child_followup",
    exposure=r"[a-z][a-z0-9_]*",
    mediator=r"[a-z][a-z0-9_]*",
    outcome=r"[a-z][a-z0-9_]*",
    variable=r"[a-z][a-z0-9_]*",
    shard=r"\d+",


def scaled(base):
    """A resource that grows with each retry (--retries): base, 2*base, ..."""

    def resource(wildcards, attempt):
        return base * attempt

    return resource


# Report sections of the mechanisms: "2.<position> <label>", in the config's order.
MECHANISM_CATEGORIES = {
    name: report_category(position, spec.get("label", name), len(CFG["mechanisms"]))
    for position, name, spec in zip(
        range(1, 100), CFG["mechanisms"], CFG["mechanisms"].values()
    )
}


def mechanism_category(wildcards):
    """The report section of the job's mechanism."""
    return MECHANISM_CATEGORIES[wildcards.mechanism]


def highdim_category(wildcards):
    """The report section of a high-dimensional mediation job (methylation's CpGs: the
    methylation section, or the epigenome-wide one without that mechanism)."""
    return category_of(wildcards.mechanism)


def category_of(mechanism):
    """The report section of a named mechanism (the EWAS: methylation's, or its own)."""
    return MECHANISM_CATEGORIES.get(mechanism, "3. Epigenome-wide")


def params_of(builder):
    """A rule's params: the config slice its stage reads, builder(CFG, **wildcards)."""

    def settings(wildcards):
        return builder(CFG, **dict(wildcards.items()))

    return settings


def inputs_of(builder):
    """A rule's inputs that depend on the config: builder(CFG, **wildcards)."""

    def files(wildcards):
        return builder(CFG, **dict(wildcards.items()))

    return files


def all_inputs():
    """Every file the run reads (their checksums go into the provenance)."""
    # the sites' exports, the annotation the EWAS meta-analysis reads, and the harmonised
    # variables (their labels, units and types reach the figures, tables and methods)
    if SITES_MODE:
        return sorted(
            {
                *site_inputs(CFG),
                *ewas.annotation_input(CFG).values(),
                CFG["harmonised_variables"],
            }
        )
    files = {CFG["harmonised_variables"]}
    for cohort in COHORTS:
        files.update(cohort_tables(CFG, cohort).values())
        files.add(CFG["cohorts"][cohort]["mapping"])
        files.update(ingest.ingest_participants_inputs(CFG, cohort)["definitions"])
        for table in cohort_tables(CFG, cohort):
            if table != "participants":
                inputs = ingest.ingest_table_inputs(CFG, cohort, table)
                files.update(inputs.get("definitions", []))
    for mechanism in analysed_mechanisms(CFG):
        files.update(prepare.prepare_inputs(CFG, mechanism).get("definitions", []))
    files.update(ewas.annotation_input(CFG).values())
    return sorted(files)


def ewas_annotation(wildcards):
    """The array annotation, an input of the EWAS jobs when the config names one."""
    return ewas.annotation_input(CFG)


def provenance_settings(wildcards):
    return provenance.provenance_params(
        CFG,
        provenance.git_commit(workflow.basedir),
        provenance.git_dirty(workflow.basedir),
    )


def ewas_tables(wildcards):
    """Each cohort's (or site's export of its) EWAS table of one exposure."""
    if SITES_MODE:
        return [
            site_file(CFG, site, f"ewas_{wildcards.exposure}.parquet")
            for site in ewas_cohorts(CFG, wildcards.exposure)
        ]
    return expand(
        "results/ewas/{cohort}/{exposure}.parquet",
        cohort=EWAS_COHORTS,
        exposure=wildcards.exposure,
    )


def ewas_shards(wildcards):
    return expand(
        "results/ewas/{cohort}/{exposure}/shard-{shard}.parquet",
        cohort=wildcards.cohort,
        exposure=wildcards.exposure,
        shard=range(EWAS["shards"]),
    )


def mediation_tables():
    return [
        f"results/mediation/{mechanism}.tsv"
        for mechanism in MECHANISMS
        if mediation_paths(CFG, mechanism)
    ]


def modification_outputs():
    """Missingness tables of every mechanism; effect-modification tables."""
    outputs = [f"results/missingness/{mechanism}.tsv" for mechanism in MECHANISMS]
    for mechanism in MECHANISMS:
        if modification_models(CFG, mechanism):
            outputs.append(f"results/modification/{mechanism}.tsv")
    return outputs


def figure_subcategory(wildcards):
    """The report subsection of one figure of a mechanism (by its kind)."""
    return figures.figure_subcategory(wildcards.kind)


def figure_label(wildcards):
    """The report label of one figure of a mechanism, from its file name."""
    return figures.figure_label(dict(wildcards.items()))


def all_outputs():
    outputs = [
        "results/figures/model.png",
        "results/harmonised/participants.parquet",
        "results/provenance/config.yaml",
        "results/methods.md",
        "results/tables/publication.xlsx",
        "results/key_findings.rst",
        "results/tables/provenance.html",
    ]
    if SITES_MODE:
        outputs.remove("results/harmonised/participants.parquet")
    elif CFG["export"]["summary_statistics"]:
        outputs += [f"results/export/{cohort}" for cohort in COHORTS]
    if not SITES_MODE and mood_available(CFG):
        outputs.append("results/qc/mood.tsv")
    outputs += [figures.table_view_path(kind, m) for kind, m in TABLE_VIEWS]
    for mechanism in MECHANISMS:
        outputs.append(f"results/associations/{mechanism}.tsv")
        # every figure of the mechanism (figures.mechanism_figure_list)
        outputs.append(f"results/figures/{mechanism}")
        if not SITES_MODE:
            outputs.append(f"results/qc/{mechanism}.tsv")
        if mediation_paths(CFG, mechanism):
            outputs.append(f"results/mediation/{mechanism}.tsv")
    if "methylation" in MECHANISMS and not SITES_MODE:
        for cohort in MECHANISMS["methylation"]:
            for exposure in EWAS["exposures"]:
                outputs.append(f"results/ewas/{cohort}/{exposure}_candidates.tsv")
    for exposure in EWAS["exposures"]:
        # in a sites run, the sites that exported this exposure's EWAS (they may differ)
        ewas_sets = [] if SITES_MODE else list(EWAS_COHORTS)
        ewas_sets += ["meta"] if ewas_meta_wanted(CFG, exposure) else []
        for cohort in ewas_sets:
            outputs.append(f"results/ewas/{cohort}/{exposure}_top.tsv")
            outputs.append(f"results/figures/ewas/{cohort}--{exposure}--qq.png")
            if EWAS.get("annotation"):
                outputs.append(
                    f"results/figures/ewas/{cohort}--{exposure}--manhattan.png"
                )
    outputs += [] if SITES_MODE else modification_outputs()
    for mechanism in analyse.highdim_mechanisms(CFG):
        outputs += [
            f"results/mediation/{mechanism}_highdim.tsv",
            f"results/figures/highdim/{mechanism}",
        ]
    if not SITES_MODE:
        for mechanism in longitudinal.longitudinal_mechanisms(CFG):
            outputs.append(f"results/longitudinal/{mechanism}.tsv")
            outputs.append(f"results/figures/longitudinal/{mechanism}")
    return sorted(set(outputs))
