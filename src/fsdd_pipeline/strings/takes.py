"""String takes synthesized from single-digit clips: several words of one speaker in one
take, with known word extents, pauses (or short overlaps), a noise floor and a gain.

Every random choice is drawn from a ``numpy.random.Generator``: a take is reproducible
from its seed. Word extents are where each clip's sound is (``word_extent``), not the
clip's edges: FSDD clips keep a little silence around their word.
"""

from dataclasses import asdict, dataclass, field, replace

import numpy as np

from fsdd_pipeline.audio.endpoint import EndpointParams, frame_levels_db
from fsdd_pipeline.audio.reading import mono
from fsdd_pipeline.audio.realistic_takes import coloured_noise
from fsdd_pipeline.audio.resampling import change_speed
from fsdd_pipeline.augment.waveform import shift_pitch
from fsdd_pipeline.strings.metrics import PAUSE_BUCKETS

# A clip's word spans its frames within this many dB of its loudest frame.
WORD_EXTENT_DB = 35.0


@dataclass(frozen=True)
class StringTakeSettings:
    """How string takes are drawn (every range uniform, from config ``strings.takes``).

    ``digits``: (fewest, most) words per take; ``pause_s``: the pause between words of a
    take (one value per take, each gap jittered by ``pause_jitter`` of it); with
    probability ``overlap_probability`` a take's pause is an overlap of up to
    ``max_overlap_s`` instead (connected speech); ``snr_db``: the noise floor below the
    words' mean power; ``lead_s``: silence before the first and after the last word;
    ``speed``: every word of a take played this many times faster (one factor per take:
    audio.resampling.change_speed, pitch and tempo together, as other vocal tracts and
    speaking rates; (1, 1): as recorded, and nothing drawn); ``pitch_semitones``:
    every word of a take's pitch and formants this many semitones higher, its duration
    kept (one shift per take, after the speed: augment.waveform.shift_pitch, as shorter
    vocal tracts say words at any tempo; (0, 0): none, and nothing drawn).
    """

    digits: tuple = (3, 10)
    pause_s: tuple = (0.0, 0.6)
    pause_jitter: float = 0.2
    overlap_probability: float = 0.1
    max_overlap_s: float = 0.05
    snr_db: tuple = (20.0, 40.0)
    noise_colors: tuple = ("white", "pink", "brown")
    gain_db: tuple = (-20.0, 0.0)
    lead_s: tuple = (0.1, 0.8)
    speed: tuple = (1.0, 1.0)
    pitch_semitones: tuple = (0.0, 0.0)

    def __post_init__(self):
        for name in (
            "digits",
            "pause_s",
            "snr_db",
            "gain_db",
            "lead_s",
            "noise_colors",
            "speed",
            "pitch_semitones",
        ):
            object.__setattr__(self, name, tuple(getattr(self, name)))
        low, high = self.digits
        if not 1 <= low <= high:
            raise ValueError(f"strings digits must be 1 <= fewest <= most, got {self.digits}")

    def as_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class StringTake:
    """A take and its words: ``words`` are (start_s, end_s, digit) in spoken order;
    ``pause_s`` the take's nominal pause (negative: an overlap)."""

    samples: np.ndarray
    sample_rate: int
    words: tuple
    pause_s: float
    speaker: str = ""
    sources: tuple = field(default=())

    @property
    def digits(self):
        return "".join(str(digit) for _, _, digit in self.words)


def word_extent(samples, sample_rate):
    """(start, end) samples of a clip's word: its frames within WORD_EXTENT_DB of the loudest."""
    levels_db, hop = frame_levels_db(samples, sample_rate, EndpointParams())
    loud = np.flatnonzero(levels_db >= levels_db.max() - WORD_EXTENT_DB)
    frame = int(round(EndpointParams().frame_ms / 1000 * sample_rate))
    return int(loud[0] * hop), int(min(len(samples), loud[-1] * hop + frame))


def word_cut(samples, sample_rate):
    """A clip's word as a take places it: its word extent, the mean removed."""
    start, end = word_extent(samples, sample_rate)
    return samples[start:end] - samples[start:end].mean()


def draw_pause(settings, rng):
    """One take's nominal pause in seconds (negative: the words overlap)."""
    if rng.random() < settings.overlap_probability:
        return -float(rng.uniform(0.0, settings.max_overlap_s))
    return float(rng.uniform(*settings.pause_s))


def synthesize_take(clips, sample_rate, rng, settings=StringTakeSettings(), pause_s=None):
    """A StringTake of ``clips``, a list of (samples, digit[, source]) of one speaker, in order.

    Each clip is cut to its word extent and placed after the previous one's end plus the
    take's pause (jittered per gap); the noise floor (a colour drawn per take) sits a drawn
    SNR below the words' mean power; the take is then scaled by a drawn gain and clipped.
    """
    pause_s = draw_pause(settings, rng) if pause_s is None else float(pause_s)
    # Drawn only when asked for, so takes drawn without it stay as they were.
    speed = float(rng.uniform(*settings.speed)) if settings.speed != (1.0, 1.0) else 1.0
    semitones = (
        float(rng.uniform(*settings.pitch_semitones))
        if settings.pitch_semitones != (0.0, 0.0)
        else 0.0
    )
    words, cuts = [], []
    for clip in clips:
        samples = mono(clip[0], np.float64)
        if speed != 1.0:
            samples = change_speed(samples, speed).astype(np.float64)
        if semitones:
            samples = shift_pitch(samples, sample_rate, semitones).astype(np.float64)
        cuts.append(word_cut(samples, sample_rate))
    lead = int(round(rng.uniform(*settings.lead_s) * sample_rate))
    positions, cursor = [], lead
    for index, cut in enumerate(cuts):
        if index:
            gap = pause_s * (1 + rng.uniform(-settings.pause_jitter, settings.pause_jitter))
            cursor = max(positions[-1], cursor + int(round(gap * sample_rate)))
        positions.append(cursor)
        cursor += len(cut)
    tail = int(round(rng.uniform(*settings.lead_s) * sample_rate))
    take = np.zeros(cursor + tail)
    for position, cut, clip in zip(positions, cuts, clips, strict=True):
        take[position : position + len(cut)] += cut
        words.append((position / sample_rate, (position + len(cut)) / sample_rate, int(clip[1])))
    word_power = float(np.mean([np.mean(np.square(cut)) for cut in cuts]))
    samples = noisy_take(take, word_power, sample_rate, rng, settings)
    sources = tuple(str(clip[2]) for clip in clips if len(clip) > 2)
    return StringTake(samples, sample_rate, tuple(words), pause_s, sources=sources)


def noisy_take(take, word_power, sample_rate, rng, settings):
    """``take`` (float64, words placed) with its noise floor (a colour drawn, a drawn SNR
    below ``word_power``), scaled by a drawn gain and clipped, as float32."""
    snr_db = rng.uniform(*settings.snr_db)
    color = str(rng.choice(settings.noise_colors))
    take = take + coloured_noise(len(take), color, sample_rate, rng) * np.sqrt(
        word_power / 10 ** (snr_db / 10)
    )
    peak = float(np.abs(take).max())
    gain = 10 ** (rng.uniform(*settings.gain_db) / 20) * min(1.0, 0.9 / peak)
    return np.clip(take * gain, -1.0, 1.0).astype(np.float32)


def pause_strata(settings):
    """Settings that draw takes of ``settings`` in one pause bucket each (PAUSE_BUCKETS, their
    parts of ``settings.pause_s``), so that every bucket gets as many takes: the overlapping
    takes all go to the first one, as many of all takes as ``overlap_probability`` says."""
    strata = [
        replace(settings, pause_s=(first, last), overlap_probability=0.0)
        for first, last in (
            (max(low, settings.pause_s[0]), min(high, settings.pause_s[1]))
            for _name, low, high in PAUSE_BUCKETS
        )
        if first < last
    ]
    if not strata:  # one pause for every take (pause_s low == high): nothing to share
        return (settings,)
    overlapping = min(1.0, settings.overlap_probability * len(strata))
    strata[0] = replace(strata[0], overlap_probability=overlapping)
    return tuple(strata)


def draw_string_takes(
    clips_by_speaker, count, sample_rate, seed, settings=StringTakeSettings(), strata=()
):
    """``count`` takes, each of one speaker's clips (speakers in turn, digits drawn at random).

    ``clips_by_speaker``: {speaker: [(samples, digit, source), ...]}. Reproducible from ``seed``.
    ``strata`` (pause_strata): settings taken in turn, one per round of the speakers, instead
    of ``settings``: every speaker's takes go through the pause buckets.
    """
    rng = np.random.default_rng(seed)
    speakers = sorted(clips_by_speaker)
    takes = []
    for index in range(count):
        speaker = speakers[index % len(speakers)]
        take_settings = strata[index // len(speakers) % len(strata)] if strata else settings
        clips = clips_by_speaker[speaker]
        length = int(rng.integers(take_settings.digits[0], take_settings.digits[1] + 1))
        chosen = [clips[int(i)] for i in rng.integers(0, len(clips), size=length)]
        take = synthesize_take(chosen, sample_rate, rng, take_settings)
        takes.append(
            StringTake(
                take.samples, take.sample_rate, take.words, take.pause_s, speaker, take.sources
            )
        )
    return takes
