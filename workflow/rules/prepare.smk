# Stage 3: each mechanism's raw measurements -> analysis-ready biomarkers + QC.
from first1000.mechanisms import prepare_inputs


rule prepare:
    input:
        unpack(
            lambda wildcards: prepare_inputs(
                MECHANISMS,
                wildcards.mechanism,
                CFG["preparation"].get(wildcards.mechanism, {}),
            )
        ),
    output:
        biomarkers="results/prepared/{mechanism}.parquet",
        qc=report(
            "results/qc/{mechanism}.tsv",
            caption="../report/qc.rst",
            category="{mechanism}",
            subcategory="Quality control",
            labels={"table": "QC of {mechanism}"},
        ),
    log:
        "logs/prepare/{mechanism}.log",
    benchmark:
        "results/benchmarks/prepare/{mechanism}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(2000),
        runtime=scaled(20),
    params:
        cohorts=lambda wildcards: sorted(MECHANISMS[wildcards.mechanism]),
    script:
        "../scripts/prepare.py"
