"""The package's linear models without scikit-learn at prediction time.

Trained by scikit-learn (a standardized logistic regression, ``logreg``; the two of
``frame_logreg``; either inside speed views), a linear model is, once fitted, a few arrays.
``LinearHead`` holds them and computes scikit-learn's numbers in scikit-learn's order of
operations, bit for bit (a test checks every model type against its fitted estimator), so
predicting needs numpy only: importing scikit-learn and unpickling its objects cost ten times
the whole computation of a clip. ``save_arrays`` writes a fitted model's arrays beside its
joblib file; ``load_arrays`` reads them back as a predictor with scikit-learn's interface.
The two wrappers' ways of combining log-probabilities (``frame_log_proba``,
``views_log_proba``) serve their scikit-learn classes and these predictors alike.
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
    base = layout.rpartition(":")[2]
    if base == "frame_logreg":
        root = _FrameHeads(
            LinearHead.from_arrays(arrays, "pooled_"), LinearHead.from_arrays(arrays, "frames_")
        )
    elif base == "logreg":
        root = LinearHead.from_arrays(arrays, "")
    else:
        raise ValueError(f"{path}: unknown linear model layout {layout!r}")
    if layout.startswith("speed_views:"):
        root = _Views(root)
    return ArrayModel(root)
