"""Accuracy of a model on transformed copies of the official test split."""

from collections import OrderedDict

import numpy as np
import pandas as pd

from .augment import add_noise, apply_gain, mono
from .errors import RecordingError
from .librosa_runtime import load_librosa
from .realistic_takes import REALISTIC_TRANSFORMS

ROBUSTNESS_RATE = 44100
PADDING_S = 0.5


def _clean(samples, sample_rate, rng):
    return np.asarray(samples, dtype=np.float32), sample_rate


def _white_noise(snr_db):
    def transform(samples, sample_rate, rng):
        # A recording cannot exceed full scale, so the noisy clip is clipped like one.
        noisy = add_noise(samples, snr_db, rng)
        return np.clip(noisy, -1.0, 1.0).astype(np.float32), sample_rate

    transform.__name__ = f"white_noise_{snr_db}db"
    return transform


def _silence_padding(samples, sample_rate, rng):
    samples = np.asarray(samples, dtype=np.float32)
    pad = int(round(PADDING_S * sample_rate))
    widths = [(pad, pad)] + [(0, 0)] * (samples.ndim - 1)
    return np.pad(samples, widths), sample_rate


def _resampled_44k_stereo(samples, sample_rate, rng):
    librosa = load_librosa()

    samples = mono(samples)
    resampled = librosa.resample(samples, orig_sr=sample_rate, target_sr=ROBUSTNESS_RATE)
    return np.stack([resampled, resampled], axis=1).astype(np.float32), ROBUSTNESS_RATE


def _gain_minus_12db(samples, sample_rate, rng):
    return apply_gain(samples, -12.0), sample_rate


# Evaluation-time perturbations of a raw test clip, in report order:
# name -> f(samples, sample_rate, rng) -> (samples, sample_rate), samples (frames, 2) for stereo.
# The realistic takes (the word inside a longer noisy take, a poor channel) come last.
ROBUSTNESS_TRANSFORMS = OrderedDict(
    [
        ("clean", _clean),
        ("white_noise_20db", _white_noise(20)),
        ("white_noise_10db", _white_noise(10)),
        ("silence_padding", _silence_padding),
        ("resampled_44k_stereo", _resampled_44k_stereo),
        ("gain_minus_12db", _gain_minus_12db),
        *REALISTIC_TRANSFORMS.items(),
    ]
)


def _predicted_digits(classifier, clips):
    """The predicted digit of every (samples, rate) clip; -1 (wrong) where the loading
    path rejects the clip (e.g. no speech found), and how many were rejected."""
    predicted = np.full(len(clips), -1)
    usable, matrices = [], []
    for index, (samples, rate) in enumerate(clips):
        try:
            matrices.append(classifier.clip_features(samples, rate, source=f"clip {index}"))
            usable.append(index)
        except RecordingError:
            continue
    if usable:
        predicted[usable] = classifier.predict_proba_matrices(matrices).argmax(axis=1)
    return predicted, len(clips) - len(usable)


def without_endpointing(classifier):
    """The same trained model, loading audio with endpoint detection switched off."""
    import dataclasses

    from .classifier import DigitClassifier

    params = dataclasses.replace(classifier.spec.feature_params, endpoint=None)
    spec = dataclasses.replace(classifier.spec, feature_params=params)
    return DigitClassifier(classifier.estimator, spec)


def robustness_table(classifier, test_frame, seed=0, ablate_endpointing=False):
    """Accuracy per transform of the test clips' waveforms, and the drop from clean.

    Every transformed clip goes through the same loading path as a new recording
    (downmix, resample, speech check, endpointing, features), so this measures the whole
    path; a clip that path rejects counts as wrong (``rejected`` says how many). With
    ``ablate_endpointing``, the realistic takes are also scored with endpoint detection off
    (rows ``{transform}_no_endpointing``): what the detector is worth.
    """
    digits = test_frame["digit"].to_numpy()
    rows = []
    runs = [("", classifier, ROBUSTNESS_TRANSFORMS)]
    if ablate_endpointing:
        runs.append(("_no_endpointing", without_endpointing(classifier), REALISTIC_TRANSFORMS))
    for suffix, model, transforms in runs:
        rows += _transform_rows(model, transforms, test_frame, digits, seed, suffix)
    table = pd.DataFrame(rows)
    clean = table.loc[table["transform"] == "clean", "accuracy"].iloc[0]
    table["drop_points"] = 100 * (clean - table["accuracy"])
    table["n"] = len(test_frame)
    return table


def _transform_rows(classifier, transforms, test_frame, digits, seed, suffix):
    rows = []
    for name, transform in transforms.items():
        rng = np.random.default_rng(seed)
        sample_rate = classifier.spec.feature_params.sample_rate
        clips = [
            transform(np.asarray(samples, dtype=np.float32), sample_rate, rng)
            for samples in test_frame["samples"]
        ]
        predicted, rejected = _predicted_digits(classifier, clips)
        rows.append(
            {
                "transform": f"{name}{suffix}",
                "accuracy": float(np.mean(predicted == digits)),
                "rejected": rejected,
            }
        )
    return rows


def robustness_summary(tables):
    """Model x transform accuracy from {model: robustness_table}, plus the worst drop."""
    tables = {m: t[~t["transform"].str.endswith("_no_endpointing")] for m, t in tables.items()}
    summary = pd.DataFrame({m: t.set_index("transform")["accuracy"] for m, t in tables.items()}).T
    summary["worst_drop_points"] = [t["drop_points"].max() for t in tables.values()]
    summary["realistic_mean_drop_points"] = [
        t.loc[t["transform"].isin(list(REALISTIC_TRANSFORMS)), "drop_points"].mean()
        for t in tables.values()
    ]
    return summary.rename_axis("model")
