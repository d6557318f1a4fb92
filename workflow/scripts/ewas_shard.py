from first1000.stages import run
from first1000.stages.ewas import ewas_shard

run(ewas_shard, snakemake.input, snakemake.output, snakemake.params, snakemake.log)
