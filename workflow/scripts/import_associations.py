from first1000.stages import import_associations, run

run(
    import_associations,
    log=snakemake.log[0],
    config=snakemake.config,
    mechanism=snakemake.wildcards.mechanism,
    output=snakemake.output[0],
)
