from first1000.stages import import_mediation, run

run(
    import_mediation,
    log=snakemake.log[0],
    config=snakemake.config,
    mechanism=snakemake.wildcards.mechanism,
    effects=snakemake.output.effects,
    paths=snakemake.output.paths,
)
