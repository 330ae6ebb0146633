"""Enrollment: the champion adapted to one person's voice from a few labelled takes.

A take's digit is the first character of its file name (FSDD's ``{digit}_...``); every
digit needs at least one take. The personal model is the champion
reading the person's inputs moved onto its training mean (voices.speaker_mean), its
linear heads then adapted to the takes (and their speed views) by a prior-anchored update
(voices.adaptation): it has the champion's type, input spec and feature code, so
``fsdd-predict --model-dir`` and the raw-audio MLflow model use it like any other.
"""

import copy
from pathlib import Path

import numpy as np

from fsdd_pipeline.errors import PipelineError
from fsdd_pipeline.features.pooling import summary_statistics
from fsdd_pipeline.labels import N_CLASSES
from fsdd_pipeline.voices.adaptation import adapted_pipeline
from fsdd_pipeline.voices.speaker_mean import (
    moved_heads,
    moved_scaler,
    person_offset,
    pooled_offset,
)

# How many training examples one enrolled take (each of its views and frames) counts as,
# chosen in the champion's LOSO folds (benchmarks/enrollment.py, docs/voices.md): after the
# mean frame is moved, 1-3 read one, two and five takes per digit best (100, chosen before
# the move, 0.3 points lower with one).
DEFAULT_TAKE_WEIGHT = 3.0
# What the personal model was made from, beside the model in its folder.
ENROLLMENT_FILE = "enrollment.json"


class EnrollmentError(PipelineError):
    """Takes or a model that enrollment cannot use; the message says which and why."""


def take_digit(path):
    """The digit a take's file name starts with; EnrollmentError naming the file otherwise."""
    name = Path(path).name
    if not name[:1].isdigit():
        raise EnrollmentError(
            f"{path}: an enrollment take's file name must start with its digit (e.g. 7_me_0.wav)"
        )
    return int(name[0])


def missing_digits(digits):
    """The digits 0-9 without a take, in order."""
    return sorted(set(range(N_CLASSES)) - set(int(d) for d in digits))


def check_every_digit(digits):
    missing = missing_digits(digits)
    if missing:
        raise EnrollmentError(
            "enrollment needs at least one take of every digit; missing: "
            + ", ".join(map(str, missing))
        )


def _linear_heads(estimator):
    """(the frame-logreg model inside the champion, whether it reads speed views)."""
    from fsdd_pipeline.models.frame_logreg import PooledFrameLogisticRegression
    from fsdd_pipeline.models.speed_views import SpeedViewsClassifier

    views = isinstance(estimator, SpeedViewsClassifier)
    inner = estimator.estimator_ if views else estimator
    if not isinstance(inner, PooledFrameLogisticRegression):
        raise EnrollmentError(
            f"enrollment adapts a frame_logreg model (the champion's type), "
            f"not a {type(inner).__name__}"
        )
    return inner, views


def with_frame_logreg(estimator, replace):
    """A copy of the champion's fitted estimator whose frame_logreg model is
    ``replace(model, views)`` (``views``: whether it reads speed views); behind a room
    gate, both experts' (the detector kept)."""
    if hasattr(estimator, "with_experts"):
        return estimator.with_experts(lambda expert: with_frame_logreg(expert, replace))
    inner, views = _linear_heads(estimator)
    replaced = replace(inner, views)
    if not views:
        return replaced
    wrapped = copy.copy(estimator)
    wrapped.estimator_ = replaced
    return wrapped


def adapt_estimator(estimator, x, y, take_weight=DEFAULT_TAKE_WEIGHT):
    """A copy of a fitted frame_logreg model (maybe with speed views) adapted to model
    inputs ``x`` (takes, [views,] frames, channels) of digits ``y``: both linear heads, on
    every view of every take (the pooled head) and every frame (the frame head); behind a
    room gate, both experts alike (the person's takes count for dry and reverberant rooms)."""
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y)

    def adapted(model, views):
        clips, digits = (x.reshape(-1, *x.shape[2:]), np.repeat(y, x.shape[1])) if views else (x, y)
        adapted_model = copy.copy(model)
        adapted_model.pooled_ = adapted_pipeline(
            model.pooled_, summary_statistics(clips, axis=1), digits, take_weight
        )
        adapted_model.frames_ = adapted_pipeline(
            model.frames_,
            clips.reshape(-1, clips.shape[2]),
            np.repeat(digits, clips.shape[1]),
            take_weight,
        )
        return adapted_model

    return with_frame_logreg(estimator, adapted)


def trained_mean(estimator):
    """The mean input frame (channels,) the champion's frame head was trained on (behind a
    room gate: the dry expert's)."""
    return _linear_heads(getattr(estimator, "dry_", estimator))[0].frames_[0].mean_


def moved_inputs(estimator, offset):
    """A copy of the champion's fitted estimator whose predictions on x are the original's
    on x + ``offset`` (one number per channel, added to every frame of every view): every
    head of every expert and the room detector moved (voices.speaker_mean)."""
    offset = np.asarray(offset, dtype=np.float64)
    moved = with_frame_logreg(estimator, lambda model, _views: moved_heads(model, offset))
    if hasattr(estimator, "detector_"):
        moved.detector_ = moved_scaler(estimator.detector_, pooled_offset(offset))
    return moved


def personal_estimator(estimator, x, y, take_weight=DEFAULT_TAKE_WEIGHT, move_mean=True):
    """The champion's fitted estimator made personal by the person's model inputs ``x``
    of digits ``y``: their mean frame moved onto the model's (moved_inputs; not with
    ``move_mean=False``), then the linear heads adapted to them (adapt_estimator)."""
    if move_mean:
        estimator = moved_inputs(estimator, person_offset(trained_mean(estimator), x))
    return adapt_estimator(estimator, x, y, take_weight)


def take_inputs(classifier, paths):
    """Model inputs of the takes (loaded and featured exactly as for prediction) and their
    digits; EnrollmentError naming a take that cannot be used."""
    from fsdd_pipeline.audio.reading import load_clip
    from fsdd_pipeline.features.spectral import extract_features
    from fsdd_pipeline.models.inputs import inputs_from_matrices

    params, spec = classifier.spec.feature_params, classifier.spec
    digits = [take_digit(path) for path in paths]
    check_every_digit(digits)
    matrices = []
    for path in paths:
        try:
            samples, _ = load_clip(path, params.sample_rate, params.endpoint, params.min_duration_s)
        except PipelineError as error:
            raise EnrollmentError(str(error)) from None
        matrices.append(extract_features(samples, params, spec.matrix_features))
    return inputs_from_matrices(matrices, spec), np.array(digits)


def enroll(classifier, paths, output, take_weight=DEFAULT_TAKE_WEIGHT, source="", names=None):
    """Write the personal model of ``classifier`` (a DigitClassifier of the champion)
    adapted to the takes ``paths`` into the folder ``output``, with enrollment.json saying
    from what (each take by its path, or by its name in ``names``); returns the personal
    DigitClassifier."""
    import shutil
    import tempfile

    from fsdd_pipeline.io import write_json
    from fsdd_pipeline.models.classifier import DigitClassifier
    from fsdd_pipeline.strings.decode import copy_strings_model
    from fsdd_pipeline.strings.segmentation import SEGMENTER_FILE

    if classifier.is_keras:
        raise EnrollmentError("enrollment adapts a frame_logreg model, not a Keras model")
    output = Path(output)
    if output.exists() and (not output.is_dir() or any(output.iterdir())):
        raise EnrollmentError(f"{output}: exists and is not an empty folder; choose a new one")
    x, y = take_inputs(classifier, paths)
    personal = DigitClassifier(
        personal_estimator(classifier.estimator, x, y, take_weight), classifier.spec
    )
    output.parent.mkdir(parents=True, exist_ok=True)
    # Written beside the output and renamed: no half-written personal model under its name.
    scratch = Path(tempfile.mkdtemp(prefix=f".{output.name}.", dir=output.parent))
    try:
        personal.save(scratch)
        # The base model's word segmenter travels on: the personal model reads digit
        # strings as the model it came from does.
        base_dir = getattr(classifier, "model_dir", None)
        if base_dir is not None and (Path(base_dir) / SEGMENTER_FILE).is_file():
            copy_strings_model(Path(base_dir) / SEGMENTER_FILE, scratch)
        write_json(
            {
                "base_model": source,
                "take_weight": take_weight,
                "takes": [
                    {"file": str(name), "digit": int(digit)}
                    for name, digit in zip(names or paths, y, strict=True)
                ],
            },
            scratch / ENROLLMENT_FILE,
        )
        if output.exists():
            output.rmdir()
        scratch.rename(output)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return personal
