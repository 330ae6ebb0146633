"""librosa's Numba kernels: many processes starting together on a cold cache must not crash,
nor leave a cache that crashes the next process (it did: SIGSEGV on the first parallel run)."""

import os
import subprocess
import sys

from fsdd_pipeline.features import librosa_runtime
from fsdd_pipeline.features.librosa_runtime import load_librosa

from .conftest import write_tone

# The feature extraction and augmentation paths of the pipeline, in a fresh interpreter.
EXTRACT_AND_AUGMENT = """
import sys
from fsdd_pipeline.audio.reading import load_audio
from fsdd_pipeline.augment.waveform import change_speed, shift_pitch
from fsdd_pipeline.audio.endpoint import EndpointParams
from fsdd_pipeline.features.spectral import FeatureParams, extract_features

samples = load_audio(sys.argv[1], 8000, EndpointParams())
extract_features(samples, FeatureParams())
extract_features(change_speed(shift_pitch(samples, 8000, 1.0), 1.1), FeatureParams())
"""
PARALLEL_PROCESSES = 6


def run_all(commands, env):
    processes = [
        subprocess.Popen(c, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        for c in commands
    ]
    return [(p.wait(timeout=600), p.stdout.read().decode(errors="replace")) for p in processes]


def test_parallel_processes_on_a_cold_cache_then_one_more(tmp_path):
    wav = write_tone(tmp_path / "3_theo_1.wav", seconds=0.6)
    cache = tmp_path / "numba-cache"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    command = [sys.executable, "-c", EXTRACT_AND_AUGMENT, str(wav)]

    results = run_all([command] * PARALLEL_PROCESSES, env)
    results += run_all([command], env)

    for code, output in results:
        # A negative code is a signal: -11 is the segmentation fault this guards against.
        assert code == 0, f"extraction process exited {code}:\n{output[-3000:]}"
    # The kernel the crash was traced to (chroma -> estimate_tuning) lives in our cache.
    cached = {path.name for path in cache.rglob("*.nbi")}
    assert any("pitch._pi_wrapper" in name for name in cached), sorted(cached)


def test_a_process_compiles_the_kernels_of_the_uses_it_names_once(monkeypatch):
    """Extraction and prediction name "features" only: augmentation's kernels (pitch shift)
    cost them a second a process for nothing."""
    calls = []
    uses = {name: (lambda librosa, name=name: calls.append(name)) for name in ("a", "b")}
    monkeypatch.setattr(librosa_runtime, "KERNEL_USES", uses)
    librosa_runtime._compile_kernels.cache_clear()
    try:
        load_librosa("a")
        load_librosa("a")
        assert calls == ["a"]
        assert load_librosa().__name__ == "librosa"
        assert calls == ["a", "b"]
    finally:
        librosa_runtime._compile_kernels.cache_clear()
