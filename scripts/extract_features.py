"""Extract MFCC, chroma and log-mel features of one batch of recordings, one Parquet per file."""

from fsdd_pipeline.data.extraction import extract_batch
from fsdd_pipeline.data.metadata import read_speakers
from fsdd_pipeline.features.spectral import FeatureParams
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("extract_features", batch="batch000")
configure_logging(snakemake)

params = FeatureParams.from_dict(snakemake.params.features)
extract_batch(
    wav_paths=list(snakemake.params.recordings),
    out_dir=snakemake.output.features,
    params=params,
    speakers=read_speakers(snakemake.input.speakers),
)
