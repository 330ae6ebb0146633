"""The Parquet form of a feature matrix: its values flat and its shape, so that every row of a
table holds matrices of its own size and reads back exactly."""

import numpy as np


def flatten_feature(matrix):
    """Parquet form of a matrix: its values row-major, and its shape."""
    return np.ascontiguousarray(matrix, dtype=np.float32).ravel(), list(matrix.shape)


def unflatten_feature(values, shape):
    """Inverse of flatten_feature: the float32 matrix with its shape."""
    return np.asarray(values, dtype=np.float32).reshape([int(n) for n in shape])


def feature_stack(frame, feature):
    """The ``feature`` matrices of every row, as a list of float32 arrays (rows x frames)."""
    return [
        unflatten_feature(values, shape)
        for values, shape in zip(frame[feature], frame[f"{feature}_shape"], strict=True)
    ]
