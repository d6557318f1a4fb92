from first1000.stages import run, volcano_figure

run(
    volcano_figure,
    log=snakemake.log[0],
    config=snakemake.config,
    mechanism=snakemake.wildcards.mechanism,
    exposure=snakemake.wildcards.exposure,
    associations=snakemake.input[0],
    png=snakemake.output.png,
    svg=snakemake.output.svg,
)
