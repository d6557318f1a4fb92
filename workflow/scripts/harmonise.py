from first1000.stages import harmonise, run

run(
    harmonise,
    log=snakemake.log[0],
    config=snakemake.config,
    participants=list(snakemake.input.participants),
    output=snakemake.output.participants,
    summary=snakemake.output.summary,
    table1=snakemake.output.table1,
    ses_weights=snakemake.output.ses_weights,
    harmonisation=list(snakemake.input.harmonisation),
    mood_qc=snakemake.output.mood_qc,
    mood_png=snakemake.output.mood_png,
    mood_svg=snakemake.output.mood_svg,
)
