from first1000.stages import run
from first1000.stages.analyse import associate

run(associate, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
