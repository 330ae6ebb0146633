"""Accuracy of a model on transformed copies of the official test split."""

import dataclasses
from collections import OrderedDict

import numpy as np

from fsdd_pipeline.audio.reading import mono
from fsdd_pipeline.audio.realistic_takes import REALISTIC_TRANSFORMS
from fsdd_pipeline.audio.resampling import resample
from fsdd_pipeline.audio.rooms import ROBUSTNESS_DRR_DB, ROBUSTNESS_RT60_S, in_room
from fsdd_pipeline.augment.waveform import add_noise, apply_gain
from fsdd_pipeline.errors import RecordingError
from fsdd_pipeline.planning.robustness_groups import (
    NO_ENDPOINTING,
    STANDARD_TRANSFORMS,
    TRANSFORM_GROUPS,
)

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
    samples = mono(samples)
    resampled = resample(samples, sample_rate, ROBUSTNESS_RATE)
    return np.stack([resampled, resampled], axis=1).astype(np.float32), ROBUSTNESS_RATE


def _gain_minus_12db(samples, sample_rate, rng):
    return apply_gain(samples, -12.0), sample_rate


def _reverberant_room(samples, sample_rate, rng):
    room = in_room(mono(samples), sample_rate, rng, ROBUSTNESS_RT60_S, ROBUSTNESS_DRR_DB)
    return room, sample_rate


# Evaluation-time perturbations of a raw test clip, in the report order of
# planning.robustness_groups: name -> f(samples, sample_rate, rng) -> (samples, sample_rate),
# samples (frames, 2) for stereo. The realistic takes come last.
_STANDARD = {
    "clean": _clean,
    "white_noise_20db": _white_noise(20),
    "white_noise_10db": _white_noise(10),
    "silence_padding": _silence_padding,
    "resampled_44k_stereo": _resampled_44k_stereo,
    "gain_minus_12db": _gain_minus_12db,
    "reverberant_room": _reverberant_room,
}
ROBUSTNESS_TRANSFORMS = OrderedDict(
    [(name, _STANDARD[name]) for name in STANDARD_TRANSFORMS] + list(REALISTIC_TRANSFORMS.items())
)


def transformed_clips(test_frame, sample_rate, seed, group):
    """(row name, endpointing on, [(samples, rate)]) for every transform of ``group``
    (TRANSFORM_GROUPS) of the test clips; the noise of each transform is drawn from its
    own generator seeded with ``seed``, so a transform gives the same clips in any group."""
    for row_name, transform_name, endpointing in TRANSFORM_GROUPS[group]:
        transform = ROBUSTNESS_TRANSFORMS[transform_name]
        rng = np.random.default_rng(seed)
        clips = [
            transform(np.asarray(samples, dtype=np.float32), sample_rate, rng)
            for samples in test_frame["samples"]
        ]
        yield row_name, endpointing, clips


def robustness_features(test_frame, params, group, seed=0, features=None):
    """Features of every test clip under the transforms of ``group``, computed once for all
    models (they share the feature settings): one row per transform and clip, in the
    dataset's flat form, with ``rejected`` holding the loading path's reason where it
    refused the clip. ``features``: the features to compute (the models' own; None: all)."""
    import pandas as pd

    from fsdd_pipeline.audio.reading import prepare_clip
    from fsdd_pipeline.features.codec import flatten_feature
    from fsdd_pipeline.features.spectral import FEATURE_NAMES, extract_features

    features = tuple(features or FEATURE_NAMES)
    without = dataclasses.replace(params, endpoint=None)
    rows = []
    for name, endpointing, clips in transformed_clips(test_frame, params.sample_rate, seed, group):
        use = params if endpointing else without
        for (samples, rate), file_name, digit in zip(
            clips, test_frame["file_name"], test_frame["digit"], strict=True
        ):
            row = {"transform": name, "file_name": file_name, "digit": int(digit), "rejected": ""}
            try:
                prepared, _ = prepare_clip(
                    samples, rate, use.sample_rate, use.endpoint, use.min_duration_s, file_name
                )
                matrices = extract_features(prepared, use, features)
            except RecordingError as error:
                row["rejected"] = error.reason
                matrices = {f: np.zeros((use.rows(f), 1), np.float32) for f in features}
            for feature, matrix in matrices.items():
                row[feature], row[f"{feature}_shape"] = flatten_feature(matrix)
            rows.append(row)
    return pd.DataFrame(rows)


def robustness_table(classifier, features):
    """Accuracy of a model per transform from robustness_features(), and the drop from clean.

    Every transformed clip went through the same loading path as a new recording
    (downmix, resample, speech check, endpointing, features), so this measures the whole
    path; a clip that path rejected counts as wrong (``rejected`` says how many). The
    ``{transform}_no_endpointing`` rows are the realistic takes with endpoint detection off:
    what the detector is worth.
    """
    import pandas as pd

    rows = []
    for name, group in features.groupby("transform", sort=False):
        usable = group[group["rejected"] == ""]
        correct = 0
        if len(usable):
            predicted = classifier.predict_proba_frame(usable).argmax(axis=1)
            correct = int(np.sum(predicted == usable["digit"].to_numpy()))
        rows.append(
            {
                "transform": name,
                "accuracy": correct / len(group),
                "rejected": len(group) - len(usable),
                "n": len(group),
            }
        )
    table = pd.DataFrame(rows)
    clean = table.loc[table["transform"] == "clean", "accuracy"].iloc[0]
    table["drop_points"] = 100 * (clean - table["accuracy"])
    return table


SUMMARY_NOTE = (
    "Test-split accuracy of every model after each transform of the test recordings; "
    "worst_drop_points and realistic_mean_drop_points are drops from clean, in points "
    "(realistic: the word inside a long noisy take, mean over those transforms)."
)


def robustness_summary(tables):
    """Model x transform accuracy from {model: robustness_table}, plus the worst drop."""
    import pandas as pd

    tables = {m: t[~t["transform"].str.endswith(NO_ENDPOINTING)] for m, t in tables.items()}
    summary = pd.DataFrame({m: t.set_index("transform")["accuracy"] for m, t in tables.items()}).T
    summary["worst_drop_points"] = [t["drop_points"].max() for t in tables.values()]
    summary["realistic_mean_drop_points"] = [
        t.loc[t["transform"].isin(list(REALISTIC_TRANSFORMS)), "drop_points"].mean()
        for t in tables.values()
    ]
    return summary.rename_axis("model")
