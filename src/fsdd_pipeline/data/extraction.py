"""Turning recordings into one-row Parquet feature tables, a batch per process."""

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

from fsdd_pipeline.audio.reading import load_clip
from fsdd_pipeline.data.metadata import speaker_metadata
from fsdd_pipeline.errors import RecordingError
from fsdd_pipeline.features.codec import flatten_feature
from fsdd_pipeline.features.spectral import extract_features
from fsdd_pipeline.io import atomic_path, write_csv
from fsdd_pipeline.planning.feature_names import FEATURE_NAMES, SPEED_VIEWS
from fsdd_pipeline.planning.naming import parse_recording_name

log = logging.getLogger(__name__)

REJECTED_FILE = "rejected.csv"

FEATURE_SCHEMA = pa.schema(
    [
        ("file_name", pa.string()),
        ("digit", pa.int8()),
        ("speaker", pa.string()),
        ("sample_number", pa.int32()),
        ("gender", pa.string()),
        ("accent", pa.string()),
        ("duration_s", pa.float64()),
        ("sample_rate", pa.int32()),
        ("rms", pa.float64()),
        # What endpoint detection found and cut (see fsdd_pipeline.audio.endpoint).
        ("speech_found", pa.bool_()),
        ("words", pa.int16()),
        ("cut_s", pa.float64()),
        # The trimmed, resampled waveform, so training-time augmentation needs no WAVs.
        ("samples", pa.list_(pa.float32())),
    ]
    + [
        field
        for name in (*FEATURE_NAMES, SPEED_VIEWS)
        for field in ((name, pa.list_(pa.float32())), (f"{name}_shape", pa.list_(pa.int32())))
    ]
)


def recording_record(path, params, speakers):
    """The feature row of one recording (a dict matching FEATURE_SCHEMA)."""
    name = parse_recording_name(path)
    meta = speaker_metadata(speakers, name.speaker, path)
    samples, crop = load_clip(path, params.sample_rate, params.endpoint, params.min_duration_s)
    if crop is not None and not crop.speech_found:
        log.warning("%s: no word stands out of a noise floor; the whole clip is used", path)
    identity = {
        "file_name": Path(path).name,
        "digit": name.digit,
        "speaker": name.speaker,
        "sample_number": name.index,
        "gender": meta["gender"],
        "accent": meta["accent"],
    }
    return clip_record(identity, samples, crop, params)


def clip_record(identity, samples, crop, params):
    """The feature row of one endpointed clip (``samples``, its CropInfo or None):
    ``identity`` (file_name, digit, speaker, sample_number, gender, accent), what endpoint
    detection found and cut, the samples and every feature."""
    record = dict(identity) | {
        "duration_s": samples.size / params.sample_rate,
        "sample_rate": params.sample_rate,
        "rms": float(np.sqrt(np.mean(np.square(samples, dtype=np.float64)))),
        "speech_found": True if crop is None else crop.speech_found,
        "words": 1 if crop is None else crop.words,
        "cut_s": 0.0 if crop is None else crop.cut_s,
        "samples": samples,
    }
    for feature, matrix in extract_features(samples, params, params.extracted_features).items():
        record[feature], record[f"{feature}_shape"] = flatten_feature(matrix)
    return record


def feature_path(out_dir, wav_path):
    return Path(out_dir) / f"{Path(wav_path).stem}.parquet"


def write_record(record, path):
    table = pa.Table.from_pylist([record], schema=FEATURE_SCHEMA)
    with atomic_path(path) as temporary:
        # Feature values barely compress; skipping compression and statistics halves the cost.
        pq.write_table(
            table, temporary, compression="none", use_dictionary=False, write_statistics=False
        )


def extract_batch(wav_paths, out_dir, params, speakers):
    """Extract every recording of a batch into ``out_dir/{stem}.parquet``.

    A bad recording does not stop the batch: it is logged with its reason and
    listed in ``out_dir/rejected.csv`` (file, reason); the dataset step refuses
    to build while any recording is rejected, naming each one. Returns the
    rejected (file, reason) pairs.
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    rejected = []
    for wav_path in wav_paths:
        try:
            record = recording_record(wav_path, params, speakers)
        except RecordingError as error:
            log.error("%s", error)
            rejected.append((Path(wav_path).name, error.reason))
            continue
        write_record(record, feature_path(out_dir, wav_path))
    write_csv(pd.DataFrame(rejected, columns=["file_name", "reason"]), out_dir / REJECTED_FILE)
    log.info("extracted %d recordings, rejected %d", len(wav_paths) - len(rejected), len(rejected))
    return rejected
