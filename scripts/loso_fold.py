"""Train a model on five speakers and test it on all clips of the sixth (one LOSO fold),
tracked as a child run of the model's LOSO parent run."""

from pathlib import Path

from fsdd_pipeline.dataset import read_dataset
from fsdd_pipeline.evaluation import write_evaluation
from fsdd_pipeline.features import FeatureParams
from fsdd_pipeline.loso import fold_splits
from fsdd_pipeline.model_inputs import InputSpec
from fsdd_pipeline.models import KERAS_TYPES
from fsdd_pipeline.tracking import (
    child_run,
    epoch_logger,
    flatten_params,
    read_run_id,
    split_metrics,
    use_store,
)
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
feature_params = FeatureParams(**snakemake.params.features)
spec = InputSpec.from_model_config(config, snakemake.params.training["frames"], feature_params)
train, val, test = fold_splits(read_dataset(snakemake.input.dataset), speaker)

mlflow = use_store(snakemake.params.tracking)
parent = read_run_id(snakemake.input.parent_run_id)
tags = {"model": name, "model_type": config["type"], "held_out_speaker": speaker}
with child_run(mlflow, parent, f"{name}-loso-{speaker}", tags):
    mlflow.log_params(flatten_params({"model": config, "held_out_speaker": speaker}))
    callbacks = [epoch_logger()] if config["type"] in KERAS_TYPES else []
    result = train_model(config, spec, train, val, snakemake.threads, callbacks)
    proba = result.classifier.predict_proba_frame(test)
    metrics = write_evaluation(
        Path(snakemake.output.metrics).parent,
        "test",
        test.file_name,
        test.digit,
        test.speaker,
        proba,
    )
    mlflow.log_metrics(
        split_metrics("test", metrics)
        | {"training_time_s": result.training_time_s, "epochs": len(result.history)}
    )
