"""One table of every model's accuracy under every robustness transform."""

import pandas as pd

from fsdd_pipeline.evaluation.html_tables import html_table
from fsdd_pipeline.evaluation.robustness import SUMMARY_NOTE, robustness_summary
from fsdd_pipeline.io import write_csv, write_text
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("summarize_robustness")
configure_logging(snakemake)

models, paths = snakemake.params.models, snakemake.input.tables
tables = {model: pd.read_csv(path) for model, path in zip(models, paths, strict=True)}
summary = robustness_summary(tables)
write_csv(summary.reset_index(), snakemake.output.table)
write_text(summary.to_markdown(floatfmt=".4f") + "\n", snakemake.output.markdown)
write_text(
    html_table(summary.reset_index(), "Robustness", note=SUMMARY_NOTE), snakemake.output.html
)
