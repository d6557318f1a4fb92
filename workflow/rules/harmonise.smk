# Stage 2: all cohorts on one scale, with the derived SES variables.


rule harmonise:
    input:
        participants=expand(
            "results/ingest/{cohort}/participants.parquet", cohort=COHORTS
        ),
    output:
        output="results/harmonised/participants.parquet",
        summary=report(
            "results/harmonised/summary.tsv",
            caption="../report/harmonised_summary.rst",
            category="1. Cohorts",
            labels={"table": "harmonised variables per cohort"},
        ),
        table1=report(
            "results/harmonised/table1.tsv",
            caption="../report/table1.rst",
            category="1. Cohorts",
            labels={"table": "Table 1"},
        ),
        ses_weights=report(
            "results/harmonised/ses_index.tsv",
            caption="../report/ses_index.rst",
            category="1. Cohorts",
            labels={"table": "SES index weights"},
        ),
    log:
        "logs/harmonise/harmonise.log",
    benchmark:
        "logs/benchmarks/harmonise/harmonise.tsv"
    priority: 20  # every analysis waits for it (see rule ingest_participants)
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    params:
        settings=params_of(harmonise.harmonise_params),
        software=SOFTWARE,
    script:
        "../scripts/harmonise.py"


# Made only when a cohort provides a maternal-mood score (plan.mood_available).
rule mood_qc:
    input:
        participants="results/harmonised/participants.parquet",
        harmonisation=expand(
            "results/harmonisation/{cohort}_variables.tsv", cohort=COHORTS
        ),
    output:
        mood_qc=report(
            "results/qc/mood.tsv",
            caption="../report/mood_qc.rst",
            category="1. Cohorts",
            labels={"table": "maternal mood QC"},
        ),
        mood_png=report(
            "results/figures/mood_qc.png",
            caption="../report/mood_qc_figure.rst",
            category="1. Cohorts",
            labels={"figure": "maternal mood questionnaires"},
        ),
        mood_svg="results/figures/mood_qc.svg",
    log:
        "logs/harmonise/mood_qc.log",
    benchmark:
        "logs/benchmarks/harmonise/mood_qc.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    params:
        settings=params_of(harmonise.mood_qc_params),
        software=SOFTWARE,
    script:
        "../scripts/mood_qc.py"
