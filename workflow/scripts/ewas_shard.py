from first1000.stages import ewas_shard, run

run(
    ewas_shard,
    log=snakemake.log[0],
    config=snakemake.config,
    cohort=snakemake.wildcards.cohort,
    exposure=snakemake.wildcards.exposure,
    shard=snakemake.wildcards.shard,
    matrix=snakemake.input.matrix,
    participants=snakemake.input.participants,
    output=snakemake.output[0],
)
