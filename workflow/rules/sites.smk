# Summary-statistics-only run: the sites' exports (config `sites`) meta-analysed.


def site_exports(wildcards):
    return [site_file(CFG, site, "manifest.json") for site in SITES] + [
        site_file(CFG, site, name)
        for site in SITES
        for name in ("associations.tsv", "mediation.tsv", "mediation_paths.tsv")
    ]


rule import_associations:
    input:
        site_exports,
    output:
        report(
            "results/associations/{mechanism}.tsv",
            caption="../report/associations_sites.rst",
            category="{mechanism}",
            subcategory="Associations",
            labels={"table": "associations of {mechanism}"},
        ),
    log:
        "logs/import/associations_{mechanism}.log",
    benchmark:
        "results/benchmarks/import/associations_{mechanism}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    script:
        "../scripts/import_associations.py"


rule import_mediation:
    input:
        site_exports,
    output:
        effects=report(
            "results/mediation/{mechanism}.tsv",
            caption="../report/mediation_sites.rst",
            category="{mechanism}",
            subcategory="Mediation",
            labels={"table": "mediation effects of {mechanism}"},
        ),
        paths="results/mediation/{mechanism}_paths.tsv",
    log:
        "logs/import/mediation_{mechanism}.log",
    benchmark:
        "results/benchmarks/import/mediation_{mechanism}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    script:
        "../scripts/import_mediation.py"
