"""Loading audio the same way for training and for any new recording."""

from pathlib import Path

import numpy as np
import soundfile

from .errors import RecordingError
from .librosa_runtime import load_librosa


def load_audio(path, sample_rate, trim_top_db=None):
    """Read a WAV/FLAC file as mono float32 at ``sample_rate``, silence-trimmed.

    Stereo is averaged to mono, other rates are resampled, and leading/trailing
    parts quieter than ``trim_top_db`` below the peak are cut so that untrimmed
    recordings look like FSDD's trimmed ones. Raises RecordingError naming the
    file and the reason when the file is unreadable, corrupt or holds no sound.
    """
    if not Path(path).is_file():
        raise RecordingError(path, "file not found")
    try:
        samples, file_rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except Exception as error:  # soundfile raises several types for bad files
        reason = str(error).strip().replace(f"'{path}'", "file") or type(error).__name__
        raise RecordingError(path, f"cannot read audio ({reason})") from error
    return prepare_samples(samples, file_rate, sample_rate, trim_top_db, source=path)


def prepare_samples(samples, file_rate, sample_rate, trim_top_db=None, source="<samples>"):
    """Downmix, resample and trim samples already in memory (frames x channels or 1-D)."""
    librosa = load_librosa()

    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim == 2:
        samples = samples.mean(axis=1)
    if samples.size == 0:
        raise RecordingError(source, "empty audio: the file holds no samples")
    if not np.all(np.isfinite(samples)):
        raise RecordingError(source, "corrupt audio: samples are not finite numbers")
    if not np.any(samples):
        raise RecordingError(source, "silent audio: every sample is zero")
    if file_rate != sample_rate:
        samples = librosa.resample(samples, orig_sr=file_rate, target_sr=sample_rate)
    if trim_top_db is not None:
        # librosa's default 2048-sample frames are a quarter second at 8 kHz: trim on
        # 32 ms frames every 8 ms instead, so the cut lands close to the speech.
        frame = max(16, int(0.032 * sample_rate))
        samples, _ = librosa.effects.trim(
            samples, top_db=trim_top_db, frame_length=frame, hop_length=frame // 4
        )
    return np.ascontiguousarray(samples, dtype=np.float32)
