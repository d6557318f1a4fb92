from first1000.stages import run
from first1000.stages.ingest import ingest_table

run(ingest_table, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
