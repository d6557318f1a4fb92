# Stage 6: figures per mechanism (PNG for the report, SVG for papers).


# Every figure of one mechanism in one job (one Python start-up per mechanism, not per
# figure): results/figures/{mechanism}/{kind}--{parts}.png|.svg|.models.rst. The report
# finds the figures by pattern and fills each caption and label from its file name.
rule mechanism_figures:
    input:
        unpack(inputs_of(figures.mechanism_figures_inputs)),
    output:
        folder=report(
            directory("results/figures/{mechanism}"),
            patterns=figures.figure_patterns(),
            caption="../report/figure.rst",
            category=mechanism_category,
            subcategory=figure_subcategory,
            labels=figure_label,
        ),
    log:
        "logs/figures/{mechanism}.log",
    benchmark:
        "logs/benchmarks/figures/{mechanism}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(20),
    params:
        settings=params_of(figures.mechanism_figures_params),
        software=SOFTWARE,
    script:
        "../scripts/mechanism_figures.py"


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
        software=SOFTWARE,
    script:
        "../scripts/model_diagram.py"


rule table_views:
    input:
        unpack(inputs_of(figures.table_views_inputs)),
    output:
        output=[
            report(
                figures.table_view_path(kind, mechanism),
                caption=f"../report/table_view_{kind}.rst",
                category=category_of(mechanism),
                subcategory="Tables",
                labels={"table": f"{kind} (searchable)"},
            )
            for kind, mechanism in TABLE_VIEWS
        ],
    log:
        "logs/tables/views.log",
    benchmark:
        "logs/benchmarks/tables/views.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    params:
        settings=params_of(figures.table_views_params),
        software=SOFTWARE,
    script:
        "../scripts/table_views.py"


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
        software=SOFTWARE,
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
        software=SOFTWARE,
    script:
        "../scripts/key_findings.py"
