"""FSDD file names: ``{digit}_{speaker}_{index}.wav``."""

import math
import os
import re
import zlib
from dataclasses import dataclass
from pathlib import Path

from .errors import RecordingError

AUDIO_SUFFIXES = (".wav", ".flac")
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


def list_recordings(directory):
    """All audio files (by suffix) directly in ``directory``, sorted by name."""
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"recordings folder not found: {directory}")
    return sorted(
        entry.name
        for entry in os.scandir(directory)
        if entry.is_file() and Path(entry.name).suffix.lower() in AUDIO_SUFFIXES
    )


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
