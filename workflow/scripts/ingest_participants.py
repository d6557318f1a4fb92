from first1000.stages import ingest_participants, run

run(
    ingest_participants,
    log=snakemake.log[0],
    config=snakemake.config,
    cohort=snakemake.wildcards.cohort,
    key_file=snakemake.params.key_file,
    participants=snakemake.output.participants,
    harmonisation=snakemake.output.harmonisation,
    categories=snakemake.output.categories,
)
