rule extract_features:
    input:
        recordings=recordings_folder,
        speakers=config["speakers"],
    output:
        features=directory("results/features/{batch}"),
    log:
        "results/logs/extract_features/{batch}.log",
    benchmark:
        "results/benchmarks/extract_features/{batch}.tsv"
    priority: FEATURE_PRIORITY
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        local_cpus=local_cpus,
        mem_mb=1000,
        runtime=lambda wildcards: 10 + len(batch_recordings(wildcards)) // 200,
    params:
        recordings=batch_recording_paths,
        recordings_stamp=batch_recordings_stamp,
        features=feature_params(),
    script:
        "../../scripts/extract_features.py"


rule build_dataset:
    input:
        batches=feature_batch_dirs,
    output:
        dataset="results/dataset/features.parquet",
        counts="results/dataset/counts.csv",
        split_counts="results/dataset/split_counts.csv",
    log:
        "results/logs/build_dataset.log",
    benchmark:
        "results/benchmarks/build_dataset.tsv"
    priority: FEATURE_PRIORITY
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        local_cpus=local_cpus,
        mem_mb=dataset_memory_mb,
        runtime=15,
    params:
        dataset=config["dataset"],
    script:
        "../../scripts/build_dataset.py"
