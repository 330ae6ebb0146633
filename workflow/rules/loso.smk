# Bookkeeping and plots run where snakemake runs, not as cluster jobs.
localrules:
    plot_loso,


rule loso:
    input:
        dataset=rules.build_dataset.output.dataset,
        augmented=augmented_features,
        training_voices=training_voice_features,
        experiment=rules.init_tracking.output.experiment,
    output:
        predictions="results/loso/{model}/predictions.csv",
        folds="results/loso/{model}/fold_metrics.json",
        per_speaker="results/loso/{model}/accuracy_per_speaker.csv",
        summary="results/loso/{model}/summary.json",
        confusion="results/loso/{model}/confusion_matrix.csv",
        confusion_png=report(
            "results/loso/{model}/confusion_matrix.png",
            caption="../report/loso_confusion_matrix.rst",
            category="5. Speaker-independent",
            labels={"model": "{model}", "figure": "LOSO confusion matrix"},
        ),
        run_id="results/loso/{model}/mlflow_parent_run_id.txt",
        # Every fold's trained model, read again by the digit-string evaluation.
        fold_models="results/loso/{model}/fold_models.joblib",
    log:
        "results/logs/loso/{model}.log",
    benchmark:
        "results/benchmarks/loso/{model}.tsv"
    priority: training_priority
    conda:
        "../../environment.yml"
    threads: training_threads
    resources:
        local_cpus=local_cpus,
        mem_mb=memory_mb(2000),
        # Every fold, one after another.
        runtime=120,
    params:
        model=model_config,
        features=feature_params(),
        training=training_params(),
        tracking=config["tracking"],
    script:
        "../../scripts/loso.py"


rule plot_loso:
    input:
        per_speaker=expand(rules.loso.output.per_speaker, model=LOSO_MODELS),
        summaries=expand(rules.loso.output.summary, model=LOSO_MODELS),
    output:
        table="results/loso/loso_summary.csv",
        figure=report(
            "results/loso/accuracy_per_speaker.png",
            caption="../report/loso_accuracy.rst",
            category="5. Speaker-independent",
            labels={"figure": "LOSO accuracy per speaker"},
        ),
    log:
        "results/logs/loso/plot.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        models=LOSO_MODELS,
    script:
        "../../scripts/plot_loso.py"
