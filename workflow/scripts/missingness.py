from first1000.stages import run
from first1000.stages.modification import missingness

run(missingness, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
