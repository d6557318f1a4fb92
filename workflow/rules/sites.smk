# Summary-statistics-only run: the sites' exports (config `sites`) meta-analysed.


rule import_associations:
    input:
        unpack(inputs_of(sites.import_associations_inputs)),
    output:
        output=report(
            "results/associations/{mechanism}.tsv",
            caption="../report/associations_sites.rst",
            category=mechanism_category,
            subcategory="Associations",
            labels={"table": "associations of {mechanism}"},
        ),
    log:
        "logs/import/associations_{mechanism}.log",
    benchmark:
        "logs/benchmarks/import/associations_{mechanism}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    params:
        settings=params_of(sites.import_associations_params),
        software=SOFTWARE,
    script:
        "../scripts/import_associations.py"


rule import_mediation:
    input:
        unpack(inputs_of(sites.import_mediation_inputs)),
    output:
        effects=report(
            "results/mediation/{mechanism}.tsv",
            caption="../report/mediation_sites.rst",
            category=mechanism_category,
            subcategory="Mediation",
            labels={"table": "mediation effects of {mechanism}"},
        ),
        paths="results/mediation/{mechanism}_paths.tsv",
    log:
        "logs/import/mediation_{mechanism}.log",
    benchmark:
        "logs/benchmarks/import/mediation_{mechanism}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    params:
        settings=params_of(sites.import_mediation_params),
        software=SOFTWARE,
    script:
        "../scripts/import_mediation.py"
