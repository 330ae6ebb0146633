"""The model registry: the champion's raw-audio model registered once per run, under the
alias every user of the registry loads."""

import contextlib
from pathlib import Path

from fsdd_pipeline.planning.audio_formats import SUPPORTED_TEXT
from fsdd_pipeline.tracking.relocation import relocated
from fsdd_pipeline.tracking.store import CHAMPION_ALIAS, use_store

# The artifact of a raw-audio model (serving.pyfunc) that holds the trained model's folder.
MODEL_DIR_ARTIFACT = "model_dir"

REGISTERED_MODEL_DESCRIPTION = (
    "Spoken-digit recognizer of the fsdd-pipeline: takes raw audio (base64 bytes of a "
    f"{SUPPORTED_TEXT} file, or samples and their rate) and gives the digits said, in "
    "order, with each word's extent, and the single-digit answer with its ten "
    "probabilities. Load the best "
    "model with the alias 'champion' (models:/<name>@champion, or `fsdd-predict`); each "
    "version's description says why it won, and a version replaced as champion is tagged "
    "superseded_by_version."
)
SUPERSEDED_TAG = "superseded_by_version"


def _mark_superseded(client, registered_name, new_version, model_name):
    """Tag and describe the version the alias leaves, if another: superseded by which."""
    from mlflow.exceptions import MlflowException

    try:
        previous = client.get_model_version_by_alias(registered_name, CHAMPION_ALIAS)
    except MlflowException:  # no champion yet
        return
    if previous.version == new_version.version:
        return
    client.set_model_version_tag(
        registered_name, previous.version, SUPERSEDED_TAG, str(new_version.version)
    )
    client.update_model_version(
        registered_name,
        previous.version,
        description=(
            f"Superseded as champion by version {new_version.version} ({model_name}). "
            f"{previous.description or ''}"
        ).strip(),
    )


def register_champion(tracking, model_name, run_id, model_uri, reason):
    """Register the run's raw-audio model (once per run) and point 'champion' at it;
    ``reason`` (why it won) becomes the version's description, and the version the alias
    leaves is marked superseded."""
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
    _mark_superseded(client, registered_name, version, model_name)
    if SUPERSEDED_TAG in (version.tags or {}):  # champion again
        client.delete_model_version_tag(registered_name, version.version, SUPERSEDED_TAG)
    client.set_registered_model_alias(registered_name, CHAMPION_ALIAS, version.version)
    client.update_registered_model(registered_name, description=REGISTERED_MODEL_DESCRIPTION)
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


def local_registered_model(database, name, alias):
    """The local folder of the model version that ``name@alias`` points to in a SQLite
    store, read with sqlite3 alone (no MLflow import: it costs a second or more per
    prediction process); None when the store cannot say without MLflow (no such alias, or
    artifacts that are not local files), so that the caller asks MLflow instead.

    The store is opened read-only: a colleague without write access can predict.
    """
    import sqlite3
    from urllib.parse import unquote, urlparse

    query = (
        "SELECT v.storage_location, v.source FROM registered_model_aliases a "
        "JOIN model_versions v ON v.name = a.name AND v.version = a.version "
        "WHERE a.name = ? AND a.alias = ?"
    )
    try:
        with contextlib.closing(
            sqlite3.connect(f"{Path(database).resolve().as_uri()}?mode=ro", uri=True)
        ) as connection:
            row = connection.execute(query, (name, alias)).fetchone()
            if row is None:
                return None
            # A moved project's store that nobody may rewrite: its paths mapped here.
            location = relocated(connection, database, row[0] or row[1])
    except sqlite3.Error:
        return None
    parsed = urlparse(location)
    if parsed.scheme not in ("", "file"):
        return None
    return audio_model_folder(Path(unquote(parsed.path)))


def audio_model_folder(mlflow_model):
    """The trained model's folder inside a local raw-audio MLflow model, or None if
    ``mlflow_model`` is not one."""
    import yaml

    try:
        flavors = yaml.safe_load((Path(mlflow_model) / "MLmodel").read_text())["flavors"]
        artifact = flavors["python_function"]["artifacts"][MODEL_DIR_ARTIFACT]["path"]
    except (OSError, KeyError, TypeError, yaml.YAMLError):
        return None
    folder = Path(mlflow_model) / artifact
    return folder if folder.is_dir() else None
