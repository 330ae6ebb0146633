"""Per-recording features: MFCC, chroma, log-mel spectrogram and a pretrained speech
embedding, and their Parquet form."""

import functools
import warnings
from dataclasses import asdict, dataclass, field

import numpy as np

from fsdd_pipeline.audio.endpoint import EndpointParams
from fsdd_pipeline.audio.reading import MIN_DURATION_S
from fsdd_pipeline.features.embedding import EMBEDDING_SIZE, EmbeddingParams, get_embedder
from fsdd_pipeline.features.librosa_runtime import load_librosa
from fsdd_pipeline.features.pooling import fit_frames
from fsdd_pipeline.planning.feature_names import FEATURE_NAMES, SPEED_VIEWS

CHROMA_BINS = 12


@dataclass(frozen=True)
class FeatureParams:
    """Everything that determines the features of a recording (all from config).

    ``endpoint`` (None: the take is used whole) and ``min_duration_s`` decide how a
    recording is cropped before any feature; ``embedding`` how its embedding is computed.
    """

    sample_rate: int = 8000
    endpoint: EndpointParams | None = field(default_factory=EndpointParams)
    # Recordings with less sound than this after cropping are rejected (audio.min_duration_s).
    min_duration_s: float = MIN_DURATION_S
    n_fft: int = 512
    hop_length: int = 128
    n_mfcc: int = 40
    n_mels: int = 64
    fmin: float = 0.0
    fmax: float | None = None
    top_db: float = 80.0
    embedding: EmbeddingParams = field(default_factory=EmbeddingParams)

    @classmethod
    def from_dict(cls, data):
        """From as_dict()'s form, or the workflow's merged ``audio`` + ``features`` sections."""
        data = dict(data)
        endpoint = data.pop("endpoint", None)
        embedding = data.pop("embedding", None) or {}
        known = set(cls.__dataclass_fields__)
        return cls(
            **{key: value for key, value in data.items() if key in known},
            endpoint=None if endpoint is None else EndpointParams(**endpoint),
            embedding=EmbeddingParams(**embedding),
        )

    @classmethod
    def from_config(cls, config):
        """Build from the workflow config's ``audio`` and ``features`` sections."""
        return cls.from_dict(config["audio"] | config["features"])

    def as_dict(self):
        return asdict(self)

    def rows(self, feature):
        """Number of rows (coefficients, bins or dimensions) of one feature."""
        return {
            "mfcc": self.n_mfcc,
            "chroma": CHROMA_BINS,
            "spectrogram": self.n_mels,
            "embedding": EMBEDDING_SIZE,
            SPEED_VIEWS: EMBEDDING_SIZE * len(self.embedding.speeds),
        }[feature]

    @property
    def extracted_features(self):
        """What extraction stores per recording: the four features, and the embedding's
        speed views when ``embedding.speeds`` asks for any."""
        return FEATURE_NAMES + ((SPEED_VIEWS,) if self.embedding.speeds else ())


def extract_features(samples, params, features=FEATURE_NAMES):
    """Compute the feature matrices (rows x frames, float32) of prepared samples: all four,
    or only ``features`` (what one model needs, when it augments its training data).

    The log-mel spectrogram is in dB relative to the recording's peak and floored
    ``top_db`` below it, so the features do not depend on the recording's gain;
    the MFCCs are the DCT of that spectrogram. The embedding is the frozen pretrained
    speech embedding (fsdd_pipeline.features.embedding) of the same samples; its speed views
    (SPEED_VIEWS) the embedding of the samples played at each of ``embedding.speeds``.
    """
    matrices = {}
    embedder = (
        get_embedder(params.embedding) if {"embedding", SPEED_VIEWS} & set(features) else None
    )
    if "embedding" in features:
        # One 96-dimensional vector per 80 ms: rows x frames like the other features.
        matrices["embedding"] = embedder.embed(samples, params.sample_rate).T
    if SPEED_VIEWS in features:
        matrices[SPEED_VIEWS] = _speed_views(samples, params, embedder)
    if set(features) - {"embedding", SPEED_VIEWS}:
        matrices |= _spectral_features(samples, params, features)
    return {name: matrices[name] for name in features}


def _speed_views(samples, params, embedder):
    """The embedding of ``samples`` played at each speed, stacked along rows; every view
    padded with silence or centre-cropped to the number of frames of ``samples`` itself."""
    from fsdd_pipeline.audio.resampling import change_speed
    from fsdd_pipeline.features.embedding import embedding_frames

    frames = embedding_frames(samples.size, params.sample_rate, params.embedding)
    silence = silence_frame("embedding", params)
    views = []
    for speed in params.embedding.speeds:
        view = embedder.embed(change_speed(samples, speed), params.sample_rate)
        views.append(fit_frames(view.T, frames, silence, pad="around").T)
    return np.concatenate(views, axis=0)


def _spectral_features(samples, params, features):
    """MFCC, chroma and log-mel spectrogram (the ones asked for) from one STFT."""
    librosa = load_librosa("features")
    with warnings.catch_warnings():
        # Very short clips trigger librosa's "n_fft too large" warning; they are padded as usual.
        warnings.simplefilter("ignore", UserWarning)
        power = np.abs(librosa.stft(samples, n_fft=params.n_fft, hop_length=params.hop_length)) ** 2
        matrices = {}
        if {"spectrogram", "mfcc"} & set(features):
            mel = librosa.feature.melspectrogram(
                S=power,
                sr=params.sample_rate,
                n_mels=params.n_mels,
                fmin=params.fmin,
                fmax=params.fmax,
            )
            log_mel = librosa.power_to_db(mel, ref=np.max, top_db=params.top_db)
            matrices["spectrogram"] = log_mel.astype(np.float32)
            matrices["mfcc"] = librosa.feature.mfcc(S=log_mel, n_mfcc=params.n_mfcc).astype(
                np.float32
            )
        if "chroma" in features:
            chroma = librosa.feature.chroma_stft(S=power, sr=params.sample_rate, n_fft=params.n_fft)
            matrices["chroma"] = chroma.astype(np.float32)
    return matrices


def silence_frame(feature, params):
    """The feature vector of a frame of silence, used to pad short recordings.

    Silence sits at the spectrogram's floor (``-top_db``), which makes the MFCC
    vector the DCT of that constant column; silent chroma is all zeros.
    """
    floor = np.full(params.n_mels, -params.top_db, dtype=np.float32)
    if feature == "spectrogram":
        return floor
    if feature == "mfcc":
        # Here only: scipy's import costs more than a whole prediction from the embedding.
        import scipy.fft

        return scipy.fft.dct(floor, type=2, norm="ortho")[: params.n_mfcc].astype(np.float32)
    if feature == "chroma":
        return np.zeros(CHROMA_BINS, dtype=np.float32)
    if feature == "embedding":
        return _silent_embedding(params.embedding, params.sample_rate)
    if feature == SPEED_VIEWS:
        silent = _silent_embedding(params.embedding, params.sample_rate)
        return np.tile(silent, len(params.embedding.speeds))
    raise KeyError(f"unknown feature {feature!r}; expected one of {FEATURE_NAMES}")


@functools.cache
def _silent_embedding(embedding_params, sample_rate):
    """The embedding of silence (the middle frame of an all-zero clip)."""
    silence = np.zeros(int(embedding_params.min_seconds * sample_rate), dtype=np.float32)
    frames = get_embedder(embedding_params).embed(silence, sample_rate)
    return frames[len(frames) // 2].copy()
