# Provenance: the config as run, input checksums, package versions, seed and commit.


rule provenance:
    input:
        all_inputs(),
    output:
        config=report(
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
        run="results/provenance/run.json",
    log:
        "logs/provenance/provenance.log",
    benchmark:
        "results/benchmarks/provenance/provenance.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(500),
        runtime=scaled(10),
    params:
        git_commit=git_commit(),
    script:
        "../scripts/provenance.py"
