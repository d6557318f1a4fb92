from first1000.stages import forest_figure, run

run(
    forest_figure,
    log=snakemake.log[0],
    config=snakemake.config,
    mechanism=snakemake.wildcards.mechanism,
    variable=snakemake.wildcards.variable,
    associations=snakemake.input[0],
    png=snakemake.output.png,
    svg=snakemake.output.svg,
)
