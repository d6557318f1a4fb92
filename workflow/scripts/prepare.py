from first1000.stages import run
from first1000.stages.prepare import prepare

run(prepare, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
