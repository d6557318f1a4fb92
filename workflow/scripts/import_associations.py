from first1000.stages import run
from first1000.stages.sites import import_associations

run(import_associations, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
