from first1000.stages import associate_sensitivity, run

run(
    associate_sensitivity,
    log=snakemake.log[0],
    config=snakemake.config,
    mechanism=snakemake.wildcards.mechanism,
    participants=snakemake.input.participants,
    biomarkers=snakemake.input.biomarkers,
    associations=snakemake.input.associations,
    output=snakemake.output[0],
)
