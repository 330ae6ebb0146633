"""The combined dataset: one row per recording with its split, and its count tables."""

import hashlib
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from fsdd_pipeline.data.extraction import FEATURE_SCHEMA, REJECTED_FILE
from fsdd_pipeline.errors import PipelineError
from fsdd_pipeline.planning.naming import OFFICIAL_TEST_INDICES

log = logging.getLogger(__name__)

SPLITS = ("train", "val", "test")


class RejectedRecordingsError(PipelineError):
    """Some recordings could not be extracted; the dataset would silently miss them."""


# Per-file tables are concatenated this many at a time into one chunk: a chunk per file
# (30,000 one-row chunks) costs memory and time in every later step.
CHUNK_ROWS = 1000


def check_rejected(batch_dirs, allow_rejected=False):
    """Raise RejectedRecordingsError naming every recording the batches rejected, unless
    ``allow_rejected``: then log each one."""
    rejected = pd.concat(
        [pd.read_csv(Path(d) / REJECTED_FILE, dtype=str) for d in batch_dirs], ignore_index=True
    )
    if len(rejected) and not allow_rejected:
        lines = "\n".join(f"  {r.file_name}: {r.reason}" for r in rejected.itertuples())
        raise RejectedRecordingsError(
            f"{len(rejected)} recording(s) could not be used:\n{lines}\n"
            "Fix or remove them, or set dataset.skip_rejected: true to build without them."
        )
    for row in rejected.itertuples():
        log.warning("skipping rejected recording %s: %s", row.file_name, row.reason)


def read_feature_table(batch_dirs, allow_rejected=False):
    """Every per-file feature table of the given batch folders as one Arrow table (FEATURE_SCHEMA),
    sorted by file name.

    Files are read one by one in name order: a pyarrow dataset over 30,000 one-row files
    held five times the data's size in memory and took 13x the time of 3,000.
    """
    batch_dirs = [Path(d) for d in batch_dirs]
    check_rejected(batch_dirs, allow_rejected)
    files = sorted((p for d in batch_dirs for p in d.glob("*.parquet")), key=lambda p: p.name)
    chunks, pending = [], []
    for path in files:
        pending.append(pq.ParquetFile(path).read(use_threads=False))
        if len(pending) == CHUNK_ROWS:
            chunks.append(pa.concat_tables(pending).combine_chunks())
            pending = []
    if pending:
        chunks.append(pa.concat_tables(pending).combine_chunks())
    table = pa.concat_tables(chunks) if chunks else FEATURE_SCHEMA.empty_table()
    return sort_by_file_name(table)


def sort_by_file_name(table):
    """The table in file-name order; unchanged (not copied) when it is in that order already,
    as read_feature_table's files are (a recording's table is named after it)."""
    order = pc.sort_indices(table["file_name"]).to_numpy()
    if np.array_equal(order, np.arange(len(order))):
        return table
    return table.take(order)


def read_feature_batches(batch_dirs, allow_rejected=False, columns=None):
    """Read every per-file feature table of the given batch folders into one frame (only
    ``columns``, when given)."""
    table = read_feature_table(batch_dirs, allow_rejected)
    return (table.select(columns) if columns else table).to_pandas()


def assign_splits(frame, val_fraction, seed):
    """Official test split (takes 0-4) as 'test'; a stratified share of the rest as 'val'.

    Validation takes are drawn per (speaker, digit) group with a generator seeded
    from ``seed`` and the group, so adding a recording only moves its own group.
    """
    frame = frame.copy()
    is_test = frame["sample_number"].isin(OFFICIAL_TEST_INDICES)
    frame["split"] = np.where(is_test, "test", "train")
    validation = []
    for (speaker, digit), group in frame[~is_test].groupby(["speaker", "digit"]):
        group_seed = int.from_bytes(
            hashlib.sha256(f"{seed}/{speaker}/{digit}".encode()).digest()[:8], "little"
        )
        rng = np.random.default_rng(group_seed)
        # Round half up, and keep at least one take for validation in small groups.
        n_val = int(np.floor(val_fraction * len(group) + 0.5))
        if val_fraction > 0 and len(group) > 1:
            n_val = max(n_val, 1)
        validation.append(rng.choice(group.index.to_numpy(), size=n_val, replace=False))
    # One assignment for all groups: one per group rewrote the column once per speaker and digit.
    if validation:
        frame.loc[np.concatenate(validation), "split"] = "val"
    return frame


def split_feature_table(table, val_fraction, seed):
    """The combined dataset: ``table`` (read_feature_table) with its ``split`` column (see
    assign_splits), and the split of every recording as a small frame.

    Splits are drawn on the name columns alone, and the features never leave Arrow: a
    round trip through pandas held them two or three times over.
    """
    names = table.select(["file_name", "speaker", "digit", "sample_number"]).to_pandas()
    splits = assign_splits(names, val_fraction, seed)
    dataset = table.append_column("split", pa.array(splits["split"].to_numpy(), pa.string()))
    return dataset, splits


def count_tables(frame):
    """Recordings per speaker and digit (with totals), and per split and digit."""
    by_speaker = pd.crosstab(frame["speaker"], frame["digit"], margins=True, margins_name="total")
    by_split = pd.crosstab(frame["split"], frame["digit"], margins=True, margins_name="total")
    by_split = by_split.reindex([s for s in (*SPLITS, "total") if s in by_split.index])
    return by_speaker.reset_index(), by_split.reset_index()


def read_dataset(path, splits=None):
    """Read the combined dataset, optionally only some splits."""
    frame = pd.read_parquet(path)
    if splits is not None:
        frame = frame[frame["split"].isin(splits)].reset_index(drop=True)
    return frame


def read_training_voices(path):
    """The training voices' rows (voices.training_voices) of a rule input that is their one
    file, or [] when the model does not train on them: a frame, or None."""
    return read_dataset(path) if path else None
