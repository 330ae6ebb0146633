"""Predict every validation-voice clip with one trained model, from raw audio as
fsdd-predict does (endpointing included)."""

import pandas as pd

from fsdd_pipeline.io import write_csv
from fsdd_pipeline.models.classifier import DigitClassifier
from fsdd_pipeline.voices.validation import predict_clips
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("evaluate_voices", model="emb_frame_logreg_speeds")
configure_logging(snakemake)
classifier = DigitClassifier.load(snakemake.input.model)
clips = pd.read_parquet(snakemake.input.clips)
write_csv(
    predict_clips(classifier, clips, snakemake.params.sample_rate), snakemake.output.predictions
)
