"""Data augmentation: waveform perturbations, SpecAugment, and robustness transforms.

Waveform functions take 1-D float32 samples and draw their randomness from a
``numpy.random.Generator`` so that every result is reproducible from a seed.
"""

import warnings
from collections import OrderedDict

import keras
import numpy as np

from .librosa_runtime import load_librosa

AUGMENT_KEYS = (
    "copies",
    "probability",
    "noise_snr_db",
    "shift_s",
    "gain_db",
    "speed",
    "pitch_semitones",
)
ROBUSTNESS_RATE = 44100
PADDING_S = 0.5


def _mono(samples):
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 1:
        raise ValueError(f"expected 1-D samples, got shape {samples.shape}")
    return samples


def add_noise(samples, snr_db, rng):
    """Add white Gaussian noise at exactly ``snr_db`` below the signal's power."""
    samples = np.asarray(samples, dtype=np.float32)
    signal_power = float(np.mean(np.square(samples, dtype=np.float64))) if samples.size else 0.0
    if signal_power == 0.0:
        return samples.copy()
    noise = rng.standard_normal(samples.shape)
    # Scale the drawn noise by its own power, not the expected one, so the SNR is exact.
    noise *= np.sqrt(signal_power / 10 ** (snr_db / 10) / np.mean(np.square(noise)))
    return (samples + noise).astype(np.float32)


def time_shift(samples, max_shift_s, sample_rate, rng):
    """Shift by a random number of samples in [-max, max], filling with zeros."""
    samples = np.asarray(samples, dtype=np.float32)
    max_shift = int(round(max_shift_s * sample_rate))
    shift = int(rng.integers(-max_shift, max_shift + 1))
    shifted = np.zeros_like(samples)
    if abs(shift) >= len(samples):
        return shifted
    if shift > 0:
        shifted[shift:] = samples[:-shift]
    elif shift < 0:
        shifted[:shift] = samples[-shift:]
    else:
        shifted[:] = samples
    return shifted


def apply_gain(samples, gain_db):
    """Scale by ``gain_db`` decibels."""
    return (np.asarray(samples, dtype=np.float32) * np.float32(10 ** (gain_db / 20))).astype(
        np.float32
    )


def change_speed(samples, factor):
    """Speed perturbation: play ``factor`` times faster, so duration / factor, pitch x factor.

    Resampling by the factor and keeping the original rate (as Kaldi's speed
    perturbation does) changes tempo and pitch together.
    """
    librosa = load_librosa()

    samples = _mono(samples)
    if factor <= 0:
        raise ValueError(f"speed factor must be positive, not {factor}")
    return librosa.resample(samples, orig_sr=float(factor), target_sr=1.0).astype(np.float32)


def shift_pitch(samples, sample_rate, semitones):
    """Shift the pitch by ``semitones`` while keeping the duration."""
    librosa = load_librosa()

    samples = _mono(samples)
    # librosa's default 2048-point FFT suits 22 kHz; keep the window near 64 ms at any rate.
    n_fft = 2 ** int(np.ceil(np.log2(0.064 * sample_rate)))
    with warnings.catch_warnings():
        # Clips shorter than n_fft are padded by librosa, which warns about it.
        warnings.simplefilter("ignore", UserWarning)
        shifted = librosa.effects.pitch_shift(
            samples, sr=sample_rate, n_steps=float(semitones), n_fft=n_fft
        )
    return shifted.astype(np.float32)


def _range(settings, key):
    """A setting's (low, high) range, or None when missing or null; a number is fixed."""
    value = settings.get(key)
    if value is None:
        return None
    low, high = (value, value) if np.isscalar(value) else value
    if low > high:
        raise ValueError(f"augmentation {key!r}: range {value} has low > high")
    return float(low), float(high)


class WaveformAugmenter:
    """Random waveform augmentation as set up by a config dict.

    ``settings`` keys: ``copies`` (augmented versions per clip), ``probability``
    (of applying each enabled transform, default 1), ``speed`` and
    ``pitch_semitones``, ``shift_s`` (maximum shift), ``gain_db`` and
    ``noise_snr_db`` (ranges drawn uniformly, or a fixed number). A missing or
    null key disables that transform.
    """

    def __init__(self, settings, sample_rate, seed=None):
        settings = dict(settings or {})
        unknown = set(settings) - set(AUGMENT_KEYS)
        if unknown:
            raise ValueError(f"unknown augmentation settings {sorted(unknown)}: use {AUGMENT_KEYS}")
        self.sample_rate = int(sample_rate)
        self.seed = seed
        copies, probability = settings.get("copies"), settings.get("probability")
        self.copies = 1 if copies is None else int(copies)
        self.probability = 1.0 if probability is None else float(probability)
        if self.copies < 0:
            raise ValueError(f"augmentation copies must be >= 0, not {self.copies}")
        if not 0.0 <= self.probability <= 1.0:
            raise ValueError(f"augmentation probability must be in [0, 1], not {self.probability}")
        self.speed = _range(settings, "speed")
        self.pitch_semitones = _range(settings, "pitch_semitones")
        shift = settings.get("shift_s")
        self.shift_s = None if shift is None else float(shift)
        self.gain_db = _range(settings, "gain_db")
        self.noise_snr_db = _range(settings, "noise_snr_db")
        if self.speed is not None and self.speed[0] <= 0:
            raise ValueError(f"augmentation speed factors must be positive: {self.speed}")
        self._rng = np.random.default_rng(seed)

    def _apply(self):
        return self._rng.random() < self.probability

    def _draw(self, bounds):
        return float(self._rng.uniform(*bounds))

    def augment(self, samples):
        """One randomly augmented version of a clip, peaks clipped to [-1, 1]."""
        samples = _mono(samples)
        if self.speed is not None and self._apply():
            samples = change_speed(samples, self._draw(self.speed))
        if self.pitch_semitones is not None and self._apply():
            samples = shift_pitch(samples, self.sample_rate, self._draw(self.pitch_semitones))
        if self.shift_s is not None and self._apply():
            samples = time_shift(samples, self.shift_s, self.sample_rate, self._rng)
        if self.gain_db is not None and self._apply():
            samples = apply_gain(samples, self._draw(self.gain_db))
        if self.noise_snr_db is not None and self._apply():
            samples = add_noise(samples, self._draw(self.noise_snr_db), self._rng)
        return np.clip(samples, -1.0, 1.0).astype(np.float32)

    def augment_dataset(self, clips, labels):
        """``copies`` augmented versions of every clip (originals excluded) and their labels.

        The copies of a clip are consecutive: clip 0's copies first, then clip 1's.
        """
        labels = np.asarray(labels)
        if len(labels) != len(clips):
            raise ValueError(f"{len(clips)} clips but {len(labels)} labels")
        augmented = [self.augment(clip) for clip in clips for _ in range(self.copies)]
        return augmented, np.repeat(labels, self.copies)


def spec_augment(x, rng, time_masks=2, time_width=8, freq_masks=2, freq_width=8, fill=0.0):
    """SpecAugment (Park et al. 2019) time and frequency masking of one (frames, channels) array.

    Each mask's width is drawn uniformly from [0, width] and its start uniformly
    among the positions where it fits; masked values become ``fill``, a number or
    a per-channel vector.
    """
    masked = np.array(x, dtype=np.float32)
    if masked.ndim != 2:
        raise ValueError(f"expected a (frames, channels) array, got shape {masked.shape}")
    frames, channels = masked.shape
    fill_row = np.broadcast_to(np.asarray(fill, dtype=np.float32), (channels,))
    for _ in range(time_masks):
        width = int(rng.integers(0, min(time_width, frames) + 1))
        start = int(rng.integers(0, frames - width + 1))
        masked[start : start + width] = fill_row
    for _ in range(freq_masks):
        width = int(rng.integers(0, min(freq_width, channels) + 1))
        start = int(rng.integers(0, channels - width + 1))
        masked[:, start : start + width] = fill_row[start : start + width]
    return masked


@keras.saving.register_keras_serializable(package="fsdd_pipeline")
class SpecAugment(keras.layers.Layer):
    """SpecAugment masking of (batch, frames, channels) inputs, only while training.

    Masked values are 0, the mean once placed after a normalization layer; every
    example gets its own masks. Inference, validation and test see the identity.
    """

    def __init__(self, time_masks=2, time_width=8, freq_masks=2, freq_width=8, seed=None, **kwargs):
        super().__init__(**kwargs)
        self.time_masks = int(time_masks)
        self.time_width = int(time_width)
        self.freq_masks = int(freq_masks)
        self.freq_width = int(freq_width)
        self.seed = seed
        self.seed_generator = keras.random.SeedGenerator(seed)

    def _band_mask(self, batch, length, count, max_width):
        """(batch, length) boolean mask: the union of ``count`` random bands per example."""
        ops = keras.ops
        positions = ops.arange(length)[None, :]
        mask = ops.zeros((batch, length), dtype="bool")
        length_f = ops.cast(length, "float32")
        max_width_f = ops.minimum(float(max_width), length_f)
        for _ in range(count):
            u_width = keras.random.uniform((batch, 1), seed=self.seed_generator)
            u_start = keras.random.uniform((batch, 1), seed=self.seed_generator)
            # uniform() is in [0, 1), so floor(u * (n + 1)) is uniform over 0..n.
            width = ops.floor(u_width * (max_width_f + 1.0))
            start = ops.floor(u_start * (length_f - width + 1.0))
            start = ops.cast(start, "int32")
            end = start + ops.cast(width, "int32")
            band = ops.logical_and(positions >= start, positions < end)
            mask = ops.logical_or(mask, band)
        return mask

    def call(self, inputs, training=None):
        if not training or (self.time_masks == 0 and self.freq_masks == 0):
            return inputs
        shape = keras.ops.shape(inputs)
        batch, frames, channels = shape[0], shape[1], shape[2]
        time_mask = self._band_mask(batch, frames, self.time_masks, self.time_width)
        freq_mask = self._band_mask(batch, channels, self.freq_masks, self.freq_width)
        mask = keras.ops.logical_or(time_mask[:, :, None], freq_mask[:, None, :])
        return keras.ops.where(mask, keras.ops.zeros_like(inputs), inputs)

    def compute_output_shape(self, input_shape):
        return input_shape

    def get_config(self):
        config = super().get_config()
        config.update(
            time_masks=self.time_masks,
            time_width=self.time_width,
            freq_masks=self.freq_masks,
            freq_width=self.freq_width,
            seed=self.seed,
        )
        return config


def _clean(samples, sample_rate, rng):
    return np.asarray(samples, dtype=np.float32), sample_rate


def _white_noise(snr_db):
    def transform(samples, sample_rate, rng):
        # A recording cannot exceed full scale, so the noisy clip is clipped like one.
        noisy = add_noise(samples, snr_db, rng)
        return np.clip(noisy, -1.0, 1.0).astype(np.float32), sample_rate

    transform.__name__ = f"white_noise_{snr_db}db"
    return transform


def _silence_padding(samples, sample_rate, rng):
    samples = np.asarray(samples, dtype=np.float32)
    pad = int(round(PADDING_S * sample_rate))
    widths = [(pad, pad)] + [(0, 0)] * (samples.ndim - 1)
    return np.pad(samples, widths), sample_rate


def _resampled_44k_stereo(samples, sample_rate, rng):
    librosa = load_librosa()

    samples = _mono(samples)
    resampled = librosa.resample(samples, orig_sr=sample_rate, target_sr=ROBUSTNESS_RATE)
    return np.stack([resampled, resampled], axis=1).astype(np.float32), ROBUSTNESS_RATE


def _gain_minus_12db(samples, sample_rate, rng):
    return apply_gain(samples, -12.0), sample_rate


# Evaluation-time perturbations of a raw test clip, in report order:
# name -> f(samples, sample_rate, rng) -> (samples, sample_rate), samples (frames, 2) for stereo.
ROBUSTNESS_TRANSFORMS = OrderedDict(
    [
        ("clean", _clean),
        ("white_noise_20db", _white_noise(20)),
        ("white_noise_10db", _white_noise(10)),
        ("silence_padding", _silence_padding),
        ("resampled_44k_stereo", _resampled_44k_stereo),
        ("gain_minus_12db", _gain_minus_12db),
    ]
)
