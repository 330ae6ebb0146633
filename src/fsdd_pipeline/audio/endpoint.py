"""Endpoint detection: where the spoken word is in a longer take, and cropping to it.

Speech is found by its level relative to the take's own noise floor, a low percentile of
short-frame levels (not a fixed distance below the peak, which a real floor need not
reach). Levels count only the spectrum above ``highpass_hz``, so a DC offset or rumble
does not raise them. A frame is active when it is ``threshold_db`` above the floor (and
within ``max_depth_db`` of the loudest word); active runs less than ``max_gap_s`` apart
are one word (the closures inside "six" or "eight"); a word needs ``min_speech_s`` of
frames ``min_peak_db`` above the floor, which a click or a burst does not have, and a
take with no such word holds no speech: pure noise, silence or dither.

Chosen over webrtcvad and Silero VAD by ``benchmarks/endpointing.py`` (synthesized noisy
takes, pure-noise takes and clean FSDD clips): it finds the word more precisely than either,
never takes noise for speech, and needs no extra dependency.
"""

from dataclasses import asdict, dataclass

import numpy as np

# Frame levels below 16-bit quantization noise (about -101 dB full scale) all count as
# this silence level, so rounding flicker in a digitally silent take is never "above the floor".
SILENCE_DB = -100.0
# Frames whose spectra frame_levels_db computes at once (about 16 MB of arrays per block).
LEVEL_BLOCK_FRAMES = 4096


@dataclass(frozen=True)
class EndpointParams:
    """Settings of endpoint detection (all from config).

    Levels are measured on ``frame_ms`` frames every ``hop_ms``, above ``highpass_hz`` (the
    voice's harmonics, not rumble); the floor is their ``floor_percentile``. Frames
    ``threshold_db`` above the floor (and within ``max_depth_db`` of the loudest word) are
    active; ``max_gap_s`` is the longest pause inside a word (the "k" closure of "six" can
    last 230 ms); a word needs ``min_speech_s`` of frames ``min_peak_db`` above the floor
    and above ``min_level_dbfs``. Crops keep ``margin_s`` around the word and never cut
    less than ``min_pause_s``: a shorter lead or tail is part of the word, not a pause.
    A take in which no word stands out is kept whole when it is no longer than
    ``max_word_s`` (a clip trimmed to its word has no floor to measure), and holds no
    speech when longer (FSDD's clips with no measurable floor are at most 0.81 s).
    """

    frame_ms: float = 32.0
    hop_ms: float = 10.0
    highpass_hz: float = 200.0
    floor_percentile: float = 10.0
    threshold_db: float = 5.0
    max_depth_db: float = 50.0
    min_peak_db: float = 10.0
    min_level_dbfs: float = -70.0
    max_gap_s: float = 0.25
    min_speech_s: float = 0.06
    margin_s: float = 0.05
    min_pause_s: float = 0.25
    max_word_s: float = 1.5

    def as_dict(self):
        return asdict(self)


@dataclass(frozen=True)
class Segment:
    """One word: samples [start, end) and the level of its loudest frame (dB full scale)."""

    start: int
    end: int
    peak_db: float


@dataclass(frozen=True)
class CropInfo:
    """What ``crop_to_speech`` did: the kept region (seconds), how much it cut, what it found."""

    speech_found: bool
    words: int
    start_s: float
    end_s: float
    cut_s: float
    noise_floor_db: float

    def as_dict(self):
        return asdict(self)


def loud_spans(samples, sample_rate, spans_s, params=EndpointParams()):
    """For each (start_s, end_s) span of a take, whether it holds speech as endpoint
    detection judges a word: ``min_speech_s`` of frames ``min_peak_db`` above the take's
    noise floor and above ``min_level_dbfs`` (noise never is, a click only for a frame or
    two)."""
    levels_db, hop = frame_levels_db(samples, sample_rate, params)
    loud, min_loud_frames = _loud_frames(levels_db, noise_floor_db(levels_db, params), params)
    return [
        np.count_nonzero(
            loud[int(start_s * sample_rate) // hop : int(np.ceil(end_s * sample_rate / hop))]
        )
        >= min_loud_frames
        for start_s, end_s in spans_s
    ]


def frame_levels_db(samples, sample_rate, params=EndpointParams()):
    """Level (dB full scale) of every frame above ``highpass_hz``, and the hop in samples.

    Frames start every ``hop_ms``; frame i covers samples [i * hop, i * hop + frame), so a
    click raises only the frames that hold it (a filter would smear it). The level sums the
    frame's spectrum from ``highpass_hz`` up, normalized to the RMS of a full-band signal.
    The periodic Blackman window confines a constant offset to the three lowest FFT bins
    (below 94 Hz with 32 ms frames) and keeps rumble from leaking upward (-58 dB sidelobes).
    """
    samples = np.asarray(samples, dtype=np.float64)
    if samples.ndim != 1:
        raise ValueError(f"expected 1-D samples, got shape {samples.shape}")
    frame, hop = _frame_sizes(sample_rate, params)
    padded = np.pad(samples, (0, max(0, frame - samples.size)))
    frames = np.lib.stride_tricks.sliding_window_view(padded, frame)[::hop]
    phase = 2 * np.pi * np.arange(frame) / frame
    window = 0.42 - 0.5 * np.cos(phase) + 0.08 * np.cos(2 * phase)
    in_band = np.fft.rfftfreq(frame, d=1.0 / sample_rate) >= params.highpass_hz
    power = np.empty(len(frames))
    # In blocks of frames (each frame's level is its own): a 10-minute take's spectra at
    # once would hold 250 MB.
    for first in range(0, len(frames), LEVEL_BLOCK_FRAMES):
        spectrum = np.fft.rfft(frames[first : first + LEVEL_BLOCK_FRAMES] * window, axis=1)
        power[first : first + len(spectrum)] = 2 * np.sum(
            np.square(np.abs(spectrum[:, in_band])), axis=1
        )
    power /= frame * np.sum(np.square(window))
    return np.maximum(10 * np.log10(np.maximum(power, 1e-30)), SILENCE_DB), hop


def noise_floor_db(levels_db, params=EndpointParams()):
    """The take's noise floor: a low percentile of its frame levels (dB full scale)."""
    return float(np.percentile(levels_db, params.floor_percentile))


def _runs(active):
    """(first, last + 1) frame indices of every run of True values."""
    edges = np.diff(np.concatenate([[0], active.astype(np.int8), [0]]))
    return list(zip(np.flatnonzero(edges == 1), np.flatnonzero(edges == -1), strict=True))


def _frame_sizes(sample_rate, params):
    frame = max(1, int(round(params.frame_ms / 1000 * sample_rate)))
    hop = max(1, int(round(params.hop_ms / 1000 * sample_rate)))
    return frame, hop


def _merge_runs(runs, sample_rate, params):
    """Frame runs less than ``max_gap_s`` apart merged into one."""
    hop = _frame_sizes(sample_rate, params)[1]
    words = []
    for first, stop in runs:
        if words and (first - words[-1][1]) * hop <= params.max_gap_s * sample_rate:
            words[-1] = (words[-1][0], stop)
        else:
            words.append((first, stop))
    return words


def _segment(first, stop, levels_db, sample_rate, n_samples, params):
    """The Segment of frames [first, stop): each frame stands for the hop around its centre."""
    frame, hop = _frame_sizes(sample_rate, params)
    start = first * hop + (frame - hop) // 2
    end = min(n_samples, (stop - 1) * hop + (frame + hop) // 2)
    return Segment(int(start), int(end), float(np.max(levels_db[first:stop])))


def activity_to_segments(active, levels_db, sample_rate, n_samples, params=EndpointParams()):
    """Words from per-frame speech decisions on the ``frame_levels_db`` grid, of any detector.

    Runs of active frames less than ``max_gap_s`` apart are one word; words shorter than
    ``min_speech_s`` are dropped. Returns Segments in time order.
    """
    segments = [
        _segment(first, stop, levels_db, sample_rate, n_samples, params)
        for first, stop in _merge_runs(_runs(np.asarray(active, bool)), sample_rate, params)
    ]
    return [s for s in segments if s.end - s.start >= params.min_speech_s * sample_rate]


def _loud_frames(levels_db, floor_db, params):
    """(which frames are loud: ``min_peak_db`` above the floor and above ``min_level_dbfs``,
    how many of them a word needs: ``min_speech_s`` of frames)."""
    loud = levels_db >= max(floor_db + params.min_peak_db, params.min_level_dbfs)
    return loud, params.min_speech_s / (params.hop_ms / 1000)


def _speech_segments(levels_db, floor_db, sample_rate, n_samples, params):
    """Words ``threshold_db`` over the floor, then within ``max_depth_db`` of the loudest word.

    A lone active frame that is not loud is the noise flickering over the threshold (any
    sound lasting 10 ms fills two overlapping frames) and is ignored, so that flicker
    cannot bridge a word to a click. A word needs ``min_speech_s`` of loud frames
    (``min_peak_db`` above the floor and above ``min_level_dbfs``): noise is never that
    loud, a click only for a frame or two.
    """
    loud, min_loud_frames = _loud_frames(levels_db, floor_db, params)

    def words_above(threshold_db):
        runs = [
            (first, stop)
            for first, stop in _runs(levels_db > threshold_db)
            if stop - first > 1 or loud[first]
        ]
        return [
            _segment(first, stop, levels_db, sample_rate, n_samples, params)
            for first, stop in _merge_runs(runs, sample_rate, params)
            if np.count_nonzero(loud[first:stop]) >= min_loud_frames
        ]

    threshold_db = floor_db + params.threshold_db
    words = words_above(threshold_db)
    if words:
        loudest = max(word.peak_db for word in words)
        if loudest - params.max_depth_db > threshold_db:
            # A near-silent take: frames far below the word (dither, room tail) are not speech.
            words = words_above(loudest - params.max_depth_db)
    return words


def _words_and_floor(samples, sample_rate, params):
    levels_db, _ = frame_levels_db(samples, sample_rate, params)
    floor_db = noise_floor_db(levels_db, params)
    return _speech_segments(levels_db, floor_db, sample_rate, len(samples), params), floor_db


def detect_speech(samples, sample_rate, params=EndpointParams()):
    """The words of a take, as Segments in time order; an empty list when it holds no speech."""
    return _words_and_floor(samples, sample_rate, params)[0]


def crop_region(segments, n_samples, sample_rate, params=EndpointParams()):
    """(start, end) in samples of the loudest word and ``margin_s`` around it; None if no word.

    A lead or tail shorter than ``min_pause_s`` is kept: too short to be a pause, it is
    more likely a quiet part of the word (a trimmed clip has no room for a pause).
    """
    if not segments:
        return None
    word = max(segments, key=lambda segment: segment.peak_db)
    margin = int(round(params.margin_s * sample_rate))
    min_pause = params.min_pause_s * sample_rate
    start, end = max(0, word.start - margin), min(n_samples, word.end + margin)
    return (0 if start < min_pause else start), (n_samples if n_samples - end < min_pause else end)


def crop_to_speech(samples, sample_rate, params=EndpointParams()):
    """The loudest word of a take with ``margin_s`` around it, and a CropInfo.

    A take without speech is returned whole (``speech_found`` False), so a caller can
    decide what to do with it rather than receive an arbitrary piece.
    """
    samples = np.asarray(samples, dtype=np.float32)
    words, floor_db = _words_and_floor(samples, sample_rate, params)
    start, end = crop_region(words, len(samples), sample_rate, params) or (0, len(samples))
    info = CropInfo(
        speech_found=bool(words),
        words=len(words),
        start_s=start / sample_rate,
        end_s=end / sample_rate,
        cut_s=(len(samples) - (end - start)) / sample_rate,
        noise_floor_db=floor_db,
    )
    return samples[start:end].copy(), info
