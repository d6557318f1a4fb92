from first1000.stages import run
from first1000.stages.figures import sensitivity_plot

run(sensitivity_plot, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
