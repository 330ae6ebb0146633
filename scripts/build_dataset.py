"""Combine the per-file feature tables into one dataset with train/val/test splits."""

import logging

from fsdd_pipeline.data.dataset import count_tables, read_feature_table, split_feature_table
from fsdd_pipeline.io import write_csv, write_parquet_table
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("build_dataset")
configure_logging(snakemake)
settings = snakemake.params.dataset

features = read_feature_table(snakemake.input.batches, settings["skip_rejected"])
dataset, splits = split_feature_table(features, settings["val_fraction"], settings["seed"])
by_speaker, by_split = count_tables(splits)

write_parquet_table(dataset, snakemake.output.dataset)
write_csv(by_speaker, snakemake.output.counts)
write_csv(by_split, snakemake.output.split_counts)
logging.info("dataset: %d recordings\n%s", len(dataset), by_split.to_string(index=False))
