"""Levers for voices unlike FSDD's, each judged on LOSO folds and the validation voices.

Every FSDD clip (the workflow's dataset, already endpointed) and every validation-voice
clip (results/voices/clips.parquet, endpointed here as for prediction) is embedded once at
every speed and vocal-tract-length warp any variant uses; a variant is the champion's
recipe with other views (speeds, warps) in training and prediction, or the champion with
more views at prediction only (test-time views). Per variant: LOSO mean and worst fold
(models trained without the held-out speaker) and the accuracy on the validation voices,
clean and in takes, by family, of a model trained on the train split.

    nice -n 10 python -m benchmarks.voice_levers --dataset results/dataset/features.parquet \
        --clips results/voices/clips.parquet --json docs/benchmarks/voice_levers.json
"""

import argparse
import copy
import dataclasses
import functools
import json
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from benchmarks.enrollment import RECIPE, fold_model
from fsdd_pipeline.audio.reading import prepare_clip
from fsdd_pipeline.errors import RecordingError
from fsdd_pipeline.features.spectral import FeatureParams, extract_features
from fsdd_pipeline.models.inputs import InputSpec, inputs_from_matrices
from fsdd_pipeline.planning.feature_names import SPEED_VIEWS
from fsdd_pipeline.voices.tts import FAMILIES

# The champion's views (in the workflow's dataset), then the ones computed here: view i + 1
# of an input is ALL_VIEWS[i], a speed (the clip played faster or slower) or a VTLN warp.
CHAMPION_SPEEDS = (0.85, 1.15)
EXTRA_SPEEDS = (0.8, 1.25)
ALL_SPEEDS = CHAMPION_SPEEDS + EXTRA_SPEEDS
# Vocal-tract-length warps: the mel spectrogram's frequency axis scaled by the factor (every
# formant moved by it, as a shorter or longer vocal tract would), its duration kept, unlike
# a speed view's.
WARPS = ("warp 0.9", "warp 1.1", "warp 0.85", "warp 1.18")
# Tempo views: the clip time-stretched (phase vocoder, pitch and formants kept) to play
# 0.8x or 1.25x as fast, or to last as long as FSDD's median word ("tempo normalized"): the
# validation voices' slow (140 words a minute) "nine" is heard as "five", their fast one
# is not.
TEMPOS = ("tempo 0.8", "tempo 1.25", "tempo normalized")
ALL_VIEWS = ALL_SPEEDS + WARPS + TEMPOS


def in_both(views):
    """The same views in training and prediction."""
    return views, views


# name: (views in training, views in prediction)
VARIANTS = {
    "champion (0.85, 1.15)": in_both((0.85, 1.15)),
    "test-time views (0.8, 0.85, 1.15, 1.25)": ((0.85, 1.15), (0.8, 0.85, 1.15, 1.25)),
    "wider views (0.8, 1.25)": in_both((0.8, 1.25)),
    "four views (0.8, 0.85, 1.15, 1.25)": in_both((0.8, 0.85, 1.15, 1.25)),
    "VTLN views (warps 0.9, 1.1) instead of speed views": in_both(WARPS[:2]),
    "speed views and VTLN views (warps 0.9, 1.1)": in_both(CHAMPION_SPEEDS + WARPS[:2]),
    "speed views and wider VTLN views (warps 0.85, 1.18)": in_both(CHAMPION_SPEEDS + WARPS[2:]),
    "speed views and tempo views (0.8x, 1.25x, pitch kept)": in_both(CHAMPION_SPEEDS + TEMPOS[:2]),
    "speed views and a tempo-normalized view": in_both(CHAMPION_SPEEDS + TEMPOS[2:]),
    "tempo views at prediction only (0.8x, 1.25x)": (CHAMPION_SPEEDS, CHAMPION_SPEEDS + TEMPOS[:2]),
}


def all_view_inputs(matrix_dicts, config, speeds=ALL_SPEEDS):
    """(n, 1 + len(speeds), frames, 96) inputs: the clip, then every speed's view."""
    params = FeatureParams.from_config(config)
    params = dataclasses.replace(
        params, embedding=dataclasses.replace(params.embedding, speeds=speeds)
    )
    spec = InputSpec.from_model_config(
        config["models"][RECIPE], config["training"]["frames"], params
    )
    return spec, inputs_from_matrices(matrix_dicts, spec)


def embed_all(samples_list, config, spec_params):
    features = spec_params.extracted_features[-2:]  # embedding and its speed views
    return [
        extract_features(np.asarray(s, np.float32), spec_params, features) for s in samples_list
    ]


def view_index(views):
    return [0] + [1 + ALL_VIEWS.index(view) for view in views]


def mel_bin_centres_hz():
    """Centre frequency (Hz) of each bin of the embedding's mel spectrogram, read from its
    filterbank (the weighted mean frequency of each filter)."""
    import onnx
    from onnx import numpy_helper

    from fsdd_pipeline.features.embedding import MEL_BINS, MODEL_RATE, model_files

    model = onnx.load(str(model_files()["melspectrogram"]))
    (weights,) = [
        numpy_helper.to_array(initializer)
        for initializer in model.graph.initializer
        if numpy_helper.to_array(initializer).shape[-1:] == (MEL_BINS,)
    ]
    hz = np.linspace(0, MODEL_RATE / 2, weights.shape[0])
    return (hz @ weights) / weights.sum(axis=0)


def warp_mel(mel, factor, centres):
    """A (frames, bins) log-mel spectrogram with its frequency axis scaled by ``factor``: the
    value at each bin's centre f is read at f / factor (linear between bins, the edge bin's
    value beyond them), so a formant at F moves to factor x F."""
    source = centres / factor
    return np.stack([np.interp(source, centres, frame) for frame in mel]).astype(np.float32)


def warp_views(samples_list, config, params, warps):
    """(n, len(warps), frames, 96) inputs: each clip's embedding at each VTLN warp (a warp
    keeps the clip's duration, so its embedding has the clip's own frames)."""
    from fsdd_pipeline.features.embedding import get_embedder

    embedder = get_embedder(params.embedding)
    centres = mel_bin_centres_hz()
    views = []
    for samples in samples_list:
        model_audio = embedder.model_audio(np.asarray(samples, np.float32), params.sample_rate)
        mel = embedder.mel_frames(model_audio)
        views.append(
            [embedder.embed_mel(warp_mel(mel, warp_factor(warp), centres)).T for warp in warps]
        )
    return views_as_inputs(views, config)


def views_as_inputs(views, config):
    """(n, views, frames, 96) inputs of ``views``: per clip, a list of (96, frames)
    embeddings, laid out as the champion reads its speed views."""
    matrices = [
        {SPEED_VIEWS: np.concatenate(clip_views), "embedding": np.zeros((96, 1), np.float32)}
        for clip_views in views
    ]
    # Stand-ins for speeds: only the number of views is used.
    placeholders = tuple(1.0 + index for index in range(len(views[0])))
    return all_view_inputs(matrices, config, placeholders)[1][:, 1:]


def stretched(samples, rate, sample_rate):
    """``samples`` played ``rate`` times as fast with pitch and formants kept (librosa's
    phase vocoder, 32 ms windows)."""
    from fsdd_pipeline.features.librosa_runtime import load_librosa

    librosa = load_librosa()
    n_fft = int(0.032 * sample_rate)
    return librosa.effects.time_stretch(
        np.asarray(samples, np.float32), rate=rate, n_fft=n_fft, hop_length=n_fft // 4
    ).astype(np.float32)


def tempo_views(samples_list, config, params, tempos, target_s):
    """(n, len(tempos), frames, 96) inputs: each clip's embedding time-stretched as each of
    ``tempos`` says ("tempo R": R times as fast; "tempo normalized": to last ``target_s``,
    at 0.6-1.6x), framed as the speed views are (padded around, or centre-cropped, to the
    clip's own number of frames)."""
    from fsdd_pipeline.features.embedding import embedding_frames, get_embedder
    from fsdd_pipeline.features.pooling import fit_frames
    from fsdd_pipeline.features.spectral import silence_frame

    embedder = get_embedder(params.embedding)
    silence = silence_frame("embedding", params)
    views = []
    for samples in samples_list:
        samples = np.asarray(samples, np.float32)
        frames = embedding_frames(samples.size, params.sample_rate, params.embedding)
        duration_s = samples.size / params.sample_rate
        clip_views = []
        for tempo in tempos:
            setting = tempo.split()[1]
            rate = np.clip(duration_s / target_s, 0.6, 1.6) if setting == "normalized" else setting
            view = embedder.embed(
                stretched(samples, float(rate), params.sample_rate), params.sample_rate
            )
            clip_views.append(fit_frames(view.T, frames, silence, pad="around").T)
        views.append(clip_views)
    return views_as_inputs(views, config)


def warp_factor(view):
    """The factor of a warp view's name ("warp 0.9" -> 0.9)."""
    return float(view.split()[1])


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

        champion_views, _ = champion_inputs(dataset, config, RECIPE)
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

    @functools.cache
    def voice_samples():
        """The validation clips endpointed as for prediction, and whether speech was found."""
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
        return prepared, np.array(found)

    def voice_inputs():
        prepared, found = voice_samples()
        np.save(cache / "voices_found.npy", found) if cache else None
        return all_view_inputs(embed_all(prepared, config, params), config)[1]

    x = cached_inputs(cache and cache / "fsdd_views.npz", fsdd_inputs)
    assert x.shape[1] == 1 + len(ALL_SPEEDS)
    x = np.concatenate(
        [
            x,
            cached_inputs(
                cache and cache / "fsdd_warps.npz",
                lambda: warp_views(dataset["samples"], config, params, WARPS),
            ),
        ],
        axis=1,
    )
    # FSDD's median word, as the workflow's dataset holds its clips (endpointed).
    target_s = float(np.median([len(x) for x in dataset["samples"]])) / params.sample_rate
    x = np.concatenate(
        [
            x,
            cached_inputs(
                cache and cache / "fsdd_tempos.npz",
                lambda: tempo_views(dataset["samples"], config, params, TEMPOS, target_s),
            ),
        ],
        axis=1,
    )
    print("fsdd inputs", x.shape, f"median word {target_s:.2f} s", flush=True)
    xv = cached_inputs(cache and cache / "voices_views.npz", voice_inputs)
    xv = np.concatenate(
        [
            xv,
            cached_inputs(
                cache and cache / "voices_warps.npz",
                lambda: warp_views(voice_samples()[0], config, params, WARPS),
            ),
            cached_inputs(
                cache and cache / "voices_tempos.npz",
                lambda: tempo_views(voice_samples()[0], config, params, TEMPOS, target_s),
            ),
        ],
        axis=1,
    )
    found = np.load(cache / "voices_found.npy") if cache else voice_samples()[1]
    print("voice inputs", xv.shape, "no speech found:", int((~found).sum()), flush=True)
    y, speakers, split = dataset["digit"].to_numpy(), dataset["speaker"], dataset["split"]
    yv = clips["digit"].to_numpy()
    rows = []
    for name, (train_views, test_views) in VARIANTS.items():
        model_config = copy.deepcopy(config)
        # The views a variant trains on, in the fold models' cache key (warps by name).
        model_config["features"]["embedding"]["speeds"] = list(train_views)
        train_views, test_views = view_index(train_views), view_index(test_views)
        row = {"variant": name}
        folds = {}
        for speaker in sorted(speakers.unique()):
            train = ((speakers != speaker) & (split != "val")).to_numpy()
            model = fold_model(model_config, RECIPE, x[:, train_views], y, train, cache)
            held = (speakers == speaker).to_numpy()
            folds[speaker] = float(np.mean(model.predict(x[held][:, test_views]) == y[held]))
        row |= {
            "loso_mean": float(np.mean(list(folds.values()))),
            "loso_worst": float(min(folds.values())),
        } | folds
        train = (split == "train").to_numpy()
        model = fold_model(model_config, RECIPE, x[:, train_views], y, train, cache)
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
