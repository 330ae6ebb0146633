"""Compare every model in one table and figure, and register the best one (by test
macro F1) in the MLflow model registry under the alias 'champion'."""

import logging

import pandas as pd

from fsdd_pipeline import comparison
from fsdd_pipeline.io import read_json, save_figure, write_csv, write_json, write_text
from fsdd_pipeline.tracking import register_champion, use_store
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("compare_models")
configure_logging(snakemake)
inputs = snakemake.input

rows = []
for i, name in enumerate(snakemake.params.models):
    info = read_json(inputs.infos[i])
    rows.append(
        comparison.comparison_row(
            name,
            info["type"],
            pd.read_csv(inputs.histories[i]),
            read_json(inputs.metrics[i]),
            info,
        )
    )
table = comparison.comparison_table(rows)
write_csv(table, snakemake.output.table)
write_text(comparison.markdown_table(table) + "\n", snakemake.output.markdown)
save_figure(comparison.plot_comparison(table), snakemake.output.figure)

best = comparison.best_model(table)
best_info = read_json(inputs.infos[snakemake.params.models.index(best)])
mlflow = use_store(snakemake.params.tracking)
champion = register_champion(
    mlflow, snakemake.params.tracking["registered_model"], best, best_info["run_id"]
)
write_json(champion, snakemake.output.champion)
logging.info("champion: %s (version %s)\n%s", best, champion["version"], table.to_string())
