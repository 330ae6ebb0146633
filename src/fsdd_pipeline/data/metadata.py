"""Speaker metadata (gender, accent) shipped with the project, joined per recording."""

import csv
from pathlib import Path

from fsdd_pipeline.errors import RecordingError


def read_speakers(path):
    """Speaker table as {speaker: {"gender": ..., "accent": ...}}."""
    with Path(path).open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    return {row["speaker"]: {"gender": row["gender"], "accent": row["accent"]} for row in rows}


def speaker_metadata(speakers, speaker, path):
    """Metadata of ``speaker``, or an error naming the recording and the unknown speaker."""
    try:
        return speakers[speaker]
    except KeyError:
        known = ", ".join(sorted(speakers))
        raise RecordingError(
            path,
            f"unknown speaker '{speaker}': add it to the speaker table (known: {known})",
        ) from None
