# Summary statistics of each cohort, for a meta-analysis elsewhere (config `sites`).


rule export_summary:
    input:
        unpack(export_inputs),
    output:
        directory("results/export/{cohort}"),
    log:
        "logs/export/{cohort}.log",
    benchmark:
        "results/benchmarks/export/{cohort}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(2000),
        runtime=scaled(10),
    script:
        "../scripts/export_summary.py"
