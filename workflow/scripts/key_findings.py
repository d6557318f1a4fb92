from first1000.stages import run
from first1000.stages.figures import key_findings

run(key_findings, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
