rule robustness_features:
    input:
        dataset=rules.build_dataset.output.dataset,
    output:
        features="results/robustness/features.parquet",
    log:
        "results/logs/robustness/features.log",
    benchmark:
        "results/benchmarks/robustness_features.tsv"
    conda:
        "../../environment.yml"
    params:
        features=feature_params(),
        seed=config["robustness"]["seed"],
    script:
        "../../scripts/robustness_features.py"


rule evaluate_robustness:
    input:
        model=rules.train_model.output.model,
        features=rules.robustness_features.output.features,
        run_id=rules.train_model.output.run_id,
    output:
        table="results/robustness/{model}.csv",
    log:
        "results/logs/robustness/{model}.log",
    conda:
        "../../environment.yml"
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
    params:
        models=MODELS,
    script:
        "../../scripts/summarize_robustness.py"
