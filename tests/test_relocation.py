"""A project's SQLite MLflow store follows the project when the folder is moved or copied."""

import shutil
import sqlite3

import mlflow
import pandas as pd
import pytest

from fsdd_pipeline.tracking.relocation import follow_project, moved_folders
from fsdd_pipeline.tracking.store import use_store

STORE = "results/mlflow/mlflow.db"


# MLflow exports the tracking URI a test sets as $MLFLOW_TRACKING_URI: undone after each.
pytestmark = pytest.mark.usefixtures("restored_tracking_uri")


class Doubler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input * 2


def make_project(folder):
    """A project folder whose store holds a run with an artifact and a registered champion."""
    tracking = {"uri": f"sqlite:///{folder / STORE}", "experiment": "moving"}
    mlflow_module = use_store(tracking)
    with mlflow_module.start_run(tags={"workdir": str(folder)}) as run:
        mlflow_module.log_text("hello", "notes/hello.txt")
        info = mlflow_module.pyfunc.log_model(name="model", python_model=Doubler())
    version = mlflow_module.register_model(info.model_uri, "mover")
    mlflow.MlflowClient().set_registered_model_alias("mover", "champion", version.version)
    return tracking, run.info.run_id


def paths_in_store(database):
    with sqlite3.connect(database) as connection:
        rows = connection.execute(
            "SELECT artifact_location FROM experiments UNION ALL SELECT artifact_uri FROM runs "
            "UNION ALL SELECT storage_location FROM model_versions"
        ).fetchall()
    return [row[0] for row in rows]


def test_a_copied_project_whose_original_is_gone_loads_its_own_artifacts(tmp_path):
    original, moved = tmp_path / "original", tmp_path / "elsewhere" / "copy"
    _, run_id = make_project(original)
    shutil.copytree(original, moved)
    shutil.rmtree(original)

    database = moved / STORE
    assert follow_project(database) == (original, moved)
    assert follow_project(database) is None  # once
    assert all(str(original) not in path for path in paths_in_store(database))
    mlflow.set_tracking_uri(f"sqlite:///{database}")
    champion = mlflow.pyfunc.load_model("models:/mover@champion")
    pd.testing.assert_frame_equal(
        champion.predict(pd.DataFrame({"x": [1, 2]})), pd.DataFrame({"x": [2, 4]})
    )
    notes = mlflow.artifacts.download_artifacts(f"runs:/{run_id}/notes/hello.txt")
    assert open(notes).read() == "hello"
    assert mlflow.MlflowClient().get_run(run_id).data.tags["workdir"] == str(moved)


def test_a_new_run_in_the_copy_writes_into_the_copy_not_the_original(tmp_path):
    original, copy = tmp_path / "original", tmp_path / "copy"
    make_project(original)
    shutil.copytree(original, copy)
    tracking = {"uri": f"sqlite:///{copy / STORE}", "experiment": "moving"}
    with use_store(tracking).start_run() as run:
        mlflow.log_text("new", "new.txt")
    assert (copy / "results/mlflow/artifacts" / run.info.run_id / "artifacts/new.txt").is_file()
    assert not (original / "results/mlflow/artifacts" / run.info.run_id).exists()


@pytest.mark.parametrize(
    "old, new, expected",
    [
        ("/a/p/results/mlflow", "/b/q/results/mlflow", ("/a/p", "/b/q")),
        ("/a/results/mlflow", "/x/a/results/mlflow", ("/a", "/x/a")),
        ("/a/store", "/b/other", ("/a/store", "/b/other")),
    ],
)
def test_the_project_folder_is_what_moved_when_the_store_kept_its_place(old, new, expected):
    from pathlib import Path

    assert moved_folders(Path(old), Path(new)) == tuple(Path(p) for p in expected)
