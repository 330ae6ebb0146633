"""Evaluate one trained model on the validation and test splits, and log the metrics and
figures into the model's own MLflow training run."""

from pathlib import Path

from fsdd_pipeline.classifier import DigitClassifier
from fsdd_pipeline.dataset import read_dataset
from fsdd_pipeline.evaluation import write_evaluation
from fsdd_pipeline.tracking import log_evaluation, read_run_id, use_store
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("evaluate", model="cnn")
configure_logging(snakemake)
out_dir = Path(snakemake.output.test_metrics).parent

classifier = DigitClassifier.load(Path(snakemake.input.model).parent)
dataset = read_dataset(snakemake.input.dataset)
metrics = {}
for split in ("val", "test"):
    rows = dataset[dataset.split == split].reset_index(drop=True)
    metrics[split] = write_evaluation(
        out_dir,
        split,
        rows.file_name,
        rows.digit,
        rows.speaker,
        classifier.predict_proba_frame(rows),
    )

mlflow = use_store(snakemake.params.tracking)
log_evaluation(mlflow, read_run_id(snakemake.input.run_id), metrics, out_dir)
