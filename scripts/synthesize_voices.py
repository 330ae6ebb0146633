"""Synthesize the validation voices: every configured TTS voice saying every digit, clean
and placed in a realistic take (fsdd_pipeline.voices.tts)."""

import logging

from fsdd_pipeline.io import write_parquet
from fsdd_pipeline.voices.tts import validation_clips, voices_from_config
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("synthesize_voices")
configure_logging(snakemake)
log = logging.getLogger("synthesize_voices")
settings = snakemake.params.voices
voices = voices_from_config(settings)
clips = validation_clips(voices, snakemake.params.sample_rate, settings["takes"], settings["seed"])
log.info("%d voices, %d clips", len(voices), len(clips))
write_parquet(clips, snakemake.output.clips)
