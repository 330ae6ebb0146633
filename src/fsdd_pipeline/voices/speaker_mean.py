"""A person's mean input frame moved onto the one the model was trained on.

A voice (its vocal tract, its microphone, its room) moves every frame of the speech
embedding by much the same amount, whatever the digit. Enrollment's takes hold every digit,
so their mean frame is the person's, not one digit's; the model's frame head standardized
its inputs by the mean frame of its training set. Moving the person's inputs by the
difference (per-speaker mean normalization) is folded into the model: every scaler's mean
moves by it (of pooled statistics, the mean and the maximum move, the spread does not), so
the personal model keeps the type, arrays and prediction path of any other.
"""

import copy

import numpy as np

from fsdd_pipeline.models.frame_logreg import PooledFrameLogisticRegression
from fsdd_pipeline.models.room_gate import RoomGateClassifier
from fsdd_pipeline.models.speed_views import SpeedViewsClassifier


def trained_mean(estimator):
    """The mean input frame (channels,) the model's frame head was trained on (behind a
    room gate: the dry expert's)."""
    if isinstance(estimator, RoomGateClassifier):
        return trained_mean(estimator.dry_)
    if isinstance(estimator, SpeedViewsClassifier):
        return trained_mean(estimator.estimator_)
    if isinstance(estimator, PooledFrameLogisticRegression):
        return estimator.frames_[0].mean_
    raise TypeError(f"no frame head to read a mean frame from in a {type(estimator).__name__}")


def _moved(pipeline, offset):
    """A copy of a scaler + classifier pipeline that reads x as the original reads x + offset."""
    moved = copy.deepcopy(pipeline)
    moved[0].mean_ = moved[0].mean_ - offset
    return moved


def _pooled_offset(offset):
    """summary_statistics' layout (mean, max, sd of every channel): mean and max move."""
    return np.concatenate([offset, offset, np.zeros_like(offset)])


def moved_inputs(estimator, offset):
    """A copy of ``estimator`` whose predictions on x are the original's on x + ``offset``
    (one number per channel, added to every frame of every view)."""
    offset = np.asarray(offset, dtype=np.float64)
    if isinstance(estimator, RoomGateClassifier):
        moved = estimator.with_experts(lambda expert: moved_inputs(expert, offset))
        moved.detector_ = _moved(estimator.detector_, _pooled_offset(offset))
        return moved
    if isinstance(estimator, SpeedViewsClassifier):
        moved = copy.copy(estimator)
        moved.estimator_ = moved_inputs(estimator.estimator_, offset)
        return moved
    if isinstance(estimator, PooledFrameLogisticRegression):
        moved = copy.copy(estimator)
        moved.pooled_ = _moved(estimator.pooled_, _pooled_offset(offset))
        moved.frames_ = _moved(estimator.frames_, offset)
        return moved
    raise TypeError(f"cannot move the inputs of a {type(estimator).__name__}")


def person_offset(estimator, x):
    """What moves the mean frame of a person's model inputs ``x`` (takes, [views,] frames,
    channels) onto the model's training mean."""
    x = np.asarray(x, dtype=np.float64)
    return trained_mean(estimator) - x.reshape(-1, x.shape[-1]).mean(axis=0)
