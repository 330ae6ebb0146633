import base64
import importlib.metadata
import inspect
import subprocess
import sys
import sysconfig
from pathlib import Path

import numpy as np
import pytest
import soundfile

from fsdd_pipeline.features import embedding
from fsdd_pipeline.features.embedding import (
    EMBEDDING_SIZE,
    EmbeddingParams,
    embedding_frames,
    get_embedder,
    model_files,
    model_sha256,
)
from fsdd_pipeline.features.pooling import summary_statistics

from .conftest import fsdd_recordings, requires_fsdd

RATE = 8000


def tone(seconds, frequency=300.0, amplitude=0.3):
    t = np.arange(int(seconds * RATE)) / RATE
    return (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)


@pytest.mark.parametrize("seconds", [0.2, 0.9, 1.0, 2.5])
def test_embedding_shape_and_dtype(seconds):
    frames = get_embedder().embed(tone(seconds), RATE)
    assert frames.dtype == np.float32 and frames.shape[1] == EMBEDDING_SIZE
    assert frames.shape[0] == embedding_frames(int(seconds * RATE), RATE)
    assert np.all(np.isfinite(frames))


def test_short_clips_give_a_few_frames_and_longer_ones_one_per_80_ms():
    assert embedding_frames(int(0.3 * RATE), RATE) == 9  # padded to 1.5 s
    assert embedding_frames(int(0.3 * RATE), RATE, EmbeddingParams(min_seconds=0.5)) == 1
    assert embedding_frames(int(2.8 * RATE), RATE) - embedding_frames(2 * RATE, RATE) == 10


def test_embedding_is_deterministic_and_the_models_load_once():
    clip = tone(0.6) + np.random.default_rng(0).standard_normal(int(0.6 * RATE)).astype("f4") * 0.01
    assert get_embedder() is get_embedder(EmbeddingParams(), threads=1)
    first = get_embedder().embed(clip, RATE)
    np.testing.assert_array_equal(first, get_embedder().embed(clip.copy(), RATE))
    np.testing.assert_array_equal(first, embedding.SpeechEmbedder().embed(clip, RATE))


def test_short_clip_is_padded_symmetrically():
    audio = get_embedder().model_audio(tone(0.5), RATE)
    assert len(audio) == 24000  # 1.5 s at 16 kHz
    sound = np.flatnonzero(np.abs(audio) > 1)
    assert abs(sound[0] - (len(audio) - 1 - sound[-1])) <= 2
    assert np.abs(audio).max() == pytest.approx(0.3 * 32767, rel=0.02)  # int16 scale


def test_pooled_embedding_has_mean_max_and_spread():
    frames = np.arange(12, dtype=np.float32).reshape(2, 6)
    pooled = summary_statistics(frames, axis=0)
    assert pooled.shape == (18,) and pooled.dtype == np.float32
    np.testing.assert_array_equal(pooled[:6], frames.mean(axis=0))
    np.testing.assert_array_equal(pooled[6:12], frames[1])
    np.testing.assert_array_equal(pooled[12:], np.full(6, 3.0))


def test_model_files_are_the_wheels_own():
    """The two ONNX files come from the installed openwakeword package, unmodified."""
    files = model_files()
    assert set(files) == {"melspectrogram", "embedding"}
    site_packages = Path(sysconfig.get_paths()["purelib"]).resolve()
    recorded = {
        Path(entry).name: entry.hash.value
        for entry in importlib.metadata.files("openwakeword")
        if entry.hash is not None
    }
    for name, path in files.items():
        assert path.resolve().is_relative_to(site_packages)
        digest = bytes.fromhex(model_sha256()[name])
        assert base64.urlsafe_b64encode(digest).rstrip(b"=").decode() == recorded[path.name]


def test_no_download_path_and_no_network():
    """The module has no way to fetch anything; embedding works with sockets disabled and
    without importing openwakeword (which would load tflite and its wake-word code)."""
    source = inspect.getsource(embedding)
    for word in ("http", "urllib", "requests", "download(", "socket"):
        assert word not in source
    script = (
        "import socket, sys\n"
        "def refuse(*args, **kwargs):\n"
        "    raise OSError('network access attempted')\n"
        "socket.socket.connect = socket.socket.connect_ex = refuse\n"
        "socket.create_connection = socket.getaddrinfo = refuse\n"
        "import numpy as np\n"
        "from fsdd_pipeline.features.embedding import get_embedder\n"
        "frames = get_embedder().embed(np.ones(8000, np.float32) * 0.1, 16000)\n"
        "assert frames.shape == (9, 96), frames.shape\n"
        "assert 'openwakeword' not in sys.modules and 'tflite_runtime' not in sys.modules\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def test_bad_input_is_refused():
    with pytest.raises(ValueError, match="1-D"):
        get_embedder().embed(np.zeros((100, 2), np.float32), RATE)
    with pytest.raises(ValueError, match="1-D"):
        get_embedder().embed(np.zeros(0, np.float32), RATE)


@requires_fsdd
def test_fsdd_embeddings_of_one_digit_are_closer_than_of_another():
    def pooled(name):
        samples, rate = soundfile.read(fsdd_recordings() / name, dtype="float32")
        return summary_statistics(get_embedder().embed(samples, rate), axis=0)

    one_a, one_b, six = (
        pooled("1_jackson_5.wav"),
        pooled("1_jackson_6.wav"),
        pooled("6_jackson_5.wav"),
    )
    assert np.linalg.norm(one_a - one_b) < np.linalg.norm(one_a - six)


@pytest.mark.parametrize("seconds", [0.3, 1.5, 1.57, 2.9])
def test_one_run_over_the_sequence_gives_every_windows_embedding_bit_for_bit(seconds):
    """The rewritten model (embedding.sequence_model) against the published one run on each
    76-frame window every 8 frames, as openWakeWord runs it."""
    import onnxruntime

    embedder = get_embedder(EmbeddingParams(min_seconds=1.5))
    rng = np.random.default_rng(3)
    clip = tone(seconds) + (0.01 * rng.standard_normal(int(seconds * RATE))).astype(np.float32)
    mel = embedder.mel_frames(embedder.model_audio(clip, RATE))
    windows = np.stack(
        [
            mel[start : start + embedding.WINDOW_FRAMES]
            for start in range(0, len(mel) - embedding.WINDOW_FRAMES + 1, embedding.WINDOW_STEP)
        ]
    )
    published = onnxruntime.InferenceSession(
        str(model_files()["embedding"]), providers=["CPUExecutionProvider"]
    )
    (per_window,) = published.run(None, {"input_1": windows[..., None]})
    np.testing.assert_array_equal(
        embedder.embed(clip, RATE), per_window.reshape(len(windows), EMBEDDING_SIZE)
    )


def test_runs_of_embedding_models_record_the_model_files_and_the_libraries():
    from fsdd_pipeline.tracking.runs import run_tags

    embedding_tags = run_tags("m", {"type": "logreg", "features": ["embedding"]}, "train_model")
    assert {
        "embedding_model_sha256.melspectrogram": model_sha256()["melspectrogram"],
        "embedding_model_sha256.embedding": model_sha256()["embedding"],
    }.items() <= embedding_tags.items()
    for package in ("openwakeword", "onnx", "onnxruntime", "soxr", "soundfile", "librosa"):
        assert f"versions.{package}" in embedding_tags, package
    mfcc_tags = run_tags("m", {"type": "svm", "features": ["mfcc"]}, "train_model")
    assert not any(tag.startswith("embedding_model_sha256") for tag in mfcc_tags)
