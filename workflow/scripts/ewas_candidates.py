from first1000.stages import run
from first1000.stages.ewas import ewas_candidates

run(ewas_candidates, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
