from first1000.stages import run
from first1000.stages.provenance import provenance

run(provenance, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
