import json

import mlflow
import numpy as np
import pandas as pd
import pytest

from docs.generate_results import glance_markdown, results_markdown
from fsdd_pipeline.audio.realistic_takes import REALISTIC_TRANSFORMS
from fsdd_pipeline.evaluation.loso import (
    fold_splits,
    load_fold_classifiers,
    plot_accuracy_per_speaker,
    save_fold_classifiers,
    summarize_folds,
)
from fsdd_pipeline.evaluation.robustness import (
    TRANSFORM_GROUPS,
    robustness_features,
    robustness_summary,
)
from fsdd_pipeline.features.spectral import FeatureParams

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


def test_fold_models_are_read_back_by_speaker(tmp_path):
    path = tmp_path / "fold_models.joblib"
    save_fold_classifiers({"george": [1, 2], "theo": [3]}, path)
    fold_classifier = load_fold_classifiers(path)
    assert fold_classifier("theo") == [3]
    with pytest.raises(
        KeyError,
        match=r"fold_models.joblib holds no fold for speaker 'lucas' "
        r"\(folds: george, theo\)",
    ):
        fold_classifier("lucas")


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


def test_loso_figure_labels_and_legend_overlap_nothing():
    speakers = ["george", "jackson", "lucas", "nicolas", "theo", "yweweler"]
    rng = np.random.default_rng(0)
    per_speaker = {
        f"model_with_a_long_name_{i}": pd.DataFrame(
            {"speaker": speakers, "accuracy": rng.uniform(0.9, 1.0, len(speakers))}
        )
        for i in range(7)
    }
    figure = plot_accuracy_per_speaker(per_speaker)
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    (axis,) = figure.axes
    labels = [text.get_window_extent(renderer) for text in axis.texts]
    assert len(labels) == 7 * len(speakers)
    for i, first in enumerate(labels):
        for second in labels[i + 1 :]:
            assert not first.overlaps(second), "two bar labels overlap"
    legend = axis.get_legend().get_window_extent(renderer)
    assert not legend.overlaps(axis.get_window_extent(renderer)), "the legend covers bars"


def test_robustness_features_computes_only_the_features_asked_for():
    rng = np.random.default_rng(0)
    t = np.arange(4000) / 8000
    word = (0.3 * np.sin(2 * np.pi * 300 * t) * np.hanning(t.size)).astype(np.float32)
    test = pd.DataFrame(
        {
            "file_name": ["3_ann_0.wav"],
            "digit": [3],
            "samples": [word + 1e-4 * rng.standard_normal(t.size)],
        }
    )
    features = robustness_features(test, FeatureParams(), "standard", features=["mfcc"])
    assert list(features["transform"]) == [name for name, _, _ in TRANSFORM_GROUPS["standard"]]
    assert {"mfcc", "mfcc_shape"} <= set(features.columns)
    assert not {"chroma", "spectrogram", "embedding"} & set(features.columns)


def test_robustness_summary_has_worst_drop():
    table = pd.DataFrame(
        {"transform": ["clean", "noise"], "accuracy": [0.9, 0.8], "drop_points": [0.0, 10.0]}
    )
    summary = robustness_summary({"m": table})
    assert summary.loc["m", "noise"] == 0.8 and summary.loc["m", "worst_drop_points"] == 10.0


@pytest.mark.e2e
def test_loso_robustness_levers_and_champion_workflow(tmp_path, fsdd_subset):
    """LOSO of two fast models on the 2-speaker subset (two folds each, nested MLflow runs),
    the champion chosen by LOSO, realistic takes with and without endpointing, the levers:
    the scenario .test/config_loso.yaml."""
    workdir = make_workdir(tmp_path, fsdd_subset, scenario=".test/config_loso.yaml")
    run_snakemake(workdir)
    results = workdir / "results"
    folds = json.loads((results / "loso/emb/fold_metrics.json").read_text())
    predictions = pd.read_csv(results / "loso/emb/predictions.csv")
    assert sorted(folds) == ["george", "theo"]
    for speaker, fold in folds.items():
        held_out = predictions[predictions.speaker == speaker]
        assert fold["n"] == len(held_out) == 70
        assert fold["accuracy"] == pytest.approx(
            (held_out.true_digit == held_out.predicted_digit).mean()
        )
    per_speaker = pd.read_csv(results / "loso/emb/accuracy_per_speaker.csv")
    summary = json.loads((results / "loso/emb/summary.json").read_text())
    assert summary["mean_accuracy"] == pytest.approx(per_speaker.accuracy.mean())
    confusion = pd.read_csv(results / "loso/emb/confusion_matrix.csv", index_col=0)
    assert confusion.to_numpy().sum() == 140

    robustness = pd.read_csv(results / "robustness/emb.csv").set_index("transform")
    assert list(robustness.index)[:2] == ["clean", "white_noise_20db"]
    assert {"take_white_20db", "take_white_20db_no_endpointing"} <= set(robustness.index)
    assert robustness["accuracy"].between(0, 1).all()
    realistic = list(REALISTIC_TRANSFORMS)
    with_detector = robustness.loc[realistic, "accuracy"].mean()
    without = robustness.loc[[f"{t}_no_endpointing" for t in realistic], "accuracy"].mean()

    comparison = pd.read_csv(results / "comparison/comparison.csv")
    champion = json.loads((results / "comparison/champion.json").read_text())
    loso = {
        m: json.loads((results / f"loso/{m}/summary.json").read_text()) for m in ("emb", "mfcc")
    }
    best = max(loso, key=lambda m: (loso[m]["mean_accuracy"], m == "emb"))
    assert champion["model"] == comparison.model[0] == best
    assert champion["reason"].startswith("best LOSO mean")
    assert comparison.selection[0].startswith("champion: best LOSO mean")

    levers = pd.read_csv(results / "comparison/levers.csv").set_index("lever")
    assert levers.loc["embedding", "LOSO mean: variant"] == pytest.approx(
        loso["emb"]["mean_accuracy"]
    )
    assert levers.loc["endpointing", "realistic takes: points"] == pytest.approx(
        100 * (with_detector - without), abs=0.01
    )
    assert "embedding" in (results / "comparison/levers.md").read_text()

    # The report shows every table in place: HTML beside each Markdown table.
    comparison_page = (results / "comparison/comparison.html").read_text()
    assert f'<tr class="highlight"><td>{best}</td>' in comparison_page
    assert "embedding" in (results / "comparison/levers.html").read_text()
    assert all(m in (results / "robustness/robustness.html").read_text() for m in loso)
    run_snakemake(workdir, "--report", "report.html")
    report = (workdir / "report.html").read_text()
    for page in ("comparison.html", "levers.html", "robustness.html"):
        assert page in report

    # The docs' results generator reads this folder as it reads a full run's.
    glance = glance_markdown(results)
    assert f"`{best}`" in glance and f"**{best}** (champion)" in glance
    page = results_markdown(results)
    assert all(m in page for m in loso)
    assert "**Model comparison**" in page and "**Robustness**" in page

    client = mlflow.MlflowClient(f"sqlite:///{results}/mlflow/mlflow.db")
    experiment = client.get_experiment_by_name("fsdd-digits")
    parent_id = (results / "loso/emb/mlflow_parent_run_id.txt").read_text().strip()
    children = client.search_runs(
        [experiment.experiment_id], f"tags.`mlflow.parentRunId` = '{parent_id}'"
    )
    assert sorted(r.data.tags["held_out_speaker"] for r in children) == ["george", "theo"]
    for child in children:
        speaker = child.data.tags["held_out_speaker"]
        assert child.data.metrics["test_accuracy"] == pytest.approx(folds[speaker]["accuracy"])
        files = {a.path for a in client.list_artifacts(child.info.run_id, "evaluation")}
        assert "evaluation/test_confusion_matrix.png" in files
    parent = client.get_run(parent_id)
    assert parent.data.metrics["loso_mean_accuracy"] == pytest.approx(summary["mean_accuracy"])
    training_run = client.get_run((results / "models/emb/mlflow_run_id.txt").read_text().strip())
    assert "robust_take_white_20db_accuracy" in training_run.data.metrics
    version = client.get_model_version_by_alias("fsdd-digit-classifier", "champion")
    assert version.description.startswith(f"{champion['model']}: best LOSO mean")
