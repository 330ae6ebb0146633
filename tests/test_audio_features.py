import struct

import numpy as np
import pytest
import soundfile

from fsdd_pipeline.audio.endpoint import EndpointParams
from fsdd_pipeline.audio.reading import load_audio, prepare_clip
from fsdd_pipeline.errors import RecordingError
from fsdd_pipeline.features.codec import flatten_feature, unflatten_feature
from fsdd_pipeline.features.librosa_runtime import load_librosa
from fsdd_pipeline.features.pooling import fit_frames
from fsdd_pipeline.features.spectral import FeatureParams, extract_features, silence_frame

from .conftest import fsdd_recordings, requires_fsdd, write_tone

PARAMS = FeatureParams()


def test_stereo_other_rate_is_downmixed_and_resampled(tmp_path):
    path = write_tone(tmp_path / "tone.wav", rate=44100, channels=2, seconds=0.5)
    samples = load_audio(path, 8000, endpoint=None)
    assert samples.ndim == 1 and samples.dtype == np.float32
    assert abs(samples.size - 4000) <= 2


def test_silence_padding_is_cut_by_endpointing(tmp_path):
    rate = 8000
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(rate // 2) / rate)
    padded = np.concatenate([np.zeros(rate // 2), tone, np.zeros(rate // 2)])
    soundfile.write(tmp_path / "padded.wav", padded, rate, subtype="PCM_16")
    trimmed = load_audio(tmp_path / "padded.wav", rate, endpoint=EndpointParams())
    # The 0.5 s tone and a 50 ms margin on each side (plus part of a 10 ms analysis hop).
    assert 0.45 * rate < trimmed.size < 0.65 * rate


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
        prepare_clip(np.zeros(800), 8000, 8000)[0]


def test_wav_cut_to_its_first_100_bytes_is_truncated(tmp_path):
    path = write_tone(tmp_path / "1_theo_3.wav", seconds=0.5)
    path.write_bytes(path.read_bytes()[:100])
    assert soundfile.info(path).frames == 28, "libsndfile itself reads the 28 samples present"
    with pytest.raises(RecordingError, match="1_theo_3.wav: truncated file") as error:
        load_audio(path, 8000)
    assert "promises 0.500 s of audio (8000 bytes)" in error.value.reason
    assert "holds only 0.0035 s (56 bytes)" in error.value.reason


def test_wav_cut_inside_its_header_is_truncated(tmp_path):
    path = write_tone(tmp_path / "1_theo_4.wav")
    path.write_bytes(path.read_bytes()[:30])
    with pytest.raises(RecordingError, match="truncated file: .* before its audio data"):
        load_audio(path, 8000)


@pytest.mark.parametrize("endian, container", [("BIG", "WAV"), ("LITTLE", "RF64")])
def test_big_endian_and_rf64_wavs_cut_short_are_truncated(tmp_path, endian, container):
    path = tmp_path / "tone.wav"
    tone = 0.5 * np.sin(2 * np.pi * 440 * np.arange(4000) / 8000)
    soundfile.write(path, tone, 8000, format=container, subtype="PCM_16", endian=endian)
    load_audio(path, 8000)  # complete: fine
    path.write_bytes(path.read_bytes()[:1000])
    with pytest.raises(RecordingError, match="truncated file: the WAV header promises 0.500 s"):
        load_audio(path, 8000)


def test_wav_whose_writer_left_the_size_open_is_read_whole(tmp_path):
    data = bytearray(write_tone(tmp_path / "streamed.wav", seconds=0.5).read_bytes())
    chunk = data.index(b"data")
    data[4:8] = data[chunk + 4 : chunk + 8] = struct.pack("<I", 0xFFFFFFFF)
    (tmp_path / "streamed.wav").write_bytes(data)
    assert load_audio(tmp_path / "streamed.wav", 8000).size == 4000


def test_flac_cut_short_is_truncated_or_corrupt(tmp_path):
    path = tmp_path / "2_theo_3.flac"
    soundfile.write(path, 0.5 * np.sin(np.arange(8000) / 3), 8000)
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])
    with pytest.raises(RecordingError, match="2_theo_3.flac: truncated or corrupt file") as error:
        load_audio(path, 8000)
    assert "the header promises 1.000 s of audio" in error.value.reason


def test_dithered_silence_has_no_speech(tmp_path):
    path = tmp_path / "3_theo_3.wav"
    dither = np.random.default_rng(0).standard_normal(8000) * 10 ** (-90 / 20)
    soundfile.write(path, dither, 8000, subtype="PCM_16")
    assert soundfile.read(path)[0].any(), "the dither survives 16-bit quantization"
    with pytest.raises(RecordingError, match=r"3_theo_3.wav: no speech: the loudest 32 ms is -8"):
        load_audio(path, 8000, endpoint=EndpointParams())


def test_noise_66_db_below_full_scale_has_no_speech(tmp_path):
    path = tmp_path / "4_theo_3.wav"
    noise = np.random.default_rng(0).standard_normal(8000) * 10 ** (-66 / 20)
    soundfile.write(path, noise, 8000, subtype="PCM_16")
    with pytest.raises(RecordingError, match="4_theo_3.wav: no speech: the spectrum is as flat"):
        load_audio(path, 8000, endpoint=EndpointParams())


def test_loud_noise_has_no_speech_but_noisy_speech_does():
    rng = np.random.default_rng(1)
    with pytest.raises(RecordingError, match="no speech"):
        prepare_clip(0.3 * rng.standard_normal(8000), 8000, 8000)[0]
    tone = 0.5 * np.sin(2 * np.pi * 300 * np.arange(4000) / 8000)
    noisy = tone + rng.standard_normal(4000) * np.std(tone) / np.sqrt(10)  # 10 dB SNR
    assert prepare_clip(noisy, 8000, 8000)[0].size == 4000


def test_clip_shorter_than_the_minimum_after_cropping_is_rejected(tmp_path):
    rate = 8000
    blip = 0.5 * np.sin(2 * np.pi * 440 * np.arange(int(0.05 * rate)) / rate)
    path = tmp_path / "5_theo_3.wav"
    soundfile.write(path, blip, rate)
    with pytest.raises(RecordingError, match=r"5_theo_3.wav: too short: 0.0\d\d s of sound"):
        load_audio(path, rate, endpoint=EndpointParams())
    assert load_audio(path, rate, endpoint=EndpointParams(), min_duration_s=0.02).size < 0.1 * rate


@pytest.mark.parametrize(
    ("suffix", "container", "subtype", "rate"),
    [
        (".ogg", "OGG", "VORBIS", 8000),
        (".opus", "OGG", "OPUS", 16000),  # Opus codes only 8, 12, 16, 24 or 48 kHz
        (".mp3", "MP3", "MPEG_LAYER_III", 16000),
        (".aiff", "AIFF", "PCM_16", 8000),
    ],
)
def test_phone_and_browser_formats_read_as_the_wav_does(tmp_path, suffix, container, subtype, rate):
    # A voiced "word": harmonics of 120 Hz under a 0.4 s envelope, in silence.
    t = np.arange(int(0.8 * rate)) / rate
    envelope = np.clip(1 - np.abs(t - 0.4) / 0.2, 0, 1)
    word = 0.3 * envelope * sum(np.sin(2 * np.pi * 120 * k * t) / k for k in range(1, 8))
    wav, other = tmp_path / "1_theo_3.wav", tmp_path / f"1_theo_3{suffix}"
    soundfile.write(wav, word, rate, subtype="PCM_16")
    soundfile.write(other, word, rate, format=container, subtype=subtype)
    reference, decoded = load_audio(wav, 8000), load_audio(other, 8000)
    # Lossy codecs shift and smear a little: the same word, within a few samples.
    assert abs(decoded.size - reference.size) <= 0.02 * 8000
    n = min(decoded.size, reference.size)
    assert np.corrcoef(decoded[:n], reference[:n])[0, 1] > 0.9


def test_audio_in_a_format_not_taken_is_refused_whatever_its_name(tmp_path):
    path = tmp_path / "6_theo_3.wav"  # a CAF file under a WAV name
    soundfile.write(path, 0.5 * np.sin(np.arange(8000) / 3), 8000, format="CAF")
    expected = "unsupported format CAF: convert to WAV, FLAC, OGG .Vorbis or Opus., MP3 or AIFF"
    with pytest.raises(RecordingError, match=expected):
        load_audio(path, 8000)


@pytest.mark.parametrize("rate", [999, 1_000_000_000])
def test_sample_rate_outside_the_supported_range_is_refused(rate):
    with pytest.raises(RecordingError, match=f"sample rate {rate} Hz is outside the supported"):
        prepare_clip(np.ones(rate // 100), rate, 8000)[0]


@requires_fsdd
def test_no_fsdd_recording_is_rejected():
    """The checks must keep all of FSDD: the shortest clip is 0.12 s after trimming."""
    params = FeatureParams()
    durations = [
        load_audio(path, params.sample_rate, params.endpoint, params.min_duration_s).size
        / params.sample_rate
        for path in sorted(fsdd_recordings().glob("*.wav"))
    ]
    assert len(durations) == 3000
    assert min(durations) >= 0.12


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


def test_fit_frames_crops_centred_and_pads_at_the_end_or_around():
    matrix = np.arange(1, 7, dtype=np.float32).reshape(2, 3)  # 2 rows, 3 frames
    silence = np.zeros(2, dtype=np.float32)
    np.testing.assert_array_equal(fit_frames(matrix, 1, silence), [[2, 5]])
    np.testing.assert_array_equal(
        fit_frames(matrix, 6, silence), [[1, 4], [2, 5], [3, 6], [0, 0], [0, 0], [0, 0]]
    )
    np.testing.assert_array_equal(
        fit_frames(matrix, 6, silence, pad="around"),
        [[0, 0], [1, 4], [2, 5], [3, 6], [0, 0], [0, 0]],
    )
    with pytest.raises(ValueError, match="pad must be one of"):
        fit_frames(matrix, 6, silence, pad="start")
