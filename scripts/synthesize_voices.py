"""Synthesize the validation voices: every configured TTS voice saying every digit, clean
and placed in a realistic take, and reading digit strings as connected speech in takes
(fsdd_pipeline.voices.tts)."""

import logging

from fsdd_pipeline.io import write_parquet
from fsdd_pipeline.voices.tts import validation_clips, validation_strings, voices_from_config
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("synthesize_voices")
configure_logging(snakemake)
log = logging.getLogger("synthesize_voices")
settings = snakemake.params.voices
voices = voices_from_config(settings)
clips = validation_clips(voices, snakemake.params.sample_rate, settings["takes"], settings["seed"])
strings = validation_strings(
    voices, snakemake.params.sample_rate, settings["takes"], settings["strings"], settings["seed"]
)
log.info("%d voices, %d clips, %d string takes", len(voices), len(clips), len(strings))
write_parquet(clips, snakemake.output.clips)
write_parquet(strings, snakemake.output.strings)
