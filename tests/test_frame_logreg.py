"""The pooled-plus-frames logistic regression (frame_logreg) on synthetic sequences."""

import joblib
import numpy as np
import pytest

from fsdd_pipeline.features.pooling import summary_statistics
from fsdd_pipeline.models.frame_logreg import PooledFrameLogisticRegression
from fsdd_pipeline.models.training import sklearn_parameters


def sequences(rng, n_per_class=30, frames=6, channels=5):
    """Class c: frames drawn around a class mean, one frame per clip replaced by noise."""
    means = rng.normal(size=(3, channels)) * 2
    x, y = [], []
    for label, mean in enumerate(means):
        clips = mean + rng.normal(size=(n_per_class, frames, channels))
        clips[:, rng.integers(frames)] = rng.normal(size=(n_per_class, channels)) * 4
        x.append(clips)
        y += [label] * n_per_class
    return np.concatenate(x), np.array(y)


def test_learns_classes_and_gives_normalized_probabilities(tmp_path):
    rng = np.random.default_rng(0)
    x, y = sequences(rng)
    model = PooledFrameLogisticRegression(C=0.1, frame_C=0.01).fit(x, y)
    test_x, test_y = sequences(np.random.default_rng(0), n_per_class=10)
    proba = model.predict_proba(test_x)
    assert proba.shape == (30, 3)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert np.mean(model.predict(test_x) == test_y) > 0.9
    np.testing.assert_array_equal(model.classes_, [0, 1, 2])

    joblib.dump(model, tmp_path / "model.joblib")
    np.testing.assert_allclose(
        joblib.load(tmp_path / "model.joblib").predict_proba(x), model.predict_proba(x)
    )


def test_log_probabilities_are_the_pooled_plus_the_mean_frame_model():
    rng = np.random.default_rng(1)
    x, y = sequences(rng, frames=4)
    model = PooledFrameLogisticRegression().fit(x, y)
    pooled = model.pooled_.predict_log_proba(summary_statistics(x, axis=1))
    frames = model.frames_.predict_log_proba(x.reshape(-1, x.shape[2])).reshape(len(x), 4, -1)
    joint = pooled + frames.mean(axis=1)
    expected = np.exp(joint) / np.exp(joint).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict_proba(x), expected, rtol=1e-9)
    # Neither model alone: the frame model changes the pooled model's answer somewhere.
    assert not np.allclose(model.predict_proba(x), np.exp(pooled))


def test_counts_both_models_parameters_and_refuses_pooled_inputs():
    x, y = sequences(np.random.default_rng(2), channels=5)
    model = PooledFrameLogisticRegression().fit(x, y)
    count, described = sklearn_parameters(model)
    assert count == 3 * (3 * 5 + 1) + 3 * (5 + 1)
    assert "per frame" in described
    with pytest.raises(ValueError, match="frames, channels"):
        PooledFrameLogisticRegression().fit(x.mean(axis=1), y)
