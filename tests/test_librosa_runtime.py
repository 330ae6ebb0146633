"""librosa's Numba kernels: many processes starting together on a cold cache must not crash,
nor leave a cache that crashes the next process (it did: SIGSEGV on the first parallel run)."""

import json
import os
import subprocess
import sys

import pytest

from fsdd_pipeline.librosa_runtime import COMPLETE_MARKER, cache_is_complete, kernel_cache_state

from .conftest import write_tone

# The feature extraction and augmentation paths of the pipeline, in a fresh interpreter.
EXTRACT_AND_AUGMENT = """
import sys
from fsdd_pipeline.audio import load_audio
from fsdd_pipeline.augment import change_speed, shift_pitch
from fsdd_pipeline.endpoint import EndpointParams
from fsdd_pipeline.features import FeatureParams, extract_features

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


@pytest.fixture(scope="module")
def parallel_runs(tmp_path_factory):
    """PARALLEL_PROCESSES extractions started together on a cold cache, then one more:
    (the cache folder, [(exit code, output)])."""
    tmp_path = tmp_path_factory.mktemp("numba")
    wav = write_tone(tmp_path / "3_theo_1.wav", seconds=0.6)
    cache = tmp_path / "numba-cache"
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    command = [sys.executable, "-c", EXTRACT_AND_AUGMENT, str(wav)]
    results = run_all([command] * PARALLEL_PROCESSES, env)
    results += run_all([command], env)
    return cache, results


def test_parallel_processes_on_a_cold_cache_then_one_more(parallel_runs):
    cache, results = parallel_runs
    for code, output in results:
        # A negative code is a signal: -11 is the segmentation fault this guards against.
        assert code == 0, f"extraction process exited {code}:\n{output[-3000:]}"
    # The kernel the crash was traced to (chroma -> estimate_tuning) lives in our cache.
    cached = {path.name for path in cache.rglob("*.nbi")}
    assert any("pitch._pi_wrapper" in name for name in cached), sorted(cached)


# load_librosa in a fresh interpreter that fails if it compiles the kernels.
LOAD_WITHOUT_COMPILING = """
from fsdd_pipeline import librosa_runtime

def compile_kernels(librosa):
    raise SystemExit("compiled the kernels")

librosa_runtime._compile_kernels = compile_kernels
librosa_runtime.load_librosa()
"""


def test_a_complete_cache_is_recorded_and_not_compiled_again(parallel_runs):
    cache, _ = parallel_runs
    assert cache_is_complete(cache)
    env = {**os.environ, "NUMBA_CACHE_DIR": str(cache)}
    command = [sys.executable, "-c", LOAD_WITHOUT_COMPILING]
    ((code, output),) = run_all([command], env)
    assert code == 0, output

    # A kernel compiled or rewritten since (a new signature, another process) invalidates
    # the record: the next process compiles under the lock again, and records it anew.
    index = next(cache.rglob("*.nbi"))
    os.utime(index, ns=(0, index.stat().st_mtime_ns + 1_000_000_000))
    assert not cache_is_complete(cache)
    ((code, output),) = run_all([command], env)
    assert code != 0 and "compiled the kernels" in output

    # Another Numba (or Python, or librosa) would not load these kernels: compile again.
    state = kernel_cache_state(cache)
    (cache / COMPLETE_MARKER).write_text(json.dumps(state))
    assert cache_is_complete(cache)
    (cache / COMPLETE_MARKER).write_text(json.dumps(state | {"numba": "0.1"}))
    assert not cache_is_complete(cache)
