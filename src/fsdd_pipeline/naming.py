"""FSDD file names: ``{digit}_{speaker}_{index}.wav``."""

import contextlib
import math
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from .errors import RecordingError

AUDIO_SUFFIXES = (".wav", ".flac")
# Audio the pipeline does not take: listed with the recordings so that they are rejected
# with a reason instead of being ignored.
UNSUPPORTED_AUDIO_SUFFIXES = (
    ".aac", ".aif", ".aifc", ".aiff", ".amr", ".au", ".caf", ".m4a", ".mp3", ".mp4", ".oga",
    ".ogg", ".opus", ".w64", ".webm", ".wma",
)  # fmt: skip
NAME_PATTERN = re.compile(r"^(?P<digit>[0-9])_(?P<speaker>[a-z][a-z0-9]*)_(?P<index>[0-9]+)$")
# The dataset's README defines the official split: takes 0-4 of each digit and speaker are test.
OFFICIAL_TEST_INDICES = range(0, 5)


@dataclass(frozen=True)
class RecordingName:
    digit: int
    speaker: str
    index: int

    @property
    def stem(self):
        return f"{self.digit}_{self.speaker}_{self.index}"


def parse_recording_name(path):
    """Parse digit, speaker and take index from a recording's file name."""
    path = Path(path)
    reason = unsupported_format(path)
    if reason:
        raise RecordingError(path, reason)
    if path.suffix.lower() not in AUDIO_SUFFIXES:
        raise RecordingError(
            path, f"not an audio file name: expected one of {', '.join(AUDIO_SUFFIXES)}"
        )
    match = NAME_PATTERN.match(path.stem)
    if match is None:
        raise RecordingError(
            path,
            "misnamed recording: expected '{digit}_{speaker}_{index}' with digit 0-9, "
            "a lower-case speaker name and a numeric take index, e.g. '3_theo_12.wav'",
        )
    return RecordingName(int(match["digit"]), match["speaker"], int(match["index"]))


def unsupported_format(path):
    """Why the file's name marks it as audio the pipeline does not take, or None."""
    suffix = Path(path).suffix.lower()
    if suffix in UNSUPPORTED_AUDIO_SUFFIXES:
        return f"unsupported format {suffix}: convert to WAV or FLAC"
    return None


def list_recordings(directory):
    """All audio files (by suffix) directly in ``directory``, sorted by name.

    Unsupported audio formats (UNSUPPORTED_AUDIO_SUFFIXES) are listed too, so that the
    extraction rejects them by name instead of the dataset silently missing them.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"recordings folder not found: {directory}")
    suffixes = AUDIO_SUFFIXES + UNSUPPORTED_AUDIO_SUFFIXES
    return sorted(
        entry.name
        for entry in os.scandir(directory)
        if entry.is_file() and Path(entry.name).suffix.lower() in suffixes
    )


def recordings_by_batch(directory, n_batches):
    """{batch: [recording paths]} of every audio file in ``directory`` (see batch_of)."""
    batches = {}
    for name in list_recordings(directory):
        batches.setdefault(batch_of(name, n_batches), []).append(str(Path(directory) / name))
    return batches


def speakers_of(paths):
    """Sorted speakers of well-named recordings; misnamed ones are rejected by extraction."""
    speakers = set()
    for path in paths:
        with contextlib.suppress(RecordingError):
            speakers.add(parse_recording_name(path).speaker)
    return sorted(speakers)


def first_recording_per_digit(paths):
    """{digit: path} of the first well-named recording of each digit, by file name."""
    examples = {}
    for path in sorted(paths, key=lambda p: Path(p).name):
        with contextlib.suppress(RecordingError):
            examples.setdefault(parse_recording_name(path).digit, path)
    return dict(sorted(examples.items()))


def batch_of(file_name, n_batches):
    """Stable extraction batch of a file: adding or changing a file touches its batch only."""
    return f"batch{zlib.crc32(file_name.encode()) % n_batches:03d}"


def batch_count(n_recordings, recordings_per_batch, batches=None):
    """Number of extraction batches: ``batches`` if given, else enough batches of at most
    ``recordings_per_batch`` recordings (at least one).

    The count changes only when the number of recordings crosses a multiple of
    ``recordings_per_batch``; then every recording may move to another batch.
    """
    if batches:
        return int(batches)
    return max(1, math.ceil(n_recordings / recordings_per_batch))
