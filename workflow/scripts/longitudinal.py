from first1000.stages import run
from first1000.stages.longitudinal import longitudinal

run(longitudinal, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
