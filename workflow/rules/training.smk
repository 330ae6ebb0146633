# Bookkeeping and plots run where snakemake runs, not as cluster jobs.
localrules:
    init_tracking,


rule init_tracking:
    output:
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


rule train_keras_model:
    input:
        dataset="results/dataset/features.parquet",
        experiment="results/mlflow/experiment.json",
    output:
        model="results/models/{model}/model.keras",
        spec="results/models/{model}/input_spec.json",
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
    wildcard_constraints:
        model=models_of_types(KERAS_TYPES),
    conda:
        "../../environment.yml"
    threads: config["training"]["threads"]
    resources:
        mem_mb=lambda wildcards, input: 2000 + 20 * input.size_mb,
        runtime=60,
    params:
        model=lambda wildcards: config["models"][wildcards.model],
        features=feature_params(),
        training={"frames": config["training"]["frames"]},
        tracking=config["tracking"],
    script:
        "../../scripts/train_model.py"


use rule train_keras_model as train_sklearn_model with:
    output:
        model="results/models/{model}/model.joblib",
        spec="results/models/{model}/input_spec.json",
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
    wildcard_constraints:
        model=models_of_types(SKLEARN_TYPES),
    threads: 1
    resources:
        mem_mb=lambda wildcards, input: 1000 + 10 * input.size_mb,
        runtime=15,
