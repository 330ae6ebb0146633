rule evaluate_robustness:
    input:
        model=rules.train_model.output.model,
        dataset=rules.build_dataset.output.dataset,
        run_id=rules.train_model.output.run_id,
    output:
        table="results/robustness/{model}.csv",
    log:
        "results/logs/robustness/{model}.log",
    conda:
        "../../environment.yml"
    params:
        seed=config["robustness"]["seed"],
        ablate_endpointing=lambda wildcards: wildcards.model
        in config["robustness"]["endpointing_ablation"],
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
