"""Leave-one-speaker-out cross-validation: folds, and what is aggregated over them."""

import logging
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd

from fsdd_pipeline.evaluation.plots import pyplot

log = logging.getLogger(__name__)


def fold_splits(dataset, held_out):
    """(train, val, test) frames of the fold that holds out speaker ``held_out``.

    The held-out speaker's 500 clips are the test set and nothing else: training and
    validation come from the other speakers only, validation being their 'val' takes.
    """
    if held_out not in set(dataset["speaker"]):
        raise KeyError(f"speaker {held_out!r} is not in the dataset")
    others = dataset[dataset["speaker"] != held_out]
    train = others[others["split"] != "val"].reset_index(drop=True)
    val = others[others["split"] == "val"].reset_index(drop=True)
    test = dataset[dataset["speaker"] == held_out].reset_index(drop=True)
    return train, val, test


def run_folds(name, config, spec, dataset, tracking_settings, parent_run_id, **training):
    """Every fold of one model, in this process: one per speaker (in name order), each a
    child run of the LOSO parent run ``parent_run_id``; ``training``: threads and
    augmented features for train_model. Returns ({speaker: test metrics}, the
    predictions of every clip by the fold that held its speaker out, {speaker: the fold's
    trained classifier}).

    One process for all folds: a fold of a linear model trains in about a second, where
    a process of its own spent three more on imports and tracking set-up.
    """
    from fsdd_pipeline.evaluation.metrics import write_evaluation
    from fsdd_pipeline.models.training import train_model
    from fsdd_pipeline.planning.evaluation_files import EVALUATION_FILES
    from fsdd_pipeline.tracking.results import log_loso_fold, loso_fold_run
    from fsdd_pipeline.tracking.runs import epoch_callbacks

    fold_metrics, predictions, classifiers = {}, [], {}
    for speaker in sorted(set(dataset["speaker"])):
        train, val, test = fold_splits(dataset, speaker)
        with (
            loso_fold_run(tracking_settings, parent_run_id, name, config, speaker),
            tempfile.TemporaryDirectory() as folder,
        ):
            result = train_model(
                config,
                spec,
                train,
                val,
                callbacks=epoch_callbacks(config),
                learning_curve=False,
                **training,
            )
            # The fold's own files go to its MLflow run; the workflow keeps the aggregate.
            paths = {kind: Path(folder) / f"test_{file}" for kind, file in EVALUATION_FILES.items()}
            metrics = write_evaluation(
                paths,
                test.file_name,
                test.digit,
                test.speaker,
                result.classifier.predict_proba_frame(test),
            )
            log_loso_fold(result, metrics, paths.values())
            predictions.append(pd.read_csv(paths["predictions"]))
        fold_metrics[speaker] = metrics
        classifiers[speaker] = result.classifier
    return fold_metrics, pd.concat(predictions, ignore_index=True), classifiers


def save_fold_classifiers(classifiers, path):
    """Every fold's trained classifier, {held-out speaker: DigitClassifier}, in one file:
    what reads the held-out speakers again (the digit-string evaluation) reuses the LOSO
    job's folds instead of training them a second time."""
    import joblib

    from fsdd_pipeline.io import atomic_path

    with atomic_path(path) as temporary:
        joblib.dump(classifiers, temporary)


def load_fold_classifiers(path):
    """save_fold_classifiers' folds, as a function of the held-out speaker that names the
    file and the speakers it holds when one is missing."""
    import joblib

    classifiers = joblib.load(path)
    log.info("LOSO folds of %d speakers read from %s", len(classifiers), path)

    def fold_classifier(speaker):
        if speaker not in classifiers:
            raise KeyError(
                f"{path} holds no fold for speaker {speaker!r} (folds: "
                f"{', '.join(sorted(classifiers))}): rerun its LOSO job on these recordings"
            )
        return classifiers[speaker]

    return fold_classifier


def summarize_folds(fold_metrics):
    """Per-speaker accuracy table, mean and standard deviation, summed confusion matrix.

    ``fold_metrics`` maps held-out speaker -> the metrics dict of evaluation.evaluate.
    """
    per_speaker = pd.DataFrame(
        [
            {"speaker": s, "accuracy": m["accuracy"], "f1_macro": m["f1_macro"], "n": m["n"]}
            for s, m in sorted(fold_metrics.items())
        ]
    )
    confusion = np.sum([np.asarray(m["confusion_matrix"]) for m in fold_metrics.values()], axis=0)
    accuracies = per_speaker["accuracy"].to_numpy()
    summary = {
        "mean_accuracy": float(accuracies.mean()),
        # Sample standard deviation across folds, as usually reported for cross-validation.
        "std_accuracy": float(accuracies.std(ddof=1)) if len(accuracies) > 1 else 0.0,
        "min_accuracy": float(accuracies.min()),
        "worst_speaker": str(per_speaker.loc[per_speaker["accuracy"].idxmin(), "speaker"]),
        "pooled_accuracy": float(np.trace(confusion) / confusion.sum()),
        "folds": len(per_speaker),
    }
    return per_speaker, summary, confusion


def plot_accuracy_per_speaker(per_speaker_by_model):
    """Grouped bars: held-out speaker on x, one bar per model, each labelled upright with its
    accuracy (side by side they would overlap); mean ± sd of every model in the legend,
    beside the axes so that it covers no bar."""
    plt = pyplot()
    models = list(per_speaker_by_model)
    speakers = sorted({s for frame in per_speaker_by_model.values() for s in frame["speaker"]})
    width = 0.8 / max(len(models), 1)
    figure_width = max(8.0, 0.22 * len(models) * len(speakers) + 2.0)
    figure, axis = plt.subplots(figsize=(figure_width, 5.2))
    for i, model in enumerate(models):
        frame = per_speaker_by_model[model].set_index("speaker").reindex(speakers)
        values = frame["accuracy"].to_numpy()
        label = f"{model} ({np.nanmean(values):.3f} ± {np.nanstd(values, ddof=1):.3f})"
        positions = np.arange(len(speakers)) + (i - (len(models) - 1) / 2) * width
        bars = axis.bar(positions, values, width, label=label)
        axis.bar_label(bars, fmt="%.3f", fontsize=7, padding=2, rotation=90)
    axis.set_xticks(np.arange(len(speakers)), speakers)
    axis.set(
        xlabel="held-out speaker (test fold)",
        ylabel="accuracy on the held-out speaker",
        title="Leave-one-speaker-out accuracy (legend: mean ± sd over folds)",
        ylim=(0, 1.16),
    )
    axis.set_yticks(np.linspace(0, 1, 6))
    axis.axhline(1.0, color="grey", linewidth=0.5)
    axis.legend(loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=8)
    return figure
