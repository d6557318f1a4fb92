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


rule scatter_plot:
    input:
        participants="results/harmonised/participants.parquet",
        biomarkers="results/prepared/{mechanism}.parquet",
        associations="results/associations/{mechanism}.tsv",
    output:
        png=report(
            "results/figures/{mechanism}/scatter--{exposure}.png",
            caption="../report/scatter.rst",
            category="{mechanism}",
            subcategory="Associations",
            labels={"figure": "adjusted fit: {exposure}"},
        ),
        svg="results/figures/{mechanism}/scatter--{exposure}.svg",
    log:
        "logs/figures/{mechanism}/scatter--{exposure}.log",
    benchmark:
        "results/benchmarks/figures/{mechanism}/scatter--{exposure}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    script:
        "../scripts/scatter_plot.py"


rule correlation_plot:
    input:
        participants="results/harmonised/participants.parquet",
        biomarkers="results/prepared/{mechanism}.parquet",
    output:
        png=report(
            "results/figures/{mechanism}/correlations.png",
            caption="../report/correlations.rst",
            category="{mechanism}",
            subcategory="Quality control",
            labels={"figure": "biomarker correlations"},
        ),
        svg="results/figures/{mechanism}/correlations.svg",
    log:
        "logs/figures/{mechanism}/correlations.log",
    benchmark:
        "results/benchmarks/figures/{mechanism}/correlations.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    script:
        "../scripts/correlation_plot.py"


rule volcano_plot:
    input:
        "results/associations/{mechanism}.tsv",
    output:
        png=report(
            "results/figures/{mechanism}/volcano--{exposure}.png",
            caption="../report/volcano.rst",
            category="{mechanism}",
            subcategory="Associations",
            labels={"figure": "volcano plot: {exposure}"},
        ),
        svg="results/figures/{mechanism}/volcano--{exposure}.svg",
    log:
        "logs/figures/{mechanism}/volcano--{exposure}.log",
    benchmark:
        "results/benchmarks/figures/{mechanism}/volcano--{exposure}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    script:
        "../scripts/volcano_plot.py"


rule qc_plot:
    input:
        "results/qc/{mechanism}.tsv",
    output:
        png=report(
            "results/figures/{mechanism}/qc.png",
            caption="../report/qc_figure.rst",
            category="{mechanism}",
            subcategory="Quality control",
            labels={"figure": "QC of {mechanism}"},
        ),
        svg="results/figures/{mechanism}/qc.svg",
    log:
        "logs/figures/{mechanism}/qc.log",
    benchmark:
        "results/benchmarks/figures/{mechanism}/qc.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    script:
        "../scripts/qc_plot.py"


rule sensitivity_plot:
    input:
        "results/mediation/{mechanism}_sensitivity.tsv",
    output:
        png=report(
            "results/figures/{mechanism}/sensitivity--{exposure}--{mediator}--{outcome}.png",
            caption="../report/sensitivity_plot.rst",
            category="{mechanism}",
            subcategory="Mediation",
            labels={"figure": "sensitivity {exposure} -> {mediator} -> {outcome}"},
        ),
        svg="results/figures/{mechanism}/sensitivity--{exposure}--{mediator}--{outcome}.svg",
    log:
        "logs/figures/{mechanism}/sensitivity--{exposure}--{mediator}--{outcome}.log",
    benchmark:
        "results/benchmarks/figures/{mechanism}/sensitivity--{exposure}--{mediator}--{outcome}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    script:
        "../scripts/sensitivity_plot.py"


rule table_view:
    input:
        "results/{kind}/{mechanism}.tsv",
    output:
        report(
            "results/tables/{kind}--{mechanism}.html",
            caption="../report/table_view.rst",
            category="{mechanism}",
            subcategory="Tables",
            labels={"table": "{kind} (searchable)"},
        ),
    log:
        "logs/tables/{kind}--{mechanism}.log",
    benchmark:
        "results/benchmarks/tables/{kind}--{mechanism}.tsv"
    wildcard_constraints:
        kind="associations|mediation|sensitivity",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    script:
        "../scripts/table_view.py"


rule sensitivity_forest:
    input:
        associations="results/associations/{mechanism}.tsv",
        sensitivity="results/sensitivity/{mechanism}.tsv",
    output:
        png=report(
            "results/figures/{mechanism}/sensitivity_analyses.png",
            caption="../report/sensitivity_forest.rst",
            category="{mechanism}",
            subcategory="Associations",
            labels={"figure": "sensitivity analyses"},
        ),
        svg="results/figures/{mechanism}/sensitivity_analyses.svg",
    log:
        "logs/figures/{mechanism}/sensitivity_analyses.log",
    benchmark:
        "results/benchmarks/figures/{mechanism}/sensitivity_analyses.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    script:
        "../scripts/sensitivity_forest.py"
