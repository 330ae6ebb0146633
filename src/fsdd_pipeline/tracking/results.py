"""Evaluation results into MLflow: a model's split metrics and robustness into its training
run, and the leave-one-speaker-out parent run with a child run per fold."""

import contextlib

from fsdd_pipeline.tracking.runs import _job_run, flatten_params, run_tags
from fsdd_pipeline.tracking.store import PER_EPOCH_VAL_ACCURACY, _mlflow, use_store

SCALAR_METRICS = (
    "accuracy",
    "precision_macro",
    "recall_macro",
    "f1_macro",
    "precision_weighted",
    "recall_weighted",
    "f1_weighted",
    "roc_auc_macro",
    "roc_auc_micro",
)


def split_metrics(split, metrics):
    """The scalar metrics of one evaluated split, as MLflow metrics prefixed with the split."""
    return {f"{split}_{k}": metrics[k] for k in SCALAR_METRICS if metrics.get(k) is not None}


def log_evaluation(tracking, run_id, metrics_by_split, paths_by_split):
    """Log split-prefixed metrics and every evaluation file into the model's training run.

    Reopening the training run (rather than starting a new one) keeps a model's whole
    story in one run, and rerunning the evaluation updates it instead of adding orphans.
    """
    mlflow = use_store(tracking)
    with mlflow.start_run(run_id=run_id):
        for split, metrics in metrics_by_split.items():
            scalars = split_metrics(split, metrics)
            # The per-epoch series already holds this value at the restored (best) epoch.
            scalars.pop(PER_EPOCH_VAL_ACCURACY, None)
            scalars |= {
                f"{split}_accuracy_{speaker}": value
                for speaker, value in metrics["accuracy_per_speaker"].items()
            }
            mlflow.log_metrics(scalars)
            for path in paths_by_split[split].values():
                mlflow.log_artifact(str(path), artifact_path="evaluation")


def log_robustness(tracking, run_id, table, table_path):
    """Log the accuracy under each robustness transform into the model's training run."""
    mlflow = use_store(tracking)
    with mlflow.start_run(run_id=run_id):
        mlflow.log_metrics(
            {f"robust_{r.transform}_accuracy": r.accuracy for r in table.itertuples()}
        )
        mlflow.log_artifact(str(table_path), artifact_path="evaluation")


def start_loso_parent(tracking, name, config, feature_params, dataset_path):
    """Create the (finished) parent run of one model's leave-one-speaker-out evaluation;
    its folds nest under it. Returns its run id."""
    mlflow = use_store(tracking)
    tags = run_tags(name, config, "loso", dataset_path, evaluation="leave-one-speaker-out")
    with _job_run(tracking, f"{name}-loso", tags) as run:
        mlflow.log_params(flatten_params({"model": config, "features": feature_params}))
    return run.info.run_id


@contextlib.contextmanager
def loso_fold_run(tracking, parent_run_id, name, config, speaker):
    """The child run of one LOSO fold. The parentRunId tag (rather than start_run's
    parent_run_id, which needs an active parent) nests it under the finished parent."""
    mlflow = use_store(tracking)
    tags = run_tags(
        name, config, "loso", held_out_speaker=speaker, **{"mlflow.parentRunId": parent_run_id}
    )
    with _job_run(tracking, f"{name}-loso-{speaker}", tags) as run:
        mlflow.log_params(flatten_params({"model": config, "held_out_speaker": speaker}))
        yield run


def log_loso_fold(result, metrics, files):
    """The held-out speaker's test metrics and evaluation ``files``, and the fold's
    training cost, in the fold's run."""
    mlflow = _mlflow()
    mlflow.log_metrics(
        split_metrics("test", metrics)
        | {"training_time_s": result.training_time_s, "epochs": len(result.history)}
    )
    for path in files:
        mlflow.log_artifact(str(path), artifact_path="evaluation")


def log_loso_summary(tracking, parent_run_id, summary, per_speaker, files):
    """Mean, spread, worst fold and per-speaker accuracy of the folds, in the parent run."""
    mlflow = use_store(tracking)
    with mlflow.start_run(run_id=parent_run_id):
        mlflow.log_metrics(
            {
                "loso_mean_accuracy": summary["mean_accuracy"],
                "loso_std_accuracy": summary["std_accuracy"],
                "loso_min_accuracy": summary["min_accuracy"],
            }
            | {f"loso_accuracy_{r.speaker}": r.accuracy for r in per_speaker.itertuples()}
        )
        for path in files:
            mlflow.log_artifact(str(path), artifact_path="loso")


def log_strings(tracking, run_id, table, files):
    """Log the digit-string scores (evaluation x pause bucket) into the model's training run."""
    mlflow = use_store(tracking)
    with mlflow.start_run(run_id=run_id):
        metrics = {}
        for row in table.itertuples():
            bucket = row.bucket.replace("-", "_").replace(".", "").removesuffix("s")
            prefix = f"strings_{row.evaluation}_{bucket}"
            metrics[f"{prefix}_string_accuracy"] = row.string_accuracy
            metrics[f"{prefix}_digit_error_rate"] = row.digit_error_rate
        mlflow.log_metrics(metrics)
        for path in files:
            mlflow.log_artifact(str(path), artifact_path="strings")
