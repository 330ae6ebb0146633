"""Resampling a clip exactly as ``librosa.resample`` does by default, without importing librosa.

librosa's default (``res_type="soxr_hq"``) hands the samples to soxr and pads or trims the
result to ``ceil(n * target_sr / orig_sr)`` samples. Importing librosa costs seconds per
process (its Numba kernels load under the pipeline's lock, see librosa_runtime), which a
process that only needs to resample, such as one predicting from the speech embedding, need
not pay. A test keeps the two bit-identical.
"""

import numpy as np
import soxr

# librosa.resample's default res_type.
QUALITY = "soxr_hq"


def resample(samples, orig_sr, target_sr):
    """1-D float ``samples`` at ``orig_sr`` resampled to ``target_sr``, in their own dtype:
    the same numbers as ``librosa.resample(samples, orig_sr=orig_sr, target_sr=target_sr)``."""
    samples = np.asarray(samples)
    if orig_sr == target_sr:
        return samples
    length = int(np.ceil(samples.shape[-1] * (float(target_sr) / orig_sr)))
    resampled = soxr.resample(samples, orig_sr, target_sr, quality=QUALITY)
    if resampled.shape[-1] < length:
        resampled = np.pad(resampled, (0, length - resampled.shape[-1]))
    return np.asarray(resampled[:length], dtype=samples.dtype)


def change_speed(samples, factor):
    """Speed perturbation: play ``factor`` times faster, so duration / factor, pitch x factor.

    Resampling by the factor and keeping the original rate (as Kaldi's speed
    perturbation does) changes tempo and pitch together.
    """
    samples = np.asarray(samples, dtype=np.float32)
    if samples.ndim != 1:
        raise ValueError(f"expected 1-D samples, got shape {samples.shape}")
    if factor <= 0:
        raise ValueError(f"speed factor must be positive, not {factor}")
    return resample(samples, float(factor), 1.0).astype(np.float32)
