from first1000.stages import run, sensitivity_forest_figure

run(
    sensitivity_forest_figure,
    log=snakemake.log[0],
    config=snakemake.config,
    mechanism=snakemake.wildcards.mechanism,
    associations=snakemake.input.associations,
    sensitivity=snakemake.input.sensitivity,
    png=snakemake.output.png,
    svg=snakemake.output.svg,
)
