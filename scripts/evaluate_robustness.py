"""Accuracy of one model on the test split under noise, silence padding, resampling to
44.1 kHz stereo, a gain change and inside realistic takes (a longer noisy take, a poor
channel; with and without endpointing), logged into the model's training run."""

import pandas as pd

from fsdd_pipeline.classifier import DigitClassifier
from fsdd_pipeline.io import write_csv
from fsdd_pipeline.robustness import robustness_table
from fsdd_pipeline.tracking import log_robustness, read_run_id
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("evaluate_robustness", model="cnn")
configure_logging(snakemake)

classifier = DigitClassifier.load(snakemake.input.model)
features = pd.concat([pd.read_parquet(p) for p in snakemake.input.features], ignore_index=True)
table = robustness_table(classifier, features)
write_csv(table, snakemake.output.table)
log_robustness(
    snakemake.params.tracking, read_run_id(snakemake.input.run_id), table, snakemake.output.table
)
