"""Train one configured model, save it with its history, curves and summary, and track
the run (parameters, per-epoch metrics, dataset, curves, model) in MLflow."""

import logging

from fsdd_pipeline.augment.augmented_features import read_augmented_features
from fsdd_pipeline.data.dataset import read_dataset, read_training_voices
from fsdd_pipeline.features.spectral import FeatureParams
from fsdd_pipeline.io import save_figure, write_csv, write_json, write_text
from fsdd_pipeline.models.inputs import InputSpec, inputs_from_frame
from fsdd_pipeline.models.training import plot_training_curves, train_model
from fsdd_pipeline.strings.decode import copy_strings_model
from fsdd_pipeline.tracking.model_logging import log_trained_model, log_training_file
from fsdd_pipeline.tracking.runs import epoch_callbacks, training_run
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("train_model", model="cnn")
configure_logging(snakemake)
name, config, out = snakemake.wildcards.model, snakemake.params.model, snakemake.output
feature_params = FeatureParams.from_dict(snakemake.params.features)
spec = InputSpec.from_model_config(config, snakemake.params.training["frames"], feature_params)

dataset = read_dataset(snakemake.input.dataset)
train, val = (dataset[dataset.split == s].reset_index(drop=True) for s in ("train", "val"))
run_params = {"model": config, "features": feature_params.as_dict()} | {
    "training": snakemake.params.training
}
training_voices = read_training_voices(snakemake.input.training_voices)
if training_voices is not None:
    # What the model trained on besides the dataset (the voices' settings made this file).
    run_params["training_voices"] = {
        "clips": len(training_voices),
        "voices": training_voices["speaker"].nunique(),
    }

with training_run(
    snakemake.params.tracking, name, config, run_params, dataset, snakemake.input.dataset
) as run:
    result = train_model(
        config,
        spec,
        train,
        val,
        snakemake.threads,
        epoch_callbacks(config),
        augmented=read_augmented_features(snakemake.input.augmented),
        training_voices=training_voices,
    )
    logging.info(
        "%s trained in %.1f s (%d parameters)", name, result.training_time_s, result.params
    )
    result.classifier.save(out.model)
    # The digit-string segmenter goes with the model wherever it is served.
    copy_strings_model(snakemake.input.segmenter, out.model)
    write_csv(result.history, out.history)
    save_figure(plot_training_curves(result, name), out.curves)
    write_text(result.summary, out.summary)
    example_x, _ = inputs_from_frame(val.head(2), spec)
    audio_model_uri = log_trained_model(
        result, out.model, example_x, files=(out.history, out.curves, out.summary)
    )
    info = {
        "model": name,
        "type": config["type"],
        "params": result.params,
        "training_time_s": round(result.training_time_s, 2),
        "epochs": len(result.history),
        "run_id": run.info.run_id,
        "audio_model_uri": audio_model_uri,
    }
    write_json(info, out.info)
    log_training_file(out.info)
    write_text(run.info.run_id + "\n", out.run_id)
