"""Levers for voices unlike FSDD's, each judged on LOSO folds and the validation voices.

Every FSDD clip (the workflow's dataset, already endpointed) and every validation-voice
clip (results/voices/clips.parquet, endpointed here as for prediction) is embedded once at
every speed any variant uses; a variant is the champion's recipe with other speed views
in training and prediction, or the champion with more views at prediction only
(test-time views). Per variant: LOSO mean and worst fold (models trained without the
held-out speaker) and the accuracy on the validation voices, clean and in takes, by
family, of a model trained on the train split.

    nice -n 10 python -m benchmarks.voice_levers --dataset results/dataset/features.parquet \
        --clips results/voices/clips.parquet --json docs/benchmarks/voice_levers.json
"""

import argparse
import copy
import dataclasses
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from benchmarks.enrollment import CHAMPION, fold_model
from fsdd_pipeline.audio.reading import prepare_clip
from fsdd_pipeline.errors import RecordingError
from fsdd_pipeline.features.spectral import FeatureParams, extract_features
from fsdd_pipeline.models.inputs import InputSpec, inputs_from_matrices
from fsdd_pipeline.planning.feature_names import SPEED_VIEWS
from fsdd_pipeline.voices.tts import FAMILIES

# The champion's views (in the workflow's dataset), then the ones computed here: view i + 1
# of an input is the clip at ALL_SPEEDS[i].
CHAMPION_SPEEDS = (0.85, 1.15)
EXTRA_SPEEDS = (0.8, 1.25)
ALL_SPEEDS = CHAMPION_SPEEDS + EXTRA_SPEEDS
# name: (speeds in training, speeds in prediction)
VARIANTS = {
    "champion (0.85, 1.15)": ((0.85, 1.15), (0.85, 1.15)),
    "test-time views (0.8, 0.85, 1.15, 1.25)": ((0.85, 1.15), (0.8, 0.85, 1.15, 1.25)),
    "wider views (0.8, 1.25)": ((0.8, 1.25), (0.8, 1.25)),
    "four views (0.8, 0.85, 1.15, 1.25)": ((0.8, 0.85, 1.15, 1.25), (0.8, 0.85, 1.15, 1.25)),
}


def all_view_inputs(matrix_dicts, config, speeds=ALL_SPEEDS):
    """(n, 1 + len(speeds), frames, 96) inputs: the clip, then every speed's view."""
    params = FeatureParams.from_config(config)
    params = dataclasses.replace(
        params, embedding=dataclasses.replace(params.embedding, speeds=speeds)
    )
    spec = InputSpec.from_model_config(
        config["models"][CHAMPION], config["training"]["frames"], params
    )
    return spec, inputs_from_matrices(matrix_dicts, spec)


def embed_all(samples_list, config, spec_params):
    features = spec_params.extracted_features[-2:]  # embedding and its speed views
    return [
        extract_features(np.asarray(s, np.float32), spec_params, features) for s in samples_list
    ]


def view_index(speeds):
    return [0] + [1 + ALL_SPEEDS.index(speed) for speed in speeds]


def cached_inputs(path, compute):
    if path and Path(path).is_file():
        return np.load(path)["x"]
    x = compute()
    if path:
        np.savez(path, x=x)
    return x


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dataset", type=Path, default=Path("results/dataset/features.parquet"))
    parser.add_argument("--clips", type=Path, default=Path("results/voices/clips.parquet"))
    parser.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    parser.add_argument("--cache", type=Path, help="folder keeping embeddings and fold models")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args(argv)
    config = yaml.safe_load(args.config.read_text())
    params = FeatureParams.from_config(config)
    params = dataclasses.replace(
        params, embedding=dataclasses.replace(params.embedding, speeds=ALL_SPEEDS)
    )
    cache = args.cache
    if cache:
        cache.mkdir(parents=True, exist_ok=True)
    dataset = pd.read_parquet(args.dataset).reset_index(drop=True)
    clips = pd.read_parquet(args.clips).reset_index(drop=True)

    def fsdd_inputs():
        from benchmarks.enrollment import champion_inputs

        champion_views, _ = champion_inputs(dataset, config, CHAMPION)
        extra = dataclasses.replace(
            params, embedding=dataclasses.replace(params.embedding, speeds=EXTRA_SPEEDS)
        )
        matrices = [
            extract_features(np.asarray(samples, np.float32), extra, (SPEED_VIEWS,))
            | {"embedding": np.zeros((96, 1), np.float32)}
            for samples in dataset["samples"]
        ]
        extra_views = all_view_inputs(matrices, config, EXTRA_SPEEDS)[1][:, 1:]
        return np.concatenate([champion_views, extra_views], axis=1)

    def voice_inputs():
        prepared, found = [], []
        for clip in clips.itertuples():
            try:
                samples, _ = prepare_clip(
                    np.asarray(clip.samples, np.float32),
                    params.sample_rate,
                    params.sample_rate,
                    params.endpoint,
                    params.min_duration_s,
                )
                prepared.append(samples)
                found.append(True)
            except RecordingError:
                prepared.append(np.zeros(800, np.float32) + 1e-4)
                found.append(False)
        np.save(cache / "voices_found.npy", np.array(found)) if cache else None
        return all_view_inputs(embed_all(prepared, config, params), config)[1]

    x = cached_inputs(cache and cache / "fsdd_views.npz", fsdd_inputs)
    assert x.shape[1] == 1 + len(ALL_SPEEDS)
    print("fsdd inputs", x.shape, flush=True)
    xv = cached_inputs(cache and cache / "voices_views.npz", voice_inputs)
    found = np.load(cache / "voices_found.npy") if cache else np.ones(len(clips), bool)
    print("voice inputs", xv.shape, "no speech found:", int((~found).sum()), flush=True)
    y, speakers, split = dataset["digit"].to_numpy(), dataset["speaker"], dataset["split"]
    yv = clips["digit"].to_numpy()
    rows = []
    for name, (train_speeds, test_speeds) in VARIANTS.items():
        model_config = copy.deepcopy(config)
        model_config["features"]["embedding"]["speeds"] = list(train_speeds)
        train_views, test_views = view_index(train_speeds), view_index(test_speeds)
        row = {"variant": name}
        folds = {}
        for speaker in sorted(speakers.unique()):
            train = ((speakers != speaker) & (split != "val")).to_numpy()
            model = fold_model(model_config, CHAMPION, x[:, train_views], y, train, cache)
            held = (speakers == speaker).to_numpy()
            folds[speaker] = float(np.mean(model.predict(x[held][:, test_views]) == y[held]))
        row |= {
            "loso_mean": float(np.mean(list(folds.values()))),
            "loso_worst": float(min(folds.values())),
        } | folds
        train = (split == "train").to_numpy()
        model = fold_model(model_config, CHAMPION, x[:, train_views], y, train, cache)
        correct = (model.predict(xv[:, test_views]) == yv) & found
        for condition in ("clean", "take"):
            chosen = (clips["condition"] == condition).to_numpy()
            row[f"voices_{condition}"] = float(correct[chosen].mean())
            for family in FAMILIES:
                mask = chosen & (clips["family"] == family).to_numpy()
                row[f"{family}_{condition}"] = float(correct[mask].mean())
            per_digit = [correct[chosen & (yv == d)].mean() for d in range(10)]
            row[f"worst_digit_{condition}"] = float(min(per_digit))
        rows.append(row)
        print(json.dumps(row), flush=True)
    from benchmarks.report import machine_description, write_report

    write_report(
        {
            "command": "nice -n 10 python -m benchmarks.voice_levers "
            + " ".join(argv if argv is not None else sys.argv[1:]),
            "machine": machine_description(),
            "tables": report_tables(rows),
        },
        args.json,
    )


def report_tables(rows):
    """LOSO and the validation voices per variant, in percent."""
    table = pd.DataFrame(rows).set_index("variant")
    percent = (table * 100).round(2)
    loso = ["loso_mean", "loso_worst"]
    voices = ["voices_clean", "voices_take", "worst_digit_clean", "worst_digit_take"]
    families = [f"{family}_{condition}" for condition in ("clean", "take") for family in FAMILIES]
    return {
        "Levers: LOSO and validation voices (%)": percent[loso + voices]
        .reset_index()
        .to_dict(orient="records"),
        "Validation voices by family (%)": percent[families]
        .reset_index()
        .to_dict(orient="records"),
    }


if __name__ == "__main__":
    main()
