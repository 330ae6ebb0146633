"""Training-time waveform augmentation: noise, shift, gain, speed and pitch perturbation,
and the word said in a reverberant room.

Waveform functions take 1-D float32 samples and draw their randomness from a
``numpy.random.Generator`` so that every result is reproducible from a seed.
"""

import warnings

import numpy as np

from fsdd_pipeline.audio.reading import mono
from fsdd_pipeline.audio.resampling import change_speed
from fsdd_pipeline.audio.rooms import in_room
from fsdd_pipeline.features.librosa_runtime import load_librosa


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


def shift_pitch(samples, sample_rate, semitones):
    """Shift the pitch by ``semitones`` while keeping the duration."""
    librosa = load_librosa()

    samples = mono(samples)
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
    ``noise_snr_db`` (ranges drawn uniformly, or a fixed number), ``room_rt60_s`` and
    ``room_drr_db`` (the clip said in a room of that reverberation time and
    direct-to-reverberant ratio, audio.rooms; both or neither). A missing or null key
    disables that transform.
    """

    def __init__(self, settings, sample_rate, seed=None):
        # The config schema checks the keys and types; only relations are checked here.
        settings = dict(settings or {})
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
        self.room_rt60_s = _range(settings, "room_rt60_s")
        self.room_drr_db = _range(settings, "room_drr_db")
        if (self.room_rt60_s is None) != (self.room_drr_db is None):
            raise ValueError("augmentation room_rt60_s and room_drr_db go together")
        if self.room_rt60_s is not None and self.room_rt60_s[0] <= 0:
            raise ValueError(f"augmentation room_rt60_s must be positive: {self.room_rt60_s}")
        if self.speed is not None and self.speed[0] <= 0:
            raise ValueError(f"augmentation speed factors must be positive: {self.speed}")
        self._rng = np.random.default_rng(seed)

    def _apply(self):
        return self._rng.random() < self.probability

    def _draw(self, bounds):
        return float(self._rng.uniform(*bounds))

    def augment(self, samples):
        """One randomly augmented version of a clip, peaks clipped to [-1, 1]."""
        samples = mono(samples)
        if self.room_rt60_s is not None and self._apply():
            # The room first: speed, gain and noise then act on what a microphone picked up.
            samples = in_room(
                samples, self.sample_rate, self._rng, self.room_rt60_s, self.room_drr_db
            )
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
