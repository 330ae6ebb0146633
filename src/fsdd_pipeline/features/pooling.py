"""Statistics that pool a sequence over time, shared by model inputs and the models that
pool inside themselves."""

import numpy as np


def summary_statistics(values, axis):
    """Mean, maximum and standard deviation of ``values`` along ``axis``, concatenated along
    the last axis (for one (rows, T) matrix and axis=1: 3 x rows numbers)."""
    return np.concatenate(
        [values.mean(axis=axis), values.max(axis=axis), values.std(axis=axis)], axis=-1
    )
