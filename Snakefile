# first1000: SES and maternal mood -> biological mechanisms -> child outcomes.
# The Snakefile is a table of contents; logic lives in the first1000 package.
from snakemake.utils import min_version

min_version("9.0")


# The demo config, unless a complete config is given with --configfile (a scenario in
# .test/, a lab's own config, or a summary-statistics-only run on `sites`).
if not workflow.overwrite_configfiles:

    configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"


if SITES_MODE:  # meta-analysis of other runs' exported summary statistics

    include: "workflow/rules/sites.smk"

else:  # individual data of the cohorts

    include: "workflow/rules/ingest.smk"
    include: "workflow/rules/harmonise.smk"
    include: "workflow/rules/prepare.smk"
    include: "workflow/rules/analyse.smk"
    include: "workflow/rules/modification.smk"
    include: "workflow/rules/export.smk"


include: "workflow/rules/ewas.smk"
include: "workflow/rules/figures.smk"
include: "workflow/rules/provenance.smk"


rule all:
    default_target: True
    input:
        all_outputs(),
