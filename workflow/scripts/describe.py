from first1000.stages import run
from first1000.stages.analyse import describe

run(describe, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
