"""Logistic regression on a sequence's pooled statistics plus one on each of its frames.

A word's pooled embedding describes the whole clip; a classifier of single 80 ms frames
scores each part of the word on its own, so one frame a speaker says unusually weighs
less. Summing the two models' log-probabilities (a product of experts) was worth more
in leave-one-speaker-out folds than either alone.
"""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin

from fsdd_pipeline.features.pooling import summary_statistics
from fsdd_pipeline.models.linear import LinearHead, frame_log_proba, standardized_logreg


class PooledFrameLogisticRegression(ClassifierMixin, BaseEstimator):
    """A classifier of (n, frames, channels) sequences.

    ``C``: the pooled model's inverse regularization (on the summary statistics over the
    frames); ``frame_C``: the frame model's (on every frame, labelled with its clip's
    class). A clip's log-probabilities are the pooled model's plus the mean of the frame
    model's over its frames, renormalized.
    """

    def __init__(self, C=0.1, frame_C=0.01, max_iter=2000):
        self.C = C
        self.frame_C = frame_C
        self.max_iter = max_iter

    def fit(self, x, y):
        x = np.asarray(x, dtype=np.float64)
        if x.ndim != 3:
            raise ValueError(f"expected (examples, frames, channels) inputs, got shape {x.shape}")
        y = np.asarray(y)
        self.pooled_ = standardized_logreg(self.C, self.max_iter).fit(
            summary_statistics(x, axis=1), y
        )
        self.frames_ = standardized_logreg(self.frame_C, self.max_iter).fit(
            x.reshape(-1, x.shape[2]), np.repeat(y, x.shape[1])
        )
        self.classes_ = self.pooled_.classes_
        return self

    def predict_log_proba(self, x):
        return frame_log_proba(self.pooled_.predict_log_proba, self.frames_.predict_log_proba, x)

    def predict_proba(self, x):
        return np.exp(self.predict_log_proba(x))

    def predict(self, x):
        return self.classes_[self.predict_log_proba(x).argmax(axis=1)]

    def parameter_count(self):
        """Stored weights and biases of both logistic regressions."""
        return sum(
            model[-1].coef_.size + model[-1].intercept_.size
            for model in (self.pooled_, self.frames_)
        )

    def linear_arrays(self):
        """Layout and arrays of both fitted models (models.linear.save_arrays)."""
        arrays = LinearHead.from_pipeline(self.pooled_).arrays("pooled_")
        return "frame_logreg", arrays | LinearHead.from_pipeline(self.frames_).arrays("frames_")
