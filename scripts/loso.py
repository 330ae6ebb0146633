"""Leave-one-speaker-out evaluation of one model: a fold per speaker (trained on the
others, tested on every clip of that speaker), each tracked as a child run of the model's
LOSO parent run; then per-speaker accuracy, mean ± sd and the summed confusion matrix,
logged into the parent run, and the fold models (for the digit-string evaluation)."""

import pandas as pd

from fsdd_pipeline.augment.augmented_features import read_augmented_features
from fsdd_pipeline.data.dataset import read_dataset, read_training_voices
from fsdd_pipeline.evaluation.loso import run_folds, save_fold_classifiers, summarize_folds
from fsdd_pipeline.evaluation.metrics import plot_confusion_matrix
from fsdd_pipeline.features.spectral import FeatureParams
from fsdd_pipeline.io import save_figure, write_csv, write_json, write_text
from fsdd_pipeline.labels import LABELS
from fsdd_pipeline.models.inputs import InputSpec
from fsdd_pipeline.tracking.results import log_loso_summary, start_loso_parent
from fsdd_pipeline.workflow_logging import configure_logging, mock_snakemake

if "snakemake" not in globals():
    snakemake = mock_snakemake("loso", model="emb_logreg")
configure_logging(snakemake)
name, config, out = snakemake.wildcards.model, snakemake.params.model, snakemake.output
settings = snakemake.params.tracking
feature_params = FeatureParams.from_dict(snakemake.params.features)
spec = InputSpec.from_model_config(config, snakemake.params.training["frames"], feature_params)

parent = start_loso_parent(
    settings, name, config, snakemake.params.features, snakemake.input.dataset
)
fold_metrics, predictions, classifiers = run_folds(
    name,
    config,
    spec,
    read_dataset(snakemake.input.dataset),
    settings,
    parent,
    threads=snakemake.threads,
    augmented=read_augmented_features(snakemake.input.augmented),
    training_voices=read_training_voices(snakemake.input.training_voices),
)
per_speaker, summary, confusion = summarize_folds(fold_metrics)
write_csv(predictions, out.predictions)
save_fold_classifiers(classifiers, out.fold_models)
write_json(fold_metrics, out.folds)
write_csv(per_speaker, out.per_speaker)
write_json(summary | {"model": name}, out.summary)
confusion_frame = pd.DataFrame(confusion, index=LABELS, columns=LABELS)
write_csv(confusion_frame.rename_axis("true_digit").reset_index(), out.confusion)
save_figure(plot_confusion_matrix(confusion), out.confusion_png)
files = (out.predictions, out.folds, out.per_speaker, out.summary, out.confusion)
log_loso_summary(settings, parent, summary, per_speaker, (*files, out.confusion_png))
write_text(parent + "\n", out.run_id)
