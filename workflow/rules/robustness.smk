# Bookkeeping and plots run where snakemake runs, not as cluster jobs.
localrules:
    summarize_robustness,


rule robustness_features:
    input:
        dataset=rules.build_dataset.output.dataset,
    output:
        features="results/robustness/features/{group}.parquet",
    log:
        "results/logs/robustness/features/{group}.log",
    benchmark:
        "results/benchmarks/robustness_features/{group}.tsv"
    # Long, and every evaluate_robustness job waits for it: start it with the long trainings.
    priority: LONG_JOB_PRIORITY
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        # Every test clip under up to 8 transforms, features and embedding in memory.
        mem_mb=memory_mb(1500),
        runtime=30,
    params:
        features=feature_params(),
        seed=config["robustness"]["seed"],
    script:
        "../../scripts/robustness_features.py"


rule evaluate_robustness:
    input:
        model=rules.train_model.output.model,
        features=expand(
            rules.robustness_features.output.features, group=ROBUSTNESS_GROUPS
        ),
        run_id=rules.train_model.output.run_id,
    output:
        table="results/robustness/{model}.csv",
    log:
        "results/logs/robustness/{model}.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=memory_mb(1500),
        runtime=20,
    params:
        tracking=config["tracking"],
    script:
        "../../scripts/evaluate_robustness.py"


rule summarize_robustness:
    input:
        tables=expand(rules.evaluate_robustness.output.table, model=MODELS),
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
