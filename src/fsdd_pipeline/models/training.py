"""Training one configured model on the combined dataset's train split, validated on val."""

import io
import logging
import os
import time
from dataclasses import dataclass

import numpy as np
import pandas as pd

from fsdd_pipeline.augment.augmented_features import augmented_feature_frame, augmented_rows_for
from fsdd_pipeline.labels import HISTORY_COLUMNS
from fsdd_pipeline.models.builders import build_keras_model, build_sklearn_model
from fsdd_pipeline.models.classifier import DigitClassifier, sklearn_proba
from fsdd_pipeline.models.inputs import inputs_from_frame
from fsdd_pipeline.planning.model_types import KERAS_TYPES

log = logging.getLogger(__name__)


@dataclass
class TrainingResult:
    classifier: DigitClassifier
    history: pd.DataFrame  # one row per epoch, HISTORY_COLUMNS
    training_time_s: float
    params: int
    summary: str
    learning_curve: pd.DataFrame | None = None  # sklearn models: accuracy vs training size


def configure_tensorflow(threads, seed):
    """Use the job's threads and make training repeatable on this CPU (call before training)."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    import keras
    import tensorflow as tf

    # Models trained earlier in this process (LOSO folds) leave their graphs behind.
    keras.backend.clear_session()
    try:
        if tf.config.threading.get_intra_op_parallelism_threads() != int(threads):
            tf.config.threading.set_intra_op_parallelism_threads(int(threads))
            tf.config.threading.set_inter_op_parallelism_threads(int(threads))
    except RuntimeError:
        # TensorFlow already ran in this process (a notebook, a test session): its
        # thread pools are fixed by now; training still works, with those threads.
        log.warning("TensorFlow is already initialized; keeping its thread settings")
    tf.config.experimental.enable_op_determinism()
    keras.utils.set_random_seed(int(seed))


def training_inputs(config, spec, train_frame, augmented=None, training_voices=None):
    """Training inputs and labels, with augmented copies and the training voices when the
    model asks for them (see training_rows)."""
    x, y, _ = training_rows(config, spec, train_frame, augmented, training_voices)
    return x, y


def training_rows(config, spec, train_frame, augmented=None, training_voices=None):
    """(x, y, copies): training inputs and labels, with augmented copies and the training
    voices when the model asks for them, and True for each row that is an augmented copy.

    ``augmented``: the precomputed augmented features (augmented_features), holding the
    copies of every training recording; None computes them here, in memory.
    ``training_voices``: the training voices' rows (voices.training_voices), needed by a
    model with ``training_voices: true``; a model with ``room_gate`` also gets their
    augmented copies (computed here: a few hundred clips).
    """
    x, y = inputs_from_frame(train_frame, spec)
    copies = np.zeros(len(y), dtype=bool)
    settings = config.get("augment")

    def add(extra_x, extra_y, are_copies):
        nonlocal x, y, copies
        x, y = np.concatenate([x, extra_x]), np.concatenate([y, extra_y])
        copies = np.concatenate([copies, np.full(len(extra_y), are_copies)])

    if settings:
        if augmented is None:
            augmented = augmented_feature_frame(
                train_frame, settings, spec.feature_params, spec.matrix_features
            )
        extra_x, extra_y = inputs_from_frame(augmented_rows_for(train_frame, augmented), spec)
        log.info("augmentation added %d examples to %d", len(extra_x), len(x))
        add(extra_x, extra_y, True)
    if config.get("training_voices"):
        if training_voices is None or training_voices.empty:
            raise ValueError(
                "the model trains on the training voices (training_voices: true), "
                "but none were given (results/training_voices/features.parquet)"
            )
        voice_x, voice_y = inputs_from_frame(training_voices, spec)
        log.info("training voices added %d examples to %d", len(voice_x), len(x))
        add(voice_x, voice_y, False)
        if config.get("room_gate"):
            voice_copies = _voice_copies(training_voices, settings, spec)
            log.info("the training voices' copies added %d examples", len(voice_copies[1]))
            add(*voice_copies, True)
    return x, y, copies


# The training voices' augmented copies, by augmentation and voices: a LOSO job's folds
# all train on the same voices.
_voice_copy_cache = {}


def _voice_copies(training_voices, settings, spec):
    from fsdd_pipeline.planning.augmentation_plan import augmentation_id

    key = (augmentation_id(settings), tuple(training_voices["file_name"]), spec.shape)
    if key not in _voice_copy_cache:
        augmented = augmented_feature_frame(
            training_voices, settings, spec.feature_params, spec.matrix_features
        )
        _voice_copy_cache[key] = inputs_from_frame(
            augmented_rows_for(training_voices, augmented), spec
        )
    return _voice_copy_cache[key]


def keras_summary(model):
    lines = io.StringIO()
    model.summary(print_fn=lambda line, **_: lines.write(line + "\n"))
    return lines.getvalue()


def train_keras(
    config,
    spec,
    train_frame,
    val_frame,
    threads,
    callbacks=(),
    augmented=None,
    training_voices=None,
):
    import keras

    configure_tensorflow(threads, config["seed"])
    x, y = training_inputs(config, spec, train_frame, augmented, training_voices)
    val_x, val_y = inputs_from_frame(val_frame, spec)
    model = build_keras_model(config, spec, x)
    stop = keras.callbacks.EarlyStopping(
        monitor="val_loss", patience=config["patience"], restore_best_weights=True
    )
    schedule = []
    if config.get("reduce_lr_patience"):
        schedule.append(
            keras.callbacks.ReduceLROnPlateau(
                monitor="val_loss", factor=0.5, patience=config["reduce_lr_patience"], min_lr=1e-5
            )
        )
    start = time.perf_counter()
    fit = model.fit(
        x,
        y,
        validation_data=(val_x, val_y),
        epochs=config["epochs"],
        batch_size=config["batch_size"],
        shuffle=True,
        callbacks=[stop, *schedule, *callbacks],
        verbose=2,
    )
    elapsed = time.perf_counter() - start
    history = pd.DataFrame(fit.history).drop(columns=["learning_rate"], errors="ignore")
    history.insert(0, "epoch", np.arange(1, len(history) + 1))
    return TrainingResult(
        classifier=DigitClassifier(model, spec),
        history=history[HISTORY_COLUMNS],
        training_time_s=elapsed,
        params=int(model.count_params()),
        summary=keras_summary(model),
    )


def _scores(estimator, x, y):
    from sklearn.metrics import log_loss

    proba = sklearn_proba(estimator, x)
    accuracy = float(np.mean(proba.argmax(1) == y))
    return log_loss(y, proba, labels=list(range(10))), accuracy


def train_sklearn(
    config,
    spec,
    train_frame,
    val_frame,
    augmented=None,
    learning_curve=True,
    training_voices=None,
):
    x, y, copies = training_rows(config, spec, train_frame, augmented, training_voices)
    val_x, val_y = inputs_from_frame(val_frame, spec)
    start = time.perf_counter()
    model = build_sklearn_model(config).fit(x, y, **_fit_params(config, copies))
    elapsed = time.perf_counter() - start
    loss, accuracy = _scores(model, x, y)
    val_loss, val_accuracy = _scores(model, val_x, val_y)
    history = pd.DataFrame([[1, loss, accuracy, val_loss, val_accuracy]], columns=HISTORY_COLUMNS)
    params, stored = sklearn_parameters(model)
    return TrainingResult(
        classifier=DigitClassifier(model, spec),
        history=history,
        training_time_s=elapsed,
        params=params,
        summary=(
            f"{model}\n\n{stored} of {len(x)} training examples, "
            f"inputs of shape {x.shape[1:]}\nstored parameters: {params}\n"
        ),
        learning_curve=(
            sklearn_learning_curve(config, x, y, val_x, val_y, copies=copies)
            if learning_curve
            else None
        ),
    )


def _fit_params(config, copies):
    """What a model's fit takes beside x and y: a room gate, which rows are its copies."""
    return {"in_room": copies} if config.get("room_gate") else {}


def sklearn_parameters(model):
    """(number of stored parameters, what they are) of a fitted scikit-learn model: a
    pipeline ending in an SVC or a linear model, or a PooledFrameLogisticRegression, maybe
    inside a SpeedViewsClassifier, maybe two of them behind a room gate."""
    if hasattr(model, "detector_"):
        dry, what = sklearn_parameters(model.dry_)
        wet, _ = sklearn_parameters(model.wet_)
        detector = model.detector_[-1].coef_.size + model.detector_[-1].intercept_.size
        return int(dry + wet + detector), f"{what}, twice, behind a room detector"
    if hasattr(model, "estimator_"):
        count, what = sklearn_parameters(model.estimator_)
        return count, f"{what}, on the clip and its speed views"
    if hasattr(model, "parameter_count"):
        return int(model.parameter_count()), "linear models: pooled and per frame"
    estimator = model[-1]
    if hasattr(estimator, "support_vectors_"):
        vectors = estimator.support_vectors_
        count = vectors.size + estimator.dual_coef_.size + estimator.intercept_.size
        return int(count), f"support vectors: {vectors.shape[0]}"
    count = estimator.coef_.size + estimator.intercept_.size
    return int(count), f"linear model: {estimator.coef_.shape[0]} classes"


def sklearn_learning_curve(
    config, x, y, val_x, val_y, fractions=(0.1, 0.25, 0.5, 1.0), copies=None
):
    """Train/validation accuracy and loss of the classical model vs training set size
    (``copies``: which rows are augmented copies, for a room gate)."""
    # Here, not at the top: importing this module stays free of scikit-learn.
    from fsdd_pipeline.models.room_gate import classes_without_dry_rows

    copies = np.zeros(len(y), dtype=bool) if copies is None else copies
    rng = np.random.default_rng(config["seed"])
    order = rng.permutation(len(x))
    rows = []
    for fraction in fractions:
        chosen = order[: max(20, int(fraction * len(x)))]
        if len(np.unique(y[chosen])) < 2:
            continue
        if config.get("room_gate") and classes_without_dry_rows(y[chosen], copies[chosen]):
            continue  # RoomGateClassifier.fit would refuse these rows
        fit_params = _fit_params(config, copies[chosen])
        model = build_sklearn_model(config).fit(x[chosen], y[chosen], **fit_params)
        loss, accuracy = _scores(model, x[chosen], y[chosen])
        val_loss, val_accuracy = _scores(model, val_x, val_y)
        rows.append((len(chosen), loss, accuracy, val_loss, val_accuracy))
    return pd.DataFrame(
        rows, columns=["train_examples", "loss", "accuracy", "val_loss", "val_accuracy"]
    )


def train_model(
    config,
    spec,
    train_frame,
    val_frame,
    threads=1,
    callbacks=(),
    augmented=None,
    learning_curve=True,
    training_voices=None,
):
    """Train the model ``config`` describes; Keras ``callbacks`` see every epoch;
    ``augmented``: precomputed augmented features, ``training_voices`` the training
    voices' rows (see training_inputs);
    ``learning_curve``: also fit scikit-learn models on growing shares of the training
    data (the training curves' figure; LOSO folds do without)."""
    if config["type"] in KERAS_TYPES:
        return train_keras(
            config, spec, train_frame, val_frame, threads, callbacks, augmented, training_voices
        )
    return train_sklearn(
        config, spec, train_frame, val_frame, augmented, learning_curve, training_voices
    )


def plot_training_curves(result, model_name):
    """Accuracy and loss vs epochs (Keras), or vs training examples (learning curve)."""
    from matplotlib.ticker import MaxNLocator

    from fsdd_pipeline.evaluation.plots import pyplot

    plt = pyplot()

    curve, x_column, x_label = result.history, "epoch", "epoch"
    if result.learning_curve is not None:
        curve, x_column, x_label = result.learning_curve, "train_examples", "training examples"
    figure, (acc_axis, loss_axis) = plt.subplots(1, 2, figsize=(12, 4.5))
    for axis, metric, label in ((acc_axis, "accuracy", "accuracy"), (loss_axis, "loss", "loss")):
        axis.plot(curve[x_column], curve[metric], marker="o", markersize=3, label="train")
        axis.plot(curve[x_column], curve[f"val_{metric}"], marker="o", markersize=3, label="val")
        axis.set(xlabel=x_label, ylabel=label, title=f"{model_name}: {label} vs {x_label}")
        axis.grid(alpha=0.3)
        axis.xaxis.set_major_locator(MaxNLocator(integer=True))
        axis.legend()
    if result.learning_curve is None and len(curve) > 1:
        best = int(curve.loc[curve["val_loss"].idxmin(), "epoch"])
        for axis in (acc_axis, loss_axis):
            axis.axvline(best, color="grey", linestyle="--", linewidth=1, label="best epoch")
    return figure
