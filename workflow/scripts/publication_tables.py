from first1000.stages import run
from first1000.stages.figures import publication_tables

run(publication_tables, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
