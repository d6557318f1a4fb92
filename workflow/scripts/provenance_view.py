from first1000.stages import run
from first1000.stages.provenance import provenance_view

run(provenance_view, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
