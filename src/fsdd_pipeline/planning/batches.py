"""Extraction batches: every recording of a folder assigned to a batch by a stable hash of its
name, and the digest of a batch's recordings that decides when it is extracted again."""

import hashlib
import math
import os
import zlib

from fsdd_pipeline.planning.naming import _parse_file_name, list_recordings


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
