# first1000: SES and maternal mood -> biological mechanisms -> child outcomes.
# The workflow is workflow/Snakefile (the Snakemake workflow catalogue's layout); this file
# lets `snakemake` run from the repository's top level, where config/ and results/ are.
# Snakemake's `include:` keeps an included file's default target to itself; the workflow's
# own (rule all) is wanted here, as when Snakemake runs workflow/Snakefile directly.
workflow.include("workflow/Snakefile", overwrite_default_target=True)
