# Bookkeeping and plots run where snakemake runs, not as cluster jobs.
localrules:
    init_tracking,


rule init_tracking:
    output:
        **tracking_store(),
        experiment="results/mlflow/experiment.json",
    log:
        "results/logs/init_tracking.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        tracking=config["tracking"],
    script:
        "../../scripts/init_tracking.py"


rule train_model:
    input:
        dataset=rules.build_dataset.output.dataset,
        augmented=augmented_features,
        training_voices=training_voice_features,
        experiment=rules.init_tracking.output.experiment,
        # Copied into the model folder: digit strings travel with every model.
        segmenter="results/strings/segmenter/segmenter.joblib",
    output:
        # The model file (model.keras or model.joblib) and its input_spec.json.
        model=directory("results/models/{model}/model"),
        history="results/models/{model}/history.csv",
        curves=report(
            "results/models/{model}/training_curves.png",
            caption="../report/training_curves.rst",
            category="2. Training",
            labels={"model": "{model}", "figure": "training curves"},
        ),
        summary="results/models/{model}/summary.txt",
        info="results/models/{model}/training.json",
        run_id="results/models/{model}/mlflow_run_id.txt",
    log:
        "results/logs/train/{model}.log",
    benchmark:
        "results/benchmarks/train/{model}.tsv"
    priority: training_priority
    conda:
        "../../environment.yml"
    threads: training_threads
    resources:
        local_cpus=local_cpus,
        mem_mb=memory_mb(2000),
        runtime=60,
    params:
        model=model_config,
        features=feature_params(),
        training=training_params(),
        tracking=config["tracking"],
    script:
        "../../scripts/train_model.py"
