"""The package's linear models without scikit-learn at prediction time.

Trained by scikit-learn (a standardized logistic regression, ``logreg``; the two of
``frame_logreg``; either inside speed views), a linear model is, once fitted, a few arrays.
``LinearHead`` holds them and computes scikit-learn's numbers in scikit-learn's order of
operations, bit for bit (a test checks every model type against its fitted estimator), so
predicting needs numpy only: importing scikit-learn and unpickling its objects cost ten times
the whole computation of a clip. ``save_arrays`` writes a fitted model's arrays beside its
joblib file; ``load_arrays`` reads them back as a predictor with scikit-learn's interface.
The wrappers' ways of combining log-probabilities (``frame_log_proba``,
``views_log_proba``, ``gated_log_proba``) serve their scikit-learn classes and these
predictors alike.
"""

import json

import numpy as np

from fsdd_pipeline.features.pooling import summary_statistics

ARRAYS_FILE = "linear_model.npz"


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


def frame_log_proba(pooled_log_proba, frames_log_proba, x):
    """``frame_logreg``: the pooled model's log-probabilities of (n, frames, channels)
    sequences plus the mean of the frame model's over their frames, renormalized."""
    x = np.asarray(x, dtype=np.float64)
    pooled = pooled_log_proba(summary_statistics(x, axis=1))
    frames = frames_log_proba(x.reshape(-1, x.shape[2]))
    return renormalized(pooled + frames.reshape(len(x), x.shape[1], -1).mean(axis=1))


def views_log_proba(log_proba, x):
    """Speed views: the mean log-probability over a clip and its views, (n, views, *clip
    input), renormalized."""
    x = np.asarray(x)
    per_view = log_proba(x.reshape(-1, *x.shape[2:]))
    return renormalized(per_view.reshape(len(x), x.shape[1], -1).mean(axis=1))


def detector_features(x):
    """A room gate's detector input: the clip's own view (not its speed views) of (n, views,
    frames, channels) inputs, pooled over its frames (n, 3 x channels)."""
    x = np.asarray(x, dtype=np.float64)
    return summary_statistics(x[:, 0], axis=1)


def gated_log_proba(dry_log_proba, wet_log_proba, in_room, x):
    """A room gate's log-probabilities: each clip's from the room expert where
    ``in_room(x)`` says so, else from the dry expert."""
    room = np.asarray(in_room(x), dtype=bool)
    log_p = dry_log_proba(x)
    if room.any():
        log_p[room] = wet_log_proba(x[room])
    return log_p


class LinearHead:
    """A fitted standardized multinomial logistic regression as arrays."""

    def __init__(self, mean, scale, coef, intercept, classes):
        self.mean, self.scale = mean, scale
        self.coef, self.intercept = coef, intercept
        self.classes_ = classes

    @classmethod
    def from_pipeline(cls, pipeline):
        scaler, logreg = pipeline[0], pipeline[-1]
        return cls(scaler.mean_, scaler.scale_, logreg.coef_, logreg.intercept_, logreg.classes_)

    def arrays(self, prefix):
        return {
            f"{prefix}mean": self.mean,
            f"{prefix}scale": self.scale,
            f"{prefix}coef": self.coef,
            f"{prefix}intercept": self.intercept,
            f"{prefix}classes": self.classes_,
        }

    @classmethod
    def from_arrays(cls, arrays, prefix):
        return cls(*(arrays[f"{prefix}{name}"] for name in _HEAD_ARRAYS))

    def predict_log_proba(self, x):
        return np.log(self.predict_proba(x))

    def predict_proba(self, x):
        # StandardScaler.transform: a copy in the input's float type, centred and scaled in place.
        x = np.array(x, copy=True)
        if x.dtype not in (np.float32, np.float64):
            x = x.astype(np.float64)
        x -= self.mean.astype(x.dtype)
        x /= self.scale.astype(x.dtype)
        # LogisticRegression.decision_function, then sklearn.utils.extmath.softmax.
        scores = x @ self.coef.T + self.intercept
        scores -= scores.max(axis=1).reshape(-1, 1)
        np.exp(scores, out=scores)
        scores /= scores.sum(axis=1).reshape(-1, 1)
        return scores


_HEAD_ARRAYS = ("mean", "scale", "coef", "intercept", "classes")


class DiscriminantHead(LinearHead):
    """A fitted multiclass LinearDiscriminantAnalysis as arrays: its decision is linear in
    the inputs, with no scaling (centring by zero and scaling by one are exact no-ops), and
    its log-probabilities floor a probability of zero as scikit-learn does."""

    @classmethod
    def from_lda(cls, lda):
        features = lda.coef_.shape[1]
        return cls(np.zeros(features), np.ones(features), lda.coef_, lda.intercept_, lda.classes_)

    def predict_log_proba(self, x):
        probabilities = self.predict_proba(x)
        probabilities[probabilities == 0.0] += np.finfo(probabilities.dtype).smallest_normal
        return np.log(probabilities)


def as_arrays(estimator):
    """A fitted standardized logistic regression or multiclass LDA as its arrays
    (LinearHead, DiscriminantHead): the same numbers without scikit-learn."""
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    if isinstance(estimator, LinearDiscriminantAnalysis) and len(estimator.classes_) > 2:
        return DiscriminantHead.from_lda(estimator)
    if _is_standardized_logreg(estimator):
        return LinearHead.from_pipeline(estimator)
    raise ValueError(f"no array form of {type(estimator).__name__}")


class _Combined:
    """A wrapper whose probabilities are those of its log-probabilities, as in scikit-learn."""

    def predict_proba(self, x):
        return np.exp(self.predict_log_proba(x))


class _FrameHeads(_Combined):
    def __init__(self, pooled, frames):
        self.pooled_, self.frames_ = pooled, frames
        self.classes_ = pooled.classes_

    def predict_log_proba(self, x):
        return frame_log_proba(self.pooled_.predict_log_proba, self.frames_.predict_log_proba, x)


class _Views(_Combined):
    def __init__(self, inner):
        self.estimator_ = inner
        self.classes_ = inner.classes_

    def predict_log_proba(self, x):
        return views_log_proba(self.estimator_.predict_log_proba, x)


class ArrayModel:
    """A linear model read from its arrays, with the scikit-learn methods prediction uses."""

    def __init__(self, root):
        self.root = root
        self.classes_ = root.classes_

    def predict_log_proba(self, x):
        return self.root.predict_log_proba(x)

    def predict_proba(self, x):
        return self.root.predict_proba(x)


def describe(estimator):
    """(layout, {name: array}) of a fitted linear model, or None for any other estimator.
    The package's wrappers describe themselves (``linear_arrays``)."""
    if hasattr(estimator, "linear_arrays"):
        return estimator.linear_arrays()
    if _is_standardized_logreg(estimator):
        return "logreg", LinearHead.from_pipeline(estimator).arrays("")
    return None


def _is_standardized_logreg(estimator):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    return (
        isinstance(estimator, Pipeline)
        and len(estimator.steps) == 2
        and type(estimator[0]) is StandardScaler
        and estimator[0].with_mean
        and estimator[0].with_std
        and type(estimator[-1]) is LogisticRegression
        and estimator[-1].coef_.shape[0] > 1  # multinomial: softmax, not the binary sigmoid
    )


def save_arrays(estimator, path):
    """Write a fitted linear model's arrays to ``path`` (.npz, its layout inside)."""
    described = describe(estimator)
    if described is None:
        raise ValueError(f"{type(estimator).__name__} is not one of the package's linear models")
    layout, arrays = described
    with open(path, "wb") as handle:
        np.savez(handle, layout=np.array(json.dumps(layout)), **arrays)


def load_arrays(path):
    """The predictor of a linear model saved by ``save_arrays``."""
    with np.load(path, allow_pickle=False) as stored:
        arrays = dict(stored)
    layout = json.loads(str(arrays.pop("layout")))
    try:
        return ArrayModel(_root(layout, arrays, ""))
    except KeyError as missing:
        raise ValueError(f"{path}: no array {missing} for layout {layout!r}") from None
    except ValueError as error:
        raise ValueError(f"{path}: {error}") from None


def _root(layout, arrays, prefix):
    """The predictor of ``layout`` from the ``arrays`` named with ``prefix``."""
    if layout.startswith("room_gate:"):
        inner = layout.removeprefix("room_gate:")
        dry, wet = _root(inner, arrays, "dry_"), _root(inner, arrays, "wet_")
        detector = _BinaryHead(*(arrays[f"detector_{name}"] for name in _BINARY_ARRAYS))
        return _RoomGate(dry, wet, detector)
    if layout.startswith("speed_views:"):
        return _Views(_root(layout.removeprefix("speed_views:"), arrays, prefix))
    if layout == "frame_logreg":
        return _FrameHeads(
            LinearHead.from_arrays(arrays, f"{prefix}pooled_"),
            LinearHead.from_arrays(arrays, f"{prefix}frames_"),
        )
    if layout == "logreg":
        return LinearHead.from_arrays(arrays, prefix)
    raise ValueError(f"unknown linear model layout {layout!r}")


_BINARY_ARRAYS = ("mean", "scale", "coef", "intercept")


class _BinaryHead:
    """A fitted standardized binary logistic regression's decision, as scikit-learn computes
    it (StandardScaler.transform, then the decision function)."""

    def __init__(self, mean, scale, coef, intercept):
        self.mean, self.scale, self.coef, self.intercept = mean, scale, coef, intercept

    def decision_function(self, x):
        x = np.array(x, copy=True)
        x -= self.mean.astype(x.dtype)
        x /= self.scale.astype(x.dtype)
        return (x @ self.coef.T + self.intercept).ravel()


class _RoomGate(_Combined):
    def __init__(self, dry, wet, detector):
        self.dry_, self.wet_, self.detector_ = dry, wet, detector
        self.classes_ = dry.classes_

    def in_room(self, x):
        return self.detector_.decision_function(detector_features(x)) > 0

    def predict_log_proba(self, x):
        return gated_log_proba(
            self.dry_.predict_log_proba, self.wet_.predict_log_proba, self.in_room, np.asarray(x)
        )
