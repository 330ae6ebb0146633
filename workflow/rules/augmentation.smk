rule augment_features:
    input:
        features=rules.extract_features.output.features,
    output:
        features="results/augmented/{augmentation}/{batch}.parquet",
    log:
        "results/logs/augment_features/{augmentation}/{batch}.log",
    benchmark:
        "results/benchmarks/augment_features/{augmentation}/{batch}.tsv"
    priority: AUGMENTATION_PRIORITY
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        local_cpus=local_cpus,
        mem_mb=1000,
        runtime=30,
    params:
        augment=lambda wildcards: AUGMENTATIONS[wildcards.augmentation]["settings"],
        features=lambda wildcards: AUGMENTATIONS[wildcards.augmentation]["features"],
        feature_params=feature_params(),
    script:
        "../../scripts/augment_features.py"
