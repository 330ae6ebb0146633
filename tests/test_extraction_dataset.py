import shutil

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import soundfile

from fsdd_pipeline.data import dataset
from fsdd_pipeline.data.dataset import (
    RejectedRecordingsError,
    assign_splits,
    count_tables,
    read_dataset,
    read_feature_batches,
    read_feature_table,
    sort_by_file_name,
    split_feature_table,
)
from fsdd_pipeline.data.extraction import (
    FEATURE_SCHEMA,
    REJECTED_FILE,
    extract_batch,
    feature_path,
    write_record,
)
from fsdd_pipeline.data.metadata import read_speakers
from fsdd_pipeline.features.codec import feature_stack
from fsdd_pipeline.features.spectral import FEATURE_NAMES, FeatureParams
from fsdd_pipeline.io import write_csv, write_parquet_table
from fsdd_pipeline.planning.naming import parse_recording_name

from .conftest import PROJECT, write_tone

SPEAKERS = read_speakers(PROJECT / "config/speakers.csv")


def test_bad_recordings_are_rejected_and_the_rest_extracted(tmp_path):
    wavs = tmp_path / "wavs"
    wavs.mkdir()
    good = [write_tone(wavs / f"{d}_theo_{i}.wav", 200 + 50 * d) for d in (1, 2) for i in (0, 7)]
    (wavs / "3_theo_9.wav").write_bytes(b"not audio at all")
    write_tone(wavs / "three_theo_9.wav")
    write_tone(wavs / "4_zoe_9.wav")
    out = tmp_path / "batch000"
    rejected = dict(extract_batch(sorted(wavs.iterdir()), out, FeatureParams(), SPEAKERS))
    assert set(rejected) == {"3_theo_9.wav", "three_theo_9.wav", "4_zoe_9.wav"}
    assert "cannot read audio" in rejected["3_theo_9.wav"]
    assert "misnamed" in rejected["three_theo_9.wav"]
    assert "unknown speaker 'zoe'" in rejected["4_zoe_9.wav"]
    assert sorted(p.name for p in out.glob("*.parquet")) == sorted(
        p.with_suffix(".parquet").name for p in good
    )
    assert not list(out.glob(".*")), "no temporary files may be left behind"

    with pytest.raises(RejectedRecordingsError, match="3_theo_9.wav: cannot read audio"):
        read_feature_batches([out])
    frame = read_feature_batches([out], allow_rejected=True)
    assert len(frame) == 4


def test_truncated_speechless_short_and_mp3_recordings_are_rejected_by_name(tmp_path):
    wavs = tmp_path / "wavs"
    wavs.mkdir()
    rng = np.random.default_rng(0)
    good = write_tone(wavs / "1_theo_7.wav")
    truncated = write_tone(wavs / "2_theo_7.wav")
    truncated.write_bytes(truncated.read_bytes()[:100])
    soundfile.write(wavs / "3_theo_7.wav", rng.standard_normal(8000) * 10 ** (-90 / 20), 8000)
    soundfile.write(wavs / "4_theo_7.wav", rng.standard_normal(8000) * 10 ** (-66 / 20), 8000)
    write_tone(wavs / "5_theo_7.wav", seconds=0.05)
    write_tone(tmp_path / "tone.wav").rename(wavs / "6_theo_7.m4a")  # the name alone rejects it
    out = tmp_path / "batch000"
    rejected = dict(extract_batch(sorted(wavs.iterdir()), out, FeatureParams(), SPEAKERS))
    assert sorted(rejected) == [f"{d}_theo_7.{'m4a' if d == 6 else 'wav'}" for d in range(2, 7)]
    assert rejected["2_theo_7.wav"].startswith("truncated file: the WAV header promises 0.500 s")
    assert rejected["3_theo_7.wav"].startswith("no speech: the loudest 32 ms is")
    assert rejected["4_theo_7.wav"].startswith("no speech: the spectrum is as flat as noise")
    assert rejected["5_theo_7.wav"].startswith("too short: 0.050 s of sound after cropping")
    assert rejected["6_theo_7.m4a"].startswith("unsupported format .m4a: convert to WAV, FLAC")
    listed = pd.read_csv(out / REJECTED_FILE).set_index("file_name")["reason"].to_dict()
    assert listed == rejected
    assert [p.name for p in out.glob("*.parquet")] == [good.with_suffix(".parquet").name]
    with pytest.raises(RejectedRecordingsError) as error:
        read_feature_batches([out])
    for name, reason in rejected.items():
        assert f"  {name}: {reason}" in str(error.value)


def test_feature_tables_round_trip_with_shapes(tmp_path):
    path = write_tone(tmp_path / "5_george_3.wav", 300, seconds=0.4)
    extract_batch([path], tmp_path / "out", FeatureParams(), SPEAKERS)
    row = pd.read_parquet(tmp_path / "out/5_george_3.parquet").iloc[0]
    assert (row.digit, row.speaker, row.sample_number) == (5, "george", 3)
    assert (row.gender, row.accent, row.sample_rate) == ("male", "GRC/Greek", 8000)
    assert row.duration_s == pytest.approx(0.4, abs=0.02)
    assert row.rms == pytest.approx(0.5 / np.sqrt(2), rel=0.05)
    frame = read_feature_batches([tmp_path / "out"])
    mfcc = feature_stack(frame, "mfcc")[0]
    assert mfcc.shape == tuple(row.mfcc_shape) and mfcc.shape[0] == 40


def test_splits_use_official_test_takes_and_stratified_validation():
    frame = pd.DataFrame(
        [(s, d, i) for s in ("a", "b") for d in range(10) for i in range(50)],
        columns=["speaker", "digit", "sample_number"],
    )
    split = assign_splits(frame, val_fraction=0.1, seed=3)
    assert (split.loc[split.sample_number < 5, "split"] == "test").all()
    counts = split.groupby(["speaker", "digit", "split"]).size().unstack()
    assert (counts["test"] == 5).all() and (counts["val"] == 5).all()  # 0.1 * 45, rounded up
    assert split.equals(assign_splits(frame, 0.1, 3))
    assert not split["split"].equals(assign_splits(frame, 0.1, 4)["split"])
    by_speaker, by_split = count_tables(split)
    assert by_speaker.set_index("speaker").loc["total", "total"] == 1000
    assert list(by_split["split"]) == ["train", "val", "test", "total"]


def test_rejected_list_is_required(tmp_path):
    (tmp_path / "b").mkdir()
    with pytest.raises(FileNotFoundError, match=REJECTED_FILE):
        read_feature_batches([tmp_path / "b"])
    shutil.rmtree(tmp_path / "b")


def write_feature_files(folder, names, seed=0):
    """One-row feature tables (FEATURE_SCHEMA) of made-up recordings, as extraction writes them."""
    rng = np.random.default_rng(seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        parsed = parse_recording_name(name)
        record = {
            "file_name": name,
            "digit": parsed.digit,
            "speaker": parsed.speaker,
            "sample_number": parsed.index,
            "gender": "male",
            "accent": "USA/neutral",
            "duration_s": 0.5,
            "sample_rate": 8000,
            "rms": float(rng.random()),
            "speech_found": True,
            "words": 1,
            "cut_s": 0.0,
            "samples": rng.standard_normal(int(rng.integers(50, 90))).astype(np.float32),
        }
        for feature in FEATURE_NAMES:
            frames = int(rng.integers(2, 5))
            record[feature] = rng.standard_normal(3 * frames).astype(np.float32)
            record[f"{feature}_shape"] = [3, frames]
        write_record(record, feature_path(folder, name))
    write_csv(pd.DataFrame(columns=["file_name", "reason"]), folder / REJECTED_FILE)


def test_feature_table_reads_batches_in_name_order_in_few_chunks(tmp_path, monkeypatch):
    names = [f"{d}_{s}_{i}.wav" for d in range(3) for s in ("theo", "lucas") for i in (0, 7, 10)]
    write_feature_files(tmp_path / "batch000", names[::2])
    write_feature_files(tmp_path / "batch001", names[1::2], seed=1)
    monkeypatch.setattr(dataset, "CHUNK_ROWS", 4)
    table = read_feature_table([tmp_path / "batch000", tmp_path / "batch001"])

    assert table.schema.equals(FEATURE_SCHEMA)
    assert table["file_name"].to_pylist() == sorted(names)
    assert table["samples"].num_chunks == 5  # 18 files, 4 at a time: not one chunk per file
    frame = read_feature_batches([tmp_path / "batch000", tmp_path / "batch001"])
    by_file = pd.concat(
        [pd.read_parquet(p) for p in tmp_path.glob("batch*/*.parquet")], ignore_index=True
    )
    by_file = by_file.sort_values("file_name", ignore_index=True)
    for column in by_file.columns:
        assert all(map(np.array_equal, frame[column], by_file[column])), column


def test_sorting_by_file_name_copies_only_when_out_of_order():
    table = pa.table({"file_name": ["1_a_0.wav", "1_a_10.wav", "1_a_2.wav"], "x": [1, 2, 3]})
    assert sort_by_file_name(table) is table
    shuffled = sort_by_file_name(table.take([2, 0, 1]))
    assert shuffled.equals(table)


def test_no_feature_tables_give_an_empty_table(tmp_path):
    write_feature_files(tmp_path / "batch000", [])
    table = read_feature_table([tmp_path / "batch000"])
    assert table.num_rows == 0 and table.schema.equals(FEATURE_SCHEMA)


def test_split_table_keeps_every_feature_and_adds_the_splits_of_assign_splits(tmp_path):
    names = [f"{d}_{s}_{i}.wav" for d in range(2) for s in ("theo", "zoe") for i in range(12)]
    write_feature_files(tmp_path / "batch000", names)
    table = read_feature_table([tmp_path / "batch000"])
    combined, splits = split_feature_table(table, val_fraction=0.25, seed=5)

    assert combined.column_names == [*FEATURE_SCHEMA.names, "split"]
    assert combined.drop_columns(["split"]).equals(table)
    expected = assign_splits(table.to_pandas(), val_fraction=0.25, seed=5)["split"]
    assert combined["split"].to_pylist() == splits["split"].tolist() == expected.tolist()
    assert splits.groupby("split").size().to_dict() == {"test": 20, "train": 20, "val": 8}

    write_parquet_table(combined, tmp_path / "features.parquet")
    written = read_dataset(tmp_path / "features.parquet")
    assert written["split"].tolist() == expected.tolist()
    assert all(map(np.array_equal, written["mfcc"], table["mfcc"].to_pandas()))


def test_splits_without_validation_share():
    frame = pd.DataFrame({"speaker": ["a"] * 8, "digit": [1] * 8, "sample_number": range(8)})
    assert (
        assign_splits(frame, val_fraction=0.0, seed=0)["split"].tolist()
        == ["test"] * 5 + ["train"] * 3
    )
