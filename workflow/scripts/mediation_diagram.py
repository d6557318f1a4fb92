from first1000.stages import mediation_figure, run

run(
    mediation_figure,
    log=snakemake.log[0],
    config=snakemake.config,
    effects=snakemake.input.effects,
    paths=snakemake.input.paths,
    exposure=snakemake.wildcards.exposure,
    mediator=snakemake.wildcards.mediator,
    outcome=snakemake.wildcards.outcome,
    png=snakemake.output.png,
    svg=snakemake.output.svg,
)
