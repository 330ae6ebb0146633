"""Train one configured model, save it with its history, curves and summary, and track
the run (parameters, per-epoch metrics, dataset, curves, model) in MLflow."""

import logging
import shutil
import tempfile
from pathlib import Path

from fsdd_pipeline.dataset import dataset_digest, read_dataset
from fsdd_pipeline.features import FeatureParams
from fsdd_pipeline.io import save_figure, write_csv, write_json, write_text
from fsdd_pipeline.model_inputs import InputSpec, inputs_from_frame
from fsdd_pipeline.models import KERAS_TYPES
from fsdd_pipeline.serving import log_audio_model
from fsdd_pipeline.tracking import (
    epoch_logger,
    flatten_params,
    git_commit,
    job_tags,
    log_dataset_input,
    log_flavor_model,
    use_store,
)
from fsdd_pipeline.training import plot_training_curves, train_model
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("train_keras_model", model="cnn")
configure_logging(snakemake)
name, config = snakemake.wildcards.model, snakemake.params.model
out = snakemake.output
model_dir = Path(out.model).parent
feature_params = FeatureParams(**snakemake.params.features)
spec = InputSpec.from_model_config(config, snakemake.params.training["frames"], feature_params)

dataset = read_dataset(snakemake.input.dataset)
train, val = (dataset[dataset.split == s].reset_index(drop=True) for s in ("train", "val"))
digest = dataset_digest(snakemake.input.dataset)
is_keras = config["type"] in KERAS_TYPES

mlflow = use_store(snakemake.params.tracking)
with mlflow.start_run(run_name=name) as run:
    mlflow.set_tags(
        {
            "model": name,
            "model_type": config["type"],
            "git_commit": git_commit(),
            "dataset_digest": digest,
            **job_tags(),
        }
    )
    mlflow.log_params(
        flatten_params(
            {
                "model": config,
                "features": feature_params.as_dict(),
                "training": snakemake.params.training,
            }
        )
    )
    log_dataset_input(mlflow, dataset, snakemake.input.dataset, digest)
    result = train_model(
        config, spec, train, val, snakemake.threads, [epoch_logger()] if is_keras else []
    )
    if not is_keras:
        mlflow.log_metrics(result.history.iloc[-1].drop("epoch").to_dict(), step=1)
    logging.info(
        "%s trained in %.1f s (%d parameters)", name, result.training_time_s, result.params
    )

    result.classifier.save(model_dir)
    write_csv(result.history, out.history)
    save_figure(plot_training_curves(result, name), out.curves)
    write_text(result.summary, out.summary)
    example_x, _ = inputs_from_frame(val.head(2), spec)
    log_flavor_model(mlflow, result.classifier, example_x, model_dir)
    with tempfile.TemporaryDirectory() as bundle:
        for path in (model_dir / Path(out.model).name, model_dir / "input_spec.json"):
            shutil.copy2(path, bundle)
        audio_model = log_audio_model(bundle)
    info = {
        "model": name,
        "type": config["type"],
        "params": result.params,
        "training_time_s": round(result.training_time_s, 2),
        "epochs": len(result.history),
        "run_id": run.info.run_id,
        "audio_model_uri": audio_model.model_uri,
    }
    write_json(info, out.info)
    mlflow.log_metrics({"training_time_s": result.training_time_s, "params": result.params})
    for path in (out.history, out.curves, out.summary, out.info):
        mlflow.log_artifact(path, artifact_path="training")
    write_text(run.info.run_id + "\n", out.run_id)
