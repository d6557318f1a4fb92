from first1000.stages import run, scatter_figure

run(
    scatter_figure,
    log=snakemake.log[0],
    config=snakemake.config,
    mechanism=snakemake.wildcards.mechanism,
    exposure=snakemake.wildcards.exposure,
    participants=snakemake.input.participants,
    biomarkers=snakemake.input.biomarkers,
    associations=snakemake.input.associations,
    png=snakemake.output.png,
    svg=snakemake.output.svg,
)
