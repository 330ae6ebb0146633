"""Loading audio the same way for training and for any new recording."""

import io
import logging
import struct
from pathlib import Path

import numpy as np
import soundfile

from fsdd_pipeline.audio.endpoint import crop_to_speech
from fsdd_pipeline.audio.resampling import resample
from fsdd_pipeline.errors import RecordingError
from fsdd_pipeline.planning.audio_formats import CONVERT_HINT, SUPPORTED_FORMATS

log = logging.getLogger(__name__)


def check_sample_rate(rate, source):
    """RecordingError naming ``source`` for a sample rate outside the supported range."""
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise RecordingError(
            source,
            f"sample rate {rate} Hz is outside the supported "
            f"{MIN_SAMPLE_RATE}-{MAX_SAMPLE_RATE} Hz",
        )


def mono(samples, dtype=np.float32):
    """1-D ``samples`` as an array of ``dtype``; anything else (a stereo buffer not yet
    averaged) is a caller's mistake, refused with its shape."""
    samples = np.asarray(samples, dtype=dtype)
    if samples.ndim != 1:
        raise ValueError(f"expected 1-D samples, got shape {samples.shape}")
    return samples


# Sample rates outside this range are refused: resampling from them is meaningless or huge.
MIN_SAMPLE_RATE = 1_000
MAX_SAMPLE_RATE = 384_000
# Default of ``min_duration_s``: FSDD's shortest clip is 0.12 s after trimming.
MIN_DURATION_S = 0.1
# reject_if_no_speech: a clip whose loudest 32 ms is below this level holds no sound worth
# a label (FSDD's quietest clip peaks at -48 dBFS; 12 dB quieter still passes).
SPEECH_MIN_LEVEL_DBFS = -70.0
# ... and one whose average spectrum is this flat is noise, not speech (white noise and
# dither measure >= 0.87 from 0.1 s on; FSDD <= 0.43, and <= 0.72 with noise at 5 dB SNR).
NOISE_MIN_FLATNESS = 0.8
# The top of the band is left out of the flatness: resampling filters roll it off.
FLATNESS_BAND = 0.9
EMPTY_FILE_REASON = "cannot read audio: the file is empty (0 bytes)"
WAV_UNKNOWN_SIZE = 0xFFFFFFFF  # a streaming writer's placeholder for "until the end"


def analysis_frame(sample_rate):
    """Length in samples of the 32 ms frames used for trimming and the speech check."""
    return max(16, int(0.032 * sample_rate))


def load_audio(path, sample_rate, endpoint=None, min_duration_s=MIN_DURATION_S):
    """Read an audio file (planning.audio_formats) as mono float32 at ``sample_rate``,
    cropped to its spoken word.

    Stereo is averaged to mono, other rates are resampled, and with ``endpoint``
    (EndpointParams) the take is cropped to its loudest word, so that a long or noisy
    take looks like FSDD's trimmed clips (see prepare_clip). Raises RecordingError naming
    the file and the reason when the file is unreadable, truncated, holds no speech or
    less than ``min_duration_s`` seconds of sound after cropping.
    """
    return load_clip(path, sample_rate, endpoint, min_duration_s)[0]


def load_clip(path, sample_rate, endpoint=None, min_duration_s=MIN_DURATION_S):
    """load_audio's samples and the CropInfo of the endpointing (None without it)."""
    if not Path(path).is_file():
        raise RecordingError(path, "file not found")
    try:
        with open(path, "rb") as handle:
            samples, file_rate = read_audio(handle, source=path)
    except OSError as error:
        raise RecordingError(path, f"cannot read file ({error.strerror or error})") from error
    return prepare_clip(samples, file_rate, sample_rate, endpoint, min_duration_s, source=path)


def read_audio(handle, source):
    """(samples frames x channels, sample rate) of an audio file open for binary reading.

    RecordingError naming ``source`` if the file is empty, in a format not taken, unreadable,
    or holds less audio than its header promises (a file cut short in a copy or upload).
    """
    handle.seek(0, io.SEEK_END)
    if handle.tell() == 0:
        raise RecordingError(source, EMPTY_FILE_REASON)
    shortfall = wav_data_shortfall(handle)
    if shortfall:
        raise RecordingError(source, f"truncated file: {shortfall}")
    handle.seek(0)
    try:
        sound = soundfile.SoundFile(handle)
    except Exception as error:  # soundfile raises several types for bad files
        raise RecordingError(source, f"cannot read audio ({_reason(error)})") from error
    with sound:
        if sound.format not in SUPPORTED_FORMATS:
            raise RecordingError(source, f"unsupported format {sound.format}: {CONVERT_HINT}")
        promised, rate = sound.frames, sound.samplerate
        try:
            samples = sound.read(dtype="float32", always_2d=True)
        except Exception as error:  # a FLAC cut short fails here ("decoder lost sync")
            raise RecordingError(
                source,
                f"truncated or corrupt file: the header promises {promised / rate:.3f} s "
                f"of audio, decoding it fails ({_reason(error)})",
            ) from error
    if len(samples) < promised:
        raise RecordingError(
            source,
            f"truncated file: the header promises {promised / rate:.3f} s of audio, "
            f"the file holds only {len(samples) / rate:.3f} s",
        )
    return samples, rate


def _reason(error):
    """libsndfile's message of a soundfile error (without the file name soundfile adds)."""
    reason = getattr(error, "error_string", None) or str(error) or type(error).__name__
    return reason.strip().removeprefix("Error : ")


def wav_data_shortfall(handle):
    """Why a RIFF/RIFX/RF64 WAV holds less than its header declares, or None if complete.

    libsndfile silently reads what is there, so a WAV cut after its first bytes would
    look like a valid very short recording. Sizes a streaming writer left open
    (0xFFFFFFFF) are not checked; other formats are not WAV and return None.
    """
    handle.seek(0, io.SEEK_END)
    file_size = handle.tell()
    handle.seek(0)
    header = handle.read(12)
    if len(header) < 12 or header[:4] not in (b"RIFF", b"RIFX", b"RF64") or header[8:] != b"WAVE":
        return None
    order = ">" if header[:4] == b"RIFX" else "<"
    (riff_size,) = struct.unpack(f"{order}I", header[4:8])
    position, byte_rate, rf64_data_size = 12, 0, WAV_UNKNOWN_SIZE
    while position + 8 <= file_size:
        handle.seek(position)
        chunk_id, size = struct.unpack(f"{order}4sI", handle.read(8))
        start = handle.read(16)  # what the ds64 and fmt chunks hold that is checked here
        if chunk_id == b"ds64" and len(start) == 16:  # RF64 keeps its 64-bit sizes here
            riff_size, rf64_data_size = struct.unpack("<QQ", start)
        if chunk_id == b"fmt " and len(start) >= 12:
            (byte_rate,) = struct.unpack(f"{order}I", start[8:12])
        if chunk_id == b"data":
            size = rf64_data_size if size == WAV_UNKNOWN_SIZE else size
            present = file_size - position - 8
            if size == WAV_UNKNOWN_SIZE or present >= size:
                return None
            if byte_rate:
                return (
                    f"the WAV header promises {size / byte_rate:.3f} s of audio ({size} bytes), "
                    f"the file holds only {present / byte_rate:.4f} s ({present} bytes)"
                )
            return f"the WAV header promises {size} bytes of audio, the file holds only {present}"
        position += 8 + size + (size & 1)  # chunks are padded to an even size
    if riff_size != WAV_UNKNOWN_SIZE and riff_size + 8 > file_size:
        return (
            f"the WAV header promises {riff_size + 8} bytes, the file ends after {file_size}, "
            "before its audio data"
        )
    return None


def _frames(samples, frame):
    padded = np.pad(samples, (0, max(0, frame - samples.size)))
    return np.lib.stride_tricks.sliding_window_view(padded, frame)[:: frame // 4]


def reject_if_no_speech(samples, sample_rate, source, word=None):
    """Raise RecordingError unless the mono clip may hold speech.

    A check of the clip before its word is used: a clip is refused when its loudest 32 ms
    frame is below SPEECH_MIN_LEVEL_DBFS (digital silence, dither) or when its average
    spectrum is as flat as white noise (spectral flatness >= NOISE_MIN_FLATNESS: hiss, dither
    or noise at any level; speech concentrates its power in a few bands). ``word``: the
    samples of the word endpointing found, if any: the flatness is judged on it, so that a
    word in a long take of white noise is not averaged away by the noise.
    """
    frame = analysis_frame(sample_rate)
    frames = _frames(samples, frame)
    level = np.sqrt(np.max(np.mean(np.square(frames, dtype=np.float64), axis=1)))
    level_db = 20 * np.log10(max(level, 1e-12))
    if level_db < SPEECH_MIN_LEVEL_DBFS:
        raise RecordingError(
            source,
            f"no speech: the loudest 32 ms is {level_db:.1f} dBFS, "
            f"below {SPEECH_MIN_LEVEL_DBFS:.0f} dBFS (silence or dither)",
        )
    if word is not None:
        frames = _frames(word, frame)
    spectrum = np.mean(np.abs(np.fft.rfft(frames * np.hanning(frame), axis=1)) ** 2, axis=0)
    band = np.maximum(spectrum[1 : int(len(spectrum) * FLATNESS_BAND)], 1e-20)
    flatness = float(np.exp(np.mean(np.log(band))) / np.mean(band))
    if flatness >= NOISE_MIN_FLATNESS:
        raise RecordingError(
            source,
            f"no speech: the spectrum is as flat as noise (spectral flatness "
            f"{flatness:.2f} >= {NOISE_MIN_FLATNESS})",
        )


def prepare_clip(
    samples,
    file_rate,
    sample_rate,
    endpoint=None,
    min_duration_s=MIN_DURATION_S,
    source="<samples>",
):
    """Downmix, resample, check for speech and crop to the spoken word samples in memory.

    ``samples`` is frames x channels or 1-D. With ``endpoint`` (EndpointParams) the take
    is cropped to its loudest word (fsdd_pipeline.audio.endpoint). Returns (samples, CropInfo
    or None). RecordingError naming ``source`` if the samples are empty, not finite, all
    zero, at a rate outside MIN_SAMPLE_RATE..MAX_SAMPLE_RATE, hold no speech
    (reject_if_no_speech, or no word stands out of a take longer than a word can be) or
    less than ``min_duration_s`` after cropping.
    """
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if samples.size == 0:
        raise RecordingError(source, "empty audio: the file holds no samples")
    if not np.all(np.isfinite(samples)):
        raise RecordingError(source, "corrupt audio: samples are not finite numbers")
    if not np.any(samples):
        raise RecordingError(source, "silent audio: every sample is zero")
    check_sample_rate(file_rate, source)
    if file_rate != sample_rate:
        samples = resample(samples, file_rate, sample_rate)
    info = None
    if endpoint is None:
        reject_if_no_speech(samples, sample_rate, source)
    else:
        # Words first, then speech is judged by them (not by a long take's noise).
        whole = samples
        samples, info = crop_to_speech(samples, sample_rate, endpoint)
        reject_if_no_speech(whole, sample_rate, source, samples if info.speech_found else None)
        if not info.speech_found and samples.size > endpoint.max_word_s * sample_rate:
            raise RecordingError(
                source,
                f"no speech: no word stands out of the take's noise floor "
                f"({info.noise_floor_db:.1f} dBFS) in {samples.size / sample_rate:.2f} s",
            )
        if not info.speech_found:
            # A clip trimmed to its word leaves no silence to measure a floor from.
            log.debug(
                "%s: no pause around the word; the whole %.2f s clip is used",
                source,
                samples.size / sample_rate,
            )
    duration = samples.size / sample_rate
    if duration < min_duration_s:
        raise RecordingError(
            source,
            f"too short: {duration:.3f} s of sound after cropping, "
            f"the minimum is {min_duration_s} s",
        )
    return np.ascontiguousarray(samples, dtype=np.float32), info
