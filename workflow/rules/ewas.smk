# Epigenome-wide association: CpG shards fitted as separate jobs, moderated together.


rule ewas_shard:
    input:
        unpack(inputs_of(ewas.ewas_shard_inputs)),
    output:
        output=temp("results/ewas/{cohort}/{exposure}/shard-{shard}.parquet"),
    log:
        "logs/ewas/{cohort}/{exposure}/shard-{shard}.log",
    benchmark:
        "logs/benchmarks/ewas/{cohort}/{exposure}/shard-{shard}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(2000),
        runtime=scaled(60),
    params:
        settings=params_of(ewas.ewas_shard_params),
        software=SOFTWARE,
    script:
        "../scripts/ewas_shard.py"


rule ewas_gather:
    input:
        unpack(ewas_annotation),
        shards=ewas_shards,
    output:
        table="results/ewas/{cohort}/{exposure}.parquet",
        top=report(
            "results/ewas/{cohort}/{exposure}_top.tsv",
            caption="../report/ewas_top.rst",
            category=category_of("methylation"),
            subcategory="Epigenome-wide",
            labels={"cohort": "{cohort}", "table": "top CpGs: {exposure}"},
        ),
        summary=report(
            "results/ewas/{cohort}/{exposure}_summary.tsv",
            caption="../report/ewas_summary.rst",
            category=category_of("methylation"),
            subcategory="Epigenome-wide",
            labels={"cohort": "{cohort}", "table": "summary: {exposure}"},
        ),
    log:
        "logs/ewas/{cohort}/{exposure}/gather.log",
    benchmark:
        "logs/benchmarks/ewas/{cohort}/{exposure}/gather.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(4000),
        runtime=scaled(30),
    params:
        settings=params_of(ewas.ewas_gather_params),
        software=SOFTWARE,
    script:
        "../scripts/ewas_gather.py"


rule ewas_meta:
    input:
        unpack(ewas_annotation),
        tables=ewas_tables,
    output:
        table="results/ewas/meta/{exposure}.parquet",
        top=report(
            "results/ewas/meta/{exposure}_top.tsv",
            caption="../report/ewas_meta_top.rst",
            category=category_of("methylation"),
            subcategory="Epigenome-wide",
            labels={"cohort": "meta", "table": "top CpGs: {exposure}"},
        ),
        summary=report(
            "results/ewas/meta/{exposure}_summary.tsv",
            caption="../report/ewas_meta_summary.rst",
            category=category_of("methylation"),
            subcategory="Epigenome-wide",
            labels={"cohort": "meta", "table": "summary: {exposure}"},
        ),
    log:
        "logs/ewas/meta/{exposure}.log",
    benchmark:
        "logs/benchmarks/ewas/meta/{exposure}.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(4000),
        runtime=scaled(30),
    params:
        settings=params_of(ewas.ewas_meta_params),
        software=SOFTWARE,
    script:
        "../scripts/ewas_meta.py"


rule ewas_figures:
    input:
        table="results/ewas/{cohort}/{exposure}.parquet",
        summary="results/ewas/{cohort}/{exposure}_summary.tsv",
    output:
        qq=report(
            "results/figures/ewas/{cohort}--{exposure}--qq.png",
            caption="../report/ewas_qq.rst",
            category=category_of("methylation"),
            subcategory="Epigenome-wide",
            labels={"cohort": "{cohort}", "figure": "QQ plot: {exposure}"},
        ),
        qq_svg="results/figures/ewas/{cohort}--{exposure}--qq.svg",
        manhattan=report(
            "results/figures/ewas/{cohort}--{exposure}--manhattan.png",
            caption="../report/ewas_manhattan.rst",
            category=category_of("methylation"),
            subcategory="Epigenome-wide",
            labels={"cohort": "{cohort}", "figure": "Manhattan plot: {exposure}"},
        ),
        manhattan_svg="results/figures/ewas/{cohort}--{exposure}--manhattan.svg",
        models="results/figures/ewas/{cohort}--{exposure}.models.rst",
    log:
        "logs/ewas/{cohort}/{exposure}/figures.log",
    benchmark:
        "logs/benchmarks/ewas/{cohort}/{exposure}/figures.tsv"
    wildcard_constraints:
        cohort="|".join(EWAS_COHORTS + ["meta"]),
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(2000),
        runtime=scaled(10),
    params:
        settings=params_of(ewas.ewas_figures_params),
        software=SOFTWARE,
    script:
        "../scripts/ewas_figures.py"


rule ewas_candidates:
    input:
        unpack(ewas_annotation),
        biomarkers="results/prepared/methylation.parquet",
        participants="results/harmonised/participants.parquet",
    output:
        output=report(
            "results/ewas/{cohort}/{exposure}_candidates.tsv",
            caption="../report/ewas_candidates.rst",
            category=category_of("methylation"),
            subcategory="Candidate CpGs (EWAS engine)",
            labels={"cohort": "{cohort}", "table": "candidate CpGs: {exposure}"},
        ),
    log:
        "logs/ewas/{cohort}/{exposure}/candidates.log",
    benchmark:
        "logs/benchmarks/ewas/{cohort}/{exposure}/candidates.tsv"
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(1000),
        runtime=scaled(10),
    params:
        settings=params_of(ewas.ewas_candidates_params),
        software=SOFTWARE,
    script:
        "../scripts/ewas_candidates.py"
