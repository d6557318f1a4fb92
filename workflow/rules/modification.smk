# Stage 5b: effect modification (exposure x modifier) and the missing data of the models.
from first1000.analysis.modification import check_settings

try:
    check_settings(CFG)
except First1000Error as exc:
    sys.stderr.write(f"first1000: error: {exc}\n")
    sys.exit(1)


rule modify:
    input:
        participants="results/harmonised/participants.parquet",
        biomarkers="results/prepared/{mechanism}.parquet",
    output:
        report(
            "results/modification/{mechanism}.tsv",
            caption="../report/modification.rst",
            category="{mechanism}",
            subcategory="Effect modification",
            labels={"table": "effect modification of {mechanism}"},
        ),
    log:
        "logs/modify/{mechanism}.log",
    benchmark:
        "results/benchmarks/modify/{mechanism}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(2000),
        runtime=scaled(20),
    script:
        "../scripts/modify.py"


rule strata_plot:
    input:
        "results/modification/{mechanism}.tsv",
    output:
        png=report(
            "results/figures/{mechanism}/strata--{exposure}--{modifier}.png",
            caption="../report/strata.rst",
            category="{mechanism}",
            subcategory="Effect modification",
            labels={"figure": "strata: {exposure} by {modifier}"},
        ),
        svg="results/figures/{mechanism}/strata--{exposure}--{modifier}.svg",
    log:
        "logs/figures/{mechanism}/strata--{exposure}--{modifier}.log",
    benchmark:
        "results/benchmarks/figures/{mechanism}/strata--{exposure}--{modifier}.tsv"
    wildcard_constraints:
        modifier=r"[a-z][a-z0-9_]*",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    script:
        "../scripts/strata_plot.py"


rule missingness:
    input:
        participants="results/harmonised/participants.parquet",
        biomarkers="results/prepared/{mechanism}.parquet",
    output:
        report(
            "results/missingness/{mechanism}.tsv",
            caption="../report/missingness.rst",
            category="{mechanism}",
            subcategory="Missing data",
            labels={"table": "missing data of {mechanism}"},
        ),
    log:
        "logs/missingness/{mechanism}.log",
    benchmark:
        "results/benchmarks/missingness/{mechanism}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    script:
        "../scripts/missingness.py"
