from first1000.stages import run
from first1000.stages.figures import forest_plot

run(forest_plot, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
