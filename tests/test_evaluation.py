import json
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import confusion_matrix

from fsdd_pipeline.evaluation.comparison import (
    best_model,
    comparison_row,
    comparison_table,
    markdown_table,
    plot_comparison,
)
from fsdd_pipeline.evaluation.html_tables import html_table
from fsdd_pipeline.evaluation.metrics import (
    EVALUATION_FILES,
    classification_report_text,
    evaluate,
    plot_roc_curves,
    write_evaluation,
)
from fsdd_pipeline.io import save_figure


def _random_case(n=60, seed=0, accuracy=0.7):
    """Labels covering every digit and softmax-like probabilities that are often right."""
    rng = np.random.default_rng(seed)
    y_true = np.arange(n) % 10
    logits = rng.normal(size=(n, 10))
    correct = rng.random(n) < accuracy
    logits[correct, y_true[correct]] += 4
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    speakers = [("george", "theo", "jackson")[i % 3] for i in range(n)]
    file_names = [f"{d}_{s}_{i}.wav" for i, (d, s) in enumerate(zip(y_true, speakers, strict=True))]
    return file_names, y_true, speakers, proba


def _one_hot(digits):
    return np.eye(10)[np.asarray(digits)]


def test_accuracy_matches_predictions_table():
    file_names, y_true, speakers, proba = _random_case()
    predictions, metrics = evaluate(file_names, y_true, speakers, proba)
    assert list(predictions.columns) == [
        "file_name",
        "speaker",
        "true_digit",
        "predicted_digit",
        *(f"prob_{d}" for d in range(10)),
    ]
    recomputed = (predictions.true_digit == predictions.predicted_digit).mean()
    assert metrics["accuracy"] == pytest.approx(recomputed)
    assert 0 < metrics["accuracy"] < 1
    assert (predictions.predicted_digit == proba.argmax(axis=1)).all()
    assert metrics["n"] == len(y_true)
    # The metrics must survive a JSON round trip unchanged.
    assert json.loads(json.dumps(metrics)) == metrics


def test_confusion_matrix_sums_to_n_and_matches_sklearn():
    file_names, y_true, speakers, proba = _random_case(n=47, seed=3)
    _, metrics = evaluate(file_names, y_true, speakers, proba)
    confusion = np.array(metrics["confusion_matrix"])
    assert confusion.shape == (10, 10)
    assert confusion.sum() == 47
    expected = confusion_matrix(y_true, proba.argmax(axis=1), labels=list(range(10)))
    np.testing.assert_array_equal(confusion, expected)
    supports = [metrics["per_class"][str(d)]["support"] for d in range(10)]
    assert supports == confusion.sum(axis=1).tolist()


def test_accuracy_per_speaker_on_hand_made_example():
    y_true = [1, 2, 3, 4, 5, 6]
    predicted = [1, 2, 0, 4, 0, 0]
    speakers = ["ann", "ann", "ann", "bob", "bob", "cid"]
    file_names = [f"{d}_{s}_{i}.wav" for i, (d, s) in enumerate(zip(y_true, speakers, strict=True))]
    _, metrics = evaluate(file_names, y_true, speakers, _one_hot(predicted))
    assert metrics["accuracy_per_speaker"] == pytest.approx({"ann": 2 / 3, "bob": 0.5, "cid": 0.0})
    assert metrics["accuracy"] == pytest.approx(3 / 6)


def test_perfect_predictions():
    y_true = np.repeat(np.arange(10), 3)
    file_names = [f"{d}_x_{i}.wav" for i, d in enumerate(y_true)]
    _, metrics = evaluate(file_names, y_true, ["x"] * len(y_true), _one_hot(y_true))
    assert metrics["accuracy"] == 1.0
    assert metrics["f1_macro"] == 1.0
    assert metrics["roc_auc_macro"] == 1.0
    assert metrics["roc_auc_micro"] == 1.0
    assert metrics["roc_auc_skipped_classes"] == []


def test_absent_class_does_not_crash(tmp_path):
    y_true = [0, 1, 1, 2, 3]  # digits 4-9 never occur
    rng = np.random.default_rng(1)
    proba = rng.dirichlet(np.ones(10), size=len(y_true))
    file_names = [f"{d}_x_{i}.wav" for i, d in enumerate(y_true)]
    _, metrics = evaluate(file_names, y_true, ["x"] * 5, proba)
    assert metrics["roc_auc_skipped_classes"] == [4, 5, 6, 7, 8, 9]
    assert 0 <= metrics["roc_auc_macro"] <= 1
    assert 0 <= metrics["roc_auc_micro"] <= 1
    assert metrics["per_class"]["7"]["support"] == 0
    assert "0.0000" in classification_report_text(y_true, proba.argmax(axis=1))
    # A single class leaves no AUC defined at all.
    _, single = evaluate(["a", "b"], [3, 3], ["x", "x"], proba[:2])
    assert single["roc_auc_macro"] is None
    assert single["roc_auc_skipped_classes"] == list(range(10))
    save_figure(plot_roc_curves([3, 3], proba[:2]), tmp_path / "roc.png")


def test_write_evaluation_writes_all_outputs(tmp_path):
    file_names, y_true, speakers, proba = _random_case()
    out = tmp_path / "out"
    paths = {kind: out / f"test_{name}" for kind, name in EVALUATION_FILES.items()}
    metrics = write_evaluation(paths, file_names, y_true, speakers, proba)
    names = [
        "test_predictions.csv",
        "test_metrics.json",
        "test_classification_report.txt",
        "test_confusion_matrix.csv",
        "test_confusion_matrix.png",
        "test_roc_curves.png",
    ]
    assert sorted(p.name for p in out.iterdir()) == sorted(names)  # no temporary files left
    assert json.loads((out / "test_metrics.json").read_text()) == metrics
    assert len(pd.read_csv(out / "test_predictions.csv")) == len(y_true)
    confusion = pd.read_csv(out / "test_confusion_matrix.csv", index_col=0)
    assert confusion.shape == (10, 10)
    assert list(confusion.columns) == [str(d) for d in range(10)]
    assert confusion.to_numpy().tolist() == metrics["confusion_matrix"]
    assert "macro avg" in (out / "test_classification_report.txt").read_text()
    for png in ("test_confusion_matrix.png", "test_roc_curves.png"):
        assert (out / png).stat().st_size > 5_000


def _history(val_losses):
    epochs = len(val_losses)
    return pd.DataFrame(
        {
            "epoch": range(epochs),
            "loss": np.linspace(2.0, 0.5, epochs),
            "accuracy": np.linspace(0.3, 0.9, epochs),
            "val_loss": val_losses,
            "val_accuracy": np.linspace(0.2, 0.8, epochs),
        }
    )


def _row(name, f1, accuracy, loso=None):
    return comparison_row(
        name,
        "cnn",
        _history([1.0, 0.8, 0.9]),
        {"accuracy": accuracy, "f1_macro": f1, "roc_auc_macro": 0.99},
        {"params": 1234, "training_time_s": 12.5},
        loso=loso,
    )


def test_comparison_row_uses_best_val_loss_epoch():
    history = _history([1.2, 0.9, 0.7, 0.75, 0.8])
    metrics = {"accuracy": 0.9, "f1_macro": 0.88, "roc_auc_macro": 0.97}
    info = {"params": 5000, "training_time_s": 3.25}
    loso = {"mean": 0.8, "std": 0.05, "min": 0.7}
    row = comparison_row("mlp", "dense", history, metrics, info, loso=loso)
    assert row["epochs"] == 5
    assert row["val_loss"] == pytest.approx(0.7)
    assert row["train_loss"] == pytest.approx(history.loss[2])
    assert row["train_accuracy"] == pytest.approx(history.accuracy[2])
    assert row["val_accuracy"] == pytest.approx(history.val_accuracy[2])
    assert (row["test_accuracy"], row["test_f1_macro"], row["test_roc_auc_macro"]) == (
        0.9,
        0.88,
        0.97,
    )
    assert (row["params"], row["training_time_s"]) == (5000, 3.25)
    assert row["loso_accuracy"] == "0.8000 ± 0.0500"
    assert (row["loso_mean_accuracy"], row["loso_min_accuracy"]) == (0.8, 0.7)
    assert _row("x", 0.5, 0.5)["loso_accuracy"] == ""


def test_comparison_row_gives_the_digit_string_scores_of_models_scored_on_strings():
    history = _history([1.0, 0.8])
    metrics, info = {"accuracy": 0.9, "f1_macro": 0.88}, {"params": 1, "training_time_s": 1.0}
    strings = pd.DataFrame(
        {
            "evaluation": ["official", "loso", "loso", "loso_pin", "loso_pin"],
            "bucket": ["all", "0-0.1s", "all", "0.2-0.6s", "all"],
            "string_accuracy": [0.9, 0.4, 0.6, 0.8, 0.8],
            "digit_error_rate": [0.03, 0.12, 0.075, 0.05, 0.05],
        }
    )
    row = comparison_row("m", "logreg", history, metrics, info, strings=strings)
    assert (row["strings_loso_der"], row["strings_loso_exact"], row["pins_loso_exact"]) == (
        0.075,
        0.6,
        0.8,
    )
    without_pins = comparison_row(
        "m", "logreg", history, metrics, info, strings=strings[strings.evaluation != "loso_pin"]
    )
    assert without_pins["pins_loso_exact"] is None
    unscored = comparison_row("m", "logreg", history, metrics, info)
    assert unscored["strings_loso_der"] is None and unscored["pins_loso_exact"] is None


def test_speaker_independence_decides_the_champion(tmp_path):
    rows = [
        _row("b_model", 0.90, 0.91, {"mean": 0.95, "std": 0.01, "min": 0.93}),
        _row("official_best", 0.99, 0.99),  # no LOSO: cannot be the champion
        _row("a_model", 0.90, 0.91, {"mean": 0.95, "std": 0.02, "min": 0.92}),
        _row("speaker_independent", 0.90, 0.93, {"mean": 0.97, "std": 0.01, "min": 0.96}),
    ]
    frame = comparison_table(rows)
    assert frame["model"].tolist() == ["speaker_independent", "a_model", "b_model", "official_best"]
    name, reason = best_model(frame)
    assert name == "speaker_independent" and reason.startswith("best LOSO mean (0.9700")
    assert frame.loc[0, "selection"].startswith("champion: best LOSO mean")
    assert frame.loc[3, "selection"] == "no LOSO evaluation: not a candidate"
    assert "below the champion's" in frame.loc[1, "selection"]
    # best_model does not rely on the frame being sorted already.
    assert best_model(frame.iloc[::-1])[0] == "speaker_independent"
    # A LOSO tie goes to the official split, then the name.
    assert best_model(comparison_table(rows[:1] + rows[2:3]))[0] == "a_model"
    # Without any LOSO, the official split decides.
    assert best_model(comparison_table([_row("x", 0.8, 0.8), _row("y", 0.7, 0.9)]))[0] == "y"
    figure = plot_comparison(frame)
    labels = [tick.get_text() for tick in figure.axes[0].get_xticklabels()]
    assert labels == ["speaker_independent\n(champion)", "a_model", "b_model", "official_best"]
    save_figure(figure, tmp_path / "comparison.png")
    assert (tmp_path / "comparison.png").stat().st_size > 5_000


def test_markdown_table_lists_every_model():
    loso = {"mean": 0.85, "std": 0.04, "min": 0.8}
    rows = [_row("cnn_mfcc", 0.9, 0.91, loso), _row("mlp_chroma", 0.6, 0.62)]
    text = markdown_table(comparison_table(rows))
    assert text.startswith("| model")
    for name in ("cnn_mfcc", "mlp_chroma"):
        assert name in text
    assert "0.9100" in text
    assert "0.8500 ± 0.0400" in text
    rows[1]["test_roc_auc_macro"] = None
    assert "nan" not in markdown_table(comparison_table(rows))


def test_html_table_shows_every_cell_escaped_and_marks_the_champion():
    loso = {"mean": 0.85, "std": 0.04, "min": 0.8}
    rows = [_row("cnn_<mfcc>", 0.9, 0.91, loso), _row("mlp & chroma", 0.6, 0.62)]
    rows[1]["test_roc_auc_macro"] = None
    frame = comparison_table(rows)
    page = html_table(frame, "Model comparison", note="a <note>", highlight_rows=[0])
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "cnn_&lt;mfcc&gt;" in page and "mlp &amp; chroma" in page and "a &lt;note&gt;" in page
    assert "<mfcc>" not in page
    assert page.count("<tr") == 1 + len(frame)  # the header and every model
    assert page.count('<tr class="highlight">') == 1
    assert '<tr class="highlight"><td>cnn_&lt;mfcc&gt;</td>' in page
    assert '<td class="number">0.9100</td>' in page and "<td>0.8500 ± 0.0400</td>" in page
    assert '<td class="number">1234</td>' in page  # parameters: an integer
    assert "<td>n/a</td>" in page and "nan" not in page


def test_evaluation_modules_import_matplotlib_only_to_draw():
    script = (
        "import sys\n"
        "import fsdd_pipeline.evaluation.metrics, fsdd_pipeline.evaluation.loso\n"
        "import fsdd_pipeline.evaluation.comparison, fsdd_pipeline.evaluation.eda\n"
        "import fsdd_pipeline.models.training\n"
        "assert 'matplotlib' not in sys.modules\n"
        "from fsdd_pipeline.evaluation.metrics import plot_confusion_matrix\n"
        "plot_confusion_matrix([[1, 0], [0, 1]])\n"
        "import matplotlib\n"
        "assert matplotlib.get_backend().lower() == 'agg', matplotlib.get_backend()\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
