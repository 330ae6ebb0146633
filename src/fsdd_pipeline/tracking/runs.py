"""One MLflow run per workflow job: a rerun replaces the job's earlier run, every run
records what decides its numbers (library versions, data digests, the git commit, SLURM job),
and a model's training run holds its parameters, dataset input and per-epoch metrics."""

import contextlib
import logging
import os
import subprocess
from pathlib import Path

from fsdd_pipeline.tracking.store import _mlflow, use_store

log = logging.getLogger(__name__)

# Libraries whose versions decide a trained model's numbers, recorded in every run.
RECORDED_VERSIONS = (
    "numpy",
    "scipy",
    "pandas",
    "scikit-learn",
    "tensorflow-cpu",
    "tensorflow",
    "keras",
    "librosa",
    "soxr",
    "soundfile",
    "onnxruntime",
    "onnx",
    "openwakeword",
    "espeakng-loader",  # the training voices' synthesizer (voices.espeak_library)
    "mlflow",
)


def library_versions():
    """{"versions.<package>": version} of the installed libraries that decide the numbers."""
    import importlib.metadata
    import platform

    versions = {"versions.python": platform.python_version()}
    for package in RECORDED_VERSIONS:
        with contextlib.suppress(importlib.metadata.PackageNotFoundError):
            versions[f"versions.{package}"] = importlib.metadata.version(package)
    return versions


def rows_digest(frame):
    """Digest of the order of a frame's recordings: training data that differs only in row
    order can train a different model, so a run records which order it saw."""
    import hashlib

    return hashlib.sha256("\n".join(frame["file_name"]).encode()).hexdigest()[:16]


def _same_job_filter(tags):
    """Search filter for earlier runs of the same job: model, rule, project folder (and
    held-out speaker), so that neither another project on a shared server nor another
    fold is touched."""
    keys = ("model", "mlflow.source.name", "workdir", "held_out_speaker")
    return " and ".join(f"tags.`{k}` = '{tags[k]}'" for k in keys if k in tags)


def _close_abandoned_runs(client, experiment_id, tags):
    """Mark runs of the same job still RUNNING (their process was killed) as KILLED."""
    query = f"{_same_job_filter(tags)} and attributes.status = 'RUNNING'"
    for run in client.search_runs([experiment_id], query):
        log.warning("marking abandoned run %s of %s as KILLED", run.info.run_id, tags["model"])
        client.set_terminated(run.info.run_id, "KILLED")


def _supersede_earlier_runs(client, experiment_id, tags, run_id):
    """Delete (MLflow's soft delete) earlier FINISHED or KILLED runs of the same job, and
    their child runs: one run per model output, the one its files came from."""
    query = f"{_same_job_filter(tags)} and attributes.status != 'RUNNING'"
    for run in client.search_runs([experiment_id], query):
        if run.info.run_id == run_id:
            continue
        children = client.search_runs(
            [experiment_id], f"tags.`mlflow.parentRunId` = '{run.info.run_id}'"
        )
        for old in [*children, run]:
            client.set_tag(old.info.run_id, "superseded_by", run_id)
            client.delete_run(old.info.run_id)


@contextlib.contextmanager
def _job_run(tracking, run_name, tags):
    """A run of one workflow job: abandoned runs of the same job are closed first, and
    once this one finished, earlier ones are superseded by it."""
    mlflow = use_store(tracking)
    client = mlflow.MlflowClient()
    experiment_id = mlflow.get_experiment_by_name(tracking["experiment"]).experiment_id
    _close_abandoned_runs(client, experiment_id, tags)
    with mlflow.start_run(run_name=run_name, tags=tags) as run:
        yield run
    _supersede_earlier_runs(client, experiment_id, tags, run.info.run_id)


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


def embedding_model_tags(model_config):
    """{"embedding_model_sha256.<file>": digest} of the speech embedding's two model files
    when the model reads the embedding ({} otherwise: they are hashed only then, once per
    process)."""
    if "embedding" not in model_config.get("features", ()):
        return {}
    from fsdd_pipeline.features.embedding import model_sha256

    return {f"embedding_model_sha256.{name}": digest for name, digest in model_sha256().items()}


def run_tags(name, config, rule, dataset_path=None, **extra):
    """Tags of every run: which model, the code (commit, and the Snakemake rule and script
    as the run's source, not Snakemake's temporary copy of the script), the libraries and,
    for a model that reads it, the embedding model's files, the dataset."""
    tags = {
        "model": name,
        "model_type": config["type"],
        "git_commit": git_commit(),
        "mlflow.source.name": f"scripts/{rule}.py (snakemake rule {rule})",
        "mlflow.source.type": "JOB",
        "workdir": str(Path.cwd()),
        **library_versions(),
        **embedding_model_tags(config),
        **job_tags(),
        **extra,
    }
    if dataset_path is not None:
        from fsdd_pipeline.io import file_digest

        tags["dataset_digest"] = file_digest(dataset_path)
    return tags


def epoch_callbacks(config):
    """Keras callbacks that log every epoch to the active run (none for scikit-learn)."""
    from fsdd_pipeline.planning.model_types import KERAS_TYPES

    return [_epoch_logger()] if config["type"] in KERAS_TYPES else []


def _epoch_logger():
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


def _log_dataset_input(mlflow, dataset, dataset_path, digest):
    """Log the combined dataset (its metadata columns) as the run's input."""
    columns = ["file_name", "digit", "speaker", "sample_number", "split"]
    data = mlflow.data.from_pandas(
        dataset[columns],
        source=str(Path(dataset_path).resolve()),
        targets="digit",
        name="fsdd-features",
        digest=digest,
    )
    try:
        mlflow.log_input(data, context="training")
    except mlflow.exceptions.MlflowException as error:
        # Parallel trainings add the same dataset to the experiment at once; the loser of
        # that race finds it there on a second try and links its run to it.
        if "UNIQUE" not in str(error) and "duplicate" not in str(error).lower():
            raise
        mlflow.log_input(data, context="training")


@contextlib.contextmanager
def training_run(tracking, name, config, params, dataset, dataset_path, rule="train_model"):
    """The MLflow run of one model's training, with its tags, parameters and dataset input;
    yields the run. Train inside it so that epoch_callbacks() log into it."""
    mlflow = use_store(tracking)
    train_rows = dataset[dataset["split"] == "train"]
    tags = run_tags(name, config, rule, dataset_path, train_rows_digest=rows_digest(train_rows))
    with _job_run(tracking, name, tags) as run:
        mlflow.log_params(flatten_params(params))
        _log_dataset_input(mlflow, dataset, dataset_path, tags["dataset_digest"])
        yield run
