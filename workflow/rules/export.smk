# Summary statistics of each cohort, for a meta-analysis elsewhere (config `sites`).


rule export_summary:
    input:
        unpack(inputs_of(export.export_summary_inputs)),
    output:
        output=directory("results/export/{cohort}"),
    log:
        "logs/export/{cohort}.log",
    benchmark:
        "logs/benchmarks/export/{cohort}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(2000),
        runtime=scaled(10),
    params:
        settings=params_of(export.export_summary_params),
        software=SOFTWARE,
    script:
        "../scripts/export_summary.py"
