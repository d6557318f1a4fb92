from first1000.stages import ewas_figures, run

run(
    ewas_figures,
    log=snakemake.log[0],
    config=snakemake.config,
    cohort=snakemake.wildcards.cohort,
    exposure=snakemake.wildcards.exposure,
    table=snakemake.input.table,
    summary=snakemake.input.summary,
    qq_png=snakemake.output.qq,
    qq_svg=snakemake.output.qq_svg,
    manhattan_png=snakemake.output.manhattan,
    manhattan_svg=snakemake.output.manhattan_svg,
)
