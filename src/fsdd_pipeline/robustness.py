"""Accuracy of a model on transformed copies of the official test split."""

import numpy as np
import pandas as pd

from .augment import ROBUSTNESS_TRANSFORMS


def robustness_table(classifier, test_frame, seed=0):
    """Accuracy per transform of the test clips' waveforms, and the drop from clean.

    Every transformed clip goes through the same loading path as a new recording
    (downmix, resample, trim, features), so this measures the whole path.
    """
    digits = test_frame["digit"].to_numpy()
    rows = []
    for name, transform in ROBUSTNESS_TRANSFORMS.items():
        rng = np.random.default_rng(seed)
        sample_rate = classifier.spec.feature_params.sample_rate
        clips = [
            transform(np.asarray(samples, dtype=np.float32), sample_rate, rng)
            for samples in test_frame["samples"]
        ]
        predicted = classifier.predict_proba_samples(clips).argmax(axis=1)
        rows.append({"transform": name, "accuracy": float(np.mean(predicted == digits))})
    table = pd.DataFrame(rows)
    clean = table.loc[table["transform"] == "clean", "accuracy"].iloc[0]
    table["drop_points"] = 100 * (clean - table["accuracy"])
    table["n"] = len(test_frame)
    return table


def robustness_summary(tables):
    """Model x transform accuracy from {model: robustness_table}, plus the worst drop."""
    summary = pd.DataFrame({m: t.set_index("transform")["accuracy"] for m, t in tables.items()}).T
    summary["worst_drop_points"] = [t["drop_points"].max() for t in tables.values()]
    return summary.rename_axis("model")
