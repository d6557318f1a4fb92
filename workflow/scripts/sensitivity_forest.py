from first1000.stages import run
from first1000.stages.figures import sensitivity_forest

run(sensitivity_forest, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
