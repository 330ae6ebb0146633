import json

import mlflow
import numpy as np
import pandas as pd
import pytest

from fsdd_pipeline.loso import fold_splits, plot_accuracy_per_speaker, summarize_folds
from fsdd_pipeline.robustness import robustness_summary

from .conftest import make_workdir, run_snakemake


def toy_dataset():
    rows = [
        (f"{d}_{s}_{i}.wav", d, s, i, "test" if i < 5 else ("val" if i == 5 else "train"))
        for s in ("ann", "bob", "cid")
        for d in range(10)
        for i in range(8)
    ]
    return pd.DataFrame(rows, columns=["file_name", "digit", "speaker", "sample_number", "split"])


@pytest.mark.parametrize("held_out", ["ann", "bob", "cid"])
def test_held_out_speaker_is_only_in_the_test_fold(held_out):
    dataset = toy_dataset()
    train, val, test = fold_splits(dataset, held_out)
    assert held_out not in set(train.speaker) | set(val.speaker)
    assert set(test.speaker) == {held_out} and len(test) == 80
    assert set(train.file_name).isdisjoint(val.file_name)
    assert len(train) + len(val) + len(test) == len(dataset)
    assert set(val.split) == {"val"}


def test_unknown_speaker_fold_is_refused():
    with pytest.raises(KeyError, match="zoe"):
        fold_splits(toy_dataset(), "zoe")


def test_fold_summary_and_figure():
    def metrics(correct, total=10):
        confusion = np.zeros((10, 10), int)
        confusion[0, 0], confusion[0, 1] = correct, total - correct
        return {
            "accuracy": correct / total,
            "f1_macro": 0.5,
            "n": total,
            "confusion_matrix": confusion.tolist(),
        }

    per_speaker, summary, confusion = summarize_folds({"bob": metrics(6), "ann": metrics(10)})
    assert list(per_speaker.speaker) == ["ann", "bob"]
    assert summary["mean_accuracy"] == pytest.approx(0.8)
    assert summary["std_accuracy"] == pytest.approx(np.std([1.0, 0.6], ddof=1))
    assert summary["worst_speaker"] == "bob" and summary["min_accuracy"] == 0.6
    assert confusion.sum() == 20 and summary["pooled_accuracy"] == pytest.approx(0.8)
    assert plot_accuracy_per_speaker({"m": per_speaker}).axes


def test_robustness_summary_has_worst_drop():
    table = pd.DataFrame(
        {"transform": ["clean", "noise"], "accuracy": [0.9, 0.8], "drop_points": [0.0, 10.0]}
    )
    summary = robustness_summary({"m": table})
    assert summary.loc["m", "noise"] == 0.8 and summary.loc["m", "worst_drop_points"] == 10.0


@pytest.mark.e2e
def test_loso_and_robustness_workflow(tmp_path, fsdd_subset):
    """LOSO of a fast model on the 2-speaker subset: two folds as nested MLflow runs."""
    workdir = make_workdir(
        tmp_path,
        fsdd_subset,
        {
            "models": {
                "svm": {
                    "type": "svm",
                    "features": ["mfcc"],
                    "pooling": "stats",
                    "C": 10.0,
                    "gamma": "scale",
                    "seed": 1,
                }
            },
            "loso.models": ["svm"],
        },
    )
    run_snakemake(workdir, "results/loso/accuracy_per_speaker.png", "results/robustness/svm.csv")
    results = workdir / "results"
    for speaker in ("george", "theo"):
        fold = json.loads((results / f"loso/svm/{speaker}/test_metrics.json").read_text())
        predictions = pd.read_csv(results / f"loso/svm/{speaker}/test_predictions.csv")
        assert fold["n"] == 70 and set(predictions.speaker) == {speaker}
    per_speaker = pd.read_csv(results / "loso/svm/accuracy_per_speaker.csv")
    summary = json.loads((results / "loso/svm/summary.json").read_text())
    assert summary["mean_accuracy"] == pytest.approx(per_speaker.accuracy.mean())
    confusion = pd.read_csv(results / "loso/svm/confusion_matrix.csv", index_col=0)
    assert confusion.to_numpy().sum() == 140

    robustness = pd.read_csv(results / "robustness/svm.csv")
    assert list(robustness["transform"])[:2] == ["clean", "white_noise_20db"]
    assert robustness["accuracy"].between(0, 1).all()

    client = mlflow.MlflowClient(f"sqlite:///{results}/mlflow/mlflow.db")
    experiment = client.get_experiment_by_name("fsdd-digits")
    parent_id = (results / "loso/svm/mlflow_parent_run_id.txt").read_text().strip()
    children = client.search_runs(
        [experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{parent_id}'"
    )
    assert sorted(r.data.tags["held_out_speaker"] for r in children) == ["george", "theo"]
    assert all("test_accuracy" in r.data.metrics for r in children)
    parent = client.get_run(parent_id)
    assert parent.data.metrics["loso_mean_accuracy"] == pytest.approx(summary["mean_accuracy"])
    training_run = client.get_run((results / "models/svm/mlflow_run_id.txt").read_text().strip())
    assert "robust_white_noise_10db_accuracy" in training_run.data.metrics
