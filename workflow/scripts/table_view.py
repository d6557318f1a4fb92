from first1000.stages import run, table_view

run(
    table_view,
    log=snakemake.log[0],
    config=snakemake.config,
    kind=snakemake.wildcards.kind,
    mechanism=snakemake.wildcards.mechanism,
    table=snakemake.input[0],
    output=snakemake.output[0],
)
