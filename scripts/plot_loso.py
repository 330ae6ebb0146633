"""One table and figure of LOSO accuracy per held-out speaker for every LOSO model."""

import pandas as pd

from fsdd_pipeline.evaluation.loso import plot_accuracy_per_speaker
from fsdd_pipeline.io import read_json, save_figure, write_csv
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("plot_loso")
configure_logging(snakemake)
models = snakemake.params.models

per_speaker = {m: pd.read_csv(p) for m, p in zip(models, snakemake.input.per_speaker, strict=True)}
table = pd.DataFrame(
    [
        {"model": m, **read_json(p), **per_speaker[m].set_index("speaker")["accuracy"].to_dict()}
        for m, p in zip(models, snakemake.input.summaries, strict=True)
    ]
)
write_csv(table, snakemake.output.table)
save_figure(plot_accuracy_per_speaker(per_speaker), snakemake.output.figure)
