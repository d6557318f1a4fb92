from first1000.stages import missingness, run

run(
    missingness,
    log=snakemake.log[0],
    config=snakemake.config,
    mechanism=snakemake.wildcards.mechanism,
    participants=snakemake.input.participants,
    biomarkers=snakemake.input.biomarkers,
    output=snakemake.output[0],
)
