# Stages 4-5: associations and mediation per mechanism (per cohort and pooled), and the
# descriptive tables the mechanism figures draw.


rule associate:
    input:
        participants="results/harmonised/participants.parquet",
        biomarkers="results/prepared/{mechanism}.parquet",
    output:
        output=report(
            "results/associations/{mechanism}.tsv",
            caption="../report/associations.rst",
            category=mechanism_category,
            subcategory="Associations",
            labels={"table": "associations of {mechanism}"},
        ),
    log:
        "logs/associate/{mechanism}.log",
    benchmark:
        "logs/benchmarks/associate/{mechanism}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(2000),
        runtime=scaled(20),
    params:
        settings=params_of(analyse.associate_params),
        software=SOFTWARE,
    script:
        "../scripts/associate.py"


rule associate_sensitivity:
    input:
        participants="results/harmonised/participants.parquet",
        biomarkers="results/prepared/{mechanism}.parquet",
        associations="results/associations/{mechanism}.tsv",
    output:
        output=report(
            "results/sensitivity/{mechanism}.tsv",
            caption="../report/sensitivity.rst",
            category=mechanism_category,
            subcategory="Associations",
            labels={"table": "sensitivity analyses of {mechanism}"},
        ),
    log:
        "logs/sensitivity/{mechanism}.log",
    benchmark:
        "logs/benchmarks/sensitivity/{mechanism}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(2000),
        runtime=scaled(20),
    params:
        settings=params_of(analyse.associate_sensitivity_params),
        software=SOFTWARE,
    script:
        "../scripts/associate_sensitivity.py"


rule mediate:
    input:
        unpack(inputs_of(analyse.mediate_inputs)),
    output:
        effects=report(
            "results/mediation/{mechanism}.tsv",
            caption="../report/mediation.rst",
            category=mechanism_category,
            subcategory="Mediation",
            labels={"table": "mediation effects of {mechanism}"},
        ),
        paths=report(
            "results/mediation/{mechanism}_paths.tsv",
            caption="../report/mediation_paths.rst",
            category=mechanism_category,
            subcategory="Mediation",
            labels={"table": "regression paths of {mechanism}"},
        ),
        sensitivity=report(
            "results/mediation/{mechanism}_sensitivity.tsv",
            caption="../report/mediation_sensitivity.rst",
            category=mechanism_category,
            subcategory="Mediation",
            labels={"table": "sensitivity of {mechanism} paths"},
        ),
    log:
        "logs/mediate/{mechanism}.log",
    benchmark:
        "logs/benchmarks/mediate/{mechanism}.tsv"
    # the longest jobs at scale (bootstrap resamples): started as soon as they can run, so
    # that none is left running alone at the end (100,000 participants: mediate/hpa 234 s)
    priority: 10
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(2000),
        runtime=scaled(30),
    params:
        settings=params_of(analyse.mediate_params),
        software=SOFTWARE,
    script:
        "../scripts/mediate.py"


rule describe:
    input:
        participants="results/harmonised/participants.parquet",
        prepared="results/prepared/{mechanism}.parquet",
        associations="results/associations/{mechanism}.tsv",
    output:
        fits="results/descriptives/{mechanism}_fits.tsv",
        correlations="results/descriptives/{mechanism}_correlations.tsv",
        missing=report(
            "results/missingness/{mechanism}.tsv",
            caption="../report/missingness.rst",
            category=mechanism_category,
            subcategory="Missing data",
            labels={"table": "missing data of {mechanism}"},
        ),
    log:
        "logs/describe/{mechanism}.log",
    benchmark:
        "logs/benchmarks/describe/{mechanism}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(2000),
        runtime=scaled(10),
    params:
        settings=params_of(analyse.describe_params),
        software=SOFTWARE,
    script:
        "../scripts/describe.py"


rule mediate_highdim:
    input:
        unpack(inputs_of(analyse.mediate_highdim_inputs)),
    output:
        output=report(
            "results/mediation/{mechanism}_highdim.tsv",
            caption="../report/mediation_highdim.rst",
            category=highdim_category,
            subcategory="High-dimensional mediation",
            labels={"table": "mediators of {mechanism} per cohort"},
        ),
        figures=report(
            directory("results/figures/highdim/{mechanism}"),
            patterns=["{exposure}--{outcome}.png"],
            caption="../report/mediation_highdim_figure.rst",
            category=highdim_category,
            subcategory="High-dimensional mediation",
            labels={"figure": "{exposure} → {mechanism} → {outcome}"},
        ),
    log:
        "logs/mediate_highdim/{mechanism}.log",
    benchmark:
        "logs/benchmarks/mediate_highdim/{mechanism}.tsv"
    wildcard_constraints:
        # methylation's EWAS matrices serve even without the `methylation` mechanism
        mechanism="|".join(analyse.highdim_mechanisms(CFG)) or "none",
    priority: 10  # long at scale: started early (see rule mediate)
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(3000),
        runtime=scaled(30),
    params:
        settings=params_of(analyse.mediate_highdim_params),
        software=SOFTWARE,
    script:
        "../scripts/mediate_highdim.py"
