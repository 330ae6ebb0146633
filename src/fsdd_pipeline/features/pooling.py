"""Fitting a sequence over time to a model's shape: statistics that pool it to one vector
(shared by model inputs and the models that pool inside themselves), and padding or
cropping it to a number of frames (shared by model inputs and the embedding's speed views)."""

import numpy as np

PAD_PLACES = ("end", "around")


def summary_statistics(values, axis):
    """Mean, maximum and standard deviation of ``values`` along ``axis``, concatenated along
    the last axis (for one (rows, T) matrix and axis=1: 3 x rows numbers; for one clip's
    (T, 96) embedding frames and axis=0: the 288 numbers of the pooled embedding)."""
    return np.concatenate(
        [values.mean(axis=axis), values.max(axis=axis), values.std(axis=axis)], axis=-1
    )


def fit_frames(matrix, frames, pad_column, pad="end"):
    """(rows, T) matrix -> (frames, rows): centre-cropped when longer; when shorter, padded
    with ``pad_column`` (a frame of silence) after it (``pad="end"``: the models' inputs) or
    half before and half after it (``pad="around"``: the speed views, kept centred like the
    clip the embedder pads around its word). Models were trained on these exact layouts."""
    if pad not in PAD_PLACES:
        raise ValueError(f"pad must be one of {PAD_PLACES}, not {pad!r}")
    length = matrix.shape[1]
    if length >= frames:
        start = (length - frames) // 2
        return np.ascontiguousarray(matrix[:, start : start + frames].T)
    fitted = np.repeat(pad_column[None, :], frames, axis=0)
    before = (frames - length) // 2 if pad == "around" else 0
    fitted[before : before + length] = matrix.T
    return fitted
