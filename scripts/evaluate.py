"""Evaluate one trained model on the validation and test splits, and log the metrics and
figures into the model's own MLflow training run."""

from fsdd_pipeline.classifier import DigitClassifier
from fsdd_pipeline.dataset import read_dataset
from fsdd_pipeline.evaluation import split_paths, write_evaluation
from fsdd_pipeline.tracking import log_evaluation, read_run_id
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("evaluate", model="cnn")
configure_logging(snakemake)

classifier = DigitClassifier.load(snakemake.input.model)
dataset = read_dataset(snakemake.input.dataset)
metrics, paths = {}, {}
for split in ("val", "test"):
    rows = dataset[dataset.split == split].reset_index(drop=True)
    paths[split] = split_paths(snakemake.output, split)
    metrics[split] = write_evaluation(
        paths[split], rows.file_name, rows.digit, rows.speaker, classifier.predict_proba_frame(rows)
    )

log_evaluation(snakemake.params.tracking, read_run_id(snakemake.input.run_id), metrics, paths)
