"""A person's mean input frame moved onto the one the model was trained on.

A voice (its vocal tract, its microphone, its room) moves every frame of the speech
embedding by much the same amount, whatever the digit. Enrollment's takes hold every digit,
so their mean frame is the person's, not one digit's; the model's frame head standardized
its inputs by the mean frame of its training set. Moving the person's inputs by the
difference (per-speaker mean normalization) is folded into the model: every scaler's mean
moves by it (of pooled statistics, the mean and the maximum move, the spread does not), so
the personal model keeps the type, arrays and prediction path of any other. Enrollment
(voices.enrollment.moved_inputs) applies these to each part of the champion.
"""

import copy

import numpy as np


def moved_scaler(pipeline, offset):
    """A copy of a scaler + classifier pipeline that reads x as the original reads x + offset."""
    moved = copy.deepcopy(pipeline)
    moved[0].mean_ = moved[0].mean_ - offset
    return moved


def pooled_offset(offset):
    """An offset of every frame as summary_statistics pools it (mean, max, sd of every
    channel): the mean and the max move, the sd does not."""
    return np.concatenate([offset, offset, np.zeros_like(offset)])


def moved_heads(model, offset):
    """A copy of a fitted frame_logreg model (models.frame_logreg) whose pooled and frame
    heads read x as the original's read x + ``offset`` (one number per channel)."""
    moved = copy.copy(model)
    moved.pooled_ = moved_scaler(model.pooled_, pooled_offset(offset))
    moved.frames_ = moved_scaler(model.frames_, offset)
    return moved


def person_offset(trained_mean, x):
    """What moves the mean frame of a person's model inputs ``x`` (takes, [views,] frames,
    channels) onto ``trained_mean``, the mean frame a model was trained on."""
    x = np.asarray(x, dtype=np.float64)
    return trained_mean - x.reshape(-1, x.shape[-1]).mean(axis=0)
