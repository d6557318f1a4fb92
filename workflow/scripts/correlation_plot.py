from first1000.stages import run
from first1000.stages.figures import correlation_plot

run(correlation_plot, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
