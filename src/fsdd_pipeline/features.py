"""Per-recording features: MFCC, chroma and log-mel spectrogram, and their Parquet form."""

import warnings
from dataclasses import asdict, dataclass

import numpy as np

from .audio import MIN_DURATION_S
from .librosa_runtime import load_librosa

FEATURE_NAMES = ("mfcc", "chroma", "spectrogram")
CHROMA_BINS = 12


@dataclass(frozen=True)
class FeatureParams:
    """Everything that determines the features of a recording (all from config)."""

    sample_rate: int = 8000
    trim_top_db: float | None = 30.0
    # Recordings with less sound than this after trimming are rejected (audio.min_duration_s).
    min_duration_s: float = MIN_DURATION_S
    n_fft: int = 512
    hop_length: int = 128
    n_mfcc: int = 40
    n_mels: int = 64
    fmin: float = 0.0
    fmax: float | None = None
    top_db: float = 80.0

    @classmethod
    def from_config(cls, config):
        """Build from the workflow config's ``audio`` and ``features`` sections."""
        audio, features = config["audio"], config["features"]
        return cls(
            sample_rate=int(audio["sample_rate"]),
            trim_top_db=audio.get("trim_top_db"),
            min_duration_s=float(audio.get("min_duration_s", MIN_DURATION_S)),
            n_fft=int(features["n_fft"]),
            hop_length=int(features["hop_length"]),
            n_mfcc=int(features["n_mfcc"]),
            n_mels=int(features["n_mels"]),
            fmin=float(features.get("fmin", 0.0)),
            fmax=features.get("fmax"),
            top_db=float(features.get("top_db", 80.0)),
        )

    def as_dict(self):
        return asdict(self)

    def rows(self, feature):
        """Number of rows (coefficients or bins) of one feature."""
        return {"mfcc": self.n_mfcc, "chroma": CHROMA_BINS, "spectrogram": self.n_mels}[feature]


def extract_features(samples, params):
    """Compute the three feature matrices (rows x frames, float32) of prepared samples.

    The log-mel spectrogram is in dB relative to the recording's peak and floored
    ``top_db`` below it, so the features do not depend on the recording's gain;
    the MFCCs are the DCT of that spectrogram.
    """
    librosa = load_librosa()

    with warnings.catch_warnings():
        # Very short clips trigger librosa's "n_fft too large" warning; they are padded as usual.
        warnings.simplefilter("ignore", UserWarning)
        power = np.abs(librosa.stft(samples, n_fft=params.n_fft, hop_length=params.hop_length)) ** 2
        mel = librosa.feature.melspectrogram(
            S=power,
            sr=params.sample_rate,
            n_mels=params.n_mels,
            fmin=params.fmin,
            fmax=params.fmax,
        )
        log_mel = librosa.power_to_db(mel, ref=np.max, top_db=params.top_db)
        mfcc = librosa.feature.mfcc(S=log_mel, n_mfcc=params.n_mfcc)
        chroma = librosa.feature.chroma_stft(S=power, sr=params.sample_rate, n_fft=params.n_fft)
    return {
        "mfcc": mfcc.astype(np.float32),
        "chroma": chroma.astype(np.float32),
        "spectrogram": log_mel.astype(np.float32),
    }


def silence_frame(feature, params):
    """The feature vector of a frame of silence, used to pad short recordings.

    Silence sits at the spectrogram's floor (``-top_db``), which makes the MFCC
    vector the DCT of that constant column; silent chroma is all zeros.
    """
    import scipy.fft

    floor = np.full(params.n_mels, -params.top_db, dtype=np.float32)
    if feature == "spectrogram":
        return floor
    if feature == "mfcc":
        return scipy.fft.dct(floor, type=2, norm="ortho")[: params.n_mfcc].astype(np.float32)
    if feature == "chroma":
        return np.zeros(CHROMA_BINS, dtype=np.float32)
    raise KeyError(f"unknown feature {feature!r}; expected one of {FEATURE_NAMES}")


def flatten_feature(matrix):
    """Parquet form of a matrix: its values row-major, and its shape."""
    return np.ascontiguousarray(matrix, dtype=np.float32).ravel(), list(matrix.shape)


def unflatten_feature(values, shape):
    """Inverse of flatten_feature: the float32 matrix with its shape."""
    return np.asarray(values, dtype=np.float32).reshape([int(n) for n in shape])
