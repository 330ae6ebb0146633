"""Two experts and a room detector: one model for dry speech, one for speech in rooms.

Trained on reverberant copies of its clips as well, a model reads words said across a
room far better, and words said close to the microphone a little worse (LOSO held-out
speakers in rooms 85.8% -> 93.7%, on clean clips 98.40% -> 98.17%; docs/voices.md). A
detector of rooms keeps both: a binary logistic regression on the clip's pooled embedding,
trained on the dry clips against their copies in rooms, sends a clip to the dry expert
(trained without the copies) or to the room expert (trained with them). In the study the
pair read clean clips exactly as the dry model alone did.
"""

import copy

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, clone

from fsdd_pipeline.models.linear import (
    describe,
    detector_features,
    gated_log_proba,
    standardized_logreg,
)


def classes_without_dry_rows(y, in_room):
    """The classes of ``y`` that only rows in rooms hold, sorted: a room gate cannot be
    fitted on them, since its experts must know the same classes for one to stand in for
    the other."""
    y, in_room = np.asarray(y), np.asarray(in_room, dtype=bool)
    return sorted(set(np.unique(y).tolist()) - set(np.unique(y[~in_room]).tolist()))


class RoomGateClassifier(ClassifierMixin, BaseEstimator):
    """``estimator`` twice (fit on the dry rows; fit on all rows) behind a room detector.

    Inputs are (n, views, frames, channels) as SpeedViewsClassifier reads them; ``fit``
    takes ``in_room``, a boolean per row: True for a copy said in a room.
    ``detector_C``: the detector's inverse regularization.
    """

    def __init__(self, estimator, detector_C=0.1, max_iter=2000):
        self.estimator = estimator
        self.detector_C = detector_C
        self.max_iter = max_iter

    def fit(self, x, y, in_room=None):
        x, y = np.asarray(x), np.asarray(y)
        if x.ndim != 4:
            raise ValueError(f"expected (examples, views, frames, channels), got {x.shape}")
        in_room = np.asarray(in_room if in_room is not None else [], dtype=bool)
        if in_room.shape != (len(x),) or in_room.all() or not in_room.any():
            raise ValueError(
                "a room gate needs in_room, one flag per row, with both dry rows and rows in rooms"
            )
        missing = classes_without_dry_rows(y, in_room)
        if missing:
            raise ValueError(f"a room gate needs dry rows of every class; none of {missing}")
        self.dry_ = clone(self.estimator).fit(x[~in_room], y[~in_room])
        self.wet_ = clone(self.estimator).fit(x, y)
        self.detector_ = standardized_logreg(self.detector_C, self.max_iter).fit(
            detector_features(x), in_room.astype(int)
        )
        self.classes_ = self.dry_.classes_
        return self

    def in_room(self, x):
        """True for each clip the detector hears in a room."""
        return self.detector_.decision_function(detector_features(x)) > 0

    def predict_log_proba(self, x):
        x = np.asarray(x)
        return gated_log_proba(
            self.dry_.predict_log_proba, self.wet_.predict_log_proba, self.in_room, x
        )

    def predict_proba(self, x):
        return np.exp(self.predict_log_proba(x))

    def predict(self, x):
        return self.classes_[self.predict_log_proba(x).argmax(axis=1)]

    def with_experts(self, adapt):
        """A copy whose two experts are ``adapt(expert)`` (enrollment), the detector kept."""
        adapted = copy.copy(self)
        adapted.dry_, adapted.wet_ = adapt(self.dry_), adapt(self.wet_)
        return adapted

    def linear_arrays(self):
        """Layout and arrays of both experts and the detector (models.linear.save_arrays)."""
        dry, wet = describe(self.dry_), describe(self.wet_)
        if dry is None or wet is None:
            return None
        scaler, logreg = self.detector_[0], self.detector_[-1]
        arrays = {f"dry_{name}": value for name, value in dry[1].items()}
        arrays |= {f"wet_{name}": value for name, value in wet[1].items()}
        arrays |= {
            "detector_mean": scaler.mean_,
            "detector_scale": scaler.scale_,
            "detector_coef": logreg.coef_,
            "detector_intercept": logreg.intercept_,
        }
        return "room_gate:" + dry[0], arrays
