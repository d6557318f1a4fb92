from first1000.stages import run
from first1000.stages.provenance import methods

run(methods, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
