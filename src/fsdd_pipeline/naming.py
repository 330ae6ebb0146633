"""FSDD file names: ``{digit}_{speaker}_{index}.wav``."""

import hashlib
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
        paths = []
        speakers = set()
        first_per_digit = {}
        # One pass, each name joined and parsed once; names are sorted, so the first take of
        # a digit is the first met.
        for name in names:
            path = os.path.join(directory, name)
            paths.append(path)
            by_batch.setdefault(batch_of(name, self.n_batches), []).append(path)
            recording, _ = _parse_file_name(name)
            if recording is not None:
                speakers.add(recording.speaker)
                first_per_digit.setdefault(recording.digit, path)
        # Tuples: every caller shares them.
        self.by_batch = {
            batch: tuple(batch_paths) for batch, batch_paths in sorted(by_batch.items())
        }
        self.paths = tuple(paths)
        # Misnamed recordings are left to extraction, which rejects them by name.
        self.speakers = sorted(speakers)
        self.first_per_digit = dict(sorted(first_per_digit.items()))


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


class RecordingPaths:
    """A batch's recording paths as a rule param that Snakemake does not compare.

    Snakemake compares params of built-in types only; the batch's recordings_stamp, which
    covers the names too, decides re-extraction, and a rerun's reason shows one digest
    instead of every path of the batch.
    """

    def __init__(self, paths):
        self.paths = tuple(paths)

    def __iter__(self):
        return iter(self.paths)

    def __len__(self):
        return len(self.paths)


def recordings_stamp(paths):
    """A digest of the recordings' names, sizes and modification times.

    The extraction rule passes it as a param instead of declaring every WAV as an input:
    Snakemake reruns a job whose params changed, so a changed or added recording still
    re-extracts its batch, while the scheduler, which stats every input of every ready job
    in each round, no longer handles thousands of files (quadratic in the recordings).
    """
    digest = hashlib.sha256()
    for path in paths:
        stat = os.stat(path)
        digest.update(f"{os.path.basename(path)}\0{stat.st_size}\0{stat.st_mtime_ns}\n".encode())
    return digest.hexdigest()
