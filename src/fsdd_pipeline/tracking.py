"""MLflow tracking: one store and experiment made once, one run per trained model."""

import logging
import os
import subprocess
from pathlib import Path

log = logging.getLogger(__name__)

RUN_ID_FILE = "mlflow_run_id.txt"


def _mlflow():
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    import mlflow

    return mlflow


def init_tracking(uri, experiment):
    """Create the tracking store and experiment once, before any parallel writer.

    Several processes opening a fresh SQLite store together race on creating its
    tables; after this has run, they only add rows. On a shared tracking server another
    workflow may create the experiment at the same moment: set_experiment takes either.
    """
    mlflow = _mlflow()
    mlflow.set_tracking_uri(uri)
    experiment_id = mlflow.set_experiment(experiment).experiment_id
    log.info("tracking store %s, experiment %s (id %s)", uri, experiment, experiment_id)
    return {"tracking_uri": uri, "experiment": experiment, "experiment_id": experiment_id}


def use_store(tracking):
    """Point MLflow at the configured store and experiment; returns the mlflow module."""
    mlflow = _mlflow()
    mlflow.set_tracking_uri(tracking["uri"])
    mlflow.set_experiment(tracking["experiment"])
    return mlflow


# Where a run was computed when the workflow runs on SLURM (tag name: environment variable).
SLURM_TAGS = {
    "slurm_job_id": "SLURM_JOB_ID",
    "slurm_cluster": "SLURM_CLUSTER_NAME",
    "slurm_node": "SLURMD_NODENAME",
}


def job_tags():
    """Tags naming the SLURM job (id, cluster, node) this process runs in; {} outside SLURM."""
    return {tag: os.environ[name] for tag, name in SLURM_TAGS.items() if os.environ.get(name)}


def git_commit():
    """The project's current git commit, or 'unknown' outside a git checkout."""
    try:
        return subprocess.run(
            ["git", "rev-parse", "HEAD"],
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).parent,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def flatten_params(params, prefix=""):
    """Nested config dicts as flat 'a.b' keys, the form MLflow params take."""
    flat = {}
    for key, value in params.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(flatten_params(value, f"{name}."))
        else:
            flat[name] = value if not isinstance(value, list | tuple) else ",".join(map(str, value))
    return flat


def epoch_logger():
    """A Keras callback that logs every epoch's metrics to the active MLflow run and the log."""
    import keras

    mlflow = _mlflow()

    class MlflowEpochLogger(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            metrics = {k: float(v) for k, v in (logs or {}).items()}
            mlflow.log_metrics(metrics, step=epoch + 1)
            # Keras prints its progress to stdout; this puts it in the rule's log too.
            log.info(
                "epoch %d: %s", epoch + 1, ", ".join(f"{k} {v:.4f}" for k, v in metrics.items())
            )

    return MlflowEpochLogger()


def log_dataset_input(mlflow, dataset, dataset_path, digest):
    """Log the combined dataset (its metadata columns) as the run's input."""
    columns = ["file_name", "digit", "speaker", "sample_number", "split"]
    data = mlflow.data.from_pandas(
        dataset[columns],
        source=str(Path(dataset_path).resolve()),
        targets="digit",
        name="fsdd-features",
        digest=digest,
    )
    mlflow.log_input(data, context="training")


def read_run_id(path):
    return Path(path).read_text().strip()


def _create_keras_model_dir_first(keras_flavor):
    """mlflow 3.17's keras flavor writes the input example before it creates the model
    folder, so log_model with an input example fails; create the folder first."""
    save_model = keras_flavor.save_model
    if getattr(save_model, "creates_dir_first", False):
        return

    def save_model_into_new_dir(model, path, *args, **kwargs):
        os.makedirs(path, exist_ok=True)
        return save_model(model, path, *args, **kwargs)

    save_model_into_new_dir.creates_dir_first = True
    keras_flavor.save_model = save_model_into_new_dir


def log_flavor_model(mlflow, classifier, example_x, model_dir):
    """Log the classifier in its own flavor (keras or sklearn) with signature and example.

    The requirements are given, not inferred: inferring them loads the model again in a
    subprocess, which costs more than the training of a small model.
    """
    from mlflow.models import infer_signature

    from .serving import pip_requirements

    signature = infer_signature(example_x, classifier.predict_proba(example_x))
    options = {
        "name": "model",
        "signature": signature,
        "input_example": example_x,
        "pip_requirements": pip_requirements(model_dir),
    }
    if classifier.is_keras:
        import mlflow.keras

        _create_keras_model_dir_first(mlflow.keras)
        mlflow.keras.log_model(classifier.estimator, **options)
    else:
        import mlflow.sklearn

        mlflow.sklearn.log_model(classifier.estimator, **options)


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


def log_evaluation(mlflow, run_id, metrics_by_split, evaluation_dir):
    """Log split-prefixed metrics and every evaluation file into an existing run.

    Reopening the training run (rather than starting a new one) keeps a model's whole
    story in one run, and rerunning the evaluation updates it instead of adding orphans.
    """
    with mlflow.start_run(run_id=run_id):
        for split, metrics in metrics_by_split.items():
            scalars = split_metrics(split, metrics)
            # 'val_accuracy' is the per-epoch series of training: adding the evaluation's
            # value to it would append a point to that curve. The series already holds
            # it at the restored (best) epoch.
            scalars.pop(PER_EPOCH_VAL_ACCURACY, None)
            scalars |= {
                f"{split}_accuracy_{speaker}": value
                for speaker, value in metrics["accuracy_per_speaker"].items()
            }
            mlflow.log_metrics(scalars)
        mlflow.log_artifacts(str(evaluation_dir), artifact_path="evaluation")


CHAMPION_ALIAS = "champion"
PER_EPOCH_VAL_ACCURACY = "val_accuracy"


def register_champion(mlflow, registered_name, model_name, run_id, model_uri=None):
    """Register the run's raw-audio model (once per run) and point 'champion' at it.

    ``model_uri`` is the logged model's own URI (models:/m-...); runs:/<id>/audio_model
    is the fallback for runs that did not record it.
    """
    client = mlflow.MlflowClient()
    run = client.get_run(run_id)
    digest = run.data.tags.get("dataset_digest", "unknown")
    existing = [
        v for v in client.search_model_versions(f"name='{registered_name}'") if v.run_id == run_id
    ]
    if existing:
        version = existing[0]
    else:
        version = mlflow.register_model(
            model_uri or f"runs:/{run_id}/audio_model",
            registered_name,
            tags={"model": model_name, "run_id": run_id, "dataset_digest": digest},
        )
    client.set_registered_model_alias(registered_name, CHAMPION_ALIAS, version.version)
    client.update_model_version(
        registered_name,
        version.version,
        description=f"{model_name}: best test macro F1; run {run_id}, dataset {digest}",
    )
    return {
        "registered_model": registered_name,
        "alias": CHAMPION_ALIAS,
        "version": int(version.version),
        "model": model_name,
        "run_id": run_id,
        "dataset_digest": digest,
    }


def start_parent_run(mlflow, run_name, tags, params):
    """Create a (finished) parent run that child runs point to with mlflow.parentRunId."""
    with mlflow.start_run(run_name=run_name, tags={**tags, **job_tags()}) as run:
        mlflow.log_params(flatten_params(params))
    return run.info.run_id


def child_run(mlflow, parent_run_id, run_name, tags):
    """Start a run nested under ``parent_run_id``. The parentRunId tag (rather than
    start_run's parent_run_id, which needs an active parent) lets folds in separate
    processes, started at any time, nest under the same parent."""
    return mlflow.start_run(
        run_name=run_name, tags={**tags, **job_tags(), "mlflow.parentRunId": parent_run_id}
    )
