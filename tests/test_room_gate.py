"""The room gate: two frame_logreg experts (dry; dry and in rooms) behind a room detector."""

import numpy as np
import pytest

from fsdd_pipeline.augment.waveform import WaveformAugmenter
from fsdd_pipeline.errors import ConfigError
from fsdd_pipeline.models.builders import build_sklearn_model
from fsdd_pipeline.models.linear import load_arrays, save_arrays
from fsdd_pipeline.voices.enrollment import adapt_estimator

CONFIG = {
    "type": "frame_logreg",
    "C": 0.1,
    "frame_C": 0.01,
    "max_iter": 500,
    "speed_views": True,
    "room_gate": True,
}


def dry_and_wet(n=200, seed=0):
    """(x, y, in_room): clips of (3 views, 9 frames, 12 channels) whose class shifts every
    channel, and their copies "in a room": smeared over time and offset in two channels."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 10
    dry = rng.normal(size=(n, 3, 9, 12)) + y[:, None, None, None] * 0.3
    wet = 0.5 * (dry + np.roll(dry, 1, axis=2)) + rng.normal(size=dry.shape) * 0.3
    wet[..., :2] += 3.0
    x = np.concatenate([dry, wet]).astype(np.float32)
    return x, np.concatenate([y, y]), np.repeat([False, True], n)


def fitted():
    x, y, in_room = dry_and_wet()
    return build_sklearn_model(CONFIG).fit(x, y, in_room=in_room)


def test_each_clip_is_read_by_the_expert_of_its_room():
    model = fitted()
    x, _, in_room = dry_and_wet(seed=1)
    heard = model.in_room(x)
    assert np.mean(heard == in_room) > 0.95
    expected = np.where(
        heard[:, None], model.wet_.predict_log_proba(x), model.dry_.predict_log_proba(x)
    )
    np.testing.assert_array_equal(model.predict_log_proba(x), expected)
    # The dry expert never saw a copy; the room expert saw every row.
    assert model.dry_.estimator_.pooled_[0].n_samples_seen_ == 200 * 3
    assert model.wet_.estimator_.pooled_[0].n_samples_seen_ == 400 * 3


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_its_arrays_predict_scikit_learns_probabilities_bit_for_bit(dtype, tmp_path):
    model = fitted()
    save_arrays(model, tmp_path / "model.npz")
    arrays = load_arrays(tmp_path / "model.npz")
    x = dry_and_wet(seed=2)[0].astype(dtype)
    assert np.array_equal(arrays.predict_proba(x), model.predict_proba(x))
    assert np.array_equal(arrays.classes_, model.classes_)


def test_fit_needs_rows_of_both_kinds():
    x, y, in_room = dry_and_wet(n=40)
    with pytest.raises(ValueError, match="in_room"):
        build_sklearn_model(CONFIG).fit(x, y)
    with pytest.raises(ValueError, match="both dry rows and rows in rooms"):
        build_sklearn_model(CONFIG).fit(x[~in_room], y[~in_room], in_room=in_room[~in_room])
    no_dry_nine = ~(~in_room & (y == 9))
    with pytest.raises(ValueError, match=r"dry rows of every class; none of \[9\]"):
        build_sklearn_model(CONFIG).fit(
            x[no_dry_nine], y[no_dry_nine], in_room=in_room[no_dry_nine]
        )


def test_enrollment_adapts_both_experts_and_keeps_the_detector():
    model = fitted()
    x, y, _ = dry_and_wet(n=10, seed=3)
    personal = adapt_estimator(model, x[:10], y[:10])
    assert personal.detector_ is model.detector_
    for name in ("dry_", "wet_"):
        before = getattr(model, name).estimator_.pooled_[-1].coef_
        after = getattr(personal, name).estimator_.pooled_[-1].coef_
        assert not np.array_equal(before, after), name


def test_a_room_gate_without_copies_in_rooms_is_refused(tmp_path):
    from fsdd_pipeline.planning.config_checks import _check_room_gate

    with pytest.raises(ConfigError, match="room_gate.*copies in rooms"):
        _check_room_gate("m", {**CONFIG, "augment": {"copies": 1, "noise_snr_db": [20, 40]}})
    with pytest.raises(ConfigError, match="frame_logreg model with speed_views"):
        _check_room_gate("m", {**CONFIG, "speed_views": False})
    room = {"room_rt60_s": [0.2, 0.9], "room_drr_db": 6}
    with pytest.raises(ConfigError, match="augment.probability.*every copy is in a room"):
        _check_room_gate("m", {**CONFIG, "augment": room | {"probability": 0.5}})
    _check_room_gate("m", {**CONFIG, "augment": room})


def test_the_room_augmentation_adds_a_tail_and_repeats_by_seed():
    rate = 8000
    t = np.arange(int(0.4 * rate)) / rate
    word = (0.5 * np.sin(2 * np.pi * 300 * t)).astype(np.float32)
    settings = {"copies": 1, "room_rt60_s": [0.3, 0.5], "room_drr_db": [3, 9]}
    first = WaveformAugmenter(settings, rate, seed=4).augment(word)
    assert np.array_equal(first, WaveformAugmenter(settings, rate, seed=4).augment(word))
    assert word.size + 0.3 * rate <= first.size <= word.size + 0.52 * rate
    with pytest.raises(ValueError, match="go together"):
        WaveformAugmenter({"room_rt60_s": [0.3, 0.5]}, rate)


def test_a_moved_mean_is_the_inputs_moved_everywhere_in_the_model():
    """moved_inputs folds an offset into every scaler (both experts' heads and the detector):
    the moved model reads x as the original reads x + offset, the detector included."""
    from fsdd_pipeline.voices.enrollment import moved_inputs, trained_mean
    from fsdd_pipeline.voices.speaker_mean import person_offset

    model = fitted()
    x = dry_and_wet(seed=4)[0].astype(np.float64)
    offset = np.linspace(-2.0, 2.0, x.shape[-1])
    moved = moved_inputs(model, offset)
    np.testing.assert_allclose(moved.predict_log_proba(x), model.predict_log_proba(x + offset))
    np.testing.assert_array_equal(moved.in_room(x), model.in_room(x + offset))
    assert not np.array_equal(moved.in_room(x), model.in_room(x))
    # The original is untouched, and the moved model saves and loads as its arrays.
    np.testing.assert_array_equal(model.predict_log_proba(x), fitted().predict_log_proba(x))
    # A person whose frames sit 1.5 above the training mean is moved back onto it.
    assert trained_mean(model) == pytest.approx(x[:200].reshape(-1, 12).mean(0), abs=0.2)
    person = x[:20] + 1.5
    np.testing.assert_allclose(
        person_offset(trained_mean(model), person),
        trained_mean(model) - person.reshape(-1, 12).mean(0),
    )
