"""Text-to-speech voices as extra training data for the champion, judged on LOSO folds and
on the validation voices (the lever table's protocol: benchmarks/voice_levers.py).

The training voices are the workflow's (config training_voices, voices.training_voices):
espeak-ng's English voices with variants, speaking rates and pitches the validation voices
do not use (rates 120, 165, 240 words a minute against 140 and 200; pitches 20, 50, 80
against 35 and 65; no dialect-variant pair of the validation set), so no validation clip
is in training; ``--voices`` sets how many are drawn, ``--seed`` the draw. They are still
the same engine as 52 of the 60 validation voices: the 8 flite voices are the validation
that shares nothing with them, and are reported on their own. Every LOSO fold trains on
the other speakers' clips plus all the TTS clips, tested on the held-out speaker; the
validation model on the train split plus the TTS clips.

    nice -n 10 python -m benchmarks.tts_training --dataset results/dataset/features.parquet \
        --clips results/voices/clips.parquet --cache /tmp/voices_cache
"""

import argparse
import copy
import hashlib
import itertools
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from benchmarks.enrollment import RECIPE, champion_inputs, fold_model
from benchmarks.voice_levers import ALL_SPEEDS, CHAMPION_SPEEDS
from fsdd_pipeline.features.spectral import FeatureParams
from fsdd_pipeline.planning.validation_voices import espeak_validation_names
from fsdd_pipeline.voices.training_voices import training_voice_table
from fsdd_pipeline.voices.tts import FAMILIES


def tts_inputs(settings, validation_names, config, params):
    """(n, 3, frames, 96) champion inputs and digits of the training voices ``settings``
    draw, made as the workflow makes them (voices.training_voices)."""
    table = training_voice_table(settings, validation_names, params)
    return champion_inputs(table.to_pandas(), config, RECIPE)


def evaluate(x, y, xt, yt, dataset, xv, yv, found, clips, model_config, cache):
    """LOSO folds and the validation voices of the champion's recipe trained with the extra
    rows ``xt``, ``yt`` (none: the champion)."""
    speakers, split = dataset["speaker"], dataset["split"]

    def fitted(train, fold):
        xs, ys = np.concatenate([x[train], xt]), np.concatenate([y[train], yt])
        # The cache key is the rows used (all of xs) and the config: name the fold in it.
        keyed = model_config | {"fold": fold}
        return fold_model(keyed, RECIPE, xs, ys, np.ones(len(ys), bool), cache)

    folds = {}
    for speaker in sorted(speakers.unique()):
        model = fitted(((speakers != speaker) & (split != "val")).to_numpy(), speaker)
        held = (speakers == speaker).to_numpy()
        folds[speaker] = float(np.mean(model.predict(x[held]) == y[held]))
    row = {"loso_mean": np.mean(list(folds.values())), "loso_worst": min(folds.values())}
    correct = (fitted((split == "train").to_numpy(), "train split").predict(xv) == yv) & found
    for condition in ("clean", "take"):
        chosen = (clips["condition"] == condition).to_numpy()
        row[f"voices_{condition}"] = correct[chosen].mean()
        for group, column in (("flite", "engine"), ("espeak-ng", "engine"), *FAMILY_COLUMNS):
            row[f"{group}_{condition}"] = correct[
                chosen & (clips[column] == group).to_numpy()
            ].mean()
        row[f"nine_{condition}"] = correct[chosen & (yv == 9)].mean()
    return {key: float(value) for key, value in row.items()} | folds


FAMILY_COLUMNS = tuple((family, "family") for family in FAMILIES)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=Path("results/dataset/features.parquet"))
    parser.add_argument("--clips", type=Path, default=Path("results/voices/clips.parquet"))
    parser.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    parser.add_argument("--cache", type=Path, required=True, help="benchmarks.voice_levers'")
    parser.add_argument("--voices", type=int, nargs="+", default=[30, 60, 120])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    config = yaml.safe_load(args.config.read_text())
    params = FeatureParams.from_config(config)
    dataset = pd.read_parquet(args.dataset).reset_index(drop=True)
    clips = pd.read_parquet(args.clips).reset_index(drop=True)
    x, y = champion_inputs(dataset, config, RECIPE)
    # The validation voices' champion views, as benchmarks.voice_levers cached them.
    xv = np.load(args.cache / "voices_views.npz")["x"][:, : 1 + len(CHAMPION_SPEEDS)]
    assert ALL_SPEEDS[: len(CHAMPION_SPEEDS)] == CHAMPION_SPEEDS
    found = np.load(args.cache / "voices_found.npy")
    yv = clips["digit"].to_numpy()
    validation_names = espeak_validation_names(config["voices"])
    scored = (dataset, xv, yv, found, clips)
    rows = [{"voices": 0, "seed": None} | evaluate(x, y, x[:0], y[:0], *scored, config, None)]
    print(json.dumps(rows[-1]), flush=True)
    for count, seed in itertools.product(args.voices, args.seeds):
        settings = config["training_voices"] | {"count": count, "seed": seed}
        digest = hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()
        path = args.cache / f"training_voices_{digest[:16]}.npz"  # keyed by every setting
        if path.is_file():
            stored = np.load(path)
            xt, yt = stored["x"], stored["y"]
        else:
            xt, yt = tts_inputs(settings, validation_names, config, params)
            np.savez(path, x=xt, y=yt)
        model_config = copy.deepcopy(config)
        model_config["training_voices"] = settings  # in the fold models' cache key
        row = evaluate(x, y, xt, yt, *scored, model_config, args.cache)
        rows.append({"voices": count, "seed": seed} | row)
        print(json.dumps(rows[-1]), flush=True)
    from benchmarks.report import machine_description, write_report

    write_report(
        {
            "command": "nice -n 10 python -m benchmarks.tts_training "
            + " ".join(argv if argv is not None else sys.argv[1:]),
            "machine": machine_description(),
            "tables": report_tables(pd.DataFrame(rows), len(args.seeds)),
        },
        args.json,
    )


def report_tables(results, draws):
    """Per number of training voices, the mean over the draws (percent), and every draw."""
    shown = ["loso_mean", "loso_worst", "flite_clean", "flite_take", "espeak-ng_clean"]
    shown += ["espeak-ng_take", "female_clean", "accent_clean", "nine_clean", "nine_take"]
    means = results.groupby("voices")[shown].mean().mul(100).round(2).reset_index()
    means.insert(0, "training voices", means.pop("voices").map(lambda n: n or "none (champion)"))
    draws_table = results[results["voices"] > 0][["voices", "seed", *shown[:4]]]
    draws_table = draws_table.assign(**{c: draws_table[c].mul(100).round(2) for c in shown[:4]})
    return {
        f"Training voices: LOSO and validation voices (%), mean of {draws} draws": means.to_dict(
            orient="records"
        ),
        "Each draw (%)": draws_table.astype({"seed": int}).to_dict(orient="records"),
    }


if __name__ == "__main__":
    main()
