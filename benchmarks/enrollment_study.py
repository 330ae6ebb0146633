"""Enrollment methods tried beside the anchored update, in the LOSO folds of
benchmarks/enrollment.py (same fold models, same seeded draws of k takes per digit).

    python -m benchmarks.enrollment_study templates --dataset D --cache /tmp/voices_cache
    python -m benchmarks.enrollment_study centred --dataset D

``templates``: the enrolled takes kept as templates (a training-free cache, as Tip-Adapter
does for few-shot image classifiers): each class's score gains ``alpha`` times the sum over
its takes of exp(-beta (1 - cosine)) between the clip and the take (the champion's
standardized pooled or frame features, per speed view; or, kinds ``dtw`` and ``mfcc_dtw``,
1 - the dynamic-time-warping cost between the clip's and the take's embedding or MFCC
frames), added to the champion's (or the anchored model's) log-probabilities. Its
settings are chosen for each held-out speaker on the other five speakers' results
(nested), never on the speaker's own.

``centred``: speaker-adaptive training. Every training speaker's embeddings have their own
mean subtracted, the champion is trained on them, and a held-out speaker's clips are
centred by the mean of their enrolled takes (then, optionally, the anchored update).
"""

import argparse
import itertools
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from benchmarks.enrollment import (
    CHAMPION,
    RECIPE,
    champion_inputs,
    enrollment_takes,
    fold_inputs,
    fold_model,
)
from fsdd_pipeline.features.pooling import summary_statistics
from fsdd_pipeline.voices.enrollment import DEFAULT_TAKE_WEIGHT, adapt_estimator

KS = (1, 2, 5)
REPEATS = 3
BETAS = (1, 2, 4, 8)
ALPHAS = (4, 8, 16, 32, 64)


def draws(dataset, speaker_index, own):
    """(k, repeat, enrolled rows, tested rows) as benchmarks/enrollment.py draws them."""
    for k, repeat in itertools.product(KS, range(REPEATS)):
        enrolled = enrollment_takes(own, k, np.random.default_rng([0, k, repeat, speaker_index]))
        yield k, repeat, enrolled, own.index.difference(enrolled).to_numpy()


def standardized_frames(model, x):
    """(n, views, frames, channels) inputs standardized as the champion's frame head does."""
    return model.estimator_.frames_[:-1].transform(x.reshape(-1, x.shape[-1])).reshape(x.shape)


def template_features(model, x, kind):
    """(n, views, d) unit-length features of (n, views, frames, channels) inputs, as the
    champion's heads standardize them: ``pooled`` statistics or all ``frames``."""
    if kind == "frames":
        features = standardized_frames(model, x).reshape(*x.shape[:2], -1)
    else:
        pooled = model.estimator_.pooled_[:-1]
        features = np.stack(
            [pooled.transform(summary_statistics(view, axis=1)) for view in np.moveaxis(x, 1, 0)],
            axis=1,
        )
    return features / np.linalg.norm(features, axis=-1, keepdims=True)


def embedding_frames(model, x):
    """Per speed view, every clip's embedding frames standardized as the frame head does,
    unit length: [view][clip] -> (frames, channels)."""
    standard = standardized_frames(model, x)
    unit = standard / np.linalg.norm(standard, axis=-1, keepdims=True)
    return [list(unit[:, view]) for view in range(x.shape[1])]


def clip_mfccs(dataset):
    """Every clip's MFCC frames (frames, coefficients) without c0 (loudness), each
    coefficient's mean over the clip removed (cepstral mean normalization), unit length."""
    mfccs = []
    for values, shape in zip(dataset["mfcc"], dataset["mfcc_shape"], strict=True):
        frames = np.asarray(values, dtype=np.float64).reshape(shape)[1:].T
        frames = frames - frames.mean(axis=0)
        mfccs.append(frames / np.linalg.norm(frames, axis=1, keepdims=True))
    return mfccs


def dtw_similarity(sequences, tested, enrolled):
    """(n, m): 1 - the dynamic-time-warping cost (1 - cosine per frame pair, the path's
    mean over its steps) between the tested and the enrolled clips' unit frame
    ``sequences``: templates that may stretch in time, as classic speaker-dependent
    recognizers matched words."""
    lengths = np.array([len(sequences[i]) for i in tested])
    longest = lengths.max()
    clips = np.zeros((len(tested), longest, sequences[tested[0]].shape[1]))
    for row, i in enumerate(tested):
        clips[row, : lengths[row]] = sequences[i]
    similarity = np.zeros((len(tested), len(enrolled)))
    rows = np.arange(len(tested))
    for column, take_index in enumerate(enrolled):
        take = sequences[take_index]
        cost = 1 - np.einsum("nfc,gc->nfg", clips, take)
        total = np.full((len(tested), longest + 1, len(take) + 1), np.inf)
        steps = np.zeros_like(total)
        total[:, 0, 0] = 0
        for i in range(1, longest + 1):
            for j in range(1, len(take) + 1):
                options = np.stack([total[:, i - 1, j], total[:, i, j - 1], total[:, i - 1, j - 1]])
                counts = np.stack([steps[:, i - 1, j], steps[:, i, j - 1], steps[:, i - 1, j - 1]])
                best = options.argmin(axis=0)
                total[:, i, j] = options[best, rows] + cost[:, i - 1, j - 1]
                steps[:, i, j] = counts[best, rows] + 1
        similarity[:, column] = (
            1 - total[rows, lengths, len(take)] / steps[rows, lengths, len(take)]
        )
    return similarity


def templates_study(dataset, config, cache, voices_path=None):
    x, y, fold_model_for = fold_inputs(
        dataset, config, CHAMPION if voices_path else RECIPE, voices_path
    )
    mfccs = clip_mfccs(dataset)
    speakers = sorted(dataset["speaker"].unique())
    rows = []
    for index, speaker in enumerate(speakers):
        is_speaker = (dataset["speaker"] == speaker).to_numpy()
        train = ~is_speaker & (dataset["split"] != "val").to_numpy()
        model = fold_model_for(train, cache)
        classes = model.classes_
        frames = embedding_frames(model, x)
        for k, repeat, enrolled, tested in draws(dataset, index, dataset[is_speaker]):
            starts = {
                "champion": model.predict_log_proba(x[tested]),
                "anchored": adapt_estimator(
                    model, x[enrolled], y[enrolled], DEFAULT_TAKE_WEIGHT
                ).predict_log_proba(x[tested]),
            }
            one_hot = (y[enrolled][:, None] == classes[None, :]).astype(float)
            for kind in ("pooled", "frames", "dtw", "mfcc_dtw"):
                if kind == "dtw":
                    cosine = np.mean(
                        [dtw_similarity(view, tested, enrolled) for view in frames], axis=0
                    )
                elif kind == "mfcc_dtw":
                    cosine = dtw_similarity(mfccs, tested, enrolled)
                else:
                    clips = template_features(model, x[tested], kind)
                    takes = template_features(model, x[enrolled], kind)
                    cosine = np.einsum("nvd,mvd->nm", clips, takes) / clips.shape[1]
                for beta, alpha, (start, scores) in itertools.product(
                    BETAS, ALPHAS, starts.items()
                ):
                    affinity = np.exp(-beta * (1 - cosine)) @ one_hot
                    predicted = classes[(scores + alpha * affinity).argmax(axis=1)]
                    rows.append(
                        dict(
                            speaker=speaker,
                            k=k,
                            repeat=repeat,
                            method=f"{start} + {kind} templates",
                            setting=f"{kind} beta={beta} alpha={alpha}",
                            accuracy=float(np.mean(predicted == y[tested])),
                        )
                    )
            for start, scores in starts.items():
                rows.append(
                    dict(
                        speaker=speaker,
                        k=k,
                        repeat=repeat,
                        method=start,
                        setting="",
                        accuracy=float(np.mean(classes[scores.argmax(axis=1)] == y[tested])),
                    )
                )
        print(speaker, flush=True)
    results = pd.DataFrame(rows)
    means = results.groupby(["method", "setting", "k", "speaker"])["accuracy"].mean()
    chosen = []
    for (method, k), group in means.groupby(level=["method", "k"]):
        table = group.droplevel(["method", "k"]).unstack("speaker")
        for speaker in speakers:
            # The setting best on the other five speakers, scored on this one.
            setting = table.drop(columns=speaker).mean(axis=1).idxmax()
            chosen.append(
                dict(method=method, k=k, speaker=speaker, accuracy=table.loc[setting, speaker])
            )
    return pd.DataFrame(chosen)


def centred_study(dataset, config, cache):
    x, y = champion_inputs(dataset, config, RECIPE)
    speakers = sorted(dataset["speaker"].unique())

    def mean_of(rows):
        return x[rows].reshape(-1, x.shape[-1]).mean(axis=0)

    rows = []
    for index, speaker in enumerate(speakers):
        is_speaker = (dataset["speaker"] == speaker).to_numpy()
        train = ~is_speaker & (dataset["split"] != "val").to_numpy()
        centred = x.copy()
        for other in speakers:
            if other != speaker:
                is_other = (dataset["speaker"] == other).to_numpy()
                centred[is_other] -= mean_of(is_other & train)
        # Keyed by its (centred) inputs through the training rows and the config.
        model = fold_model(config | {"centred": True}, RECIPE, centred, y, train, cache)
        for k, repeat, enrolled, tested in draws(dataset, index, dataset[is_speaker]):
            shift = mean_of(enrolled)
            takes, clips = x[enrolled] - shift, x[tested] - shift
            anchored = adapt_estimator(model, takes, y[enrolled], DEFAULT_TAKE_WEIGHT)
            for method, fitted in (("centred", model), ("centred + anchored", anchored)):
                rows.append(
                    dict(
                        speaker=speaker,
                        k=k,
                        repeat=repeat,
                        method=method,
                        accuracy=float(np.mean(fitted.predict(clips) == y[tested])),
                    )
                )
        print(speaker, flush=True)
    return pd.DataFrame(rows)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("study", choices=("templates", "centred"))
    parser.add_argument("--dataset", type=Path, default=Path("results/dataset/features.parquet"))
    parser.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    parser.add_argument("--cache", type=Path, help="folder keeping the fold models")
    parser.add_argument(
        "--training-voices",
        type=Path,
        help="the training voices' features: templates beside the champion that trains on "
        "them (its folds with them, as benchmarks/enrollment.py's), not the recipe without",
    )
    args = parser.parse_args(argv)
    config = yaml.safe_load(args.config.read_text())
    dataset = pd.read_parquet(args.dataset).reset_index(drop=True)
    if args.study == "templates":
        results = templates_study(dataset, config, args.cache, args.training_voices)
    else:
        results = centred_study(dataset, config, args.cache)
    table = results.groupby(["method", "k", "speaker"])["accuracy"].mean().unstack("speaker")
    table["mean"] = table.mean(axis=1)
    table["worst"] = table.drop(columns="mean").min(axis=1)
    print((table * 100).round(2).sort_index(level="k").to_markdown())


if __name__ == "__main__":
    main()
