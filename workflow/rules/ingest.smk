# Stage 1: read each cohort table, check it, pseudonymise IDs, write standard Parquet.


rule ingest_participants:
    input:
        mapping=mapping_file,
        table=participants_table,
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
        "results/benchmarks/ingest_participants/{cohort}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    params:
        key_file=KEY_FILE,
    script:
        "../scripts/ingest_participants.py"


rule ingest_table:
    input:
        mapping=mapping_file,
        participants=participants_table,
        table=raw_table,
    output:
        "results/ingest/{cohort}/{table}.parquet",
    log:
        "logs/ingest_table/{cohort}/{table}.log",
    benchmark:
        "results/benchmarks/ingest_table/{cohort}/{table}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(2000),
        runtime=scaled(20),
    params:
        key_file=KEY_FILE,
    script:
        "../scripts/ingest_table.py"
