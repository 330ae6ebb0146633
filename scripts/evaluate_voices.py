"""Predict every validation-voice clip with one trained model, from raw audio as
fsdd-predict answers it (endpointing, and for a take longer than a word the segmenter; its
single-digit answer), and read the voices' digit strings as fsdd-predict reads a
take (its segmenter finds the words)."""

import pandas as pd

from fsdd_pipeline.io import write_csv
from fsdd_pipeline.models.classifier import DigitClassifier
from fsdd_pipeline.serving.transcript import attach_strings_model
from fsdd_pipeline.voices.validation import predict_clips, read_strings
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("evaluate_voices", model="emb_frame_logreg_speeds")
configure_logging(snakemake)
classifier = attach_strings_model(
    DigitClassifier.load(snakemake.input.model), snakemake.input.model
)
rate = snakemake.params.sample_rate
write_csv(
    predict_clips(classifier, pd.read_parquet(snakemake.input.clips), rate),
    snakemake.output.predictions,
)
write_csv(
    read_strings(classifier, pd.read_parquet(snakemake.input.strings), rate),
    snakemake.output.strings,
)
