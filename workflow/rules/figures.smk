# Stage 6: figures per mechanism (PNG for the report, SVG for papers).


rule forest_plot:
    input:
        "results/associations/{mechanism}.tsv",
    output:
        png=report(
            "results/figures/{mechanism}/forest--{variable}.png",
            caption="../report/forest.rst",
            category="{mechanism}",
            subcategory="Associations",
            labels={"figure": "forest plot: {variable}"},
        ),
        svg="results/figures/{mechanism}/forest--{variable}.svg",
    log:
        "logs/figures/{mechanism}/forest--{variable}.log",
    benchmark:
        "results/benchmarks/figures/{mechanism}/forest--{variable}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    script:
        "../scripts/forest_plot.py"


rule mediation_diagram:
    input:
        effects="results/mediation/{mechanism}.tsv",
        paths="results/mediation/{mechanism}_paths.tsv",
    output:
        png=report(
            "results/figures/{mechanism}/mediation--{exposure}--{mediator}--{outcome}.png",
            caption="../report/mediation_diagram.rst",
            category="{mechanism}",
            subcategory="Mediation",
            labels={"figure": "mediation {exposure} -> {mediator} -> {outcome}"},
        ),
        svg="results/figures/{mechanism}/mediation--{exposure}--{mediator}--{outcome}.svg",
    log:
        "logs/figures/{mechanism}/mediation--{exposure}--{mediator}--{outcome}.log",
    benchmark:
        "results/benchmarks/figures/{mechanism}/mediation--{exposure}--{mediator}--{outcome}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    script:
        "../scripts/mediation_diagram.py"


rule model_diagram:
    input:
        associations=expand(
            "results/associations/{mechanism}.tsv", mechanism=MECHANISMS
        ),
        mediation=mediation_tables(),
    output:
        png=report(
            "results/figures/model.png",
            caption="../report/model.rst",
            category="0. The model, filled in",
            labels={"figure": "SES and mood -> mechanisms -> outcomes"},
        ),
        svg="results/figures/model.svg",
    log:
        "logs/figures/model.log",
    benchmark:
        "results/benchmarks/figures/model.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    script:
        "../scripts/model_diagram.py"
