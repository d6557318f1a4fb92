# Stage 4b: repeated measures of the child follow-up (linear mixed models over age) and
# their trajectory figures, per mechanism with declared `longitudinal` models.


rule longitudinal:
    input:
        unpack(inputs_of(longitudinal.longitudinal_inputs)),
    output:
        output=report(
            "results/longitudinal/{mechanism}.tsv",
            caption="../report/longitudinal.rst",
            category=mechanism_category,
            subcategory="Longitudinal models",
            labels={"table": "mixed models of {mechanism}"},
        ),
        trajectories="results/longitudinal/{mechanism}_trajectories.tsv",
        figures=report(
            directory("results/figures/longitudinal/{mechanism}"),
            patterns=["trajectory--{response}--{predictor}.png"],
            caption="../report/trajectory.rst",
            category=mechanism_category,
            subcategory="Longitudinal models",
            labels={"figure": "trajectory of {response} by {predictor}"},
        ),
    log:
        "logs/longitudinal/{mechanism}.log",
    benchmark:
        "logs/benchmarks/longitudinal/{mechanism}.tsv"
    priority: 10  # long at scale: started early (see rule mediate)
    conda:
        CONDA_ENV
    threads: 1
    resources:
        mem_mb=scaled(2000),
        runtime=scaled(30),
    params:
        settings=params_of(longitudinal.longitudinal_params),
        software=SOFTWARE,
    script:
        "../scripts/longitudinal.py"
