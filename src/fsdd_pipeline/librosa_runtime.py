"""librosa with its Numba kernels compiled once per machine, into a cache the pipeline owns.

librosa compiles its kernels with ``cache=True`` into its own package folder on first use.
Processes that start together on a cold cache (the first parallel run of the workflow, a
cluster job array) write the same cache entries at once, and a later process that loads
them crashes with a segmentation fault. So every process of the pipeline imports librosa
through ``load_librosa``, which

1. points Numba at a cache folder of the pipeline's own (``NUMBA_CACHE_DIR``, unless the
   user set one), one per host because compiled code is specific to the CPU, and
2. compiles or loads every kernel the pipeline uses while holding an exclusive lock on
   that folder: the first process compiles and writes the cache, the others wait and then
   load finished files.
3. records, once the cache holds every kernel, what it was compiled for (a marker file):
   a later process that finds the record matching takes the lock only to read it, and
   loads the kernels it uses when it uses them. Loading them all under the lock took
   every process 3 s of CPU and made parallel jobs start one after the other.
"""

import functools
import importlib.util
import json
import os
import socket
import sys
import tempfile
import warnings
from pathlib import Path

import numpy as np

from .io import write_json
from .locks import exclusive_lock

CACHE_DIR_ENV = "NUMBA_CACHE_DIR"
LOCK_FILE = ".fsdd-pipeline-compile.lock"
COMPLETE_MARKER = ".fsdd-pipeline-kernels.json"


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


def _compile_kernels(librosa):
    """Call every librosa path the pipeline uses once, in float32 and float64, so that
    each Numba kernel and signature it needs is compiled (or loaded) now, under the lock."""
    rate = 8000
    t = np.arange(rate // 4) / rate
    for dtype in (np.float32, np.float64):
        tone = (0.5 * np.sin(2 * np.pi * 440 * t)).astype(dtype)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            power = np.abs(librosa.stft(tone, n_fft=512, hop_length=128)) ** 2
            mel = librosa.feature.melspectrogram(S=power, sr=rate, n_mels=64)
            log_mel = librosa.power_to_db(mel, ref=np.max, top_db=80)
            librosa.feature.mfcc(S=log_mel, n_mfcc=40)
            librosa.feature.chroma_stft(S=power, sr=rate, n_fft=512)
            librosa.effects.pitch_shift(tone, sr=rate, n_steps=1.0, n_fft=512)
            librosa.resample(tone, orig_sr=rate, target_sr=16000)
            librosa.resample(tone, orig_sr=1.1, target_sr=1.0)


def _file_stamps(folder, suffixes):
    """[relative path, size, modification time] of the files under ``folder`` with these
    suffixes, sorted."""
    stamps = []
    for root, _, names in os.walk(folder):
        for name in names:
            if name.endswith(suffixes):
                path = os.path.join(root, name)
                stat = os.stat(path)
                stamps.append([os.path.relpath(path, folder), stat.st_size, stat.st_mtime_ns])
    return sorted(stamps)


def kernel_cache_state(cache_dir):
    """What the kernels cached in ``cache_dir`` hold for: the Python and Numba versions and
    librosa's source files (Numba recompiles, and rewrites, a kernel of a changed file),
    and the cache's own files (a kernel compiled since changes them)."""
    import numba

    librosa_dir = next(iter(importlib.util.find_spec("librosa").submodule_search_locations))
    return {
        "python": sys.version,
        "numba": numba.__version__,
        "librosa_sources": _file_stamps(librosa_dir, (".py",)),
        "cache_files": _file_stamps(cache_dir, (".nbi", ".nbc")),
    }


def cache_is_complete(cache_dir):
    """Whether ``cache_dir`` holds every kernel of _compile_kernels, as recorded when they
    were compiled, for this Python, Numba and librosa, and unchanged since."""
    try:
        recorded = json.loads((Path(cache_dir) / COMPLETE_MARKER).read_text())
    except (OSError, ValueError):
        return False
    return recorded == kernel_cache_state(cache_dir)


@functools.cache
def load_librosa():
    """The librosa module, its kernels compiled once per machine (see the module doc)."""
    cache_dir = _usable_cache_dir()
    os.environ[CACHE_DIR_ENV] = str(cache_dir)
    import numba.core.config

    # Numba reads its settings when first imported; someone may have imported it already.
    numba.core.config.reload_config()
    with exclusive_lock(cache_dir / LOCK_FILE):
        import librosa

        if not cache_is_complete(cache_dir):
            _compile_kernels(librosa)
            write_json(kernel_cache_state(cache_dir), cache_dir / COMPLETE_MARKER)
    return librosa
