from first1000.stages import ewas_meta, run

run(
    ewas_meta,
    log=snakemake.log[0],
    config=snakemake.config,
    tables=list(snakemake.input),
    cohorts=list(snakemake.params.cohorts),
    table_out=snakemake.output.table,
    top_out=snakemake.output.top,
    summary_out=snakemake.output.summary,
)
