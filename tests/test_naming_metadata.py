import pytest

from fsdd_pipeline.errors import RecordingError
from fsdd_pipeline.metadata import read_speakers, speaker_metadata
from fsdd_pipeline.naming import batch_count, batch_of, list_recordings, parse_recording_name

from .conftest import PROJECT


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


@pytest.mark.parametrize("suffix", [".mp3", ".ogg", ".m4a", ".aiff", ".MP3"])
def test_unsupported_audio_is_listed_and_rejected_by_format(tmp_path, suffix):
    for name in ("3_theo_1.wav", f"3_theo_2{suffix}", "notes.txt"):
        (tmp_path / name).write_bytes(b"")
    assert list_recordings(tmp_path) == ["3_theo_1.wav", f"3_theo_2{suffix}"]
    with pytest.raises(RecordingError) as error:
        parse_recording_name(tmp_path / f"3_theo_2{suffix}")
    assert error.value.reason == f"unsupported format {suffix.lower()}: convert to WAV or FLAC"


def test_batch_count_follows_recordings_per_batch_unless_fixed():
    assert batch_count(3000, 800) == 4  # FSDD with the default config
    assert batch_count(3200, 800) == 4 and batch_count(3201, 800) == 5
    assert batch_count(140, 800) == 1 and batch_count(0, 800) == 1
    assert batch_count(3000, 800, batches=7) == 7
    assert batch_count(3000, 800, batches=None) == 4
