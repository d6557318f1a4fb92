from first1000.stages import run, strata_figure

run(
    strata_figure,
    log=snakemake.log[0],
    config=snakemake.config,
    mechanism=snakemake.wildcards.mechanism,
    exposure=snakemake.wildcards.exposure,
    modifier=snakemake.wildcards.modifier,
    modification=snakemake.input[0],
    png=snakemake.output.png,
    svg=snakemake.output.svg,
)
