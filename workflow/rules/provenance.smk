# Provenance: the config as run, input checksums, package versions, seed and commit.
# Its params are the whole validated config: any config edit reruns it.


rule provenance:
    input:
        files=all_inputs(),
    output:
        config_out=report(
            "results/provenance/config.yaml",
            caption="../report/provenance.rst",
            category="9. Provenance",
            labels={"file": "config as run"},
        ),
        checksums=report(
            "results/provenance/input_checksums.tsv",
            caption="../report/provenance.rst",
            category="9. Provenance",
            labels={"file": "input checksums (SHA-256)"},
        ),
        versions=report(
            "results/provenance/versions.tsv",
            caption="../report/provenance.rst",
            category="9. Provenance",
            labels={"file": "software versions"},
        ),
        run_info="results/provenance/run.json",
    log:
        "logs/provenance/provenance.log",
    benchmark:
        "logs/benchmarks/provenance/provenance.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(500),
        runtime=scaled(10),
    params:
        settings=provenance_settings,
        software=SOFTWARE,
    script:
        "../scripts/provenance.py"


# The methods section of this run, from the config as run and the software versions.
rule methods:
    input:
        versions="results/provenance/versions.tsv",
    output:
        output=report(
            "results/methods.md",
            caption="../report/methods.rst",
            category="9. Provenance",
            labels={"file": "methods section (Markdown)"},
        ),
    log:
        "logs/provenance/methods.log",
    benchmark:
        "logs/benchmarks/provenance/methods.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(500),
        runtime=scaled(10),
    params:
        settings=params_of(provenance.methods_params),
        software=SOFTWARE,
    script:
        "../scripts/methods.py"


# The provenance readable in the report (not only downloadable).
rule provenance_view:
    input:
        config_out="results/provenance/config.yaml",
        checksums="results/provenance/input_checksums.tsv",
        versions="results/provenance/versions.tsv",
        run_info="results/provenance/run.json",
    output:
        output=report(
            "results/tables/provenance.html",
            caption="../report/provenance.rst",
            category="9. Provenance",
            labels={"file": "provenance (readable)"},
        ),
    log:
        "logs/provenance/provenance_view.log",
    benchmark:
        "logs/benchmarks/provenance/provenance_view.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(500),
        runtime=scaled(10),
    params:
        settings=params_of(provenance.provenance_view_params),
        software=SOFTWARE,
    script:
        "../scripts/provenance_view.py"
