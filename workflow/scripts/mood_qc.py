from first1000.stages import run
from first1000.stages.harmonise import mood_qc

run(mood_qc, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
