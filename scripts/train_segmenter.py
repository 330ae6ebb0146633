"""Train the digit-string word segmenter on takes synthesized from the training split's
clips (every speaker's own) and on the training voices' connected speech and words said
one by one, save it (it travels into every model folder) and the embedded training takes
(the string evaluation refits it per leave-one-speaker-out fold)."""

import logging

import joblib

from fsdd_pipeline.io import atomic_path
from fsdd_pipeline.strings.evaluation import StringsSettings, train_segmenter
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("train_segmenter")
configure_logging(snakemake)
settings = StringsSettings.from_config(snakemake.params.strings)
model, training = train_segmenter(
    snakemake.input.recordings,
    snakemake.params.sample_rate,
    settings,
    snakemake.params.training_voices,
    snakemake.params.validation_voices,
)
logging.info("segmenter trained on %d takes", len(training[0]))
model.save(snakemake.output.segmenter)
with atomic_path(snakemake.output.takes) as path:
    joblib.dump(training, path)
