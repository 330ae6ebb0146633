"""Create the MLflow parent run of one model's leave-one-speaker-out evaluation."""

from fsdd_pipeline.dataset import dataset_digest
from fsdd_pipeline.io import write_text
from fsdd_pipeline.tracking import git_commit, start_parent_run, use_store
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("loso_start", model="cnn")
configure_logging(snakemake)
name, config = snakemake.wildcards.model, snakemake.params.model

mlflow = use_store(snakemake.params.tracking)
run_id = start_parent_run(
    mlflow,
    f"{name}-loso",
    tags={
        "model": name,
        "model_type": config["type"],
        "evaluation": "leave-one-speaker-out",
        "git_commit": git_commit(),
        "dataset_digest": dataset_digest(snakemake.input.dataset),
    },
    params={"model": config, "features": snakemake.params.features},
)
write_text(run_id + "\n", snakemake.output.run_id)
