from first1000.stages import export_summary, run

run(
    export_summary,
    log=snakemake.log[0],
    config=snakemake.config,
    cohort=snakemake.wildcards.cohort,
    associations=list(snakemake.input.associations),
    mediation=list(snakemake.input.mediation),
    mediation_paths=list(snakemake.input.mediation_paths),
    ewas_exposures=[p.rsplit("/", 1)[1].removesuffix(".parquet") for p in snakemake.input.ewas],
    ewas_tables=list(snakemake.input.ewas),
    out_dir=snakemake.output[0],
)
