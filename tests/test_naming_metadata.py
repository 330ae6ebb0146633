import os

import pytest

from fsdd_pipeline.data.metadata import read_speakers, speaker_metadata
from fsdd_pipeline.errors import RecordingError
from fsdd_pipeline.planning import batches
from fsdd_pipeline.planning.batches import RecordingBatches, batch_count, batch_of, recordings_stamp
from fsdd_pipeline.planning.naming import list_recordings, parse_recording_name

from .conftest import PROJECT, write_tone


def test_parse_recording_name():
    name = parse_recording_name("/data/7_jackson_32.wav")
    assert (name.digit, name.speaker, name.index, name.stem) == (7, "jackson", 32, "7_jackson_32")
    assert parse_recording_name("0_theo_0.FLAC").speaker == "theo"


@pytest.mark.parametrize(
    "file_name", ["seven_jackson_3.wav", "12_theo_1.wav", "1_theo.wav", "1_Theo_x.wav", "1_theo_1"]
)
def test_misnamed_recordings_are_rejected_with_file_and_reason(file_name):
    with pytest.raises(RecordingError) as error:
        parse_recording_name(f"/data/{file_name}")
    assert file_name in str(error.value)
    assert "expected" in error.value.reason


def test_speaker_table_and_unknown_speaker():
    speakers = read_speakers(PROJECT / "config/speakers.csv")
    assert len(speakers) == 6
    assert speakers["nicolas"] == {"gender": "male", "accent": "BEL/French"}
    with pytest.raises(RecordingError, match=r"3_zoe_1\.wav: unknown speaker 'zoe'"):
        speaker_metadata(speakers, "zoe", "3_zoe_1.wav")


def test_batches_are_stable_and_listing_keeps_audio_only(tmp_path):
    assert batch_of("3_theo_4.wav", 4) == batch_of("3_theo_4.wav", 4)
    assert {batch_of(f"{d}_theo_{i}.wav", 4) for d in range(10) for i in range(50)} == {
        f"batch{n:03d}" for n in range(4)
    }
    for name in ("b.wav", "a.flac", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert list_recordings(tmp_path) == ["a.flac", "b.wav"]


@pytest.mark.parametrize("suffix", [".m4a", ".webm", ".aac", ".wma", ".M4A"])
def test_unsupported_audio_is_listed_and_rejected_by_format(tmp_path, suffix):
    for name in ("3_theo_1.wav", f"3_theo_2{suffix}", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert list_recordings(tmp_path) == ["3_theo_1.wav", f"3_theo_2{suffix}"]
    with pytest.raises(RecordingError) as error:
        parse_recording_name(tmp_path / f"3_theo_2{suffix}")
    assert error.value.reason == (
        f"unsupported format {suffix.lower()}: convert to WAV, FLAC, OGG (Vorbis or Opus), "
        "MP3 or AIFF"
    )


@pytest.mark.parametrize("suffix", [".flac", ".ogg", ".opus", ".mp3", ".aiff", ".MP3"])
def test_recordings_in_other_formats_are_listed_and_named_as_wavs_are(tmp_path, suffix):
    (tmp_path / f"3_theo_2{suffix}").write_bytes(b"")
    assert list_recordings(tmp_path) == [f"3_theo_2{suffix}"]
    assert parse_recording_name(tmp_path / f"3_theo_2{suffix}").stem == "3_theo_2"


def test_batch_count_follows_recordings_per_batch_unless_fixed():
    assert batch_count(3000, 800) == 4  # FSDD with the default config
    assert batch_count(3200, 800) == 4 and batch_count(3201, 800) == 5
    assert batch_count(140, 800) == 1 and batch_count(0, 800) == 1
    assert batch_count(3000, 800, batches=7) == 7
    assert batch_count(3000, 800, batches=None) == 4


def test_recording_batches_list_the_folder_once_for_every_question(tmp_path, monkeypatch):
    names = [f"{d}_{s}_{i}.wav" for s in ("theo", "zoe2") for d in (3, 1) for i in range(6)]
    for name in [*names, "notes.txt", "misnamed.wav"]:
        (tmp_path / name).write_bytes(b"")
    listings = []
    monkeypatch.setattr(
        batches,
        "list_recordings",
        lambda folder: listings.append(folder) or list_recordings(folder),
    )
    recordings = RecordingBatches(tmp_path, recordings_per_batch=10)

    assert recordings.n_batches == batch_count(len(names) + 1, 10) == 3
    assert list(recordings.by_batch) == ["batch000", "batch001", "batch002"]
    for batch, paths in recordings.by_batch.items():
        assert all(batch_of(os.path.basename(path), 3) == batch for path in paths)
    batched = sorted(path for paths in recordings.by_batch.values() for path in paths)
    assert (
        batched
        == list(recordings.paths)
        == [str(tmp_path / n) for n in sorted(names + ["misnamed.wav"])]
    )
    assert recordings.speakers == ["theo", "zoe2"]
    assert recordings.first_per_digit == {
        1: str(tmp_path / "1_theo_0.wav"),
        3: str(tmp_path / "3_theo_0.wav"),
    }
    assert RecordingBatches(tmp_path, 10, batches=2).n_batches == 2
    assert len(listings) == 2, "one listing per instance, however often it is asked"


def test_recordings_stamp_follows_names_sizes_and_modification_times(tmp_path):
    paths = [write_tone(tmp_path / f"{digit}_theo_0.wav", 300 + digit) for digit in (1, 2)]
    for path in paths:
        os.utime(path, ns=(0, 0))
    stamp = recordings_stamp(paths)
    assert recordings_stamp(paths) == stamp
    assert recordings_stamp(paths[:1]) != stamp

    write_tone(paths[1], 999, seconds=0.6)
    os.utime(paths[1], ns=(0, 0))  # the same time, another size
    resized = recordings_stamp(paths)
    assert resized != stamp

    os.utime(paths[1], ns=(10**9, 10**9))
    assert recordings_stamp(paths) != resized

    renamed = paths[1].rename(tmp_path / "2_theo_1.wav")
    os.utime(renamed, ns=(10**9, 10**9))
    assert recordings_stamp([paths[0], renamed]) != recordings_stamp(paths[:1]) != stamp
