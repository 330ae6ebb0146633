import shutil

import numpy as np
import pandas as pd
import pytest

from fsdd_pipeline.dataset import (
    RejectedRecordingsError,
    assign_splits,
    count_tables,
    feature_stack,
    read_feature_batches,
)
from fsdd_pipeline.extraction import REJECTED_FILE, extract_batch
from fsdd_pipeline.features import FeatureParams
from fsdd_pipeline.metadata import read_speakers

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
