"""Download the pinned FSDD release and verify it against the shipped checksums."""

from fsdd_pipeline.data.download import download_fsdd
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("download_fsdd")
configure_logging(snakemake)

download_fsdd(
    url=snakemake.params.url,
    checksums_path=snakemake.input.checksums,
    out_dir=snakemake.output.recordings,
    timeout_s=snakemake.params.timeout_s,
)
