"""Evaluate one trained model on the validation and test splits, and on the test split
under every robustness transform (noise, silence padding, resampling to 44.1 kHz stereo,
a gain change, realistic takes with and without endpointing); log the metrics, figures
and the robustness table into the model's own MLflow training run."""

import pandas as pd

from fsdd_pipeline.data.dataset import read_dataset
from fsdd_pipeline.evaluation.metrics import split_paths, write_evaluation
from fsdd_pipeline.evaluation.robustness import robustness_table
from fsdd_pipeline.io import write_csv
from fsdd_pipeline.models.classifier import DigitClassifier
from fsdd_pipeline.tracking.model_logging import read_run_id
from fsdd_pipeline.tracking.results import log_evaluation, log_robustness
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("evaluate", model="cnn")
configure_logging(snakemake)
out, settings = snakemake.output, snakemake.params.tracking
run_id = read_run_id(snakemake.input.run_id)

classifier = DigitClassifier.load(snakemake.input.model)
dataset = read_dataset(snakemake.input.dataset)
metrics, paths = {}, {}
for split in ("val", "test"):
    rows = dataset[dataset.split == split].reset_index(drop=True)
    paths[split] = split_paths(out, split)
    metrics[split] = write_evaluation(
        paths[split], rows.file_name, rows.digit, rows.speaker, classifier.predict_proba_frame(rows)
    )
log_evaluation(settings, run_id, metrics, paths)

transformed = pd.concat(map(pd.read_parquet, snakemake.input.robustness_features))
table = robustness_table(classifier, transformed.reset_index(drop=True))
write_csv(table, out.robustness)
log_robustness(settings, run_id, table, out.robustness)
