# Spoken-digit recognition on the Free Spoken Digit Dataset: from raw recordings to
# features, a combined dataset, trained and evaluated models tracked in MLflow.
from snakemake.utils import min_version, validate

min_version("9.0")


report: "workflow/report/workflow.rst"


configfile: "config/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/eda.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/evaluation.smk"
include: "workflow/rules/loso.smk"
include: "workflow/rules/robustness.smk"


rule all:
    default_target: True
    input:
        "results/dataset/features.parquet",
        "results/dataset/counts.csv",
        eda_figures(),
        "results/comparison/comparison.md",
        "results/comparison/champion.json",
        "results/robustness/robustness.md",
        loso_outputs(),
