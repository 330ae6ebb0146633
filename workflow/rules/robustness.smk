# Features of the test clips under the robustness transforms, one job per group of
# transforms, computed once for every model (the evaluate jobs read them).


rule robustness_features:
    input:
        dataset=rules.build_dataset.output.dataset,
    output:
        features="results/robustness/features/{group}.parquet",
    log:
        "results/logs/robustness/features/{group}.log",
    benchmark:
        "results/benchmarks/robustness_features/{group}.tsv"
    # Long, and every evaluate job waits for it: start it with the long trainings.
    priority: LONG_JOB_PRIORITY
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        local_cpus=local_cpus,
        # Every test clip under up to 8 transforms, features and embedding in memory.
        mem_mb=memory_mb(1500),
        runtime=30,
    params:
        features=feature_params(),
        feature_names=robustness_group_features,
        seed=config["robustness"]["seed"],
    script:
        "../../scripts/robustness_features.py"
