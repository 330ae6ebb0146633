import keras
import numpy as np
import pytest

from fsdd_pipeline.audio.endpoint import EndpointParams
from fsdd_pipeline.audio.reading import prepare_clip
from fsdd_pipeline.audio.realistic_takes import REALISTIC_TRANSFORMS
from fsdd_pipeline.augment.spec_augment import SpecAugment, spec_augment
from fsdd_pipeline.augment.waveform import (
    WaveformAugmenter,
    add_noise,
    apply_gain,
    change_speed,
    shift_pitch,
    time_shift,
)
from fsdd_pipeline.evaluation.robustness import ROBUSTNESS_TRANSFORMS
from fsdd_pipeline.features.spectral import FeatureParams, extract_features

RATE = 8000
SETTINGS = {
    "copies": 2,
    "noise_snr_db": [10, 40],
    "shift_s": 0.1,
    "gain_db": [-12, 6],
    "speed": [0.9, 1.1],
    "pitch_semitones": [-2, 2],
    "probability": 0.5,
}


def tone(seconds=0.5, frequency=300.0, amplitude=0.5):
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


def snr_db(clean, noisy):
    noise = noisy.astype(np.float64) - clean
    return 10 * np.log10(np.mean(clean.astype(np.float64) ** 2) / np.mean(noise**2))


def assert_mono_float32(samples):
    assert samples.dtype == np.float32 and samples.ndim == 1


@pytest.mark.parametrize("target", [0.0, 10.0, 20.0, 35.0])
def test_add_noise_reaches_requested_snr(target):
    clean = tone()
    noisy = add_noise(clean, target, np.random.default_rng(0))
    assert_mono_float32(noisy)
    assert noisy.shape == clean.shape
    assert abs(snr_db(clean, noisy) - target) < 0.5


def test_add_noise_leaves_silence_silent():
    silence = np.zeros(100, dtype=np.float32)
    assert not np.any(add_noise(silence, 10, np.random.default_rng(0)))


def test_time_shift_keeps_shape_and_fills_with_zeros():
    clean = tone() + 1.0  # no zeros in the signal, so any zero is fill
    for seed in range(20):
        shifted = time_shift(clean, 0.1, RATE, np.random.default_rng(seed))
        assert_mono_float32(shifted)
        assert shifted.shape == clean.shape
        zeros = int(np.sum(shifted == 0))
        assert zeros <= 0.1 * RATE
        # Not wrapped: the zeros sit at one end and the rest is the signal moved along.
        if zeros and shifted[0] == 0:
            np.testing.assert_array_equal(shifted[zeros:], clean[:-zeros])
        elif zeros:
            np.testing.assert_array_equal(shifted[:-zeros], clean[zeros:])


def test_apply_gain_scales_by_decibels():
    clean = tone()
    louder = apply_gain(clean, 6.0)
    assert_mono_float32(louder)
    assert louder.shape == clean.shape
    np.testing.assert_allclose(louder, clean * 10 ** (6 / 20), rtol=1e-6)


@pytest.mark.parametrize("factor", [0.9, 1.0, 1.1])
def test_change_speed_scales_duration(factor):
    clean = tone()
    faster = change_speed(clean, factor)
    assert_mono_float32(faster)
    assert abs(faster.size - clean.size / factor) <= 2


def test_shift_pitch_keeps_duration_and_moves_pitch():
    clean = tone(frequency=400.0)
    shifted = shift_pitch(clean, RATE, 12)
    assert_mono_float32(shifted)
    assert shifted.shape == clean.shape
    spectrum = np.abs(np.fft.rfft(shifted))
    peak_hz = np.argmax(spectrum) * RATE / clean.size
    assert abs(peak_hz - 800.0) < 20


def clips():
    return [tone(0.4, 300.0), tone(0.6, 500.0), tone(0.3, 700.0, 0.9)]


def test_augment_dataset_returns_copies_without_originals():
    originals = clips()
    augmented, labels = WaveformAugmenter(SETTINGS, RATE, seed=1).augment_dataset(
        originals, [3, 5, 7]
    )
    assert len(augmented) == 6
    np.testing.assert_array_equal(labels, [3, 3, 5, 5, 7, 7])
    for samples in augmented:
        assert_mono_float32(samples)
        assert np.max(np.abs(samples)) <= 1.0
    assert not any(
        a.shape == o.shape and np.array_equal(a, o) for a in augmented for o in originals
    )


def test_augment_dataset_is_reproducible_from_the_seed():
    def run(seed):
        return WaveformAugmenter(SETTINGS, RATE, seed=seed).augment_dataset(clips(), [0, 1, 2])

    (first, labels_1), (second, labels_2), (other, _) = run(7), run(7), run(8)
    np.testing.assert_array_equal(labels_1, labels_2)
    assert all(np.array_equal(a, b) for a, b in zip(first, second, strict=True))
    assert not all(
        a.shape == b.shape and np.array_equal(a, b) for a, b in zip(first, other, strict=True)
    )


def test_augmenter_clips_peaks_and_missing_keys_disable_transforms():
    loud = tone(amplitude=0.9)
    augmenter = WaveformAugmenter({"gain_db": [12, 12], "probability": 1}, RATE, seed=0)
    louder = augmenter.augment(loud)
    assert np.max(np.abs(louder)) == 1.0
    nothing = WaveformAugmenter({"copies": 1, "noise_snr_db": None}, RATE, seed=0)
    np.testing.assert_array_equal(nothing.augment(loud), loud)


def masked_bands(flags):
    """Lengths of the runs of True in a 1-D boolean array."""
    edges = np.diff(np.concatenate([[0], flags.astype(int), [0]]))
    return np.flatnonzero(edges == -1) - np.flatnonzero(edges == 1)


def test_spec_augment_masks_within_bounds():
    x = np.random.default_rng(0).uniform(1, 2, (40, 20)).astype(np.float32)
    seen_mask = False
    for seed in range(30):
        masked = spec_augment(x, np.random.default_rng(seed), 2, 6, 2, 4, fill=0.0)
        assert masked.shape == x.shape and masked.dtype == np.float32
        changed = masked != x
        assert np.all(masked[changed] == 0)
        rows, cols = changed.all(axis=1), changed.all(axis=0)
        # Every masked value lies in a fully masked frame or channel...
        assert not np.any(changed & ~rows[:, None] & ~cols[None, :])
        # ...and those form at most 2 bands each, no wider than the (possibly joined) masks.
        assert len(masked_bands(rows)) <= 2 and rows.sum() <= 2 * 6
        assert len(masked_bands(cols)) <= 2 and cols.sum() <= 2 * 4
        seen_mask |= bool(changed.any())
    assert seen_mask


def test_spec_augment_single_masks_and_per_channel_fill():
    x = np.random.default_rng(0).uniform(1, 2, (30, 10)).astype(np.float32)
    fill = -np.arange(10, dtype=np.float32) - 1
    for seed in range(30):
        time_only = spec_augment(x, np.random.default_rng(seed), 1, 5, 0, 0, fill=fill)
        rows = (time_only != x).any(axis=1)
        assert rows.sum() <= 5 and len(masked_bands(rows)) <= 1
        np.testing.assert_array_equal(time_only[rows], np.broadcast_to(fill, time_only[rows].shape))
        freq_only = spec_augment(x, np.random.default_rng(seed), 0, 0, 1, 3, fill=fill)
        cols = (freq_only != x).any(axis=0)
        assert cols.sum() <= 3 and len(masked_bands(cols)) <= 1
        np.testing.assert_array_equal(
            freq_only[:, cols], np.broadcast_to(fill[cols], (30, cols.sum()))
        )
    np.testing.assert_array_equal(spec_augment(x, np.random.default_rng(0), 0, 8, 0, 8), x)


BATCH = np.random.default_rng(1).uniform(1, 2, (6, 24, 16)).astype(np.float32)


def test_spec_augment_layer_is_identity_unless_training():
    layer = SpecAugment(seed=0)
    np.testing.assert_array_equal(np.asarray(layer(BATCH)), BATCH)
    np.testing.assert_array_equal(np.asarray(layer(BATCH, training=False)), BATCH)
    masked = np.asarray(layer(BATCH, training=True))
    assert masked.shape == BATCH.shape
    changed = masked != BATCH
    assert changed.any()
    assert np.all(masked[changed] == 0)
    for example in changed:
        rows, cols = example.all(axis=1), example.all(axis=0)
        assert not np.any(example & ~rows[:, None] & ~cols[None, :])
        assert len(masked_bands(rows)) <= 2 and rows.sum() <= 16
        assert len(masked_bands(cols)) <= 2 and cols.sum() <= 16


def test_spec_augment_layer_is_reproducible_from_the_seed():
    first = np.asarray(SpecAugment(seed=5)(BATCH, training=True))
    second = np.asarray(SpecAugment(seed=5)(BATCH, training=True))
    np.testing.assert_array_equal(first, second)


def test_model_with_spec_augment_saves_and_loads(tmp_path):
    model = keras.Sequential(
        [
            keras.Input((None, 16)),
            SpecAugment(time_masks=1, time_width=4, freq_masks=1, freq_width=3, seed=2),
            keras.layers.GlobalAveragePooling1D(),
            keras.layers.Dense(10, activation="softmax"),
        ]
    )
    model.compile("adam", "sparse_categorical_crossentropy")
    # One step in graph mode, with frames and batch unknown, as model.fit runs the layer.
    model.train_on_batch(BATCH, np.arange(6))
    model.save(tmp_path / "x.keras")
    loaded = keras.models.load_model(tmp_path / "x.keras")
    layer = loaded.layers[0]
    assert isinstance(layer, SpecAugment)
    assert (layer.time_masks, layer.time_width, layer.freq_masks, layer.freq_width) == (1, 4, 1, 3)
    assert layer.seed == 2
    np.testing.assert_allclose(
        loaded.predict(BATCH, verbose=0), model.predict(BATCH, verbose=0), rtol=1e-6
    )


def test_robustness_transforms_shapes_and_rates():
    assert list(ROBUSTNESS_TRANSFORMS)[:7] == [
        "clean",
        "white_noise_20db",
        "white_noise_10db",
        "silence_padding",
        "resampled_44k_stereo",
        "gain_minus_12db",
        "reverberant_room",
    ]
    assert list(ROBUSTNESS_TRANSFORMS)[7:] == list(REALISTIC_TRANSFORMS)
    clean = tone(0.5)
    expected = {
        "clean": (clean.shape, RATE),
        "white_noise_20db": (clean.shape, RATE),
        "white_noise_10db": (clean.shape, RATE),
        "silence_padding": ((clean.size + RATE,), RATE),
        "resampled_44k_stereo": ((round(clean.size * 44100 / RATE), 2), 44100),
        "gain_minus_12db": (clean.shape, RATE),
    }
    for name, transform in list(ROBUSTNESS_TRANSFORMS.items())[:7]:
        samples, rate = transform(clean, RATE, np.random.default_rng(0))
        assert samples.dtype == np.float32, name
        if name == "reverberant_room":  # the word and the room's tail after it
            assert rate == RATE and clean.size < samples.size <= clean.size + RATE, name
        else:
            assert (samples.shape, rate) == expected[name], name
        # Every perturbed clip still goes through the normal loading path.
        prepared = prepare_clip(samples, rate, RATE, endpoint=EndpointParams())[0]
        assert extract_features(prepared, FeatureParams())["mfcc"].shape[0] == 40


def test_robustness_transform_values():
    clean = tone(0.5)
    rng = np.random.default_rng(0)
    transforms = ROBUSTNESS_TRANSFORMS
    np.testing.assert_array_equal(transforms["clean"](clean, RATE, rng)[0], clean)
    assert abs(snr_db(clean, transforms["white_noise_20db"](clean, RATE, rng)[0]) - 20) < 0.5
    assert abs(snr_db(clean, transforms["white_noise_10db"](clean, RATE, rng)[0]) - 10) < 0.5
    padded, _ = transforms["silence_padding"](clean, RATE, rng)
    half = RATE // 2
    assert not padded[:half].any() and not padded[-half:].any()
    np.testing.assert_array_equal(padded[half:-half], clean)
    stereo, _ = transforms["resampled_44k_stereo"](clean, RATE, rng)
    np.testing.assert_array_equal(stereo[:, 0], stereo[:, 1])
    quieter, _ = transforms["gain_minus_12db"](clean, RATE, rng)
    np.testing.assert_allclose(quieter, clean * 10 ** (-12 / 20), rtol=1e-6)
