from first1000.stages import prepare, run

run(
    prepare,
    log=snakemake.log[0],
    config=snakemake.config,
    mechanism=snakemake.wildcards.mechanism,
    tables=dict(snakemake.input.items()),
    output=snakemake.output.biomarkers,
    qc=snakemake.output.qc,
)
