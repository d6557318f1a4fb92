from first1000.stages import run
from first1000.stages.ewas import ewas_gather

run(ewas_gather, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
