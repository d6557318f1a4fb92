from first1000.stages import ewas_candidates, run

run(
    ewas_candidates,
    log=snakemake.log[0],
    config=snakemake.config,
    cohort=snakemake.wildcards.cohort,
    exposure=snakemake.wildcards.exposure,
    biomarkers=snakemake.input.biomarkers,
    participants=snakemake.input.participants,
    output=snakemake.output[0],
)
