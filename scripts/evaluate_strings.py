"""Digit strings read by one model: takes of the official test split (the trained model and
its segmenter) and, per speaker, takes of that speaker's clips read by the model's LOSO
fold and a segmenter trained without them; string accuracy and digit error rate by pause
bucket, into results/strings/ and the model's MLflow run."""

import joblib

from fsdd_pipeline.evaluation.loso import load_fold_classifiers
from fsdd_pipeline.features.spectral import FeatureParams
from fsdd_pipeline.io import write_csv
from fsdd_pipeline.models.classifier import DigitClassifier
from fsdd_pipeline.serving.transcript import attach_strings_model
from fsdd_pipeline.strings.evaluation import StringsSettings, bucket_table, evaluate_strings
from fsdd_pipeline.tracking.model_logging import read_run_id
from fsdd_pipeline.tracking.results import log_strings
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("evaluate_strings", model="emb_frame_logreg_speeds")
configure_logging(snakemake)
inputs, out = snakemake.input, snakemake.output
settings = StringsSettings.from_config(snakemake.params.strings)
feature_params = FeatureParams.from_dict(snakemake.params.features)
classifier = attach_strings_model(DigitClassifier.load(inputs.model), inputs.model)
read = evaluate_strings(
    classifier,
    joblib.load(inputs.takes),
    inputs.recordings,
    feature_params.sample_rate,
    settings,
    load_fold_classifiers(inputs.fold_models),
)
table = bucket_table(read).assign(model=snakemake.wildcards.model)
write_csv(read, out.takes)
write_csv(table, out.table)
log_strings(snakemake.params.tracking, read_run_id(inputs.run_id), table, (out.takes, out.table))
