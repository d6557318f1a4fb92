from first1000.stages import run
from first1000.stages.ewas import ewas_figures

run(ewas_figures, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
