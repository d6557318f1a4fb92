from first1000.stages import run
from first1000.stages.figures import scatter_plot

run(scatter_plot, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
