"""A SQLite store that follows its project when the project folder is moved or copied.

MLflow records absolute artifact locations (the experiment's, every run's, every logged
model's and registered version's): a moved project would lose its artifacts, and a copy would
read and write the original's. Every opening of the project's store (a workflow job,
fsdd-predict, fsdd-ui) first calls ``follow_project``: when the store sits elsewhere than it
was created, every recorded path into the old folder is rewritten to the new one, once, in
one transaction. Stores of a tracking server are not touched (their artifacts are served).
"""

import logging
import sqlite3
from pathlib import Path
from urllib.parse import unquote, urlparse

from fsdd_pipeline.locks import exclusive_lock

log = logging.getLogger(__name__)

# Artifacts of a SQLite store go beside it (under results/), not into ./mlruns.
ARTIFACTS_DIR_NAME = "artifacts"
# (table, column) of an MLflow 3 SQLite store holding paths or file URIs, plain or in JSON.
PATH_COLUMNS = (
    ("experiments", "artifact_location"),
    ("runs", "artifact_uri"),
    ("logged_models", "artifact_location"),
    ("model_versions", "source"),
    ("model_versions", "storage_location"),
    ("datasets", "dataset_source"),
)
# The run tag naming the project folder a run was computed in (tracking.runs.run_tags).
WORKDIR_TAG = "workdir"


def _local_path(location):
    """The folder of a file URI or plain absolute path; None for any other scheme."""
    if location.startswith("file:"):
        return Path(unquote(urlparse(location).path))
    return Path(location) if location.startswith("/") else None


def recorded_store_folder(connection):
    """The folder the store was in when its experiments were created: the parent of an
    experiment's ``artifacts`` location; None when no experiment has one."""
    for (location,) in connection.execute("SELECT artifact_location FROM experiments"):
        path = _local_path(location or "")
        if path is not None and path.name == ARTIFACTS_DIR_NAME:
            return path.parent
    return None


def moved_folders(old_store, new_store):
    """(old, new) folders to rewrite: the projects' folders when the store kept its place in
    the project (the common trailing folders, e.g. results/mlflow, dropped), else the stores'."""
    old, new = list(old_store.parts), list(new_store.parts)
    while len(old) > 2 and len(new) > 2 and old[-1] == new[-1]:
        old.pop(), new.pop()
    return Path(*old), Path(*new)


def _rewritten(value, old, new):
    """``value`` with every path into ``old`` (plain, file URI or inside JSON) moved to ``new``."""
    if value == str(old):
        return str(new)
    for before, after in ((f"{old.as_uri()}/", f"{new.as_uri()}/"), (f'"{old}/', f'"{new}/')):
        value = value.replace(before, after)
    if value.startswith(f"{old}/"):
        value = f"{new}/{value[len(str(old)) + 1 :]}"
    return value


def relocate_store(database):
    """Rewrite the paths of a moved SQLite store; returns (old, new) folders, or None when the
    store is where it was created. Callers hold the store's lock (``follow_project``)."""
    database = Path(database).resolve()
    connection = sqlite3.connect(database)
    try:
        tables = {row[0] for row in connection.execute("SELECT name FROM sqlite_master")}
        if "experiments" not in tables:
            return None
        old_store = recorded_store_folder(connection)
        if old_store is None or old_store == database.parent:
            return None
        old, new = moved_folders(old_store, database.parent)
        with connection:
            for table, column in PATH_COLUMNS:
                # Names from PATH_COLUMNS above, never from input.
                if table not in tables:
                    continue
                matching = f"{column} LIKE ? OR {column} LIKE ?"
                query = f"SELECT DISTINCT {column} FROM {table} WHERE {matching}"
                values = connection.execute(query, (f"%{old}%", f"%{old.as_uri()}%")).fetchall()
                for (value,) in values:
                    connection.execute(
                        f"UPDATE {table} SET {column} = ? WHERE {column} = ?",
                        (_rewritten(value, old, new), value),
                    )
            connection.execute(
                "UPDATE tags SET value = ? WHERE key = ? AND value = ?",
                (str(new), WORKDIR_TAG, str(old)),
            )
        log.info("MLflow store %s moved: paths into %s now point into %s", database, old, new)
        return old, new
    finally:
        connection.close()


def follow_project(database):
    """``relocate_store`` under the store's lock, for an existing SQLite store. A store that
    cannot be written (a read-only copy) is left as it is: readers map its paths themselves
    (``relocated``)."""
    if not Path(database).is_file():
        return None
    try:
        with exclusive_lock(f"{database}.lock"):
            return relocate_store(database)
    except (OSError, sqlite3.OperationalError) as error:
        log.warning("MLflow store %s not relocated (%s): it is read as it is", database, error)
        return None


def relocated(connection, database, location):
    """``location`` (a recorded path or file URI) as it is in the store's current folder, read
    from an open ``connection`` without writing: where a moved store could not be rewritten."""
    old_store = recorded_store_folder(connection)
    current = Path(database).resolve().parent
    if old_store is None or old_store == current:
        return location
    old, new = moved_folders(old_store, current)
    return _rewritten(location, old, new)
