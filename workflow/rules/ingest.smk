# Stage 1: read each cohort table, check it, pseudonymise IDs, write standard Parquet.


rule ingest_participants:
    input:
        unpack(inputs_of(ingest.ingest_participants_inputs)),
    output:
        participants="results/ingest/{cohort}/participants.parquet",
        harmonisation=report(
            "results/harmonisation/{cohort}_variables.tsv",
            caption="../report/harmonisation.rst",
            category="1. Cohorts",
            subcategory="Harmonisation",
            labels={"cohort": "{cohort}", "table": "rules per variable"},
        ),
        categories=report(
            "results/harmonisation/{cohort}_categories.tsv",
            caption="../report/harmonisation_categories.rst",
            category="1. Cohorts",
            subcategory="Harmonisation",
            labels={"cohort": "{cohort}", "table": "categories before and after"},
        ),
    log:
        "logs/ingest_participants/{cohort}.log",
    benchmark:
        "logs/benchmarks/ingest_participants/{cohort}.tsv"
    # every analysis waits for the harmonised participants of every cohort: their ingest goes
    # before the tables' (the EWAS of 450,000 CpGs from scratch: harmonisation now runs beside
    # the matrix's ingest instead of after it, 0.5 s sooner; #19)
    priority: 20
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    params:
        settings=params_of(ingest.ingest_participants_params),
        software=SOFTWARE,
    script:
        "../scripts/ingest_participants.py"


rule ingest_table:
    input:
        unpack(inputs_of(ingest.ingest_table_inputs)),
    output:
        output="results/ingest/{cohort}/{table}.parquet",
    log:
        "logs/ingest_table/{cohort}/{table}.log",
    benchmark:
        "logs/benchmarks/ingest_table/{cohort}/{table}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(2000),
        runtime=scaled(20),
    params:
        settings=params_of(ingest.ingest_table_params),
        software=SOFTWARE,
    script:
        "../scripts/ingest_table.py"
