"""Accuracy of one model on the test split under noise, silence padding, resampling to
44.1 kHz stereo, a gain change and inside realistic takes (a longer noisy take, a poor
channel), logged into the model's training run."""

from fsdd_pipeline.classifier import DigitClassifier
from fsdd_pipeline.dataset import read_dataset
from fsdd_pipeline.io import write_csv
from fsdd_pipeline.robustness import robustness_table
from fsdd_pipeline.tracking import log_robustness, read_run_id
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("evaluate_robustness", model="cnn")
configure_logging(snakemake)

classifier = DigitClassifier.load(snakemake.input.model)
test = read_dataset(snakemake.input.dataset, splits=["test"])
table = robustness_table(
    classifier, test, snakemake.params.seed, snakemake.params.ablate_endpointing
)
write_csv(table, snakemake.output.table)
log_robustness(
    snakemake.params.tracking, read_run_id(snakemake.input.run_id), table, snakemake.output.table
)
