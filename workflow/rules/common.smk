# Helpers of the workflow: config validation, input functions, target lists.
import subprocess
import sys
from pathlib import Path

from first1000.errors import First1000Error
from first1000.pipeline import (
    CONDA_ENV,
    analysed_mechanisms,
    cohort_tables,
    ewas_cohorts,
    mediation_paths,
    preflight,
)

try:
    CFG = preflight(config, cache=".snakemake/first1000-preflight.json")
except First1000Error as exc:
    sys.stderr.write(f"first1000: error: {exc}\n")
    sys.exit(1)

KEY_FILE = CFG["privacy"]["key_file"]
COHORTS = sorted(CFG["cohorts"])
MECHANISMS = analysed_mechanisms(CFG)
EWAS_COHORTS = ewas_cohorts(CFG)
EWAS = CFG["epigenome_wide"]


wildcard_constraints:
    cohort="|".join(COHORTS),
    mechanism="|".join(MECHANISMS) or "none",
    table="hair_cortisol|telomere_qpcr|methylation_candidates|methylation_matrix|metabolites|immune",
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


def mapping_file(wildcards):
    return CFG["cohorts"][wildcards.cohort]["mapping"]


def participants_table(wildcards):
    return cohort_tables(CFG, wildcards.cohort)["participants"]


def raw_table(wildcards):
    return cohort_tables(CFG, wildcards.cohort)[wildcards.table]


def mechanism_tables(wildcards):
    """The ingested raw table of this mechanism, for every cohort that has it."""
    return MECHANISMS[wildcards.mechanism]


def all_inputs():
    files = set()
    for cohort in COHORTS:
        files.update(cohort_tables(CFG, cohort).values())
        files.add(CFG["cohorts"][cohort]["mapping"])
    return sorted(files)


def git_commit():
    try:
        out = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=workflow.basedir,
        )
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


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


def all_outputs():
    outputs = [
        "results/figures/model.png",
        "results/harmonised/participants.parquet",
        "results/provenance/config.yaml",
    ]
    for mechanism in MECHANISMS:
        outputs.append(f"results/associations/{mechanism}.tsv")
        spec = CFG["mechanisms"][mechanism]
        for variable in spec["exposures"] + spec["outcomes"]:
            outputs.append(f"results/figures/{mechanism}/forest--{variable}.png")
        outputs.append(f"results/qc/{mechanism}.tsv")
        for path in mediation_paths(CFG, mechanism):
            outputs.append(f"results/mediation/{mechanism}.tsv")
            outputs.append(
                f"results/figures/{mechanism}/mediation--{path['exposure']}--{path['mediator']}--{path['outcome']}.png"
            )
    if "methylation" in MECHANISMS:
        for cohort in MECHANISMS["methylation"]:
            for exposure in EWAS["exposures"]:
                outputs.append(f"results/ewas/{cohort}/{exposure}_candidates.tsv")
    for cohort in EWAS_COHORTS:
        for exposure in EWAS["exposures"]:
            outputs.append(f"results/ewas/{cohort}/{exposure}_top.tsv")
            outputs.append(f"results/figures/ewas/{cohort}--{exposure}--qq.png")
            if EWAS.get("annotation"):
                outputs.append(
                    f"results/figures/ewas/{cohort}--{exposure}--manhattan.png"
                )
    return sorted(set(outputs))
