"""Speed views: the embedding of a clip played faster and slower, and the classifier that
trains and predicts on a clip and its views."""

import numpy as np
import pytest
import soundfile
from sklearn.linear_model import LogisticRegression

from fsdd_pipeline.errors import ConfigError
from fsdd_pipeline.features.embedding import EmbeddingParams, SpeechEmbedder
from fsdd_pipeline.features.librosa_runtime import load_librosa
from fsdd_pipeline.features.spectral import FeatureParams, extract_features
from fsdd_pipeline.models.builders import build_sklearn_model
from fsdd_pipeline.models.frame_logreg import PooledFrameLogisticRegression
from fsdd_pipeline.models.inputs import InputSpec, inputs_from_matrices
from fsdd_pipeline.models.speed_views import SpeedViewsClassifier
from fsdd_pipeline.models.training import sklearn_parameters
from fsdd_pipeline.planning.config_checks import _check_models
from fsdd_pipeline.planning.feature_names import SPEED_VIEWS


def params_with(speeds):
    return FeatureParams(embedding=EmbeddingParams(min_seconds=1.5, speeds=speeds))


@pytest.fixture(scope="module")
def clip(fsdd_subset):
    samples, rate = soundfile.read(fsdd_subset / "3_george_0.wav", dtype="float32")
    assert rate == 8000
    return samples


def test_each_view_is_the_embedding_of_the_clip_resampled_by_its_speed(clip):
    """Against an embedding computed apart: librosa's resampling and a new embedder."""
    librosa = load_librosa("features")
    params = params_with([0.85, 1.0, 1.15])
    views = extract_features(clip, params, (SPEED_VIEWS,))[SPEED_VIEWS]
    embedder = SpeechEmbedder(params.embedding)
    for index, speed in enumerate(params.embedding.speeds):
        played = librosa.resample(clip, orig_sr=speed, target_sr=1.0)
        expected = embedder.embed(played, 8000).T  # a short clip: 9 frames at every speed
        np.testing.assert_array_equal(views[96 * index : 96 * (index + 1)], expected)


def test_views_are_stacked_by_speed_with_the_clips_frames_and_deterministic(clip):
    params = params_with([0.85, 1.15])
    views = extract_features(clip, params, (SPEED_VIEWS,))[SPEED_VIEWS]
    embedding = extract_features(clip, params, ("embedding",))["embedding"]
    assert views.shape == (2 * 96, embedding.shape[1])
    assert views.dtype == np.float32
    np.testing.assert_array_equal(
        views, extract_features(clip, params, (SPEED_VIEWS,))[SPEED_VIEWS]
    )
    slow, fast = views[:96], views[96:]
    # Played at another speed the word embeds differently, and each speed differently.
    assert not np.allclose(slow, embedding) and not np.allclose(fast, embedding)
    assert not np.allclose(slow, fast)


def test_a_long_clip_keeps_its_frame_count_in_every_view():
    """A 3 s clip: the slow view is longer and centre-cropped, the fast one padded."""
    rng = np.random.default_rng(0)
    clip = (0.1 * rng.standard_normal(24000)).astype(np.float32)
    params = params_with([0.85, 1.15])
    matrices = extract_features(clip, params, ("embedding", SPEED_VIEWS))
    assert matrices[SPEED_VIEWS].shape == (192, matrices["embedding"].shape[1])


def test_extraction_stores_views_only_when_speeds_are_set():
    assert SPEED_VIEWS in params_with([0.9]).extracted_features
    assert SPEED_VIEWS not in params_with([]).extracted_features


def test_inputs_hold_the_clip_then_each_view(clip):
    params = params_with([0.85, 1.15])
    matrices = extract_features(clip, params, ("embedding", SPEED_VIEWS))
    spec = InputSpec(("embedding",), "sequence", 9, params, speed_views=True)
    plain = InputSpec(("embedding",), "sequence", 9, params)
    x = inputs_from_matrices([matrices], spec)
    assert x.shape == (1, 3, 9, 96) == (1, *spec.shape)
    np.testing.assert_array_equal(x[0, 0], inputs_from_matrices([matrices], plain)[0])
    slow_only = {"embedding": matrices[SPEED_VIEWS][:96]}
    np.testing.assert_array_equal(x[0, 1], inputs_from_matrices([slow_only], plain)[0])
    assert InputSpec.from_dict(spec.to_dict()) == spec


@pytest.mark.parametrize(
    "features, speeds, reason",
    [(("mfcc",), [0.9], "embedding only"), (("embedding",), [], "speeds")],
)
def test_speed_views_need_the_embedding_and_speeds(features, speeds, reason):
    with pytest.raises(ValueError, match=reason):
        InputSpec(features, "summary", 9, params_with(speeds), speed_views=True)


def test_fit_is_the_base_model_on_clips_and_views_and_prediction_averages_views():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(60, 3, 4)) + np.repeat(np.arange(3), 20)[:, None, None]
    y = np.repeat(np.arange(3), 20)
    model = SpeedViewsClassifier(LogisticRegression(C=0.5)).fit(x, y)
    base = LogisticRegression(C=0.5).fit(x.reshape(-1, 4), np.repeat(y, 3))
    np.testing.assert_allclose(model.estimator_.coef_, base.coef_)

    test = rng.normal(size=(5, 3, 4))
    mean = base.predict_log_proba(test.reshape(-1, 4)).reshape(5, 3, 3).mean(axis=1)
    expected = np.exp(mean) / np.exp(mean).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(model.predict_proba(test), expected)
    np.testing.assert_array_equal(model.predict(test), expected.argmax(axis=1))
    # With every view equal to the clip, the base model's own prediction comes out.
    same = np.repeat(test[:, :1], 3, axis=1)
    np.testing.assert_allclose(model.predict_proba(same), base.predict_proba(test[:, 0]))


def test_config_builds_the_wrapped_pair_and_counts_its_parameters():
    config = {"type": "frame_logreg", "C": 0.1, "frame_C": 0.01, "max_iter": 200}
    model = build_sklearn_model(config | {"speed_views": True})
    assert isinstance(model, SpeedViewsClassifier)
    assert isinstance(model.estimator, PooledFrameLogisticRegression)
    rng = np.random.default_rng(1)
    x = rng.normal(size=(30, 3, 4, 5))
    y = np.repeat(np.arange(3), 10)
    plain = build_sklearn_model(config).fit(x[:, 0], y)
    count, what = sklearn_parameters(model.fit(x, y))
    assert count == sklearn_parameters(plain)[0]
    assert "speed views" in what


@pytest.mark.parametrize(
    "model, speeds, message",
    [
        ({"type": "cnn", "features": ["embedding"]}, [0.9], "logreg and frame_logreg"),
        ({"type": "logreg", "features": ["embedding", "mfcc"]}, [0.9], "embedding alone"),
        ({"type": "logreg", "features": ["embedding"]}, [], "features.embedding.speeds"),
    ],
)
def test_config_check_names_the_model_key_and_reason(model, speeds, message):
    config = {
        "models": {"m": model | {"pooling": "summary", "speed_views": True}},
        "features": {"embedding": {"speeds": speeds}},
        "levers": [],
        "loso": {"models": []},
    }
    with pytest.raises(ConfigError, match=message) as error:
        _check_models(config)
    assert "models.m.speed_views" in str(error.value)
