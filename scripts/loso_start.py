"""Create the MLflow parent run of one model's leave-one-speaker-out evaluation."""

from fsdd_pipeline.io import write_text
from fsdd_pipeline.tracking import start_loso_parent
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("loso_start", model="cnn")
configure_logging(snakemake)

run_id = start_loso_parent(
    snakemake.params.tracking,
    snakemake.wildcards.model,
    snakemake.params.model,
    snakemake.params.features,
    snakemake.input.dataset,
)
write_text(run_id + "\n", snakemake.output.run_id)
