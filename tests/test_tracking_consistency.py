"""The tracking store stays consistent with the files: interrupted runs, reruns, a deleted
store and writers that start together on a fresh store."""

import os
import signal
import subprocess
import sys
import time

import mlflow
import pytest

from .conftest import PROJECT, make_workdir, run_snakemake

TARGET = "results/models/slow/training.json"

# A script that opens the store as every workflow script does (no init_tracking before).
WRITER = """
import sys
from fsdd_pipeline.tracking.store import use_store
mlflow = use_store({"uri": sys.argv[1], "experiment": "fresh"})
with mlflow.start_run(run_name=sys.argv[2]):
    mlflow.log_metric("x", 1.0)
"""


def active_runs(store, model):
    client = mlflow.MlflowClient(f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("fsdd-digits")
    return client.search_runs([experiment.experiment_id], f"tags.model = '{model}'")


@pytest.mark.e2e
def test_killed_training_then_rerun_leaves_one_finished_run(tmp_path, fsdd_subset):
    # One small MLP whose 400 epochs last long enough to be killed while training.
    workdir = make_workdir(tmp_path / "work", fsdd_subset, scenario=".test/config_interrupted.yaml")
    store = workdir / "results/mlflow/mlflow.db"
    command = [sys.executable, "-m", "snakemake", "--cores", "2", TARGET]
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(
            command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 600
        # The store is only read once init_tracking has created it (reading earlier races
        # its creation, as any unlocked writer would).
        initialized = workdir / "results/mlflow/experiment.json"
        while not (
            initialized.exists()
            and any(r.info.status == "RUNNING" for r in active_runs(store, "slow"))
        ):
            assert first.poll() is None, (tmp_path / "first.log").read_text()[-3000:]
            assert time.monotonic() < deadline, "training never started"
            time.sleep(2)
        time.sleep(3)  # a few epochs logged
    finally:
        # As a power cut would: snakemake and its jobs die at once, nothing cleans up.
        os.killpg(first.pid, signal.SIGKILL)
        first.wait(timeout=30)
    assert [r.info.status for r in active_runs(store, "slow")] == ["RUNNING"]

    (workdir / "config/faster.yaml").write_text("models:\n  slow:\n    epochs: 2\n")
    # A killed snakemake leaves its lock behind: the user unlocks, as Snakemake says to.
    run_snakemake(workdir, "--unlock")
    run_snakemake(workdir, TARGET, "--configfile", "config/faster.yaml")
    runs = active_runs(store, "slow")
    assert [r.info.status for r in runs] == ["FINISHED"], [r.info.status for r in runs]
    info = (workdir / "results/models/slow/mlflow_run_id.txt").read_text().strip()
    assert runs[0].info.run_id == info
    client = mlflow.MlflowClient(f"sqlite:///{store}")
    experiment = client.get_experiment_by_name("fsdd-digits")
    deleted = client.search_runs(
        [experiment.experiment_id],
        "tags.model = 'slow'",
        run_view_type=mlflow.entities.ViewType.DELETED_ONLY,
    )
    assert [r.info.status for r in deleted] == ["KILLED"]
    assert deleted[0].data.tags["superseded_by"] == info

    # A deleted store is noticed, and docs/troubleshooting.md's recipe makes it and its runs again.
    evaluated = "results/evaluation/slow/test_metrics.json"
    run_snakemake(workdir, evaluated, "--configfile", "config/faster.yaml")
    store.unlink()
    dry = run_snakemake(workdir, evaluated, "-n", "--configfile", "config/faster.yaml", check=False)
    assert dry.returncode != 0
    assert "tracking store results/mlflow/mlflow.db is missing" in dry.stderr + dry.stdout
    (workdir / "results/mlflow/experiment.json").unlink()
    rerun = ("--forcerun", "init_tracking", "--configfile", "config/faster.yaml")
    run_snakemake(workdir, evaluated, *rerun)
    (run,) = active_runs(store, "slow")
    assert run.info.status == "FINISHED" and "test_accuracy" in run.data.metrics


def test_writers_starting_together_on_a_fresh_store_all_succeed(tmp_path):
    uri = f"sqlite:///{tmp_path}/fresh/mlflow.db"
    writers = [
        subprocess.Popen(
            [sys.executable, "-c", WRITER, uri, f"writer{i}"],
            cwd=PROJECT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        for i in range(8)
    ]
    for writer in writers:
        assert writer.wait(timeout=300) == 0, writer.stdout.read().decode()[-3000:]
    client = mlflow.MlflowClient(uri)
    experiment = client.get_experiment_by_name("fresh")
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(r.info.run_name for r in runs) == sorted(f"writer{i}" for i in range(8))
    assert all(r.info.status == "FINISHED" for r in runs)
