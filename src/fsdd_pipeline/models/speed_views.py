"""Speed views: a classifier that sees every clip also played faster and slower.

Playing a clip at another speed (resampling, as Kaldi's speed perturbation does) moves
its pitch and formants together, roughly as another speaker's vocal tract would. With
six speakers to learn from, the classifier is trained on every clip and its views as
separate examples, and predicts from the mean of its log-probabilities over a clip and
the same views. In leave-one-speaker-out folds this was worth more than either half
alone: views at 0.85x and 1.15x in training only, or in prediction only, did not help.
"""

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from fsdd_pipeline.models.linear import describe, views_log_proba


class SpeedViewsClassifier(ClassifierMixin, BaseEstimator):
    """Wraps a scikit-learn classifier of single clips; inputs are (n, views, *clip input),
    the clip first, then its speed views (model_inputs.InputSpec with speed_views)."""

    def __init__(self, estimator):
        self.estimator = estimator

    def fit(self, x, y):
        x = np.asarray(x)
        if x.ndim < 3:
            raise ValueError(f"expected (examples, views, ...) inputs, got shape {x.shape}")
        self.estimator_ = clone(self.estimator).fit(
            x.reshape(-1, *x.shape[2:]), np.repeat(np.asarray(y), x.shape[1])
        )
        self.classes_ = self.estimator_.classes_
        return self

    def predict_log_proba(self, x):
        return views_log_proba(self.estimator_.predict_log_proba, x)

    def predict_proba(self, x):
        return np.exp(self.predict_log_proba(x))

    def predict(self, x):
        return self.classes_[self.predict_log_proba(x).argmax(axis=1)]

    def linear_arrays(self):
        """Layout and arrays of the wrapped model, if it is linear (models.linear.save_arrays)."""
        inner = describe(self.estimator_)
        return None if inner is None else ("speed_views:" + inner[0], inner[1])
