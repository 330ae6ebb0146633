"""fsdd_pipeline.audio.resampling gives librosa.resample's numbers without importing librosa."""

import subprocess
import sys

import numpy as np
import pytest

from fsdd_pipeline.audio.resampling import resample
from fsdd_pipeline.features.librosa_runtime import load_librosa

RATE_PAIRS = [(8000, 16000), (44100, 8000), (48000, 8000), (11025, 8000), (22050, 16000)]


@pytest.mark.parametrize("orig_sr, target_sr", RATE_PAIRS)
@pytest.mark.parametrize("length", [1, 7, 1931, 12345])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_same_numbers_as_librosa(orig_sr, target_sr, length, dtype):
    samples = np.random.default_rng(length).uniform(-1, 1, length).astype(dtype)
    expected = load_librosa().resample(samples, orig_sr=orig_sr, target_sr=target_sr)
    resampled = resample(samples, orig_sr, target_sr)
    assert resampled.dtype == expected.dtype == dtype
    np.testing.assert_array_equal(resampled, expected)


def test_same_rate_returns_the_samples():
    samples = np.arange(5, dtype=np.float32)
    assert resample(samples, 8000, 8000) is samples


def test_does_not_import_librosa():
    code = (
        "import sys, numpy as np\n"
        "from fsdd_pipeline.audio.resampling import resample\n"
        "resample(np.ones(800, np.float32), 8000, 16000)\n"
        "print('librosa' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.stdout.strip() == "False", result.stderr
