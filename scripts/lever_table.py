"""What each lever was worth (embedding vs MFCC inputs, each augmentation, endpointing):
LOSO mean and worst fold, official split and realistic takes of each configured pair."""

import pandas as pd

from fsdd_pipeline.evaluation.html_tables import html_table
from fsdd_pipeline.evaluation.levers import (
    TABLE_NOTE,
    lever_cells,
    lever_markdown,
    lever_table,
    model_scores,
)
from fsdd_pipeline.io import read_json, write_csv, write_text
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("lever_table")
configure_logging(snakemake)
params, inputs = snakemake.params, snakemake.input

loso = dict(zip(params.loso_models, map(read_json, inputs.loso), strict=True))
scores = {
    model: model_scores(loso.get(model), read_json(metrics), pd.read_csv(robustness))
    for model, metrics, robustness in zip(
        params.models, inputs.metrics, inputs.robustness, strict=True
    )
}
table = lever_table(params.levers, scores)
write_csv(table, snakemake.output.table)
write_text(lever_markdown(table) + "\n", snakemake.output.markdown)
write_text(
    html_table(lever_cells(table), "What each lever was worth", note=TABLE_NOTE),
    snakemake.output.html,
)
