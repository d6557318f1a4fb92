from first1000.stages import run
from first1000.stages.modification import modify

run(modify, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
