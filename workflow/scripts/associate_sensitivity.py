from first1000.stages import run
from first1000.stages.analyse import associate_sensitivity

run(associate_sensitivity, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
