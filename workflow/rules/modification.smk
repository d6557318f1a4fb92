# Stage 5b: effect modification (exposure x modifier); the missing data of the models are
# written by rule describe (analyse.smk).


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
        software=SOFTWARE,
    script:
        "../scripts/modify.py"
