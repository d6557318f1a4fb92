from first1000.stages import run
from first1000.stages.sites import import_mediation

run(import_mediation, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
