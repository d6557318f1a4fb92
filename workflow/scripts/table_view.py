from first1000.stages import run
from first1000.stages.figures import table_view

run(table_view, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
