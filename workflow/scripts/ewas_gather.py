from first1000.stages import ewas_gather, run

run(
    ewas_gather,
    log=snakemake.log[0],
    config=snakemake.config,
    shards=list(snakemake.input),
    table_out=snakemake.output.table,
    top_out=snakemake.output.top,
    summary_out=snakemake.output.summary,
)
