# Stage 6: figures per mechanism (PNG for the report, SVG for papers).


rule forest_plot:
    input:
        associations="results/associations/{mechanism}.tsv",
    output:
        png=report(
            "results/figures/{mechanism}/forest--{variable}.png",
            caption="../report/forest.rst",
            category=mechanism_category,
            subcategory="Associations",
            labels={"figure": "forest plot: {variable}"},
        ),
        svg="results/figures/{mechanism}/forest--{variable}.svg",
        models="results/figures/{mechanism}/forest--{variable}.models.rst",
    log:
        "logs/figures/{mechanism}/forest--{variable}.log",
    benchmark:
        "logs/benchmarks/figures/{mechanism}/forest--{variable}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    params:
        settings=params_of(figures.forest_plot_params),
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
            category=mechanism_category,
            subcategory="Mediation",
            labels={"figure": "mediation {exposure} -> {mediator} -> {outcome}"},
        ),
        svg="results/figures/{mechanism}/mediation--{exposure}--{mediator}--{outcome}.svg",
        models="results/figures/{mechanism}/mediation--{exposure}--{mediator}--{outcome}.models.rst",
    log:
        "logs/figures/{mechanism}/mediation--{exposure}--{mediator}--{outcome}.log",
    benchmark:
        "logs/benchmarks/figures/{mechanism}/mediation--{exposure}--{mediator}--{outcome}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    params:
        settings=params_of(figures.mediation_diagram_params),
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
        models="results/figures/model.models.rst",
    log:
        "logs/figures/model.log",
    benchmark:
        "logs/benchmarks/figures/model.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    params:
        settings=params_of(figures.model_diagram_params),
    script:
        "../scripts/model_diagram.py"


rule scatter_plot:
    input:
        fits="results/descriptives/{mechanism}_fits.tsv",
    output:
        png=report(
            "results/figures/{mechanism}/scatter--{exposure}.png",
            caption="../report/scatter.rst",
            category=mechanism_category,
            subcategory="Associations",
            labels={"figure": "adjusted fit: {exposure}"},
        ),
        svg="results/figures/{mechanism}/scatter--{exposure}.svg",
        models="results/figures/{mechanism}/scatter--{exposure}.models.rst",
    log:
        "logs/figures/{mechanism}/scatter--{exposure}.log",
    benchmark:
        "logs/benchmarks/figures/{mechanism}/scatter--{exposure}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    params:
        settings=params_of(figures.scatter_plot_params),
    script:
        "../scripts/scatter_plot.py"


rule correlation_plot:
    input:
        correlations="results/descriptives/{mechanism}_correlations.tsv",
    output:
        png=report(
            "results/figures/{mechanism}/correlations.png",
            caption="../report/correlations.rst",
            category=mechanism_category,
            subcategory="Quality control",
            labels={"figure": "biomarker correlations"},
        ),
        svg="results/figures/{mechanism}/correlations.svg",
    log:
        "logs/figures/{mechanism}/correlations.log",
    benchmark:
        "logs/benchmarks/figures/{mechanism}/correlations.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    params:
        settings=params_of(figures.correlation_plot_params),
    script:
        "../scripts/correlation_plot.py"


rule volcano_plot:
    input:
        associations="results/associations/{mechanism}.tsv",
    output:
        png=report(
            "results/figures/{mechanism}/volcano--{exposure}.png",
            caption="../report/volcano.rst",
            category=mechanism_category,
            subcategory="Associations",
            labels={"figure": "volcano plot: {exposure}"},
        ),
        svg="results/figures/{mechanism}/volcano--{exposure}.svg",
        models="results/figures/{mechanism}/volcano--{exposure}.models.rst",
    log:
        "logs/figures/{mechanism}/volcano--{exposure}.log",
    benchmark:
        "logs/benchmarks/figures/{mechanism}/volcano--{exposure}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    params:
        settings=params_of(figures.volcano_plot_params),
    script:
        "../scripts/volcano_plot.py"


rule qc_plot:
    input:
        qc="results/qc/{mechanism}.tsv",
    output:
        png=report(
            "results/figures/{mechanism}/qc.png",
            caption="../report/qc_figure.rst",
            category=mechanism_category,
            subcategory="Quality control",
            labels={"figure": "QC of {mechanism}"},
        ),
        svg="results/figures/{mechanism}/qc.svg",
    log:
        "logs/figures/{mechanism}/qc.log",
    benchmark:
        "logs/benchmarks/figures/{mechanism}/qc.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    params:
        settings=params_of(figures.qc_plot_params),
    script:
        "../scripts/qc_plot.py"


rule sensitivity_plot:
    input:
        sensitivity="results/mediation/{mechanism}_sensitivity.tsv",
    output:
        png=report(
            "results/figures/{mechanism}/sensitivity--{exposure}--{mediator}--{outcome}.png",
            caption="../report/sensitivity_plot.rst",
            category=mechanism_category,
            subcategory="Mediation",
            labels={"figure": "sensitivity {exposure} -> {mediator} -> {outcome}"},
        ),
        svg="results/figures/{mechanism}/sensitivity--{exposure}--{mediator}--{outcome}.svg",
        models="results/figures/{mechanism}/sensitivity--{exposure}--{mediator}--{outcome}.models.rst",
    log:
        "logs/figures/{mechanism}/sensitivity--{exposure}--{mediator}--{outcome}.log",
    benchmark:
        "logs/benchmarks/figures/{mechanism}/sensitivity--{exposure}--{mediator}--{outcome}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    params:
        settings=params_of(figures.sensitivity_plot_params),
    script:
        "../scripts/sensitivity_plot.py"


rule table_view:
    input:
        table="results/{kind}/{mechanism}.tsv",
    output:
        output=report(
            "results/tables/{kind}--{mechanism}.html",
            caption="../report/table_view.rst",
            category=mechanism_category,
            subcategory="Tables",
            labels={"table": "{kind} (searchable)"},
        ),
    log:
        "logs/tables/{kind}--{mechanism}.log",
    benchmark:
        "logs/benchmarks/tables/{kind}--{mechanism}.tsv"
    wildcard_constraints:
        kind="associations|mediation|sensitivity",
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    params:
        settings=params_of(figures.table_view_params),
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
            category=mechanism_category,
            subcategory="Associations",
            labels={"figure": "sensitivity analyses"},
        ),
        svg="results/figures/{mechanism}/sensitivity_analyses.svg",
        models="results/figures/{mechanism}/sensitivity_analyses.models.rst",
    log:
        "logs/figures/{mechanism}/sensitivity_analyses.log",
    benchmark:
        "logs/benchmarks/figures/{mechanism}/sensitivity_analyses.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    params:
        settings=params_of(figures.sensitivity_forest_params),
    script:
        "../scripts/sensitivity_forest.py"


# Table 1, the associations and the mediation effects for a journal (XLSX and DOCX).
rule publication_tables:
    input:
        unpack(inputs_of(figures.publication_tables_inputs)),
    output:
        xlsx=report(
            "results/tables/publication.xlsx",
            caption="../report/publication.rst",
            category="9. Provenance",
            labels={"file": "tables for a journal (Excel)"},
        ),
        docx=report(
            "results/tables/publication.docx",
            caption="../report/publication.rst",
            category="9. Provenance",
            labels={"file": "tables for a journal (Word)"},
        ),
    log:
        "logs/tables/publication.log",
    benchmark:
        "logs/benchmarks/tables/publication.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    params:
        settings=params_of(figures.publication_tables_params),
    script:
        "../scripts/publication_tables.py"


# The report's first page: the model figure and the key findings from the result tables.
rule key_findings:
    input:
        unpack(inputs_of(figures.key_findings_inputs)),
    output:
        table=report(
            "results/key_findings.tsv",
            caption="../report/key_findings.rst",
            category="0. The model, filled in",
            labels={"table": "key findings"},
        ),
        landing=report(
            "results/key_findings.rst",
            caption="../report/key_findings.rst",
            category="0. The model, filled in",
            labels={"file": "key findings (first page)"},
        ),
    log:
        "logs/figures/key_findings.log",
    benchmark:
        "logs/benchmarks/figures/key_findings.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    params:
        settings=params_of(figures.key_findings_params),
    script:
        "../scripts/key_findings.py"
