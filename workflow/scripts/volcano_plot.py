from first1000.stages import run
from first1000.stages.figures import volcano_plot

run(volcano_plot, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
