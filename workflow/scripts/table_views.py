from first1000.stages import run
from first1000.stages.figures import table_views

run(table_views, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
