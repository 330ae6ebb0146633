# Bookkeeping and plots run where snakemake runs, not as cluster jobs.
localrules:
    loso_start,
    loso_summary,
    plot_loso,


rule loso_start:
    input:
        dataset=rules.build_dataset.output.dataset,
        experiment=rules.init_tracking.output.experiment,
    output:
        run_id="results/loso/{model}/mlflow_parent_run_id.txt",
    log:
        "results/logs/loso/{model}/start.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        model=model_config,
        features=feature_params(),
        tracking=config["tracking"],
    script:
        "../../scripts/loso_start.py"


rule loso_fold:
    input:
        dataset=rules.build_dataset.output.dataset,
        augmented=augmented_features,
        parent_run_id=rules.loso_start.output.run_id,
    output:
        **evaluation_outputs("results/loso/{model}/{speaker}", "test"),
    log:
        "results/logs/loso/{model}/{speaker}.log",
    benchmark:
        "results/benchmarks/loso/{model}/{speaker}.tsv"
    priority: training_priority
    conda:
        "../../environment.yml"
    threads: training_threads
    resources:
        mem_mb=memory_mb(2000),
        runtime=60,
    params:
        model=model_config,
        features=feature_params(),
        training=training_params(),
        tracking=config["tracking"],
    script:
        "../../scripts/loso_fold.py"


rule loso_summary:
    input:
        folds=lambda wildcards: expand(
            rules.loso_fold.output.test_metrics,
            model=wildcards.model,
            speaker=recording_speakers(),
        ),
        parent_run_id=rules.loso_start.output.run_id,
    output:
        per_speaker="results/loso/{model}/accuracy_per_speaker.csv",
        summary="results/loso/{model}/summary.json",
        confusion="results/loso/{model}/confusion_matrix.csv",
        confusion_png=report(
            "results/loso/{model}/confusion_matrix.png",
            caption="../report/loso_confusion_matrix.rst",
            category="5. Speaker-independent",
            labels={"model": "{model}", "figure": "LOSO confusion matrix"},
        ),
    log:
        "results/logs/loso/{model}/summary.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        speakers=lambda wildcards: recording_speakers(),
        tracking=config["tracking"],
    script:
        "../../scripts/loso_summary.py"


rule plot_loso:
    input:
        per_speaker=expand(rules.loso_summary.output.per_speaker, model=LOSO_MODELS),
        summaries=expand(rules.loso_summary.output.summary, model=LOSO_MODELS),
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
