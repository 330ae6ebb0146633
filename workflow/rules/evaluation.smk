# Bookkeeping and plots run where snakemake runs, not as cluster jobs.
localrules:
    compare_models,


rule evaluate:
    input:
        model=lambda wildcards: model_file(wildcards.model),
        dataset="results/dataset/features.parquet",
        run_id="results/models/{model}/mlflow_run_id.txt",
    output:
        test_metrics="results/evaluation/{model}/test_metrics.json",
        test_predictions="results/evaluation/{model}/test_predictions.csv",
        test_report="results/evaluation/{model}/test_classification_report.txt",
        test_confusion="results/evaluation/{model}/test_confusion_matrix.csv",
        test_confusion_png=report(
            "results/evaluation/{model}/test_confusion_matrix.png",
            caption="../report/confusion_matrix.rst",
            category="3. Evaluation",
            subcategory="Confusion matrices",
            labels={"model": "{model}", "figure": "confusion matrix"},
        ),
        test_roc_png=report(
            "results/evaluation/{model}/test_roc_curves.png",
            caption="../report/roc_curves.rst",
            category="3. Evaluation",
            subcategory="ROC curves",
            labels={"model": "{model}", "figure": "ROC curves"},
        ),
        val_metrics="results/evaluation/{model}/val_metrics.json",
        val_predictions="results/evaluation/{model}/val_predictions.csv",
        val_report="results/evaluation/{model}/val_classification_report.txt",
        val_confusion="results/evaluation/{model}/val_confusion_matrix.csv",
        val_confusion_png="results/evaluation/{model}/val_confusion_matrix.png",
        val_roc_png="results/evaluation/{model}/val_roc_curves.png",
    log:
        "results/logs/evaluate/{model}.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=lambda wildcards, input: 1500 + 20 * input.size_mb,
        runtime=15,
    params:
        tracking=config["tracking"],
    script:
        "../../scripts/evaluate.py"


rule compare_models:
    input:
        metrics=expand("results/evaluation/{model}/test_metrics.json", model=MODELS),
        histories=expand("results/models/{model}/history.csv", model=MODELS),
        infos=expand("results/models/{model}/training.json", model=MODELS),
        loso=expand("results/loso/{model}/summary.json", model=LOSO_MODELS),
    output:
        table="results/comparison/comparison.csv",
        markdown=report(
            "results/comparison/comparison.md",
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
        tracking=config["tracking"],
    script:
        "../../scripts/compare_models.py"
