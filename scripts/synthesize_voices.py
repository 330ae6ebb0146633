"""Synthesize the validation voices: every configured TTS voice saying every digit, clean
and placed in a realistic take, reading digit strings as connected speech in takes, and
its words said one by one joined with pauses into digit strings (fsdd_pipeline.voices.tts)."""

import logging

import pandas as pd

from fsdd_pipeline.io import write_parquet
from fsdd_pipeline.voices.tts import (
    paused_strings,
    validation_clips,
    validation_strings,
    voices_from_config,
)
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("synthesize_voices")
configure_logging(snakemake)
log = logging.getLogger("synthesize_voices")
settings = snakemake.params.voices
voices = voices_from_config(settings)
clips = validation_clips(voices, snakemake.params.sample_rate, settings["takes"], settings["seed"])
rate, takes, strings = snakemake.params.sample_rate, settings["takes"], settings["strings"]
strings = pd.concat(
    [
        validation_strings(voices, rate, takes, strings, settings["seed"]),
        paused_strings(voices, clips, rate, takes, strings, settings["seed"]),
    ],
    ignore_index=True,
)
log.info(
    "%d voices, %d clips, %d string takes (%s)",
    len(voices),
    len(clips),
    len(strings),
    ", ".join(f"{n} {style}" for style, n in strings["style"].value_counts().items()),
)
write_parquet(clips, snakemake.output.clips)
write_parquet(strings, snakemake.output.strings)
