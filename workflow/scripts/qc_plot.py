from first1000.stages import run
from first1000.stages.figures import qc_plot

run(qc_plot, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
