"""Pieces the package's linear models share: a standardized logistic regression and the
renormalization of summed or averaged log-probabilities."""

import numpy as np


def standardized_logreg(C, max_iter):
    """Standardized inputs into a logistic regression (``logreg``, and both models of
    ``frame_logreg``)."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    return make_pipeline(StandardScaler(), LogisticRegression(C=C, max_iter=max_iter))


def renormalized(log_scores):
    """Log-probabilities from unnormalized log-scores (examples, classes): a product or a
    geometric mean of experts' probabilities, divided by its sum over the classes."""
    return log_scores - np.logaddexp.reduce(log_scores, axis=1, keepdims=True)
