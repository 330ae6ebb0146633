"""Digit strings read by one model: takes of the official test split (the trained model and
its segmenter) and, per speaker, takes of that speaker's clips read by a fold model and
segmenter trained without them; string accuracy and digit error rate by pause bucket, into
results/strings/ and the model's MLflow run."""

import joblib

from fsdd_pipeline.augment.augmented_features import read_augmented_features
from fsdd_pipeline.data.dataset import read_dataset, read_training_voices
from fsdd_pipeline.evaluation.loso import fold_splits
from fsdd_pipeline.features.spectral import FeatureParams
from fsdd_pipeline.io import write_csv
from fsdd_pipeline.models.classifier import DigitClassifier
from fsdd_pipeline.models.inputs import InputSpec
from fsdd_pipeline.models.training import train_model
from fsdd_pipeline.serving.transcript import attach_strings_model
from fsdd_pipeline.strings.evaluation import StringsSettings, bucket_table, evaluate_strings
from fsdd_pipeline.tracking.model_logging import read_run_id
from fsdd_pipeline.tracking.results import log_strings
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("evaluate_strings", model="emb_frame_logreg_speeds")
configure_logging(snakemake)
inputs, out, config = snakemake.input, snakemake.output, snakemake.params.model
settings = StringsSettings.from_config(snakemake.params.strings)
feature_params = FeatureParams.from_dict(snakemake.params.features)
spec = InputSpec.from_model_config(config, snakemake.params.training["frames"], feature_params)
dataset = read_dataset(inputs.dataset)
training_voices = read_training_voices(inputs.training_voices)
augmented = read_augmented_features(inputs.augmented)


def fold_classifier(speaker):
    train, val, _ = fold_splits(dataset, speaker)
    return train_model(
        config,
        spec,
        train,
        val,
        learning_curve=False,
        augmented=augmented,
        training_voices=training_voices,
    ).classifier


classifier = attach_strings_model(DigitClassifier.load(inputs.model), inputs.model)
read = evaluate_strings(
    classifier,
    joblib.load(inputs.takes),
    inputs.recordings,
    feature_params.sample_rate,
    settings,
    fold_classifier,
)
table = bucket_table(read).assign(model=snakemake.wildcards.model)
write_csv(read, out.takes)
write_csv(table, out.table)
log_strings(snakemake.params.tracking, read_run_id(inputs.run_id), table, (out.takes, out.table))
