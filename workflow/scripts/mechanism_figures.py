from first1000.stages import run
from first1000.stages.figures import mechanism_figures

run(mechanism_figures, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
