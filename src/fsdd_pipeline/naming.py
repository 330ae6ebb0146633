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
    # os.path.splitext, not a Path per entry: a folder may hold tens of thousands of files.
    return sorted(
        entry.name
        for entry in os.scandir(directory)
        if entry.is_file() and os.path.splitext(entry.name)[1].lower() in suffixes
    )


class RecordingBatches:
    """Every recording of a folder, listed once and assigned to its extraction batch.

    The workflow asks for one batch's recordings per extraction job, and for all of them
    in several rules; listing the folder on every call made planning grow with
    recordings x batches (quadratically). One instance per run keeps it linear.
    """

    def __init__(self, directory, recordings_per_batch, batches=None):
        names = list_recordings(directory)
        self.n_batches = batch_count(len(names), recordings_per_batch, batches)
        by_batch = {}
        for name in names:
            path = os.path.join(directory, name)
            by_batch.setdefault(batch_of(name, self.n_batches), []).append(path)
        # Tuples: every caller shares them.
        self.by_batch = {batch: tuple(paths) for batch, paths in sorted(by_batch.items())}
        self.paths = tuple(os.path.join(directory, name) for name in names)
        self.speakers = speakers_of(self.paths)
        self.first_per_digit = first_recording_per_digit(self.paths)


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
