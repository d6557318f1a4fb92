# Stage 3: each mechanism's raw measurements -> analysis-ready biomarkers + QC.


rule prepare:
    input:
        unpack(inputs_of(prepare.prepare_inputs)),
    output:
        output="results/prepared/{mechanism}.parquet",
        qc=report(
            "results/qc/{mechanism}.tsv",
            caption="../report/qc.rst",
            category=mechanism_category,
            subcategory="Quality control",
            labels={"table": "QC of {mechanism}"},
        ),
    log:
        "logs/prepare/{mechanism}.log",
    benchmark:
        "logs/benchmarks/prepare/{mechanism}.tsv"
    # before the other jobs: Snakemake's priority does not pass to a job's inputs, and the
    # long jobs (priority 10) wait for their mechanism's preparation (100,000 participants:
    # prepare/hpa ran at 312 s, so mediate/hpa ended alone 250 s later)
    priority: 10
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(2000),
        runtime=scaled(20),
    params:
        settings=params_of(prepare.prepare_params),
        software=SOFTWARE,
    script:
        "../scripts/prepare.py"
