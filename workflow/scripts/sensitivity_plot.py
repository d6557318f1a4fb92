from first1000.stages import run, sensitivity_figure

run(
    sensitivity_figure,
    log=snakemake.log[0],
    config=snakemake.config,
    sensitivity=snakemake.input[0],
    exposure=snakemake.wildcards.exposure,
    mediator=snakemake.wildcards.mediator,
    outcome=snakemake.wildcards.outcome,
    png=snakemake.output.png,
    svg=snakemake.output.svg,
)
