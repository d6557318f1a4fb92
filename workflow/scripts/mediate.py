from first1000.stages import run
from first1000.stages.analyse import mediate

run(mediate, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
