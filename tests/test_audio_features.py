import numpy as np
import pytest
import soundfile

from fsdd_pipeline.audio import load_audio, prepare_samples
from fsdd_pipeline.errors import RecordingError
from fsdd_pipeline.features import (
    FeatureParams,
    extract_features,
    flatten_feature,
    silence_frame,
    unflatten_feature,
)
from fsdd_pipeline.librosa_runtime import load_librosa

from .conftest import write_tone

PARAMS = FeatureParams()


def test_stereo_other_rate_is_downmixed_and_resampled(tmp_path):
    path = write_tone(tmp_path / "tone.wav", rate=44100, channels=2, seconds=0.5)
    samples = load_audio(path, 8000, trim_top_db=None)
    assert samples.ndim == 1 and samples.dtype == np.float32
    assert abs(samples.size - 4000) <= 2


def test_silence_padding_is_trimmed(tmp_path):
    rate = 8000
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(rate // 2) / rate)
    padded = np.concatenate([np.zeros(rate // 2), tone, np.zeros(rate // 2)])
    soundfile.write(tmp_path / "padded.wav", padded, rate, subtype="PCM_16")
    trimmed = load_audio(tmp_path / "padded.wav", rate, trim_top_db=30)
    assert 0.45 * rate < trimmed.size < 0.6 * rate


@pytest.mark.parametrize(
    "content, reason",
    [(b"", "cannot read audio"), (b"RIFF\x00\x00garbage" * 10, "cannot read audio")],
)
def test_corrupt_and_empty_files_name_file_and_reason(tmp_path, content, reason):
    path = tmp_path / "1_theo_3.wav"
    path.write_bytes(content)
    with pytest.raises(RecordingError, match=reason) as error:
        load_audio(path, 8000)
    assert "1_theo_3.wav" in str(error.value)


def test_wav_without_samples_is_empty_audio(tmp_path):
    path = tmp_path / "2_theo_3.wav"
    soundfile.write(path, np.zeros(0, dtype=np.float32), 8000)
    with pytest.raises(RecordingError, match="2_theo_3.wav: empty audio"):
        load_audio(path, 8000)


def test_missing_file(tmp_path):
    with pytest.raises(RecordingError, match="file not found"):
        load_audio(tmp_path / "nope.wav", 8000)


def test_all_zero_samples_are_rejected():
    with pytest.raises(RecordingError, match="silent audio"):
        prepare_samples(np.zeros(800), 8000, 8000)


def test_feature_shapes_and_known_values_of_a_tone():
    rate = PARAMS.sample_rate
    tone = (0.5 * np.sin(2 * np.pi * 440 * np.arange(rate) / rate)).astype(np.float32)
    features = extract_features(tone, PARAMS)
    frames = 1 + rate // PARAMS.hop_length
    assert features["mfcc"].shape == (PARAMS.n_mfcc, frames)
    assert features["chroma"].shape == (12, frames)
    assert features["spectrogram"].shape == (PARAMS.n_mels, frames)
    # 440 Hz is the pitch class A (index 9 from C).
    assert np.argmax(features["chroma"][:, frames // 2]) == 9
    # The loudest mel band holds 440 Hz and sits at 0 dB (the peak reference).
    librosa = load_librosa()

    centres = librosa.mel_frequencies(PARAMS.n_mels + 2, fmax=rate / 2)[1:-1]
    loudest = np.argmax(features["spectrogram"][:, frames // 2])
    assert abs(centres[loudest] - 440) < 60
    assert features["spectrogram"].max() == pytest.approx(0.0)
    assert features["spectrogram"].min() >= -PARAMS.top_db


def test_features_do_not_depend_on_gain():
    rng = np.random.default_rng(0)
    noise = rng.standard_normal(4000).astype(np.float32) * 0.1
    loud, quiet = extract_features(noise, PARAMS), extract_features(noise * 0.25, PARAMS)
    np.testing.assert_allclose(loud["spectrogram"], quiet["spectrogram"], atol=1e-3)


def test_silence_frame_matches_features_of_silence_floor():
    floor = np.full((PARAMS.n_mels, 3), -PARAMS.top_db, dtype=np.float32)
    librosa = load_librosa()

    mfcc = librosa.feature.mfcc(S=floor, n_mfcc=PARAMS.n_mfcc)[:, 0]
    np.testing.assert_allclose(silence_frame("mfcc", PARAMS), mfcc, rtol=1e-5)
    assert silence_frame("spectrogram", PARAMS).shape == (PARAMS.n_mels,)
    assert not silence_frame("chroma", PARAMS).any()


def test_flatten_round_trip_is_exact():
    matrix = np.random.default_rng(1).standard_normal((40, 17)).astype(np.float32)
    values, shape = flatten_feature(matrix)
    np.testing.assert_array_equal(unflatten_feature(list(values), shape), matrix)
