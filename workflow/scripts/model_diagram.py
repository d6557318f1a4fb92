from first1000.stages import model_figure, run

run(
    model_figure,
    log=snakemake.log[0],
    config=snakemake.config,
    associations=list(snakemake.input.associations),
    mediation=list(snakemake.input.mediation),
    png=snakemake.output.png,
    svg=snakemake.output.svg,
)
