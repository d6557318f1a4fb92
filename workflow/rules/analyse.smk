# Stages 4-5: associations and mediation per mechanism (per cohort and pooled).


rule associate:
    input:
        participants="results/harmonised/participants.parquet",
        biomarkers="results/prepared/{mechanism}.parquet",
    output:
        report(
            "results/associations/{mechanism}.tsv",
            caption="../report/associations.rst",
            category="{mechanism}",
            subcategory="Associations",
            labels={"table": "associations of {mechanism}"},
        ),
    log:
        "logs/associate/{mechanism}.log",
    benchmark:
        "results/benchmarks/associate/{mechanism}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(2000),
        runtime=scaled(20),
    script:
        "../scripts/associate.py"


rule associate_sensitivity:
    input:
        participants="results/harmonised/participants.parquet",
        biomarkers="results/prepared/{mechanism}.parquet",
        associations="results/associations/{mechanism}.tsv",
    output:
        report(
            "results/sensitivity/{mechanism}.tsv",
            caption="../report/sensitivity.rst",
            category="{mechanism}",
            subcategory="Associations",
            labels={"table": "sensitivity analyses of {mechanism}"},
        ),
    log:
        "logs/sensitivity/{mechanism}.log",
    benchmark:
        "results/benchmarks/sensitivity/{mechanism}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(2000),
        runtime=scaled(20),
    script:
        "../scripts/associate_sensitivity.py"


rule mediate:
    input:
        participants="results/harmonised/participants.parquet",
        biomarkers=mediation_biomarkers,
    output:
        effects=report(
            "results/mediation/{mechanism}.tsv",
            caption="../report/mediation.rst",
            category="{mechanism}",
            subcategory="Mediation",
            labels={"table": "mediation effects of {mechanism}"},
        ),
        paths="results/mediation/{mechanism}_paths.tsv",
        sensitivity=report(
            "results/mediation/{mechanism}_sensitivity.tsv",
            caption="../report/mediation_sensitivity.rst",
            category="{mechanism}",
            subcategory="Mediation",
            labels={"table": "sensitivity of {mechanism} paths"},
        ),
    log:
        "logs/mediate/{mechanism}.log",
    benchmark:
        "results/benchmarks/mediate/{mechanism}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(2000),
        runtime=scaled(30),
    params:
        mediation=CFG["mediation"],
        seed=CFG["seed"],
    script:
        "../scripts/mediate.py"
