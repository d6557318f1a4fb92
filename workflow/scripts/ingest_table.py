from first1000.stages import ingest_table, run

run(
    ingest_table,
    log=snakemake.log[0],
    config=snakemake.config,
    cohort=snakemake.wildcards.cohort,
    table=snakemake.wildcards.table,
    key_file=snakemake.params.key_file,
    output=snakemake.output[0],
)
