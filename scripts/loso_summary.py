"""Aggregate one model's LOSO folds: per-speaker accuracy, mean ± sd, summed confusion
matrix, logged into the model's LOSO parent run."""

from pathlib import Path

import pandas as pd

from fsdd_pipeline.evaluation import LABELS, plot_confusion_matrix
from fsdd_pipeline.io import read_json, save_figure, write_csv, write_json
from fsdd_pipeline.loso import summarize_folds
from fsdd_pipeline.tracking import read_run_id, use_store
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("loso_summary", model="cnn")
configure_logging(snakemake)
out = snakemake.output

fold_metrics = {Path(p).parent.name: read_json(p) for p in snakemake.input.folds}
per_speaker, summary, confusion = summarize_folds(fold_metrics)
write_csv(per_speaker, out.per_speaker)
write_json(summary | {"model": snakemake.wildcards.model}, out.summary)
confusion_frame = pd.DataFrame(confusion, index=LABELS, columns=LABELS)
write_csv(confusion_frame.rename_axis("true_digit").reset_index(), out.confusion)
save_figure(plot_confusion_matrix(confusion), out.confusion_png)

mlflow = use_store(snakemake.params.tracking)
with mlflow.start_run(run_id=read_run_id(snakemake.input.parent_run_id)):
    mlflow.log_metrics(
        {
            "loso_mean_accuracy": summary["mean_accuracy"],
            "loso_std_accuracy": summary["std_accuracy"],
            "loso_min_accuracy": summary["min_accuracy"],
        }
        | {f"loso_accuracy_{r.speaker}": r.accuracy for r in per_speaker.itertuples()}
    )
    for path in (out.per_speaker, out.summary, out.confusion, out.confusion_png):
        mlflow.log_artifact(path, artifact_path="loso")
