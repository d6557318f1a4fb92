from first1000.stages import provenance, run

run(
    provenance,
    log=snakemake.log[0],
    config=snakemake.config,
    inputs=list(snakemake.input),
    config_out=snakemake.output.config,
    checksums=snakemake.output.checksums,
    versions=snakemake.output.versions,
    run_info=snakemake.output.run,
    git_commit=snakemake.params.git_commit,
)
