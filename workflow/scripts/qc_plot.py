from first1000.stages import qc_figure, run

run(
    qc_figure,
    log=snakemake.log[0],
    config=snakemake.config,
    mechanism=snakemake.wildcards.mechanism,
    qc=snakemake.input[0],
    png=snakemake.output.png,
    svg=snakemake.output.svg,
)
