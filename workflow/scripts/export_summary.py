from first1000.stages import run
from first1000.stages.export import export_summary

run(export_summary, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
