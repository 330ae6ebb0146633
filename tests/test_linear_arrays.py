"""Linear models read from their arrays predict scikit-learn's numbers bit for bit, without
importing scikit-learn."""

import subprocess
import sys

import numpy as np
import pytest

from fsdd_pipeline.models.builders import build_sklearn_model
from fsdd_pipeline.models.linear import describe, load_arrays, save_arrays


def sequences(n=120, frames=9, channels=12, seed=0):
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 10
    x = rng.normal(size=(n, frames, channels)).astype(np.float32) + y[:, None, None] * 0.3
    return x, y


def views_of(x, seed=1):
    rng = np.random.default_rng(seed)
    return np.stack([x, x * 1.1 + rng.normal(size=x.shape), x * 0.9], axis=1).astype(np.float32)


CONFIGS = {
    "logreg": ({"type": "logreg", "C": 0.5, "max_iter": 500}, lambda x: x.reshape(len(x), -1)),
    "frame_logreg": ({"type": "frame_logreg", "C": 0.1, "frame_C": 0.01, "max_iter": 500}, None),
    "logreg_speed_views": (
        {"type": "logreg", "C": 0.5, "max_iter": 500, "speed_views": True},
        lambda x: views_of(x).reshape(len(x), 3, -1),
    ),
    "frame_logreg_speed_views": (
        {"type": "frame_logreg", "C": 0.1, "frame_C": 0.01, "max_iter": 500, "speed_views": True},
        views_of,
    ),
}


@pytest.mark.parametrize("name", sorted(CONFIGS))
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_arrays_predict_scikit_learns_probabilities_bit_for_bit(name, dtype, tmp_path):
    config, inputs = CONFIGS[name]
    x, y = sequences()
    x = (inputs or (lambda v: v))(x)
    estimator = build_sklearn_model(config).fit(x[:100], y[:100])
    save_arrays(estimator, tmp_path / "model.npz")
    model = load_arrays(tmp_path / "model.npz")
    unseen = x[100:].astype(dtype)
    assert np.array_equal(model.predict_proba(unseen), estimator.predict_proba(unseen))
    assert np.array_equal(model.classes_, estimator.classes_)


def test_a_model_that_is_not_linear_has_no_arrays(tmp_path):
    x, y = sequences()
    svm = build_sklearn_model({"type": "svm", "C": 1.0, "gamma": "scale", "seed": 0})
    svm.fit(x.reshape(len(x), -1), y)
    assert describe(svm) is None
    with pytest.raises(ValueError, match="not one of the package's linear models"):
        save_arrays(svm, tmp_path / "model.npz")


def test_reading_the_arrays_imports_no_scikit_learn(tmp_path):
    x, y = sequences()
    estimator = build_sklearn_model(CONFIGS["frame_logreg_speed_views"][0])
    estimator.fit(views_of(x), y)
    save_arrays(estimator, tmp_path / "model.npz")
    np.save(tmp_path / "x.npy", views_of(x[:5]))
    expected = estimator.predict_proba(views_of(x[:5]))
    code = (
        "import sys, numpy as np\n"
        "from fsdd_pipeline.models.linear import load_arrays\n"
        f"model = load_arrays({str(tmp_path / 'model.npz')!r})\n"
        f"x = np.load({str(tmp_path / 'x.npy')!r})\n"
        f"np.save({str(tmp_path / 'p.npy')!r}, model.predict_proba(x))\n"
        "print('sklearn' in sys.modules)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "False"
    assert np.array_equal(np.load(tmp_path / "p.npy"), expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_an_lda_as_arrays_gives_its_log_probabilities_bit_for_bit(dtype):
    from sklearn.discriminant_analysis import LinearDiscriminantAnalysis

    from fsdd_pipeline.models.linear import as_arrays

    x, y = sequences(n=220)
    x = x.reshape(len(x), -1)
    lda = LinearDiscriminantAnalysis(solver="lsqr", shrinkage="auto").fit(x[:200], y[:200])
    unseen = np.concatenate([x[200:], 50 * x[200:]]).astype(dtype)  # far: probabilities of 0
    head = as_arrays(lda)
    assert np.array_equal(head.predict_log_proba(unseen), lda.predict_log_proba(unseen))
    assert np.array_equal(head.predict_proba(unseen), lda.predict_proba(unseen))
