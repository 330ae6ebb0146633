"""From feature matrices to model inputs: pad/crop sequences, or pool them to vectors."""

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from fsdd_pipeline.features.pooling import fit_frames, summary_statistics
from fsdd_pipeline.features.spectral import FeatureParams, silence_frame
from fsdd_pipeline.planning.feature_names import FEATURE_NAMES, SPEED_VIEWS

POOLINGS = ("sequence", "mean", "stats", "summary")
INPUT_SPEC_FILE = "input_spec.json"


@dataclass(frozen=True)
class InputSpec:
    """What a model consumes: which features, how pooled, how many frames.

    ``sequence`` gives (frames, channels) with the features stacked along channels,
    padded with silence or centre-cropped to ``frames``; ``mean`` gives the mean of
    every feature row over time (the seed MLP's 40 mean MFCCs); ``stats`` gives the
    mean, standard deviation, minimum and maximum of every row and of its deltas;
    ``summary`` the mean, maximum and standard deviation of every row (for the
    embedding: 288 numbers, the pooling it was measured with).

    ``speed_views``: every example is the clip's input followed by its input at each of
    the embedding's speeds (features.embedding.speeds; the embedding only), shape
    (1 + speeds, *the clip's shape), for a SpeedViewsClassifier.
    """

    features: tuple
    pooling: str
    frames: int
    feature_params: FeatureParams
    speed_views: bool = False

    def __post_init__(self):
        unknown = set(self.features) - set(FEATURE_NAMES)
        if unknown or not self.features:
            raise ValueError(f"features must be a non-empty subset of {FEATURE_NAMES}")
        if self.pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, not {self.pooling!r}")
        if self.speed_views and self.features != ("embedding",):
            raise ValueError(f"speed views exist for the embedding only, not {self.features}")
        if self.speed_views and not self.feature_params.embedding.speeds:
            raise ValueError("speed views need features.embedding.speeds (it is empty)")

    @classmethod
    def from_model_config(cls, model_config, frames, feature_params):
        return cls(
            features=tuple(model_config["features"]),
            pooling=model_config.get("pooling", "sequence"),
            frames=int(model_config.get("frames") or frames),
            feature_params=feature_params,
            speed_views=bool(model_config.get("speed_views", False)),
        )

    @property
    def matrix_features(self):
        """The feature matrices an example is built from: the features, and the
        embedding's speed views when the model reads them."""
        return self.features + ((SPEED_VIEWS,) if self.speed_views else ())

    @property
    def views(self):
        """Inputs per example: the clip, and one per speed when the model reads views."""
        return 1 + (len(self.feature_params.embedding.speeds) if self.speed_views else 0)

    @property
    def channels(self):
        return sum(self.feature_params.rows(f) for f in self.features)

    @property
    def clip_shape(self):
        """Shape of the input of one clip (or of one of its speed views)."""
        if self.pooling == "sequence":
            return (self.frames, self.channels)
        if self.pooling == "mean":
            return (self.channels,)
        if self.pooling == "summary":
            return (3 * self.channels,)
        return (8 * self.channels,)

    @property
    def shape(self):
        """Shape of one example."""
        return (self.views, *self.clip_shape) if self.speed_views else self.clip_shape

    def to_dict(self):
        return {
            "features": list(self.features),
            "pooling": self.pooling,
            "frames": self.frames,
            "feature_params": self.feature_params.as_dict(),
            "speed_views": self.speed_views,
        }

    @classmethod
    def from_dict(cls, data):
        return cls(
            features=tuple(data["features"]),
            pooling=data["pooling"],
            frames=int(data["frames"]),
            feature_params=FeatureParams.from_dict(data["feature_params"]),
            speed_views=bool(data.get("speed_views", False)),
        )

    def save(self, directory):
        from fsdd_pipeline.io import write_json

        path = Path(directory) / INPUT_SPEC_FILE
        write_json(self.to_dict(), path)
        return path

    @classmethod
    def load(cls, directory):
        return cls.from_dict(json.loads((Path(directory) / INPUT_SPEC_FILE).read_text()))


def _pooled_stats(matrix):
    deltas = np.diff(matrix, axis=1) if matrix.shape[1] > 1 else np.zeros_like(matrix)
    parts = []
    for values in (matrix, deltas):
        parts += [values.mean(1), values.std(1), values.min(1), values.max(1)]
    return np.concatenate(parts)


def example_from_features(matrices, spec):
    """One model input from a {feature: (rows, T) matrix} dict (with the speed views, when
    the model reads them)."""
    if spec.speed_views:
        views = np.split(matrices[SPEED_VIEWS], spec.views - 1, axis=0)
        clips = [matrices] + [{"embedding": view} for view in views]
        return np.stack([_clip_example(clip, spec) for clip in clips])
    return _clip_example(matrices, spec)


def _clip_example(matrices, spec):
    if spec.pooling == "sequence":
        return np.concatenate(
            [
                fit_frames(matrices[f], spec.frames, silence_frame(f, spec.feature_params))
                for f in spec.features
            ],
            axis=1,
        )
    if spec.pooling == "mean":
        return np.concatenate([matrices[f].mean(axis=1) for f in spec.features])
    if spec.pooling == "summary":
        return np.concatenate([summary_statistics(matrices[f], axis=1) for f in spec.features])
    # stats: per feature, the 8 statistics of each row, grouped by statistic.
    return np.concatenate([_pooled_stats(matrices[f]) for f in spec.features])


def inputs_from_matrices(matrix_dicts, spec):
    """Stack model inputs for a list of {feature: matrix} dicts: (n, *spec.shape) float32."""
    if not matrix_dicts:
        return np.zeros((0, *spec.shape), dtype=np.float32)
    return np.stack([example_from_features(m, spec) for m in matrix_dicts]).astype(np.float32)


def inputs_from_frame(frame, spec):
    """Model inputs and labels of dataset rows: (x of shape (n, *spec.shape), y digits)."""
    # Imported here: the dataset module needs pandas and pyarrow, prediction does not.
    from fsdd_pipeline.features.codec import feature_stack

    stacks = {f: feature_stack(frame, f) for f in spec.matrix_features}
    matrix_dicts = [{f: stacks[f][i] for f in spec.matrix_features} for i in range(len(frame))]
    labels = frame["digit"].to_numpy(dtype=np.int64)
    return inputs_from_matrices(matrix_dicts, spec), labels
