"""FSDD file names: ``{digit}_{speaker}_{index}.wav``."""

import os
import re
from dataclasses import dataclass
from pathlib import Path

from fsdd_pipeline.errors import RecordingError
from fsdd_pipeline.planning.audio_formats import (
    AUDIO_SUFFIXES,
    CONVERT_HINT,
    LISTED_SUFFIXES,
    UNSUPPORTED_AUDIO_SUFFIXES,
)

NAME_PATTERN = re.compile(r"^(?P<digit>[0-9])_(?P<speaker>[a-z][a-z0-9]*)_(?P<index>[0-9]+)$")
# The dataset's README defines the official split: takes 0-4 of each digit and speaker are test.
OFFICIAL_TEST_INDICES = range(0, 5)
# Where the download_fsdd rule puts the pinned release's recordings, relative to the project
# (without recordings_dir); the tests look there when FSDD_RECORDINGS is unset.
DOWNLOADED_RECORDINGS = "resources/fsdd-v1.0.10/recordings"


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
    recording, reason = _parse_file_name(os.path.basename(path))
    if reason:
        raise RecordingError(Path(path), reason)
    return recording


def _parse_file_name(file_name):
    """(RecordingName, None) for a well-named recording, (None, why not) otherwise.

    Plain strings, no Path or exception per file: planning parses every name of a folder
    that may hold tens of thousands of files.
    """
    stem, suffix = os.path.splitext(file_name)
    suffix = suffix.lower()
    reason = unsupported_format(file_name)
    if reason:
        return None, reason
    if suffix not in AUDIO_SUFFIXES:
        return None, f"not an audio file name: expected one of {', '.join(AUDIO_SUFFIXES)}"
    match = NAME_PATTERN.match(stem)
    if match is None:
        return None, (
            "misnamed recording: expected '{digit}_{speaker}_{index}' with digit 0-9, "
            "a lower-case speaker name and a numeric take index, e.g. '3_theo_12.wav'"
        )
    return RecordingName(int(match["digit"]), match["speaker"], int(match["index"])), None


def unsupported_format(path):
    """Why the file's name marks it as audio the pipeline does not take, or None."""
    suffix = os.path.splitext(path)[1].lower()
    if suffix in UNSUPPORTED_AUDIO_SUFFIXES:
        return f"unsupported format {suffix}: {CONVERT_HINT}"
    return None


def list_recordings(directory):
    """All audio files (by suffix) directly in ``directory``, sorted by name.

    Unsupported audio formats (UNSUPPORTED_AUDIO_SUFFIXES) are listed too, so that the
    extraction rejects them by name instead of the dataset silently missing them.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise FileNotFoundError(f"recordings folder not found: {directory}")
    # os.path.splitext, not a Path per entry: a folder may hold tens of thousands of files.
    return sorted(
        entry.name
        for entry in os.scandir(directory)
        if entry.is_file() and os.path.splitext(entry.name)[1].lower() in LISTED_SUFFIXES
    )
