from first1000.stages import run
from first1000.stages.harmonise import harmonise

run(harmonise, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
