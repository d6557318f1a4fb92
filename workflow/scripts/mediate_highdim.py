from first1000.stages import run
from first1000.stages.analyse import mediate_highdim

run(mediate_highdim, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
