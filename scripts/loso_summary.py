"""Aggregate one model's LOSO folds: per-speaker accuracy, mean ± sd, summed confusion
matrix, logged into the model's LOSO parent run."""

import pandas as pd

from fsdd_pipeline.evaluation import plot_confusion_matrix
from fsdd_pipeline.io import read_json, save_figure, write_csv, write_json
from fsdd_pipeline.labels import LABELS
from fsdd_pipeline.loso import summarize_folds
from fsdd_pipeline.tracking import log_loso_summary, read_run_id
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("loso_summary", model="cnn")
configure_logging(snakemake)
out = snakemake.output

fold_metrics = dict(
    zip(snakemake.params.speakers, map(read_json, snakemake.input.folds), strict=True)
)
per_speaker, summary, confusion = summarize_folds(fold_metrics)
write_csv(per_speaker, out.per_speaker)
write_json(summary | {"model": snakemake.wildcards.model}, out.summary)
confusion_frame = pd.DataFrame(confusion, index=LABELS, columns=LABELS)
write_csv(confusion_frame.rename_axis("true_digit").reset_index(), out.confusion)
save_figure(plot_confusion_matrix(confusion), out.confusion_png)

log_loso_summary(
    snakemake.params.tracking,
    read_run_id(snakemake.input.parent_run_id),
    summary,
    per_speaker,
    files=(out.per_speaker, out.summary, out.confusion, out.confusion_png),
)
