"""Compare every model in one table and figure, and register the champion (the best
leave-one-speaker-out mean accuracy; the official split breaks ties) in the MLflow model
registry under the alias 'champion'."""

import logging

import pandas as pd

from fsdd_pipeline.evaluation import comparison
from fsdd_pipeline.evaluation.html_tables import html_table
from fsdd_pipeline.io import read_json, save_figure, write_csv, write_json, write_text
from fsdd_pipeline.tracking.registry import register_champion
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("compare_models")
configure_logging(snakemake)
inputs = snakemake.input

loso = {
    name: {
        "mean": summary["mean_accuracy"],
        "std": summary["std_accuracy"],
        "min": summary["min_accuracy"],
    }
    for name, summary in zip(snakemake.params.loso_models, map(read_json, inputs.loso), strict=True)
}
infos = dict(zip(snakemake.params.models, map(read_json, inputs.infos), strict=True))
strings = dict(zip(snakemake.params.strings_models, map(pd.read_csv, inputs.strings), strict=True))
rows = [
    comparison.comparison_row(
        name,
        infos[name]["type"],
        pd.read_csv(history),
        read_json(metrics),
        infos[name],
        loso.get(name),
        strings.get(name),
    )
    for name, history, metrics in zip(
        snakemake.params.models, inputs.histories, inputs.metrics, strict=True
    )
]
table = comparison.comparison_table(rows)
write_csv(table, snakemake.output.table)
write_text(comparison.markdown_table(table) + "\n", snakemake.output.markdown)
write_text(
    html_table(table, "Model comparison", note=comparison.TABLE_NOTE, highlight_rows=[0]),
    snakemake.output.html,
)
save_figure(comparison.plot_comparison(table), snakemake.output.figure)

best, reason = comparison.best_model(table)
best_info = infos[best]
champion = register_champion(
    snakemake.params.tracking,
    best,
    best_info["run_id"],
    best_info["audio_model_uri"],
    reason=reason,
)
write_json(champion, snakemake.output.champion)
logging.info("champion: %s (version %s)\n%s", best, champion["version"], table.to_string())
