from first1000.stages import run
from first1000.stages.ingest import ingest_participants

run(ingest_participants, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
