"""The MLflow tracking store and its experiment: where runs go, created once before any
parallel writer. Importing this module does not import MLflow."""

import json
import logging
import os
from pathlib import Path

from fsdd_pipeline.locks import exclusive_lock
from fsdd_pipeline.planning.tracking_uri import SQLITE_PREFIX, sqlite_file
from fsdd_pipeline.tracking.relocation import ARTIFACTS_DIR_NAME, relocate_store

log = logging.getLogger(__name__)

CHAMPION_ALIAS = "champion"
# The registry name when no project config names one (the config schema's default; a test
# keeps the two equal).
DEFAULT_REGISTERED_MODEL = "fsdd-digit-classifier"
# The metric the comparison ranks models by (held by each model's LOSO parent run).
RANKING_METRIC = "loso_mean_accuracy"
# A view of the runs table the UI loads by this key (?viewStateShareKey=): ranked by
# RANKING_METRIC, with the metrics that rank the models as columns (MLflow's default shows no
# metric). Read by MLflow 3.17's UI from the experiment tag mlflow.sharedViewState.<key>.
RANKING_VIEW_KEY = "fsdd-ranking"
RANKING_VIEW = {
    "orderByKey": f"metrics.`{RANKING_METRIC}`",
    "orderByAsc": False,
    "selectedColumns": [
        f"metrics.`{RANKING_METRIC}`",
        "metrics.`loso_min_accuracy`",
        "metrics.`test_accuracy`",
        "metrics.`test_f1_macro`",
        "attributes.`Models`",
    ],
}
# The experiment's kind, description (the UI's description field) and ranked view, set on
# every opening. MLflow 3.17's UI opens on its GenAI overview whatever the kind: fsdd-ui
# opens the runs.
EXPERIMENT_TAGS = {
    f"mlflow.sharedViewState.{RANKING_VIEW_KEY}": json.dumps(RANKING_VIEW),
    "mlflow.experimentKind": "custom_model_development",
    "mlflow.note.content": (
        "Spoken-digit recognition on the Free Spoken Digit Dataset (fsdd-pipeline). One run "
        "per model's training, holding its parameters, per-epoch metrics, official-split "
        "evaluation (test_accuracy) and robustness metrics; one per model's "
        "leave-one-speaker-out evaluation (loso_mean_accuracy, which ranks the models), its "
        "folds nested under it. The best model is the registered model's version with the "
        "alias 'champion'; results/comparison/comparison.md explains the choice. Open with "
        "`fsdd-ui` to see the runs ranked."
    ),
}
# 'val_accuracy' is the per-epoch series of training; the evaluation must not append to it.
PER_EPOCH_VAL_ACCURACY = "val_accuracy"


def _mlflow():
    os.environ.setdefault("MLFLOW_ENABLE_ASYNC_LOGGING", "false")
    import mlflow

    return mlflow


def project_tracking(project_dir):
    """``tracking.uri``, ``tracking.registered_model`` and ``tracking.experiment`` of a
    project's config/config.yaml (a relative SQLite path resolved against the project); None
    values without a config."""
    import yaml

    path = Path(project_dir) / "config" / "config.yaml"
    if not path.is_file():
        return {"uri": None, "registered_model": None, "experiment": None}
    tracking = yaml.safe_load(path.read_text())["tracking"]
    uri, database = tracking["uri"], sqlite_file(tracking["uri"])
    if database is not None and not database.is_absolute():
        uri = f"{SQLITE_PREFIX}{(Path(project_dir) / database).resolve()}"
    return {
        "uri": uri,
        "registered_model": tracking["registered_model"],
        "experiment": tracking["experiment"],
    }


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
    for key, value in EXPERIMENT_TAGS.items():
        client.set_experiment_tag(experiment_id, key, value)
    log.info("tracking store %s, experiment %s (id %s)", uri, experiment, experiment_id)
    return {"tracking_uri": uri, "experiment": experiment, "experiment_id": experiment_id}


# (uri, experiment) of the SQLite stores use_store has made ready in this process.
_stores_ready = set()


def use_store(tracking):
    """Point MLflow at the configured store and experiment; returns the mlflow module.

    A SQLite store is created (tables and experiment) under a lock if it is missing, so no
    path, however started, writes to an uninitialized store or races another on creating it;
    an existing one that was moved with its project first follows it (tracking.relocation).
    """
    mlflow = _mlflow()
    database = sqlite_file(tracking["uri"])
    # Checked once per process and store: a job that logs twice pays for it once (~0.5 s).
    key = (tracking["uri"], tracking["experiment"])
    if database is not None and (key not in _stores_ready or not database.is_file()):
        # The first creation of a SQLite store is not safe in parallel.
        with exclusive_lock(f"{database}.lock"):
            if database.is_file():
                relocate_store(database)
            init_tracking(tracking["uri"], tracking["experiment"])
        _stores_ready.add(key)
    mlflow.set_tracking_uri(tracking["uri"])
    mlflow.set_experiment(tracking["experiment"])
    return mlflow
