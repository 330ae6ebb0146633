"""The workflow at cluster scale: feature batches sized by recordings_per_batch, a real
single-node SLURM cluster (tests/cluster.py) running it with profiles/slurm against a
PostgreSQL-backed MLflow tracking server, and eight training jobs started together
against one fresh tracking store (SQLite locally, the server on the cluster)."""

import base64
import csv
import json
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import mlflow
import pytest
import yaml

from . import cluster as local
from .conftest import PROJECT, make_workdir, requires_fsdd, run_snakemake
from .servers import BIN, served_model
from .workflow_copy import scenario_config

pytestmark = [pytest.mark.e2e, requires_fsdd]
CONFIG = yaml.safe_load((PROJECT / "config/config.yaml").read_text())
REGISTERED = CONFIG["tracking"]["registered_model"]
EXPERIMENT = CONFIG["tracking"]["experiment"]
# The whole workflow on the cluster: mlp (2 epochs) and svm, LOSO of the svm.
CLUSTER_SCENARIO = ".test/config_cluster.yaml"
# Its batches: the subset's 140 recordings in batches of at most 50, 3 extraction jobs.
PER_BATCH = scenario_config(PROJECT, CLUSTER_SCENARIO)["features"]["recordings_per_batch"]
# On the test cluster: job states from squeue (there is no accounting for sacct), and
# the first status check after 2 s instead of 40 (these jobs take seconds, not hours).
CLUSTER_FLAGS = (
    "--slurm-status-command",
    "squeue",
    "--slurm-init-seconds-before-status-checks",
    "2",
    "--slurm-keep-successful-logs",
)
SUBMITTED = re.compile(r"Job (\d+) has been submitted with SLURM jobid (\d+)")


def planned_jobs(output):
    return re.findall(r"^(?:local)?rule (\w+):", output, re.M)


def test_batch_count_follows_recordings_per_batch(tmp_path, fsdd_subset):
    workdir = make_workdir(tmp_path, fsdd_subset, {"features.recordings_per_batch": PER_BATCH})
    dry = run_snakemake(workdir, "results/dataset/features.parquet", "-n")
    assert planned_jobs(dry.stdout + dry.stderr).count("extract_features") == 3
    # features.batches, if set, fixes the count.
    (workdir / "config/fixed.yaml").write_text("features:\n  batches: 2\n")
    dry = run_snakemake(
        workdir, "results/dataset/features.parquet", "-n", "--configfile", "config/fixed.yaml"
    )
    assert planned_jobs(dry.stdout + dry.stderr).count("extract_features") == 2


# --- eight training jobs at once against a fresh store --------------------------------

# Eight SVMs: real training jobs whose time goes to tracking, not to training. One thread
# (CPU) each, so that all eight fit on the 2-core machine at once.
EIGHT_SCENARIO = ".test/config_eight_svms.yaml"
EIGHT = [f"svm{i}" for i in range(8)]


@pytest.fixture(scope="module")
def eight_models_workdir(tmp_path_factory, fsdd_subset):
    """A workflow copy with the EIGHT models, and its dataset and the digit-string segmenter
    every model folder carries built locally (one batch): only the training jobs are left."""
    workdir = make_workdir(tmp_path_factory.mktemp("eight"), fsdd_subset, scenario=EIGHT_SCENARIO)
    run_snakemake(
        workdir, "results/dataset/features.parquet", "results/strings/segmenter/segmenter.joblib"
    )
    return workdir


def copy_workdir(workdir, path, tracking_uri=None):
    """A copy of a workflow folder (its results and snakemake's records too)."""
    shutil.copytree(workdir, path, symlinks=True)
    if tracking_uri:
        config_path = path / "config/config.yaml"
        config = yaml.safe_load(config_path.read_text())
        config["tracking"]["uri"] = tracking_uri
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def run_id_targets():
    return [f"results/models/{name}/mlflow_run_id.txt" for name in EIGHT]


def most_runs_open_at_once(runs):
    """The largest number of ``runs`` open (started, not ended) at one moment."""
    events = sorted(
        [(run.info.start_time, 1) for run in runs] + [(run.info.end_time, -1) for run in runs]
    )
    open_runs, most = 0, 0
    for _, change in events:  # at equal times an end (-1) sorts before a start
        open_runs += change
        most = max(most, open_runs)
    return most


def test_most_runs_open_at_once_counts_overlaps_not_runs():
    from types import SimpleNamespace

    def run(start, end):
        return SimpleNamespace(info=SimpleNamespace(start_time=start, end_time=end))

    assert most_runs_open_at_once([run(0, 10), run(5, 15), run(12, 20)]) == 2
    assert most_runs_open_at_once([run(0, 5), run(5, 10), run(10, 15)]) == 1


def assert_eight_runs_overlap(client, workdir):
    """Every model has its finished run, and at least half of the eight were open at one
    moment: the store took concurrent writers (all eight start together, but on 2 cores the
    first can finish before the last has imported its libraries)."""
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs([experiment.experiment_id])
    assert sorted(run.info.run_name for run in runs) == sorted(EIGHT)
    for run in runs:
        assert run.info.status == "FINISHED"
        run_id = (workdir / f"results/models/{run.info.run_name}/mlflow_run_id.txt").read_text()
        assert run_id.strip() == run.info.run_id
    assert most_runs_open_at_once(runs) >= len(EIGHT) // 2, "the eight runs barely overlapped"


def test_eight_training_jobs_at_once_into_a_fresh_sqlite_store(tmp_path, eight_models_workdir):
    workdir = copy_workdir(eight_models_workdir, tmp_path / "workflow")
    assert not (workdir / "results/mlflow").exists()
    # init_tracking creates the store first; then all eight start together (local_cpus:
    # a local run would otherwise hold busy jobs to the CPUs plus one).
    result = run_snakemake(
        workdir, *run_id_targets(), "--cores", "8", "--resources", "local_cpus=8"
    )
    output = result.stdout + result.stderr
    first_done = re.search(r"^Finished jobid: \d+ \(Rule: train_model", output, re.M).start()
    assert len(re.findall(r"^localrule train_model:", output[:first_done], re.M)) == 8
    client = mlflow.MlflowClient(f"sqlite:///{workdir}/results/mlflow/mlflow.db")
    assert_eight_runs_overlap(client, workdir)


# --- the cluster ---------------------------------------------------------------------


@pytest.fixture(scope="session")
def cluster():
    """A single-node SLURM cluster, PostgreSQL and an MLflow server, for the session."""
    root = Path(tempfile.mkdtemp(prefix="fsdd-cluster-"))  # not under pytest's 0700 tmp
    try:
        with local.local_cluster(root) as running:
            yield running
    except local.Unavailable as reason:
        pytest.skip(str(reason))
    finally:
        shutil.rmtree(root, ignore_errors=True)


def run_on_cluster(cluster, workdir, *targets):
    """snakemake --profile profiles/slurm in ``workdir``: every non-local job via sbatch."""
    command = [sys.executable, "-m", "snakemake", "--profile", "profiles/slurm"]
    started = time.monotonic()
    result = subprocess.run(
        [*command, *CLUSTER_FLAGS, *targets],
        cwd=workdir,
        env=cluster.env,
        capture_output=True,
        text=True,
        timeout=cluster.time_left(),
        check=False,
    )
    output = result.stdout + result.stderr
    (workdir / "snakemake.log").write_text(output)
    if result.returncode != 0:
        raise AssertionError(f"snakemake on SLURM failed ({result.returncode}):\n{output[-8000:]}")
    return output, time.monotonic() - started


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory, fsdd_subset):
    """The whole workflow (two tiny models, LOSO of the SVM) on the cluster."""
    # Tracked into the cluster's MLflow server.
    overrides = {"tracking.uri": cluster.tracking_uri}
    workdir = make_workdir(
        tmp_path_factory.mktemp("slurm"), fsdd_subset, overrides, scenario=CLUSTER_SCENARIO
    )
    output, seconds = run_on_cluster(cluster, workdir)
    print(f"workflow on SLURM: {seconds:.0f} s")
    return workdir, output


@pytest.fixture(scope="module")
def client(cluster):
    return mlflow.MlflowClient(tracking_uri=cluster.tracking_uri)


def submitted_jobs(output):
    """{snakemake job id: SLURM job id} of every job that went through sbatch."""
    return dict(SUBMITTED.findall(output))


def slurm_states(cluster):
    """{SLURM job id: state} of the cluster's recent jobs (squeue keeps them MinJobAge)."""
    lines = cluster.slurm("squeue", "--states=all", "-h", "-o", "%i|%T").split()
    return dict(line.split("|") for line in lines)


@pytest.mark.cluster
def test_compute_jobs_went_through_sbatch(slurm_run, cluster):
    workdir, output = slurm_run
    jobs = submitted_jobs(output)
    # 3 feature batches, the dataset, 2 groups of robustness features (no endpointing
    # lever: no takes without endpointing), the digit-string segmenter every model folder
    # carries, 2 x (training, evaluation), the LOSO of svm.
    expected = {
        "build_dataset": 1,
        "evaluate": 2,
        "extract_features": 3,
        "loso": 1,
        "robustness_features": 2,
        "train_model": 2,
        "train_segmenter": 1,
    }
    remote = re.findall(r"^rule (\w+):", output, re.M)
    assert {rule: remote.count(rule) for rule in sorted(set(remote))} == expected
    assert len(jobs) == len(remote)
    # Bookkeeping and plots ran where snakemake runs.
    local_jobs = set(re.findall(r"^localrule (\w+):", output, re.M))
    assert {"init_tracking", "plot_eda", "plot_loso", "compare_models"} <= local_jobs
    states = slurm_states(cluster)
    assert {states[slurm_id] for slurm_id in jobs.values()} == {"COMPLETED"}, states
    logs = {path.stem for path in (workdir / ".snakemake/slurm_logs").rglob("*.log")}
    assert set(jobs.values()) <= logs


@pytest.mark.cluster
def test_every_output_of_the_workflow_exists(slurm_run):
    workdir, _ = slurm_run
    results = workdir / "results"
    for path in (
        "dataset/features.parquet",
        "comparison/comparison.md",
        "comparison/champion.json",
        "robustness/robustness.md",
        "loso/accuracy_per_speaker.png",
        *(f"figures/eda/{f}.png" for f in ("durations", "waveforms", "counts")),
        *(f"evaluation/{m}/test_metrics.json" for m in ("mlp", "svm")),
        *(f"loso/svm/{f}" for f in ("predictions.csv", "fold_metrics.json", "summary.json")),
    ):
        assert (results / path).stat().st_size > 0, path
    assert len(list((results / "features").glob("batch*"))) == 3
    # Nothing was tracked locally: no SQLite store, no local artifact folder.
    assert not (results / "mlflow/mlflow.db").exists() and not (workdir / "mlruns").exists()
    dry = run_snakemake(workdir, "-n")
    assert "Nothing to be done" in dry.stdout + dry.stderr


@pytest.mark.cluster
def test_runs_metrics_and_artifacts_are_on_the_server(slurm_run, client, cluster):
    workdir, output = slurm_run
    slurm_ids = set(submitted_jobs(output).values())
    experiment = client.get_experiment_by_name(EXPERIMENT)
    assert experiment.artifact_location.startswith("mlflow-artifacts:")
    runs = client.search_runs([experiment.experiment_id])
    by_name = {run.info.run_name: run for run in runs}
    assert sorted(by_name) == ["mlp", "svm", "svm-loso", "svm-loso-george", "svm-loso-theo"]
    for name in ("mlp", "svm"):
        run = by_name[name]
        assert run.info.status == "FINISHED"
        assert run.data.tags["slurm_job_id"] in slurm_ids
        assert run.data.tags["slurm_cluster"] == local.CLUSTER_NAME
        metrics = json.loads((workdir / f"results/evaluation/{name}/test_metrics.json").read_text())
        assert run.data.metrics["test_accuracy"] == pytest.approx(metrics["accuracy"])
        assert len(client.get_metric_history(run.info.run_id, "val_accuracy")) >= 1
        files = {a.path for a in client.list_artifacts(run.info.run_id, "evaluation")}
        assert "evaluation/test_confusion_matrix.png" in files
        # The artifacts went through the server into its --artifacts-destination.
        stored = list(cluster.artifacts.rglob("test_confusion_matrix.png"))
        assert any(run.info.run_id in str(path) for path in stored)
    parent = by_name["svm-loso"].info.run_id
    with (workdir / "results/loso/svm/accuracy_per_speaker.csv").open() as table:
        fold_accuracy = {row["speaker"]: float(row["accuracy"]) for row in csv.DictReader(table)}
    assert sorted(fold_accuracy) == ["george", "theo"]
    for speaker in ("george", "theo"):
        fold = by_name[f"svm-loso-{speaker}"]
        assert fold.data.tags["mlflow.parentRunId"] == parent
        assert fold.data.tags["slurm_job_id"] in slurm_ids
        # Each fold's run holds the accuracy its speaker has in the LOSO table.
        assert fold.data.metrics["test_accuracy"] == pytest.approx(fold_accuracy[speaker])


@pytest.mark.cluster
def test_champion_alias_is_on_the_server(slurm_run, client):
    workdir, _ = slurm_run
    champion = json.loads((workdir / "results/comparison/champion.json").read_text())
    version = client.get_model_version_by_alias(REGISTERED, "champion")
    assert version.run_id == champion["run_id"] and int(version.version) == champion["version"]


def predict(cluster, *args, env=None, cwd=None):
    result = subprocess.run(
        [str(BIN / "fsdd-predict"), "--json", *map(str, args)],
        capture_output=True,
        text=True,
        timeout=min(300, cluster.time_left()),
        env=env,
        cwd=cwd,
        check=False,
    )
    assert (result.returncode, result.stderr) == (0, ""), result.stderr[-3000:]
    return json.loads(result.stdout)


@pytest.mark.cluster
def test_fsdd_predict_and_serving_use_the_server(slurm_run, cluster, fsdd_subset, tmp_path):
    wavs = sorted(fsdd_subset.glob("*_theo_0.wav"))
    # From an empty folder: the model can only come from the tracking server.
    by_option = predict(cluster, "--tracking-uri", cluster.tracking_uri, *wavs, cwd=tmp_path)
    env = {**cluster.env, "MLFLOW_TRACKING_URI": cluster.tracking_uri}
    by_env = predict(cluster, *wavs, env=env, cwd=tmp_path)
    assert [r["digit"] for r in by_option] == [r["digit"] for r in by_env]
    assert len(by_option) == 10 and all(r["digit"] in range(10) for r in by_option)

    champion = f"models:/{REGISTERED}@champion"
    with served_model(champion, cluster.tracking_uri, tmp_path) as url:
        rows = [[base64.b64encode(wav.read_bytes()).decode("ascii")] for wav in wavs]
        payload = {"dataframe_split": {"columns": ["audio_base64"], "data": rows}}
        headers = {"Content-Type": "application/json"}
        request = urllib.request.Request(
            f"{url}/invocations", json.dumps(payload).encode(), headers
        )
        with urllib.request.urlopen(request, timeout=120) as response:
            assert response.status == 200
            predictions = json.loads(response.read())["predictions"]
    assert [p["digit"] for p in predictions] == [r["digit"] for r in by_option]


@pytest.mark.cluster
def test_eight_training_jobs_at_once_on_the_cluster(cluster, tmp_path, eight_models_workdir):
    # A fresh store: a new PostgreSQL database behind a tracking server of its own.
    uri = cluster.start_tracking_server("concurrency", cluster.root / "artifacts-concurrency")
    workdir = copy_workdir(eight_models_workdir, tmp_path / "workflow", tracking_uri=uri)
    output, _ = run_on_cluster(cluster, workdir, *run_id_targets())
    slurm_ids = list(submitted_jobs(output).values())
    assert len(slurm_ids) == 8
    starts = []
    for slurm_id in slurm_ids:
        job = cluster.slurm("scontrol", "show", "job", slurm_id)
        assert "JobState=COMPLETED" in job
        starts.append(datetime.fromisoformat(re.search(r"StartTime=(\S+)", job)[1]))
    assert (max(starts) - min(starts)).total_seconds() <= 5, starts
    assert_eight_runs_overlap(mlflow.MlflowClient(uri), workdir)
