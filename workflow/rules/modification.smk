# Stage 5b: effect modification (exposure x modifier) and the missing data of the models.


rule modify:
    input:
        participants="results/harmonised/participants.parquet",
        biomarkers="results/prepared/{mechanism}.parquet",
    output:
        output=report(
            "results/modification/{mechanism}.tsv",
            caption="../report/modification.rst",
            category=mechanism_category,
            subcategory="Effect modification",
            labels={"table": "effect modification of {mechanism}"},
        ),
    log:
        "logs/modify/{mechanism}.log",
    benchmark:
        "logs/benchmarks/modify/{mechanism}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(2000),
        runtime=scaled(20),
    params:
        settings=params_of(modification.modify_params),
    script:
        "../scripts/modify.py"


rule missingness:
    input:
        participants="results/harmonised/participants.parquet",
        biomarkers="results/prepared/{mechanism}.parquet",
    output:
        output=report(
            "results/missingness/{mechanism}.tsv",
            caption="../report/missingness.rst",
            category=mechanism_category,
            subcategory="Missing data",
            labels={"table": "missing data of {mechanism}"},
        ),
    log:
        "logs/missingness/{mechanism}.log",
    benchmark:
        "logs/benchmarks/missingness/{mechanism}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    params:
        settings=params_of(modification.missingness_params),
    script:
        "../scripts/missingness.py"
