"""Features of augmented copies of recordings, computed once per recording and shared by
every training and LOSO job of the models that use the same ``augment`` settings.

A recording's copies are drawn from a generator seeded by the augmentation's id and the
recording's file name, so they are the same whichever batch, job or fold asks for them.
"""

import hashlib

import numpy as np
import pandas as pd

from fsdd_pipeline.audio.endpoint import crop_to_speech
from fsdd_pipeline.augment.waveform import WaveformAugmenter
from fsdd_pipeline.features.codec import flatten_feature
from fsdd_pipeline.features.spectral import extract_features
from fsdd_pipeline.planning.augmentation_plan import augmentation_id


def recording_seed(settings, file_name):
    """Seed of one recording's augmented copies."""
    key = f"{augmentation_id(settings)}/{file_name}".encode()
    return int.from_bytes(hashlib.sha256(key).digest()[:8], "little")


def augmented_feature_frame(frame, settings, params, features):
    """``settings['copies']`` augmented copies of every row's waveform (``samples``) with
    their ``features``: columns file_name, copy, digit and each feature flat with its shape.
    With ``settings['endpoint']`` each copy is first cropped to its word as prediction
    crops a take (``params.endpoint``; a copy where no word stands out is kept whole).
    """
    rows = []
    for file_name, digit, samples in zip(
        frame["file_name"], frame["digit"], frame["samples"], strict=True
    ):
        augmenter = WaveformAugmenter(
            settings, params.sample_rate, recording_seed(settings, file_name)
        )
        clip = np.asarray(samples, dtype=np.float32)
        for copy in range(augmenter.copies):
            augmented = augmenter.augment(clip)
            if settings.get("endpoint") and params.endpoint is not None:
                augmented = crop_to_speech(augmented, params.sample_rate, params.endpoint)[0]
            matrices = extract_features(augmented, params, tuple(features))
            row = {"file_name": file_name, "copy": copy, "digit": int(digit)}
            for feature, matrix in matrices.items():
                row[feature], row[f"{feature}_shape"] = flatten_feature(matrix)
            rows.append(row)
    columns = ["file_name", "copy", "digit"]
    columns += [c for f in features for c in (f, f"{f}_shape")]
    return pd.DataFrame(rows, columns=columns)


def read_augmented_features(paths):
    """The augmented feature tables of ``paths`` (one per batch) as one frame, or None."""
    if not paths:
        return None
    return pd.concat([pd.read_parquet(p) for p in paths], ignore_index=True)


def augmented_rows_for(frame, augmented):
    """The augmented copies of ``frame``'s recordings, in its row order, copies together.

    Every recording of ``frame`` must have its copies in ``augmented``: a missing one
    would silently train on less than configured.
    """
    order = pd.DataFrame(
        {"file_name": frame["file_name"].to_numpy(), "_row": np.arange(len(frame))}
    )
    rows = order.merge(augmented, on="file_name", how="left", validate="one_to_many")
    missing = rows.loc[rows["copy"].isna(), "file_name"]
    if len(missing):
        raise ValueError(
            f"{len(missing)} training recording(s) have no augmented copies, e.g. "
            f"{missing.iloc[0]}: the augmented features are out of date"
        )
    return rows.sort_values(["_row", "copy"], kind="stable").reset_index(drop=True)
