from first1000.stages import run
from first1000.stages.ewas import ewas_meta

run(ewas_meta, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
