# Digit strings: the word segmenter every model folder carries, and how each model in
# strings.models reads takes of several digits (official test split and LOSO folds).


rule train_segmenter:
    input:
        recordings=recordings_folder,
    output:
        segmenter="results/strings/segmenter/segmenter.joblib",
        takes="results/strings/segmenter/training_takes.joblib",
    log:
        "results/logs/strings/train_segmenter.log",
    benchmark:
        "results/benchmarks/strings/train_segmenter.tsv"
    # Every model folder carries the segmenter: every training waits on it.
    priority: AUGMENTATION_PRIORITY
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        local_cpus=local_cpus,
        mem_mb=memory_mb(1500),
        runtime=30,
    params:
        strings=segmenter_settings(),
        sample_rate=config["audio"]["sample_rate"],
        training_voices=config["training_voices"],
        validation_voices=training_voice_names(),
    script:
        "../../scripts/train_segmenter.py"


rule evaluate_strings:
    input:
        model=rules.train_model.output.model,
        run_id=rules.train_model.output.run_id,
        # The held-out speakers' takes are read by the model's LOSO folds.
        fold_models=rules.loso.output.fold_models,
        takes=rules.train_segmenter.output.takes,
        recordings=recordings_folder,
    output:
        takes="results/strings/{model}/takes.csv",
        table="results/strings/{model}/by_bucket.csv",
    log:
        "results/logs/strings/{model}.log",
    benchmark:
        "results/benchmarks/strings/{model}.tsv"
    priority: LONG_JOB_PRIORITY
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        local_cpus=local_cpus,
        mem_mb=memory_mb(2000),
        runtime=60,
    params:
        strings=config["strings"],
        features=feature_params(),
        tracking=config["tracking"],
    script:
        "../../scripts/evaluate_strings.py"
