"""The combined dataset: one row per recording with its split, and its count tables."""

import hashlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.dataset as pads

from .errors import PipelineError
from .extraction import FEATURE_SCHEMA, REJECTED_FILE
from .features import unflatten_feature
from .naming import OFFICIAL_TEST_INDICES

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


class RejectedRecordingsError(PipelineError):
    """Some recordings could not be extracted; the dataset would silently miss them."""


def read_feature_batches(batch_dirs, allow_rejected=False, columns=None):
    """Read every per-file feature table of the given batch folders into one frame
    (only ``columns``, when given)."""
    batch_dirs = [Path(d) for d in batch_dirs]
    rejected = pd.concat(
        [pd.read_csv(d / REJECTED_FILE, dtype=str) for d in batch_dirs], ignore_index=True
    )
    if len(rejected) and not allow_rejected:
        lines = "\n".join(f"  {r.file_name}: {r.reason}" for r in rejected.itertuples())
        raise RejectedRecordingsError(
            f"{len(rejected)} recording(s) could not be used:\n{lines}\n"
            "Fix or remove them, or set dataset.skip_rejected: true to build without them."
        )
    for row in rejected.itertuples():
        log.warning("skipping rejected recording %s: %s", row.file_name, row.reason)
    files = sorted(str(p) for d in batch_dirs for p in d.glob("*.parquet"))
    table = pads.dataset(files, schema=FEATURE_SCHEMA, format="parquet").to_table(columns)
    return table.to_pandas().sort_values("file_name", ignore_index=True)


def assign_splits(frame, val_fraction, seed):
    """Official test split (takes 0-4) as 'test'; a stratified share of the rest as 'val'.

    Validation takes are drawn per (speaker, digit) group with a generator seeded
    from ``seed`` and the group, so adding a recording only moves its own group.
    """
    frame = frame.copy()
    is_test = frame["sample_number"].isin(OFFICIAL_TEST_INDICES)
    frame["split"] = np.where(is_test, "test", "train")
    for (speaker, digit), group in frame[~is_test].groupby(["speaker", "digit"]):
        group_seed = int.from_bytes(
            hashlib.sha256(f"{seed}/{speaker}/{digit}".encode()).digest()[:8], "little"
        )
        rng = np.random.default_rng(group_seed)
        # Round half up, and keep at least one take for validation in small groups.
        n_val = int(np.floor(val_fraction * len(group) + 0.5))
        if val_fraction > 0 and len(group) > 1:
            n_val = max(n_val, 1)
        chosen = rng.choice(group.index.to_numpy(), size=n_val, replace=False)
        frame.loc[chosen, "split"] = "val"
    return frame


def count_tables(frame):
    """Recordings per speaker and digit (with totals), and per split and digit."""
    by_speaker = pd.crosstab(frame["speaker"], frame["digit"], margins=True, margins_name="total")
    by_split = pd.crosstab(frame["split"], frame["digit"], margins=True, margins_name="total")
    by_split = by_split.reindex([s for s in (*SPLITS, "total") if s in by_split.index])
    return by_speaker.reset_index(), by_split.reset_index()


def dataset_digest(path):
    """Short content digest of the dataset file, used to tag runs and registered models."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]


def feature_stack(frame, feature):
    """The ``feature`` matrices of every row, as a list of float32 arrays (rows x frames)."""
    return [
        unflatten_feature(values, shape)
        for values, shape in zip(frame[feature], frame[f"{feature}_shape"], strict=True)
    ]


def read_dataset(path, splits=None):
    """Read the combined dataset, optionally only some splits."""
    frame = pd.read_parquet(path)
    if splits is not None:
        frame = frame[frame["split"].isin(splits)].reset_index(drop=True)
    return frame
