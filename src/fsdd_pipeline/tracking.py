"""Everything the workflow logs to MLflow, one function per story: the store and its
experiment, a model's training run, its evaluation and robustness, the leave-one-speaker-out
runs and the registered champion. Scripts call these; none opens a run itself."""

import contextlib
import logging
import os
import subprocess
from pathlib import Path

from .locks import exclusive_lock

log = logging.getLogger(__name__)

CHAMPION_ALIAS = "champion"
# The registry name when no project config names one (the config schema's default; a test
# keeps the two equal).
DEFAULT_REGISTERED_MODEL = "fsdd-digit-classifier"
# MLflow 3's UI opens an experiment of this kind on its training runs (not the GenAI view).
EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}
# Artifacts of a SQLite store go beside it (under results/), not into ./mlruns.
ARTIFACTS_DIR_NAME = "artifacts"
SQLITE_PREFIX = "sqlite:///"
# 'val_accuracy' is the per-epoch series of training; the evaluation must not append to it.
PER_EPOCH_VAL_ACCURACY = "val_accuracy"


def _mlflow():
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    import mlflow

    return mlflow


def sqlite_file(uri):
    """The database file of a sqlite:/// URI (relative to the current folder), else None."""
    return Path(uri[len(SQLITE_PREFIX) :]) if uri.startswith(SQLITE_PREFIX) else None


def project_tracking(project_dir):
    """``tracking.uri`` and ``tracking.registered_model`` of a project's config/config.yaml
    (a relative SQLite path resolved against the project); None values without a config."""
    import yaml

    path = Path(project_dir) / "config" / "config.yaml"
    if not path.is_file():
        return {"uri": None, "registered_model": None}
    tracking = yaml.safe_load(path.read_text())["tracking"]
    uri, database = tracking["uri"], sqlite_file(tracking["uri"])
    if database is not None and not database.is_absolute():
        uri = f"{SQLITE_PREFIX}{(Path(project_dir) / database).resolve()}"
    return {"uri": uri, "registered_model": tracking["registered_model"]}


def init_tracking(uri, experiment):
    """Create the tracking store and experiment once, before any parallel writer.

    Several processes opening a fresh SQLite store together race on creating its
    tables; after this has run, they only add rows. On a shared tracking server another
    workflow may create the experiment at the same moment: set_experiment takes either.
    """
    mlflow = _mlflow()
    mlflow.set_tracking_uri(uri)
    found = mlflow.get_experiment_by_name(experiment)
    if found:
        experiment_id = found.experiment_id
    else:
        database = sqlite_file(uri)
        location = None
        if database is not None:
            location = (database.resolve().parent / ARTIFACTS_DIR_NAME).as_uri()
        try:
            experiment_id = mlflow.create_experiment(experiment, artifact_location=location)
        except mlflow.exceptions.MlflowException:
            # Another workflow on the same server created it a moment ago.
            experiment_id = mlflow.get_experiment_by_name(experiment).experiment_id
    client = mlflow.MlflowClient()
    for key, value in EXPERIMENT_KIND.items():
        client.set_experiment_tag(experiment_id, key, value)
    log.info("tracking store %s, experiment %s (id %s)", uri, experiment, experiment_id)
    return {"tracking_uri": uri, "experiment": experiment, "experiment_id": experiment_id}


def use_store(tracking):
    """Point MLflow at the configured store and experiment; returns the mlflow module.

    A SQLite store is created (tables and experiment) under a lock if it is missing, so no
    path, however started, writes to an uninitialized store or races another on creating it.
    """
    mlflow = _mlflow()
    database = sqlite_file(tracking["uri"])
    if database is not None:
        # The first creation of a SQLite store is not safe in parallel.
        with exclusive_lock(f"{database}.lock"):
            init_tracking(tracking["uri"], tracking["experiment"])
    mlflow.set_tracking_uri(tracking["uri"])
    mlflow.set_experiment(tracking["experiment"])
    return mlflow


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
    "onnxruntime",
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


def run_tags(name, config, rule, dataset_path=None, **extra):
    """Tags of every run: which model, the code (commit, and the Snakemake rule and script
    as the run's source, not Snakemake's temporary copy of the script), the dataset."""
    tags = {
        "model": name,
        "model_type": config["type"],
        "git_commit": git_commit(),
        "mlflow.source.name": f"scripts/{rule}.py (snakemake rule {rule})",
        "mlflow.source.type": "JOB",
        "workdir": str(Path.cwd()),
        **library_versions(),
        **job_tags(),
        **extra,
    }
    if dataset_path is not None:
        from .dataset import dataset_digest

        tags["dataset_digest"] = dataset_digest(dataset_path)
    return tags


def epoch_callbacks(config):
    """Keras callbacks that log every epoch to the active run (none for scikit-learn)."""
    from .models import KERAS_TYPES

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


def log_trained_model(result, model_dir, example_x, files):
    """Log a trained model into the active run: its final figures, the model in its own
    flavor, the raw-audio model, and the training ``files``; returns the raw-audio model's
    URI (what the registry registers)."""
    from .serving import log_audio_model

    mlflow = _mlflow()
    if result.learning_curve is not None:  # scikit-learn: one "epoch", logged once
        mlflow.log_metrics(result.history.iloc[-1].drop("epoch").to_dict(), step=1)
    mlflow.log_metrics({"training_time_s": result.training_time_s, "params": result.params})
    _log_flavor_model(mlflow, result.classifier, example_x, model_dir)
    audio_model = log_audio_model(model_dir)
    for path in files:
        mlflow.log_artifact(str(path), artifact_path="training")
    return audio_model.model_uri


def log_training_file(path):
    """Add one more file (written after the model was logged) to the active run."""
    _mlflow().log_artifact(str(path), artifact_path="training")


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


def _log_flavor_model(mlflow, classifier, example_x, model_dir):
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

        from .serving import package_source

        own_types = _package_types(classifier.estimator)
        if not own_types:
            mlflow.sklearn.log_model(classifier.estimator, **options)
            return
        # The package's own estimators (frame_logreg, speed views): skops loads only the
        # types it is told to trust, and the flavor needs the package's source where it is
        # loaded.
        with package_source() as code:
            mlflow.sklearn.log_model(
                classifier.estimator,
                skops_trusted_types=own_types,
                code_paths=[str(code)],
                **options,
            )


def _package_types(estimator):
    """Full names of the fsdd_pipeline classes in a scikit-learn estimator and the
    estimators nested in its parameters, sorted."""
    estimators = [estimator, *estimator.get_params(deep=True).values()]
    names = {f"{type(e).__module__}.{type(e).__qualname__}" for e in estimators}
    return sorted(name for name in names if name.startswith("fsdd_pipeline."))


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


def register_champion(tracking, model_name, run_id, model_uri, reason):
    """Register the run's raw-audio model (once per run) and point 'champion' at it;
    ``reason`` (why it won) becomes the version's description."""
    mlflow = use_store(tracking)
    registered_name = tracking["registered_model"]
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
            model_uri,
            registered_name,
            tags={"model": model_name, "run_id": run_id, "dataset_digest": digest},
        )
    client.set_registered_model_alias(registered_name, CHAMPION_ALIAS, version.version)
    client.update_model_version(
        registered_name,
        version.version,
        description=f"{model_name}: {reason}; run {run_id}, dataset {digest}",
    )
    return {
        "registered_model": registered_name,
        "alias": CHAMPION_ALIAS,
        "version": int(version.version),
        "model": model_name,
        "run_id": run_id,
        "dataset_digest": digest,
        "reason": reason,
    }
