# Training voices (docs/voices.md): digits spoken by espeak-ng voices, extra training data
# of the models that ask for them. Validation voices: digits spoken by text-to-speech voices
# unlike FSDD's six men, clean and in realistic takes, to choose settings beside LOSO (never
# training).
localrules:
    voices_report,


rule synthesize_training_voices:
    output:
        features="results/training_voices/features.parquet",
    log:
        "results/logs/training_voices/synthesize.log",
    benchmark:
        "results/benchmarks/training_voices/synthesize.tsv"
    priority: FEATURE_PRIORITY
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        local_cpus=local_cpus,
        mem_mb=1500,
        runtime=20,
    params:
        settings=config["training_voices"],
        validation_voices=training_voice_names(),
        features=feature_params(),
    script:
        "../../scripts/synthesize_training_voices.py"


rule synthesize_voices:
    output:
        clips="results/voices/clips.parquet",
        strings="results/voices/strings.parquet",
    log:
        "results/logs/voices/synthesize.log",
    benchmark:
        "results/benchmarks/voices/synthesize.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        local_cpus=local_cpus,
        mem_mb=1500,
        runtime=20,
    params:
        voices=config["voices"],
        sample_rate=config["audio"]["sample_rate"],
    script:
        "../../scripts/synthesize_voices.py"


rule evaluate_voices:
    input:
        model=rules.train_model.output.model,
        clips=rules.synthesize_voices.output.clips,
        strings=rules.synthesize_voices.output.strings,
    output:
        predictions="results/voices/predictions/{model}.csv",
        strings="results/voices/strings/{model}.csv",
    log:
        "results/logs/voices/evaluate/{model}.log",
    benchmark:
        "results/benchmarks/voices/evaluate/{model}.tsv"
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        local_cpus=local_cpus,
        mem_mb=1500,
        runtime=30,
    params:
        sample_rate=config["audio"]["sample_rate"],
    script:
        "../../scripts/evaluate_voices.py"


rule voices_report:
    input:
        predictions=expand(
            rules.evaluate_voices.output.predictions, model=VOICES_MODELS
        ),
        strings=expand(rules.evaluate_voices.output.strings, model=VOICES_MODELS),
        loso=expand(rules.loso.output.summary, model=VOICES_LOSO_MODELS),
    output:
        summary="results/voices/summary.csv",
        digits="results/voices/accuracy_per_digit.csv",
        markdown="results/voices/summary.md",
    log:
        "results/logs/voices/report.log",
    conda:
        "../../environment.yml"
    threads: 1
    resources:
        mem_mb=500,
        runtime=5,
    params:
        models=VOICES_MODELS,
        loso_models=VOICES_LOSO_MODELS,
    script:
        "../../scripts/voices_report.py"


# `snakemake voices`: the validation voices' report (in the default run when
# voices.in_default_run is true).
rule voices:
    input:
        rules.voices_report.output.summary,
