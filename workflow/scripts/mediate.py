from first1000.stages import mediate, run

run(
    mediate,
    log=snakemake.log[0],
    config=snakemake.config,
    mechanism=snakemake.wildcards.mechanism,
    participants=snakemake.input.participants,
    biomarkers=snakemake.input.biomarkers,
    effects=snakemake.output.effects,
    paths=snakemake.output.paths,
    sensitivity=snakemake.output.sensitivity,
)
