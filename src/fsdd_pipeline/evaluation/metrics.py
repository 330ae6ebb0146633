"""Evaluation of a 10-class digit classifier: metrics, reports and figures."""

import numpy as np
import pandas as pd
from sklearn.metrics import (
    accuracy_score,
    auc,
    classification_report,
    confusion_matrix,
    precision_recall_fscore_support,
    roc_auc_score,
    roc_curve,
)
from sklearn.preprocessing import label_binarize

from fsdd_pipeline.evaluation.plots import pyplot
from fsdd_pipeline.io import save_figure, write_csv, write_json, write_text
from fsdd_pipeline.labels import LABELS, PROB_COLUMNS
from fsdd_pipeline.planning.evaluation_files import EVALUATION_FILES


def _validate(y_true, proba):
    y_true = np.asarray(y_true, dtype=int)
    proba = np.asarray(proba, dtype=float)
    if proba.ndim != 2 or proba.shape[1] != len(LABELS):
        raise ValueError(f"proba must have shape (n, {len(LABELS)}), got {proba.shape}")
    if y_true.ndim != 1 or y_true.size == 0:
        raise ValueError("y_true must be a non-empty 1-d sequence of digits")
    if proba.shape[0] != y_true.shape[0]:
        raise ValueError(f"{y_true.shape[0]} labels but {proba.shape[0]} probability rows")
    if y_true.min() < 0 or y_true.max() > 9:
        raise ValueError("y_true must hold digits 0-9")
    return y_true, proba


def _rocable_classes(y_binary):
    """Classes whose one-vs-rest column has both positives and negatives (AUC is defined)."""
    positives = y_binary.sum(axis=0)
    return [d for d in LABELS if 0 < positives[d] < y_binary.shape[0]]


def _roc_auc(y_true, proba):
    """One-vs-rest macro and micro ROC AUC, macro over the classes where it is defined.

    Classes absent from ``y_true`` have no defined AUC (small subsets, tests), so they are
    skipped and listed rather than turned into NaN or an exception.
    """
    # Binarising ourselves (instead of multi_class="ovr") also avoids sklearn's check that
    # rows sum to exactly 1, which float32 softmax outputs may fail.
    y_binary = label_binarize(y_true, classes=LABELS)
    valid = _rocable_classes(y_binary)
    macro = (
        float(roc_auc_score(y_binary[:, valid], proba[:, valid], average="macro"))
        if valid
        else None
    )
    # Micro pools all n*10 cells: with n >= 1 it always has positives and negatives.
    micro = float(roc_auc_score(y_binary, proba, average="micro"))
    skipped = [d for d in LABELS if d not in valid]
    return macro, micro, skipped


def evaluate(file_names, y_true, speakers, proba):
    """Predictions table and JSON-serialisable metrics for class probabilities ``proba``."""
    y_true, proba = _validate(y_true, proba)
    if not len(file_names) == len(speakers) == len(y_true):
        raise ValueError("file_names, y_true and speakers must have the same length")
    y_pred = proba.argmax(axis=1)

    predictions = pd.DataFrame(
        {
            "file_name": list(file_names),
            "speaker": list(speakers),
            "true_digit": y_true,
            "predicted_digit": y_pred,
        }
    )
    predictions[PROB_COLUMNS] = proba

    metrics = {"n": len(y_true), "accuracy": float(accuracy_score(y_true, y_pred))}
    for average in ("macro", "weighted"):
        precision, recall, f1, _ = precision_recall_fscore_support(
            y_true, y_pred, labels=LABELS, average=average, zero_division=0
        )
        metrics[f"precision_{average}"] = float(precision)
        metrics[f"recall_{average}"] = float(recall)
        metrics[f"f1_{average}"] = float(f1)

    macro, micro, skipped = _roc_auc(y_true, proba)
    metrics["roc_auc_macro"] = macro
    metrics["roc_auc_micro"] = micro
    metrics["roc_auc_skipped_classes"] = skipped

    precision, recall, f1, support = precision_recall_fscore_support(
        y_true, y_pred, labels=LABELS, average=None, zero_division=0
    )
    # String keys so the dict is identical to what JSON gives back.
    metrics["per_class"] = {
        str(digit): {
            "precision": float(precision[i]),
            "recall": float(recall[i]),
            "f1": float(f1[i]),
            "support": int(support[i]),
        }
        for i, digit in enumerate(LABELS)
    }
    metrics["accuracy_per_speaker"] = {
        str(speaker): float(accuracy_score(group.true_digit, group.predicted_digit))
        for speaker, group in predictions.groupby("speaker", sort=True)
    }
    metrics["confusion_matrix"] = confusion_matrix(y_true, y_pred, labels=LABELS).tolist()
    return predictions, metrics


def classification_report_text(y_true, y_pred):
    """The sklearn classification report for digits 0-9."""
    return classification_report(
        y_true,
        y_pred,
        labels=LABELS,
        target_names=[str(d) for d in LABELS],
        digits=4,
        zero_division=0,
    )


def _annotated_matrix(axis, matrix, fmt, title, vmax):
    image = axis.imshow(matrix, cmap="Blues", vmin=0, vmax=vmax)
    threshold = vmax / 2
    for row in range(matrix.shape[0]):
        for column in range(matrix.shape[1]):
            value = matrix[row, column]
            axis.text(
                column,
                row,
                format(value, fmt),
                ha="center",
                va="center",
                fontsize=8,
                color="white" if value > threshold else "black",
            )
    axis.set(
        xticks=LABELS,
        yticks=LABELS,
        xlabel="predicted digit",
        ylabel="true digit",
        title=title,
    )
    return image


def plot_confusion_matrix(confusion):
    """Counts and row-normalised confusion matrices side by side."""
    plt = pyplot()
    counts = np.asarray(confusion, dtype=float)
    totals = counts.sum(axis=1, keepdims=True)
    normalised = np.divide(counts, totals, out=np.zeros_like(counts), where=totals > 0)

    figure, (left, right) = plt.subplots(1, 2, figsize=(14, 6))
    image = _annotated_matrix(
        left, counts.astype(int), "d", "Confusion matrix (counts)", max(counts.max(), 1)
    )
    figure.colorbar(image, ax=left, fraction=0.046, pad=0.04)
    image = _annotated_matrix(right, normalised, ".2f", "Confusion matrix (row-normalised)", 1.0)
    figure.colorbar(image, ax=right, fraction=0.046, pad=0.04)
    return figure


def plot_roc_curves(y_true, proba):
    """One-vs-rest ROC curve per digit plus micro- and macro-average curves."""
    plt = pyplot()
    y_true, proba = _validate(y_true, proba)
    y_binary = label_binarize(y_true, classes=LABELS)
    valid = _rocable_classes(y_binary)

    figure, axis = plt.subplots(figsize=(8, 7))
    colours = plt.get_cmap("tab10")
    curves = {}
    for digit in valid:
        fpr, tpr, _ = roc_curve(y_binary[:, digit], proba[:, digit])
        curves[digit] = (fpr, tpr)
        axis.plot(
            fpr, tpr, lw=1, color=colours(digit), label=f"digit {digit} (AUC {auc(fpr, tpr):.4f})"
        )

    fpr, tpr, _ = roc_curve(y_binary.ravel(), proba.ravel())
    axis.plot(
        fpr, tpr, lw=2.5, ls=":", color="deeppink", label=f"micro-average (AUC {auc(fpr, tpr):.4f})"
    )
    if curves:
        grid = np.unique(np.concatenate([fpr for fpr, _ in curves.values()]))
        mean_tpr = np.mean([np.interp(grid, fpr, tpr) for fpr, tpr in curves.values()], axis=0)
        axis.plot(
            grid,
            mean_tpr,
            lw=2.5,
            ls=":",
            color="navy",
            label=f"macro-average (AUC {auc(grid, mean_tpr):.4f})",
        )

    axis.plot([0, 1], [0, 1], ls="--", lw=1, color="grey", label="chance")
    axis.set(
        xlim=(0, 1),
        ylim=(0, 1.02),
        xlabel="false positive rate",
        ylabel="true positive rate",
        title="ROC curves (one-vs-rest)",
    )
    axis.legend(loc="lower right", fontsize=8)
    return figure


def split_paths(output, split):
    """{kind: path} of one split's evaluation files among a rule's named outputs."""
    return {kind: output[f"{split}_{kind}"] for kind in EVALUATION_FILES}


def write_evaluation(paths, file_names, y_true, speakers, proba):
    """Write predictions, metrics, report, confusion matrix and ROC figure to ``paths``
    ({kind: path} with every kind of EVALUATION_FILES); return the metrics."""
    predictions, metrics = evaluate(file_names, y_true, speakers, proba)
    write_csv(predictions, paths["predictions"])
    write_json(metrics, paths["metrics"])
    write_text(
        classification_report_text(predictions.true_digit, predictions.predicted_digit),
        paths["report"],
    )
    confusion = pd.DataFrame(metrics["confusion_matrix"], columns=[str(d) for d in LABELS])
    confusion.insert(0, "true_digit", LABELS)
    write_csv(confusion, paths["confusion"])
    save_figure(plot_confusion_matrix(metrics["confusion_matrix"]), paths["confusion_png"])
    save_figure(plot_roc_curves(y_true, proba), paths["roc_png"])
    return metrics
