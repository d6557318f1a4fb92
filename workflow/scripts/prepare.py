from first1000.stages import prepare, run

inputs = dict(snakemake.input.items())
run(
    prepare,
    log=snakemake.log[0],
    config=snakemake.config,
    mechanism=snakemake.wildcards.mechanism,
    tables={cohort: inputs[cohort] for cohort in snakemake.params.cohorts},
    participants=inputs.get("harmonised_participants"),
    output=snakemake.output.biomarkers,
    qc=snakemake.output.qc,
)
