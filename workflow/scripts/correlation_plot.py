from first1000.stages import correlation_figure, run

run(
    correlation_figure,
    log=snakemake.log[0],
    config=snakemake.config,
    mechanism=snakemake.wildcards.mechanism,
    participants=snakemake.input.participants,
    biomarkers=snakemake.input.biomarkers,
    png=snakemake.output.png,
    svg=snakemake.output.svg,
)
