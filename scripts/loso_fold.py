"""Train a model on all speakers but one and test it on every clip of that speaker (one
LOSO fold), tracked as a child run of the model's LOSO parent run."""

from fsdd_pipeline import tracking
from fsdd_pipeline.augmented_features import read_augmented_features
from fsdd_pipeline.dataset import read_dataset
from fsdd_pipeline.evaluation import split_paths, write_evaluation
from fsdd_pipeline.features import FeatureParams
from fsdd_pipeline.loso import fold_splits
from fsdd_pipeline.model_inputs import InputSpec
from fsdd_pipeline.training import train_model
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("loso_fold", model="cnn", speaker="theo")
configure_logging(snakemake)
name, speaker, config = (
    snakemake.wildcards.model,
    snakemake.wildcards.speaker,
    snakemake.params.model,
)
feature_params = FeatureParams.from_dict(snakemake.params.features)
spec = InputSpec.from_model_config(config, snakemake.params.training["frames"], feature_params)
train, val, test = fold_splits(read_dataset(snakemake.input.dataset), speaker)
parent = tracking.read_run_id(snakemake.input.parent_run_id)

with tracking.loso_fold_run(snakemake.params.tracking, parent, name, config, speaker):
    result = train_model(
        config,
        spec,
        train,
        val,
        snakemake.threads,
        tracking.epoch_callbacks(config),
        augmented=read_augmented_features(snakemake.input.augmented),
        learning_curve=False,
    )
    metrics = write_evaluation(
        split_paths(snakemake.output, "test"),
        test.file_name,
        test.digit,
        test.speaker,
        result.classifier.predict_proba_frame(test),
    )
    tracking.log_loso_fold(result, metrics)
