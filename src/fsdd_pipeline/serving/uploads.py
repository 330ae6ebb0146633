"""A take uploaded to fsdd-app: WAV or FLAC bytes read in memory, refused when longer than
the app accepts (from the file's header, before it is decoded)."""

import contextlib
import io

import soundfile

from fsdd_pipeline.audio.reading import EMPTY_FILE_REASON, read_audio
from fsdd_pipeline.errors import RecordingError
from fsdd_pipeline.serving.transcript import take_duration_s


class TakeTooLongError(RecordingError):
    """A take longer than the app accepts."""


def read_take(data, max_take_s, source="upload"):
    """(samples frames x channels, rate) of audio file bytes; RecordingError with the reason,
    TakeTooLongError (read from the header, before decoding) over ``max_take_s``."""
    if not data:
        raise RecordingError(source, EMPTY_FILE_REASON)
    header = None
    with contextlib.suppress(Exception):  # an unreadable header: read_audio says why
        header = soundfile.info(io.BytesIO(data))
    # Outside the suppression: a take too long is refused here, before it is decoded.
    if header is not None and header.samplerate > 0:
        check_duration(header.frames / header.samplerate, max_take_s, source)
    samples, rate = read_audio(io.BytesIO(data), source)
    check_duration(take_duration_s(samples, rate), max_take_s, source)
    return samples, rate


def check_duration(duration_s, max_take_s, source):
    if duration_s > max_take_s:
        raise TakeTooLongError(
            source,
            f"take too long: {duration_s:.1f} s, the app takes at most {max_take_s:g} s "
            "(say the digits, then stop)",
        )
