"""Prior-anchored adaptation of a trained logistic regression to a few new examples.

A person's enrolled takes are too few to train a classifier, and refitting on the whole
training set plus those takes needs the training set, which a registered model does not
carry. Instead, the trained weights are the prior: the adapted weights minimize the
enrolled takes' cross-entropy, each take counting as ``weight`` training examples, plus
the model's own L2 penalty (1 / 2C) applied to the distance from the trained weights,
i.e. the penalty of the original fit centred on its solution. Inputs are standardized by
the model's own scaler, which is kept.
"""

import copy

import numpy as np
from scipy.optimize import minimize
from threadpoolctl import threadpool_limits

from fsdd_pipeline.models.linear import renormalized


def _log_softmax(scores):
    return renormalized(scores)


def anchored_logreg_weights(coef, intercept, x, y_index, C, weight):
    """(coef, intercept) adapted to standardized inputs ``x`` (n, d) with class positions
    ``y_index`` (n,): minimize C * weight * sum(cross-entropy) + ||delta||^2 / 2."""
    n_classes, dims = coef.shape
    start = np.concatenate([coef.ravel(), intercept])
    targets = np.zeros((len(x), n_classes))
    targets[np.arange(len(x)), y_index] = 1.0
    scale = float(C) * float(weight)

    def objective(flat):
        delta = flat - start
        w, b = flat[: n_classes * dims].reshape(n_classes, dims), flat[n_classes * dims :]
        log_p = _log_softmax(x @ w.T + b)
        loss = -scale * np.sum(targets * log_p) + 0.5 * delta @ delta
        error = scale * (np.exp(log_p) - targets)
        gradient = np.concatenate([(error.T @ x).ravel(), error.sum(axis=0)]) + delta
        return loss, gradient

    # One BLAS thread: the products are small, and on a busy machine BLAS' thread pool made
    # an adaptation of 50 takes 30x slower (43 s instead of 1.5 s).
    with threadpool_limits(1):
        result = minimize(objective, start, jac=True, method="L-BFGS-B", options={"maxiter": 500})
    flat = result.x
    return flat[: n_classes * dims].reshape(n_classes, dims), flat[n_classes * dims :]


def adapted_pipeline(pipeline, x, y, weight):
    """A copy of a fitted StandardScaler + LogisticRegression pipeline whose regression is
    adapted to ``x``, ``y`` (see anchored_logreg_weights); the scaler is unchanged."""
    adapted = copy.deepcopy(pipeline)
    scaler, logreg = adapted[:-1], adapted[-1]
    positions = {label: index for index, label in enumerate(logreg.classes_)}
    unknown = sorted(set(np.asarray(y).tolist()) - set(positions))
    if unknown:
        raise ValueError(f"labels {unknown} are not classes of the trained model")
    y_index = np.array([positions[label] for label in np.asarray(y).tolist()])
    coef, intercept = anchored_logreg_weights(
        logreg.coef_, logreg.intercept_, scaler.transform(x), y_index, logreg.C, weight
    )
    logreg.coef_, logreg.intercept_ = coef, intercept
    return adapted
