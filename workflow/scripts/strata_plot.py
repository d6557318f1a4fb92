from first1000.stages import run
from first1000.stages.modification import strata_plot

run(strata_plot, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
