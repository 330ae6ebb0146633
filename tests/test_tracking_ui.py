"""fsdd-ui opens the project's runs in the ranked machine-learning view; the experiment and
the registered model carry descriptions; a replaced champion is marked superseded."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
import urllib.request

import mlflow
import pytest

from fsdd_pipeline.tracking.registry import (
    REGISTERED_MODEL_DESCRIPTION,
    SUPERSEDED_TAG,
    register_champion,
)
from fsdd_pipeline.tracking.store import RANKING_VIEW, RANKING_VIEW_KEY, use_store

from .conftest import PROJECT
from .servers import free_port
from .test_relocation import Doubler

REGISTERED = "ui-test-model"


# MLflow exports the tracking URI a test sets as $MLFLOW_TRACKING_URI: undone after each.
pytestmark = pytest.mark.usefixtures("restored_tracking_uri")


@pytest.fixture
def project(tmp_path):
    """A project folder (the shipped config) whose store has two models' runs."""
    (tmp_path / "config").mkdir()
    shutil.copy(PROJECT / "config/config.yaml", tmp_path / "config")
    tracking = {
        "uri": f"sqlite:///{tmp_path}/results/mlflow/mlflow.db",
        "experiment": "fsdd-digits",
        "registered_model": REGISTERED,
    }
    store = use_store(tracking)
    runs = {}
    for name, accuracy in (("svm", 0.64), ("emb_logreg", 0.97)):
        with store.start_run(run_name=name) as run:
            store.log_metric("loso_mean_accuracy", accuracy)
            info = store.pyfunc.log_model(name="audio_model", python_model=Doubler())
        runs[name] = (run.info.run_id, info.model_uri)
    return tmp_path, tracking, runs


def test_a_new_champion_marks_the_one_it_replaces_and_the_model_is_described(project):
    _, tracking, runs = project
    first = register_champion(tracking, "svm", *runs["svm"], "first")
    second = register_champion(tracking, "emb_logreg", *runs["emb_logreg"], "better")
    client = mlflow.MlflowClient()
    old = client.get_model_version(REGISTERED, first["version"])
    assert old.tags[SUPERSEDED_TAG] == str(second["version"])
    assert old.description.startswith(f"Superseded as champion by version {second['version']}")
    new = client.get_model_version_by_alias(REGISTERED, "champion")
    assert int(new.version) == second["version"] and SUPERSEDED_TAG not in new.tags
    assert client.get_registered_model(REGISTERED).description == REGISTERED_MODEL_DESCRIPTION
    # The first model wins again: its mark goes, the other's comes.
    register_champion(tracking, "svm", *runs["svm"], "first again")
    assert SUPERSEDED_TAG not in client.get_model_version(REGISTERED, first["version"]).tags
    assert client.get_model_version(REGISTERED, second["version"]).tags[SUPERSEDED_TAG] == str(
        first["version"]
    )


def test_fsdd_ui_serves_the_store_and_prints_the_ranked_runs_address(project):
    folder, _, _ = project
    port = free_port()
    ui = subprocess.Popen(
        [sys.executable, "-m", "fsdd_pipeline.tracking.ui", "--project-dir", str(folder)]
        + ["--port", str(port)],
        stdout=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "MLFLOW_TRACKING_URI"},
    )
    try:
        lines = [ui.stdout.readline(), ui.stdout.readline()]
        experiment = mlflow.MlflowClient().get_experiment_by_name("fsdd-digits")
        assert lines[1].strip() == (
            f"http://127.0.0.1:{port}/#/experiments/{experiment.experiment_id}/runs"
            f"?viewStateShareKey={RANKING_VIEW_KEY}&workflowType=machine_learning"
        )
        address = (
            f"http://127.0.0.1:{port}/api/2.0/mlflow/experiments/get?experiment_id="
            f"{experiment.experiment_id}"
        )
        with urllib.request.urlopen(address, timeout=30) as response:
            served = json.loads(response.read())["experiment"]
        tags = {tag["key"]: tag["value"] for tag in served["tags"]}
        assert "leave-one-speaker-out" in tags["mlflow.note.content"]
        assert json.loads(tags[f"mlflow.sharedViewState.{RANKING_VIEW_KEY}"]) == RANKING_VIEW
    finally:
        ui.send_signal(signal.SIGTERM)
        ui.wait(timeout=60)
    # The server went with it.
    time.sleep(1)
    with pytest.raises(OSError):
        urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=5)


def test_fsdd_ui_without_a_store_says_to_run_the_workflow(tmp_path, capsys, monkeypatch):
    from fsdd_pipeline.tracking.ui import main

    # mlflow.set_tracking_uri (in earlier tests) sets it; the project's store is wanted here.
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    (tmp_path / "config").mkdir()
    shutil.copy(PROJECT / "config/config.yaml", tmp_path / "config")
    assert main(["--project-dir", str(tmp_path)]) == 2
    assert "run the workflow first" in capsys.readouterr().err
