"""Synthesize the training voices: the ten digits said by every drawn espeak-ng voice,
endpointed and featurized as FSDD's recordings (fsdd_pipeline.voices.training_voices)."""

import pyarrow.parquet as pq

from fsdd_pipeline.features.spectral import FeatureParams
from fsdd_pipeline.io import atomic_path
from fsdd_pipeline.voices.training_voices import training_voice_table
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("synthesize_training_voices")
configure_logging(snakemake)
table = training_voice_table(
    snakemake.params.settings,
    snakemake.params.validation_voices,
    FeatureParams.from_dict(snakemake.params.features),
)
with atomic_path(snakemake.output.features) as temporary:
    pq.write_table(table, temporary)
