"""librosa with its Numba kernels compiled once per machine, into a cache the pipeline owns.

librosa compiles its kernels with ``cache=True`` into its own package folder on first use.
Processes that start together on a cold cache (the first parallel run of the workflow, a
cluster job array) write the same cache entries at once, and a later process that loads
them crashes with a segmentation fault. So every process of the pipeline imports librosa
through ``load_librosa``, which

1. points Numba at a cache folder of the pipeline's own (``NUMBA_CACHE_DIR``, unless the
   user set one), one per host because compiled code is specific to the CPU, and
2. compiles or loads every kernel the process will use while holding an exclusive lock on
   that folder: the first process compiles and writes the cache, the others wait and then
   load finished files. With a warm cache the lock is held for a fraction of a second.

Kernels are grouped by use (KERNEL_USES): a process that only computes features (an
extraction job, a prediction) loads the feature kernels, not the augmentation's.
"""

import functools
import os
import socket
import tempfile
import warnings
from pathlib import Path

import numpy as np

from fsdd_pipeline.locks import exclusive_lock

CACHE_DIR_ENV = "NUMBA_CACHE_DIR"
LOCK_FILE = ".fsdd-pipeline-compile.lock"


def default_cache_dir():
    """``$XDG_CACHE_HOME/fsdd-pipeline/numba/<host>`` (``~/.cache`` when unset)."""
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "fsdd-pipeline" / "numba" / socket.gethostname()


def _usable_cache_dir():
    """The configured or default cache folder, created; a temporary one if it cannot be."""
    wanted = Path(os.environ.get(CACHE_DIR_ENV) or default_cache_dir())
    try:
        wanted.mkdir(parents=True, exist_ok=True)
        return wanted
    except OSError:
        fallback = Path(tempfile.gettempdir()) / f"fsdd-pipeline-numba-{os.getuid()}"
        fallback.mkdir(parents=True, exist_ok=True)
        return fallback


def _tone(dtype, rate=8000):
    t = np.arange(rate // 4) / rate
    return (0.5 * np.sin(2 * np.pi * 440 * t)).astype(dtype)


def _call_feature_paths(librosa):
    """The spectral features (fsdd_pipeline.features.spectral)."""
    rate = 8000
    for dtype in (np.float32, np.float64):
        power = np.abs(librosa.stft(_tone(dtype, rate), n_fft=512, hop_length=128)) ** 2
        mel = librosa.feature.melspectrogram(S=power, sr=rate, n_mels=64)
        log_mel = librosa.power_to_db(mel, ref=np.max, top_db=80)
        librosa.feature.mfcc(S=log_mel, n_mfcc=40)
        librosa.feature.chroma_stft(S=power, sr=rate, n_fft=512)


def _call_augmentation_paths(librosa):
    """Waveform augmentation and the robustness transforms (pitch shift, resampling)."""
    rate = 8000
    for dtype in (np.float32, np.float64):
        tone = _tone(dtype, rate)
        librosa.effects.pitch_shift(tone, sr=rate, n_steps=1.0, n_fft=512)
        librosa.resample(tone, orig_sr=rate, target_sr=16000)
        librosa.resample(tone, orig_sr=1.1, target_sr=1.0)


# Each use of librosa in the pipeline: calling its paths once, in float32 and float64,
# compiles (or loads) every Numba kernel and signature that use needs.
KERNEL_USES = {"features": _call_feature_paths, "augmentation": _call_augmentation_paths}


@functools.cache
def _numba_cache_dir():
    """Point Numba at the pipeline's cache folder (once per process); returns the folder."""
    cache_dir = _usable_cache_dir()
    os.environ[CACHE_DIR_ENV] = str(cache_dir)
    import numba.core.config

    # Numba reads its settings when first imported; someone may have imported it already.
    numba.core.config.reload_config()
    return cache_dir


@functools.cache
def _compile_kernels(use):
    """Call the paths of one use under the lock, once per process. librosa imports its
    submodules, which compile kernels too, on first use: here, under the lock."""
    with exclusive_lock(_numba_cache_dir() / LOCK_FILE):
        import librosa

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            KERNEL_USES[use](librosa)


def load_librosa(*uses):
    """The librosa module, with the Numba kernels of ``uses`` (names of KERNEL_USES; all
    of them when none is given) compiled once per machine (see the module doc)."""
    for use in uses or KERNEL_USES:
        _compile_kernels(use)
    import librosa

    return librosa
