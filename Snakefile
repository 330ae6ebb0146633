# Spoken-digit recognition on the Free Spoken Digit Dataset: from raw recordings to
# features, a combined dataset, trained and evaluated models tracked in MLflow.
import os

from snakemake.utils import min_version

from fsdd_pipeline.planning.config_checks import check_config

min_version("9.0")


report: "workflow/report/workflow.rst"


configfile: "config/config.yaml"


check_config(
    config,
    os.path.join(workflow.basedir, "workflow/schemas/config.schema.yaml"),
    passed_record=".snakemake/fsdd-pipeline/config-passed-schema",
)


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/features.smk"
include: "workflow/rules/augmentation.smk"
include: "workflow/rules/eda.smk"
include: "workflow/rules/training.smk"
include: "workflow/rules/loso.smk"
include: "workflow/rules/robustness.smk"
# Before evaluation: the comparison reads the digit-string scores.
include: "workflow/rules/strings.smk"
include: "workflow/rules/evaluation.smk"
include: "workflow/rules/levers.smk"
include: "workflow/rules/voices.smk"


check_tracking_store()


rule all:
    default_target: True
    input:
        rules.build_dataset.output.dataset,
        rules.build_dataset.output.counts,
        rules.plot_eda.output,
        rules.compare_models.output.markdown,
        rules.compare_models.output.champion,
        rules.summarize_robustness.output.markdown,
        rules.lever_table.output.markdown,
        loso_outputs(),
        voices_outputs(),
        expand(rules.evaluate_strings.output.table, model=STRINGS_MODELS),
