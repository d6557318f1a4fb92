from first1000.stages import run
from first1000.stages.figures import mediation_diagram

run(mediation_diagram, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
