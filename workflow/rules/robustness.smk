# Bookkeeping and plots run where snakemake runs, not as cluster jobs.
localrules:
    summarize_robustness,


rule evaluate_robustness:
    input:
        model=lambda wildcards: model_file(wildcards.model),
        dataset="results/dataset/features.parquet",
        run_id="results/models/{model}/mlflow_run_id.txt",
    output:
        table="results/robustness/{model}.csv",
    log:
        "results/logs/robustness/{model}.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, input: 1500 + 20 * input.size_mb,
        runtime=20,
    params:
        model_dir=lambda wildcards: f"results/models/{wildcards.model}",
        seed=config["robustness"]["seed"],
        tracking=config["tracking"],
    script:
        "../../scripts/evaluate_robustness.py"


rule summarize_robustness:
    input:
        tables=expand("results/robustness/{model}.csv", model=MODELS),
    output:
        table="results/robustness/robustness.csv",
        markdown=report(
            "results/robustness/robustness.md",
            caption="../report/robustness.rst",
            category="6. Robustness",
            labels={"figure": "robustness table"},
        ),
    log:
        "results/logs/robustness/summary.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        models=MODELS,
    script:
        "../../scripts/summarize_robustness.py"
