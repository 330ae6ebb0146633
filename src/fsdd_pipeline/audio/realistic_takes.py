"""Realistic recordings made from clean clips: a word inside a longer, noisy take.

FSDD clips are trimmed, quiet and clean; a real recording is a longer take with the word
somewhere in it, a noise floor (often coloured: hum, rumble), a DC offset, clicks where
recording starts and stops, or a band-limited, clipping channel. ``place_in_take`` builds
such a take and says where the word is, so one synthesizer serves the robustness
transforms, the endpoint benchmark and tests.

Functions take 1-D float samples and draw their randomness from a
``numpy.random.Generator``, so every result is reproducible from a seed.
"""

from collections import OrderedDict
from dataclasses import dataclass

import numpy as np

from fsdd_pipeline.audio.reading import mono
from fsdd_pipeline.planning.robustness_groups import (
    REALISTIC_TRANSFORMS as REALISTIC_TRANSFORM_NAMES,
)

# Exponent of the noise power spectral density 1 / f**exponent.
NOISE_EXPONENTS = {"white": 0.0, "pink": 1.0, "brown": 2.0}
# Coloured noise is flat below this frequency: no infinite power at DC.
NOISE_LOW_HZ = 20.0
# Silence kept before and after the word, so edge clicks never touch it.
LEAD_S = 0.35
# Edge clicks fall within this distance of the take's start and end.
CLICK_ZONE_S = 0.1
CLICK_S = 0.003
CLICK_DECAY_S = 0.0005


@dataclass(frozen=True)
class Take:
    """A synthesized take and where the word lies in it (samples, end exclusive)."""

    samples: np.ndarray
    sample_rate: int
    word_start: int
    word_end: int

    @property
    def word_seconds(self):
        """(start, end) of the word in seconds."""
        return self.word_start / self.sample_rate, self.word_end / self.sample_rate


def coloured_noise(length, color, sample_rate, rng):
    """Stationary Gaussian noise of unit power with a white, pink or brown spectrum.

    White noise is shaped in the frequency domain to a power spectrum 1 / f**exponent
    (flat below ``NOISE_LOW_HZ``, no DC) and scaled by its own measured power.
    """
    if color not in NOISE_EXPONENTS:
        raise ValueError(f"unknown noise color {color!r}; expected one of {list(NOISE_EXPONENTS)}")
    noise = rng.standard_normal(length)
    exponent = NOISE_EXPONENTS[color]
    if exponent:
        spectrum = np.fft.rfft(noise)
        frequencies = np.fft.rfftfreq(length, d=1.0 / sample_rate)
        spectrum *= np.maximum(frequencies, NOISE_LOW_HZ) ** (-exponent / 2)
        spectrum[0] = 0.0
        noise = np.fft.irfft(spectrum, n=length)
    return noise / np.sqrt(np.mean(np.square(noise)))


def _add_edge_clicks(take, sample_rate, amplitude, rng):
    """Add a click near each end of ``take``, in place.

    A click is a few-millisecond decaying impulse of random polarity within
    ``CLICK_ZONE_S`` of the end, as a switch or a plug makes when recording starts or stops.
    """
    zone = min(len(take), int(round(CLICK_ZONE_S * sample_rate)))
    shape = np.exp(-np.arange(max(1, int(CLICK_S * sample_rate))) / (CLICK_DECAY_S * sample_rate))
    for position in (int(rng.integers(0, zone)), int(rng.integers(len(take) - zone, len(take)))):
        click = amplitude * rng.choice([-1.0, 1.0]) * shape[: len(take) - position]
        take[position : position + click.size] += click


def _finish_take(take, gain_db, dc_offset):
    """Scale, offset and clip to full scale, as the recording's input stage would."""
    return np.clip(take * 10 ** (gain_db / 20) + dc_offset, -1.0, 1.0).astype(np.float32)


def place_in_take(
    samples,
    sample_rate,
    rng,
    *,
    duration_s=2.5,
    snr_db=None,
    noise_color="white",
    dc_offset=0.0,
    gain_db=0.0,
    edge_clicks=False,
):
    """Put a clip at a random position in a longer take; return the Take and the word's place.

    The take lasts ``duration_s`` (longer if the clip needs it) and keeps ``LEAD_S`` of
    silence on both sides of the word. ``snr_db`` sets a noise floor of ``noise_color``
    that many dB below the clip's mean power (None: no noise); ``edge_clicks`` adds one
    click, louder than the word's peak, near each end. The take is then scaled by
    ``gain_db``, offset by ``dc_offset`` (full scale = 1) and clipped to [-1, 1].
    """
    word = mono(samples, np.float64)
    word_power = float(np.mean(np.square(word - word.mean()))) if word.size else 0.0
    if word_power == 0.0:
        raise ValueError("cannot place a silent clip in a take: it has no level to refer to")
    lead = int(round(LEAD_S * sample_rate))
    length = max(int(round(duration_s * sample_rate)), word.size + 2 * lead)
    start = int(rng.integers(lead, length - word.size - lead + 1))
    take = np.zeros(length)
    take[start : start + word.size] = word
    if snr_db is not None:
        noise = coloured_noise(length, noise_color, sample_rate, rng)
        take += noise * np.sqrt(word_power / 10 ** (snr_db / 10))
    if edge_clicks:
        amplitude = min(1.0, float(np.abs(word).max()) * rng.uniform(1.0, 2.0))
        _add_edge_clicks(take, sample_rate, amplitude, rng)
    return Take(_finish_take(take, gain_db, dc_offset), sample_rate, start, start + word.size)


def noise_take(
    duration_s,
    sample_rate,
    rng,
    *,
    level_dbfs,
    noise_color="white",
    dc_offset=0.0,
    click_amplitude=None,
):
    """A take holding no word, which an endpoint detector must call "no speech".

    Noise at ``level_dbfs`` (None: digital silence), optional edge clicks of
    ``click_amplitude``, and a DC offset.
    """
    length = int(round(duration_s * sample_rate))
    take = np.zeros(length)
    if level_dbfs is not None:
        take += coloured_noise(length, noise_color, sample_rate, rng) * 10 ** (level_dbfs / 20)
    if click_amplitude:
        _add_edge_clicks(take, sample_rate, click_amplitude, rng)
    return _finish_take(take, 0.0, dc_offset)


def low_quality_channel(samples, sample_rate, low_hz=300.0, high_hz=3400.0, clipped_fraction=0.01):
    """A telephone-like channel: band-pass ``low_hz``-``high_hz`` then clipping at full scale.

    The band-passed signal is scaled so that ``clipped_fraction`` of its samples exceed full
    scale, and clipped there, as an overdriven input stage does.
    """
    import scipy.signal

    samples = mono(samples, np.float64)
    nyquist = sample_rate / 2
    if high_hz < nyquist:
        sos = scipy.signal.butter(6, [low_hz, high_hz], "bandpass", fs=sample_rate, output="sos")
    else:
        sos = scipy.signal.butter(6, low_hz, "highpass", fs=sample_rate, output="sos")
    filtered = scipy.signal.sosfilt(sos, samples)
    clip_level = float(np.quantile(np.abs(filtered), 1.0 - clipped_fraction))
    if clip_level == 0.0:
        return filtered.astype(np.float32)
    return np.clip(filtered / clip_level, -1.0, 1.0).astype(np.float32)


def _take_transform(name, snr_db, noise_color="white", dc_offset=False, edge_clicks=False):
    """A robustness transform: the clip in a random 2-3 s take with one realistic defect."""

    def transform(samples, sample_rate, rng):
        take = place_in_take(
            samples,
            sample_rate,
            rng,
            duration_s=rng.uniform(2.0, 3.0),
            snr_db=snr_db,
            noise_color=noise_color,
            dc_offset=rng.choice([-1.0, 1.0]) * rng.uniform(0.02, 0.1) if dc_offset else 0.0,
            edge_clicks=edge_clicks,
        )
        return take.samples, sample_rate

    transform.__name__ = name
    return transform


def _low_quality_channel(samples, sample_rate, rng):
    return low_quality_channel(samples, sample_rate), sample_rate


# Evaluation-time perturbations of a raw test clip, in the report order of
# planning.robustness_groups.REALISTIC_TRANSFORMS: name -> f(samples, sample_rate, rng) ->
# (samples, sample_rate). The DC-offset and click takes add their defect to the quietest (40 dB)
# white-noise take.
_TRANSFORMS = {
    "take_white_40db": _take_transform("take_white_40db", 40),
    "take_white_30db": _take_transform("take_white_30db", 30),
    "take_white_20db": _take_transform("take_white_20db", 20),
    "take_pink_20db": _take_transform("take_pink_20db", 20, "pink"),
    "take_brown_20db": _take_transform("take_brown_20db", 20, "brown"),
    "take_dc_offset": _take_transform("take_dc_offset", 40, dc_offset=True),
    "take_edge_clicks": _take_transform("take_edge_clicks", 40, edge_clicks=True),
    "low_quality_channel": _low_quality_channel,
}
REALISTIC_TRANSFORMS = OrderedDict((name, _TRANSFORMS[name]) for name in REALISTIC_TRANSFORM_NAMES)
