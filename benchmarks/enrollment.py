"""Enrollment measured in leave-one-speaker-out folds (docs/voices.md's table).

For each FSDD speaker, the champion is trained without that speaker (the LOSO fold's
training set: the other speakers' non-validation takes); then, for k takes per digit
chosen at random (seeded) among the speaker's non-test takes, it is enrolled with them
(fsdd_pipeline.voices.enrollment) and tested on all the speaker's other takes. Repeats
draw other takes. A last row ("all others") is the ceiling of this adaptation and these
features for the speaker: enrolled with every take but a fifth of them (about 40 per
digit), tested on that fifth, over 5 folds of the take numbers. Features come from the
workflow's dataset (results/dataset).

    nice -n 10 python benchmarks/enrollment.py --dataset results/dataset/features.parquet \
        --json docs/benchmarks/enrollment.json
"""

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from fsdd_pipeline.features.spectral import FeatureParams
from fsdd_pipeline.models.builders import build_sklearn_model
from fsdd_pipeline.models.inputs import InputSpec, inputs_from_frame
from fsdd_pipeline.voices.enrollment import DEFAULT_TAKE_WEIGHT, personal_estimator

# The champion (LOSO's best in the default config), and the recipe it adds the training
# voices to, which the studies of the other benchmarks start from.
CHAMPION = "emb_frame_logreg_voices"
RECIPE = "emb_frame_logreg_speeds"


def champion_inputs(dataset, config, model):
    spec = InputSpec.from_model_config(
        config["models"][model], config["training"]["frames"], FeatureParams.from_config(config)
    )
    return inputs_from_frame(dataset, spec)


def enrollment_takes(frame, k, rng):
    """Row positions of k takes per digit drawn from the speaker's non-test takes."""
    chosen = []
    for _, group in frame[frame["split"] != "test"].groupby("digit"):
        chosen += rng.choice(group.index.to_numpy(), size=k, replace=False).tolist()
    return np.array(sorted(chosen))


def ceiling_accuracy(base, x, y, own, weight, move_mean, folds=5):
    """Accuracy on each fifth of the speaker's takes (by take number) of the model enrolled
    with the other four fifths: what adaptation reaches with about 40 takes per digit."""
    right = 0
    for fold in range(folds):
        tested = own.index[own["sample_number"] % folds == fold].to_numpy()
        enrolled = own.index.difference(tested).to_numpy()
        personal = personal_estimator(base, x[enrolled], y[enrolled], weight, move_mean)
        right += int(np.sum(personal.predict(x[tested]) == y[tested]))
    return right / len(own)


CEILING_K = 999  # the "all others" row's k, sorted after every drawn k


def fold_model(config, model, x, y, train, cache):
    """The champion trained on a fold's training rows; kept in ``cache`` (a folder) when
    given, as the folds take a minute or two each."""
    import hashlib

    import joblib

    key = hashlib.sha256(train.tobytes() + json.dumps(config, sort_keys=True).encode())
    path = cache / f"{model}_{key.hexdigest()[:16]}.joblib" if cache else None
    if path and path.is_file():
        return joblib.load(path)
    fitted = build_sklearn_model(config["models"][model]).fit(x[train], y[train])
    if path:
        path.parent.mkdir(parents=True, exist_ok=True)
        joblib.dump(fitted, path)
    return fitted


def voice_inputs(path, config, model):
    """(x, y) of the training voices' rows (their features file, ``path``) for a model with
    ``training_voices: true``, as every fold of the workflow adds them; None for other
    models, whose folds train on FSDD alone."""
    if not config["models"][model].get("training_voices"):
        return None
    if path is None:
        sys.exit(f"{model} trains on the training voices: give --training-voices")
    return champion_inputs(pd.read_parquet(path).reset_index(drop=True), config, model)


def fold_inputs(dataset, config, model, voices_path):
    """(x, y, fold_model_for): the model's inputs of ``dataset``'s rows, and a function that
    trains the model on a fold's ``train`` rows of ``dataset`` plus, for a model with
    ``training_voices: true``, every training voice's rows, as the workflow's folds do."""
    x, y = champion_inputs(dataset, config, model)
    # The training voices go after the dataset's rows, so positions in ``dataset`` index
    # ``x`` as before.
    extra = voice_inputs(voices_path, config, model)
    fit_x = x if extra is None else np.concatenate([x, extra[0]])
    fit_y = y if extra is None else np.concatenate([y, extra[1]])
    always = np.ones(len(fit_y) - len(y), dtype=bool)

    def fold_model_for(train, cache):
        return fold_model(config, model, fit_x, fit_y, np.concatenate([train, always]), cache)

    return x, y, fold_model_for


def run(
    dataset,
    config,
    model,
    ks,
    repeats,
    weights,
    seed,
    cache=None,
    ceiling=True,
    voices_path=None,
    folds=None,
    move_mean=True,
):
    """``folds``: the workflow's LOSO fold models of ``model`` (results/loso/{model}/
    fold_models.joblib) instead of folds trained here (which cannot train a room gate);
    ``move_mean``: enrollment moves the person's mean frame (personal_estimator)."""
    if folds is None:
        x, y, fold_model_for = fold_inputs(dataset, config, model, voices_path)
    else:
        from fsdd_pipeline.evaluation.loso import load_fold_classifiers

        x, y = champion_inputs(dataset, config, model)
        fold_classifier = load_fold_classifiers(folds)
    rows = []
    for speaker in sorted(dataset["speaker"].unique()):
        is_speaker = (dataset["speaker"] == speaker).to_numpy()
        train = ~is_speaker & (dataset["split"] != "val").to_numpy()
        start = time.perf_counter()
        if folds is None:
            base = fold_model_for(train, cache)
        else:
            base = fold_classifier(speaker).estimator
        fit_s = time.perf_counter() - start
        own = dataset[is_speaker]
        accuracy = float(np.mean(base.predict(x[is_speaker]) == y[is_speaker]))
        rows.append(
            dict(
                speaker=speaker,
                k=0,
                weight=0.0,
                repeat=0,
                accuracy=accuracy,
                tested=int(is_speaker.sum()),
                seconds=fit_s,
            )
        )
        print(f"{speaker}: base {accuracy:.4f} ({fit_s:.1f} s)", flush=True)
        for k in ks:
            for repeat in range(repeats):
                rng = np.random.default_rng(
                    [seed, k, repeat, sorted(dataset["speaker"].unique()).index(speaker)]
                )
                enrolled = enrollment_takes(own, k, rng)
                tested = own.index.difference(enrolled).to_numpy()
                for weight in weights:
                    start = time.perf_counter()
                    personal = personal_estimator(base, x[enrolled], y[enrolled], weight, move_mean)
                    seconds = time.perf_counter() - start
                    accuracy = float(np.mean(personal.predict(x[tested]) == y[tested]))
                    rows.append(
                        dict(
                            speaker=speaker,
                            k=k,
                            weight=weight,
                            repeat=repeat,
                            accuracy=accuracy,
                            tested=len(tested),
                            seconds=seconds,
                        )
                    )
                    print(
                        f"  k={k} repeat={repeat} weight={weight}: {accuracy:.4f} "
                        f"({seconds:.2f} s)",
                        flush=True,
                    )
        if ceiling:
            for weight in weights:
                start = time.perf_counter()
                accuracy = ceiling_accuracy(base, x, y, own, weight, move_mean)
                rows.append(
                    dict(
                        speaker=speaker,
                        k=CEILING_K,
                        weight=weight,
                        repeat=0,
                        accuracy=accuracy,
                        tested=len(own),
                        seconds=time.perf_counter() - start,
                    )
                )
                print(f"  all others, weight={weight}: {accuracy:.4f}", flush=True)
    return pd.DataFrame(rows)


def summary(results):
    per_speaker = results.groupby(["k", "weight", "speaker"])["accuracy"].mean().unstack("speaker")
    per_speaker["mean"] = per_speaker.mean(axis=1)
    per_speaker["worst"] = per_speaker.drop(columns="mean").min(axis=1)
    return per_speaker


def report_tables(table, results, repeats):
    """The report's tables: accuracy (%) per k and held-out speaker, and enrollment time."""
    shown = (table * 100).round(2).reset_index()
    labels = {0: "none", CEILING_K: "all others (5 folds)"}
    shown.insert(0, "takes per digit", shown.pop("k").map(lambda k: labels.get(k, k)))
    drawn = results[(results["k"] > 0) & (results["k"] != CEILING_K)]
    seconds = drawn.groupby("k")["seconds"].median().round(2)
    name = (
        f"Held-out speaker's other takes right (%), enrolled with k takes per digit "
        f"(mean of {repeats} draws; none: the fold's champion; all others: every take "
        f"but a fifth, tested on that fifth, 5 folds)"
    )
    return {
        name: shown.drop(columns="weight").to_dict(orient="records"),
        "Seconds to adapt the model (median)": [
            {"takes per digit": int(k), "seconds": float(v)} for k, v in seconds.items()
        ],
    }


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=Path("results/dataset/features.parquet"))
    parser.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    parser.add_argument("--model", default=CHAMPION)
    parser.add_argument("--ks", type=int, nargs="+", default=[1, 2, 5])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--weights", type=float, nargs="+", default=[DEFAULT_TAKE_WEIGHT])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--json", type=Path)
    parser.add_argument("--cache", type=Path, help="folder keeping the fold models")
    parser.add_argument(
        "--training-voices",
        type=Path,
        default=Path("results/training_voices/features.parquet"),
        help="the training voices' features (for a model with training_voices: true)",
    )
    parser.add_argument(
        "--no-ceiling", action="store_true", help='skip the "all others" row (minutes)'
    )
    parser.add_argument(
        "--folds",
        type=Path,
        help="the workflow's LOSO fold models of --model (results/loso/MODEL/"
        "fold_models.joblib), used instead of folds trained here",
    )
    parser.add_argument(
        "--without-mean-shift",
        action="store_true",
        help="adapt the heads only, without moving the person's mean frame (the lever's worth)",
    )
    args = parser.parse_args(argv)
    config = yaml.safe_load(args.config.read_text())
    dataset = pd.read_parquet(args.dataset).reset_index(drop=True)
    results = run(
        dataset,
        config,
        args.model,
        args.ks,
        args.repeats,
        args.weights,
        args.seed,
        args.cache,
        ceiling=not args.no_ceiling,
        voices_path=args.training_voices,
        folds=args.folds,
        move_mean=not args.without_mean_shift,
    )
    table = summary(results)
    from benchmarks.report import machine_description, write_report

    write_report(
        {
            "command": "nice -n 10 python -m benchmarks.enrollment "
            + " ".join(argv if argv is not None else sys.argv[1:]),
            "machine": machine_description(),
            "tables": report_tables(table, results, args.repeats),
            "runs": json.loads(results.to_json(orient="records")),
        },
        args.json,
    )


if __name__ == "__main__":
    main()
