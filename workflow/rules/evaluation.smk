# Bookkeeping and plots run where snakemake runs, not as cluster jobs.
localrules:
    summarize_robustness,
    compare_models,


rule evaluate:
    input:
        model=rules.train_model.output.model,
        dataset=rules.build_dataset.output.dataset,
        robustness_features=model_robustness_features,
        run_id=rules.train_model.output.run_id,
    output:
        **evaluation_outputs("results/evaluation/{model}", "test", "3. Evaluation"),
        **evaluation_outputs("results/evaluation/{model}", "val"),
        robustness="results/robustness/{model}.csv",
    log:
        "results/logs/evaluate/{model}.log",
    benchmark:
        "results/benchmarks/evaluate/{model}.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        local_cpus=local_cpus,
        mem_mb=memory_mb(1500),
        runtime=30,
    params:
        tracking=config["tracking"],
    script:
        "../../scripts/evaluate.py"


rule summarize_robustness:
    input:
        tables=expand(rules.evaluate.output.robustness, model=MODELS),
    output:
        table="results/robustness/robustness.csv",
        markdown="results/robustness/robustness.md",
        # The report shows HTML in place; it only offers Markdown for download.
        html=report(
            "results/robustness/robustness.html",
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


rule compare_models:
    input:
        metrics=expand(rules.evaluate.output.test_metrics, model=MODELS),
        histories=expand(rules.train_model.output.history, model=MODELS),
        infos=expand(rules.train_model.output.info, model=MODELS),
        loso=expand(rules.loso.output.summary, model=LOSO_MODELS),
        strings=expand(rules.evaluate_strings.output.table, model=STRINGS_MODELS),
    output:
        table="results/comparison/comparison.csv",
        markdown="results/comparison/comparison.md",
        # The report shows HTML in place; it only offers Markdown for download.
        html=report(
            "results/comparison/comparison.html",
            caption="../report/comparison_table.rst",
            category="4. Comparison",
            labels={"figure": "comparison table"},
        ),
        figure=report(
            "results/comparison/comparison.png",
            caption="../report/comparison_figure.rst",
            category="4. Comparison",
            labels={"figure": "test accuracy and macro F1"},
        ),
        champion="results/comparison/champion.json",
    log:
        "results/logs/compare_models.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        models=MODELS,
        loso_models=LOSO_MODELS,
        strings_models=STRINGS_MODELS,
        tracking=config["tracking"],
    script:
        "../../scripts/compare_models.py"
