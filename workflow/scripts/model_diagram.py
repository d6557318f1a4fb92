from first1000.stages import run
from first1000.stages.figures import model_diagram

run(model_diagram, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
