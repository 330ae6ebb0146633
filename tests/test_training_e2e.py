"""End-to-end: training, evaluation, comparison and MLflow tracking with the real snakemake,
five tiny models on a small real subset of FSDD (the scenario .test/config_training.yaml)."""

import hashlib
import itertools
import json
import os
import re
import shutil
import urllib.parse
import urllib.request
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
import yaml

from .conftest import PROJECT, make_workdir, run_snakemake
from .servers import BIN, background_server, free_port
from .test_relocation import paths_in_store
from .workflow_copy import scenario_config

pytestmark = pytest.mark.e2e
SCENARIO = ".test/config_training.yaml"
# What the scenario runs: these models, the Keras ones for EPOCHS epochs.
MODEL_CONFIGS = scenario_config(PROJECT, SCENARIO)["models"]
MODELS = ("mlp", "svm", "cnn_small", "emb_logreg", "emb_frame_logreg_speeds")
KERAS = ("mlp", "cnn_small")
TARGETS = ("results/comparison/comparison.md", "results/comparison/champion.json")
EXPERIMENT = "fsdd-digits"
REGISTERED = "fsdd-digit-classifier"
EPOCHS = 2
HISTORY = ["epoch", "loss", "accuracy", "val_loss", "val_accuracy"]
EVALUATION_FIGURES = {
    f"evaluation/{split}_{figure}.png"
    for split in ("test", "val")
    for figure in ("confusion_matrix", "roc_curves")
}


@pytest.fixture(scope="module")
def workdir(tmp_path_factory, fsdd_subset):
    # One thread per training job: snakemake --cores 2 trains two models at once (the
    # training stage first: the robustness features, long jobs too, would share the cores
    # with it). No leave-one-speaker-out runs or lever table here
    # (tests/test_loso_robustness.py).
    workdir = make_workdir(tmp_path_factory.mktemp("training"), fsdd_subset, scenario=SCENARIO)
    run_snakemake(workdir, *TARGETS, "--until", "train_model")
    run_snakemake(workdir, *TARGETS)
    return workdir


@pytest.fixture(scope="module")
def client(workdir):
    return mlflow.MlflowClient(tracking_uri=f"sqlite:///{workdir}/results/mlflow/mlflow.db")


def experiment_runs(client):
    experiment = client.get_experiment_by_name(EXPERIMENT)
    return {run.data.tags["model"]: run for run in client.search_runs([experiment.experiment_id])}


def logged_params(config, prefix):
    """(key, value) pairs of a config section as MLflow params: nested keys dotted, lists
    comma-joined."""
    for key, value in config.items():
        if isinstance(value, dict):
            yield from logged_params(value, f"{prefix}{key}.")
        else:
            yield prefix + key, ",".join(map(str, value)) if isinstance(value, list) else str(value)


def read_json(path):
    return json.loads(Path(path).read_text())


def test_every_model_has_its_training_outputs(workdir):
    for name in MODELS:
        folder = workdir / "results/models" / name
        model_file = "model/model.keras" if name in KERAS else "model/model.joblib"
        for file in (model_file, "model/input_spec.json", "summary.txt", "mlflow_run_id.txt"):
            assert (folder / file).stat().st_size > 0, f"{name}/{file}"
        assert (folder / "training_curves.png").stat().st_size > 10_000
        history = pd.read_csv(folder / "history.csv")
        assert list(history.columns) == HISTORY
        assert list(history.epoch) == list(range(1, (EPOCHS if name in KERAS else 1) + 1))
        info = read_json(folder / "training.json")
        assert info["params"] > 0 and info["training_time_s"] > 0
        assert info["run_id"] == (folder / "mlflow_run_id.txt").read_text().strip()
    assert "Trainable params: 72,458" in (workdir / "results/models/mlp/summary.txt").read_text()


def test_one_finished_mlflow_run_per_model(workdir, client):
    runs = experiment_runs(client)
    assert sorted(runs) == sorted(MODELS)
    experiment = client.get_experiment_by_name(EXPERIMENT)
    # The UI opens on training runs; artifacts stay under results/, none in ./mlruns.
    assert experiment.tags["mlflow.experimentKind"] == "custom_model_development"
    assert experiment.artifact_location.endswith("results/mlflow/artifacts")
    assert not (workdir / "mlruns").exists()
    digest = hashlib.sha256((workdir / "results/dataset/features.parquet").read_bytes())
    for name, run in runs.items():
        config = MODEL_CONFIGS[name]
        assert run.info.status == "FINISHED" and run.info.run_name == name
        assert (
            run.info.run_id == read_json(workdir / f"results/models/{name}/training.json")["run_id"]
        )
        tags = run.data.tags
        assert tags["model_type"] == config["type"] and tags["git_commit"]
        assert tags["mlflow.source.name"] == "scripts/train_model.py (snakemake rule train_model)"
        assert tags["dataset_digest"] == digest.hexdigest()[:16]
        params = run.data.params
        for key, value in logged_params(config, "model."):
            assert params[key] == value, key
        assert params["features.n_mfcc"] == "40" and params["features.sample_rate"] == "8000"
        (dataset,) = run.inputs.dataset_inputs
        assert dataset.dataset.digest == tags["dataset_digest"]

        history = pd.read_csv(workdir / f"results/models/{name}/history.csv")
        per_epoch = sorted(
            (m.step, m.value)
            for m in client.get_metric_history(run.info.run_id, "val_accuracy")
            if m.step >= 1
        )
        assert [step for step, _ in per_epoch] == list(history.epoch)
        np.testing.assert_allclose([v for _, v in per_epoch], history.val_accuracy, rtol=1e-6)

        for split in ("test", "val"):
            metrics = read_json(workdir / f"results/evaluation/{name}/{split}_metrics.json")
            for key in ("accuracy", "f1_macro", "roc_auc_micro"):
                assert run.data.metrics[f"{split}_{key}"] == pytest.approx(metrics[key]), key
        evaluation = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
        assert EVALUATION_FIGURES <= evaluation
        training = {a.path for a in client.list_artifacts(run.info.run_id, "training")}
        assert "training/history.csv" in training


def test_two_models_trained_at_once_into_the_fresh_store(client):
    def training_interval(run):
        (end,) = client.get_metric_history(run.info.run_id, "training_time_s")
        return run.info.start_time, end.timestamp

    intervals = [training_interval(run) for run in experiment_runs(client).values()]
    assert any(
        a_start < b_end and b_start < a_end
        for (a_start, a_end), (b_start, b_end) in itertools.combinations(intervals, 2)
    )


def flavors(logged_model):
    mlmodel = mlflow.artifacts.load_text(f"{logged_model.artifact_location}/MLmodel")
    return set(yaml.safe_load(mlmodel)["flavors"])


def test_flavor_and_audio_models_are_logged(client):
    runs = experiment_runs(client)
    experiment_id = next(iter(runs.values())).info.experiment_id
    logged = client.search_logged_models([experiment_id])
    for name, run in runs.items():
        mine = {m.name: m for m in logged if m.source_run_id == run.info.run_id}
        assert sorted(mine) == ["audio_model", "model"]
        flavor = "keras" if name in KERAS else "sklearn"
        assert flavors(mine["model"]) == {flavor, "python_function"}
        assert flavors(mine["audio_model"]) == {"python_function"}
        files = {f.path for f in client.list_logged_model_artifacts(mine["audio_model"].model_id)}
        assert {"MLmodel", "python_model.pkl", "code", "artifacts"} <= files
        if flavor == "sklearn":  # the package's own estimator too (skops: trusted types)
            estimator = mlflow.sklearn.load_model(mine["model"].artifact_location)
            assert hasattr(estimator, "predict_proba"), name


def test_evaluation_files_agree_with_each_other(workdir, client):
    runs = experiment_runs(client)
    for name in MODELS:
        folder = workdir / "results/evaluation" / name
        for split, rows in (("test", 40), ("val", 20)):
            metrics = read_json(folder / f"{split}_metrics.json")
            predictions = pd.read_csv(folder / f"{split}_predictions.csv")
            assert len(predictions) == rows == metrics["n"]
            probabilities = predictions[[f"prob_{d}" for d in range(10)]].to_numpy()
            assert (probabilities.argmax(axis=1) == predictions.predicted_digit).all()
            accuracy = (predictions.true_digit == predictions.predicted_digit).mean()
            assert metrics["accuracy"] == pytest.approx(accuracy)

            confusion = pd.read_csv(
                folder / f"{split}_confusion_matrix.csv", index_col="true_digit"
            )
            assert confusion.to_numpy().sum() == rows
            counted = pd.crosstab(predictions.true_digit, predictions.predicted_digit)
            counted = counted.reindex(index=range(10), columns=range(10), fill_value=0)
            np.testing.assert_array_equal(confusion.to_numpy(), counted.to_numpy())
            assert confusion.to_numpy().tolist() == metrics["confusion_matrix"]
        test_accuracy = read_json(folder / "test_metrics.json")["accuracy"]
        assert runs[name].data.metrics["test_accuracy"] == pytest.approx(test_accuracy)


def test_comparison_names_the_best_model_champion_in_the_registry(workdir, client):
    table = pd.read_csv(workdir / "results/comparison/comparison.csv")
    assert sorted(table.model) == sorted(MODELS)
    markdown = (workdir / "results/comparison/comparison.md").read_text()
    assert all(f"| {name} " in markdown for name in MODELS)

    scores = {
        name: read_json(workdir / f"results/evaluation/{name}/test_metrics.json") for name in MODELS
    }
    # Without LOSO runs (off here) the official split decides: accuracy, macro F1, name.
    best = min(MODELS, key=lambda n: (-scores[n]["accuracy"], -scores[n]["f1_macro"], n))
    champion = read_json(workdir / "results/comparison/champion.json")
    run = experiment_runs(client)[best]
    assert champion["model"] == best == table.model[0]
    assert champion["run_id"] == run.info.run_id

    version = client.get_model_version_by_alias(REGISTERED, "champion")
    assert int(version.version) == champion["version"]
    assert version.run_id == run.info.run_id
    assert version.tags["run_id"] == run.info.run_id
    assert version.tags["dataset_digest"] == run.data.tags["dataset_digest"]
    # The registered version is the run's raw-audio pyfunc model.
    (audio_model,) = [
        m
        for m in client.search_logged_models([run.info.experiment_id])
        if m.source_run_id == run.info.run_id and m.name == "audio_model"
    ]
    assert version.source in (
        f"models:/{audio_model.model_id}",
        f"runs:/{run.info.run_id}/audio_model",
    )


def test_val_accuracy_history_has_one_entry_per_epoch(client):
    for name, run in experiment_runs(client).items():
        history = client.get_metric_history(run.info.run_id, "val_accuracy")
        assert len(history) == (EPOCHS if name in KERAS else 1), name


def test_rerunning_the_evaluation_adds_no_runs(workdir, client):
    before = {name: run.info.run_id for name, run in experiment_runs(client).items()}
    result = run_snakemake(workdir, *TARGETS, "--forcerun", "evaluate")
    output = result.stdout + result.stderr
    assert "rule evaluate:" in output and "rule train_" not in output
    assert {name: run.info.run_id for name, run in experiment_runs(client).items()} == before
    versions = client.search_model_versions(f"name='{REGISTERED}'")
    assert len(versions) == 1


def planned_jobs(output):
    """(rule, model wildcard or None) of every job a snakemake dry run lists."""
    jobs = []
    for rule, body in re.findall(r"^(?:local)?rule (\w+):\n(.*?)(?=^\S|\Z)", output, re.M | re.S):
        model = re.search(r"wildcards: model=(\w+)", body)
        jobs.append((rule, model.group(1) if model else None))
    return sorted(jobs, key=str)


def test_changed_hyperparameter_retrains_only_that_model(workdir):
    (workdir / "config/changed.yaml").write_text("models:\n  mlp:\n    dropout: 0.4\n")
    # --configfile takes several files: it goes after the targets.
    dry = run_snakemake(workdir, *TARGETS, "-n", "--configfile", "config/changed.yaml")
    assert planned_jobs(dry.stdout + dry.stderr) == [
        ("compare_models", None),
        ("evaluate", "mlp"),
        ("train_model", "mlp"),
    ]


@pytest.fixture
def tracking_server(workdir, tmp_path):
    port = free_port()
    command = [
        str(BIN / "mlflow"),
        "server",
        "--backend-store-uri",
        f"sqlite:///{workdir}/results/mlflow/mlflow.db",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    url = f"http://127.0.0.1:{port}"
    with background_server(
        command,
        f"{url}/health",
        tmp_path / "server.log",
        cwd=workdir,
        env={"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"},  # no background job workers
        timeout=90,
    ):
        yield url


def rest(url, endpoint, query=None, body=None):
    address = f"{url}/api/2.0/mlflow/{endpoint}"
    if query:
        address += "?" + urllib.parse.urlencode(query)
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(address, data, {"Content-Type": "application/json"})
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_mlflow_server_shows_runs_artifacts_and_champion(workdir, tracking_server):
    experiment = rest(tracking_server, "experiments/get-by-name", {"experiment_name": EXPERIMENT})
    experiment_id = experiment["experiment"]["experiment_id"]
    found = rest(tracking_server, "runs/search", body={"experiment_ids": [experiment_id]})
    runs = {
        {t["key"]: t["value"] for t in run["data"]["tags"]}["model"]: run for run in found["runs"]
    }
    assert sorted(runs) == sorted(MODELS)
    for name, run in runs.items():
        metrics = {m["key"]: m["value"] for m in run["data"]["metrics"]}
        expected = read_json(workdir / f"results/evaluation/{name}/test_metrics.json")
        assert metrics["test_accuracy"] == pytest.approx(expected["accuracy"])
        assert metrics["test_f1_macro"] == pytest.approx(expected["f1_macro"])
        listed = rest(
            tracking_server,
            "artifacts/list",
            {"run_id": run["info"]["run_id"], "path": "evaluation"},
        )
        assert EVALUATION_FIGURES <= {f["path"] for f in listed["files"]}

    champion = read_json(workdir / "results/comparison/champion.json")
    alias = rest(
        tracking_server, "registered-models/alias", {"name": REGISTERED, "alias": "champion"}
    )["model_version"]
    assert alias["run_id"] == runs[champion["model"]]["info"]["run_id"] == champion["run_id"]
    assert "champion" in alias["aliases"] and int(alias["version"]) == champion["version"]


def test_a_copied_project_whose_original_is_gone_predicts_with_its_own_champion(
    workdir, fsdd_subset, tmp_path, capsys
):
    """The trained project copied elsewhere and the original moved away: fsdd-predict
    --project-dir loads the champion from the copy's store and artifacts, as before."""
    from fsdd_pipeline.serving.cli import main

    wavs = [str(path) for path in sorted(fsdd_subset.glob("*_george_0.wav"))[:3]]

    def predict(project):
        saved = dict(os.environ)
        capsys.readouterr()
        try:
            code = main(["--project-dir", str(project), "--json", "--all-probabilities", *wavs])
        finally:
            mlflow.set_tracking_uri(None)
            os.environ.clear()
            os.environ.update(saved)
        out, err = capsys.readouterr()
        assert code == 0, err
        return json.loads(out)

    before = predict(workdir)
    copy = tmp_path / "elsewhere" / "project"
    shutil.copytree(workdir, copy, symlinks=True)
    gone = workdir.with_name(f"{workdir.name}-gone")
    workdir.rename(gone)
    try:
        after = predict(copy)
        store_paths = paths_in_store(copy / "results/mlflow/mlflow.db")
    finally:
        gone.rename(workdir)
    assert after == before
    assert store_paths and all(str(workdir) not in path for path in store_paths)
    assert any(str(copy) in path for path in store_paths)
