"""Rooms: reverberant copies of the training clips as a lever for the champion, judged on
LOSO folds (held-out speakers clean, and the same clips in reverberant rooms and in noise)
and on the validation voices (clean, in takes, in reverberant rooms and in noise).

FSDD was recorded close to the microphone; people say digits into laptops and phones in
rooms. A room is simulated by ``fsdd_pipeline.audio.rooms`` (its reverberation time RT60
and direct-to-reverberant ratio DRR drawn from the ranges below). The reverberant clip is
read as a take is read for prediction (endpointing, ``audio.reading.prepare_clip``) and
embedded with the champion's speed views. Training copies and test rooms are drawn with
different seeds.

Every model is the champion (``emb_frame_logreg_voices``: the recipe plus the 30 training
voices) trained on a fold's clips, plus, for a variant, one reverberant copy of each of
them (and of the training voices). A lever is kept only if LOSO on the clean clips and
the validation voices both say it helps.

    nice -n 10 python -m benchmarks.reverb_study --results results --cache /tmp/reverb \
        --json docs/benchmarks/reverb_study.json

(from a full run's folder, after ``snakemake voices``; every variant and blend by default,
or ``--variant``/``--blend`` some of them; the blends need their variants).
"""

import argparse
import copy
import json
import os
import shlex
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

from benchmarks.enrollment import CHAMPION, champion_inputs, fold_model
from fsdd_pipeline.audio.reading import prepare_clip
from fsdd_pipeline.audio.realistic_takes import coloured_noise
from fsdd_pipeline.audio.rooms import in_room
from fsdd_pipeline.augment.waveform import add_noise
from fsdd_pipeline.errors import RecordingError
from fsdd_pipeline.features.spectral import FeatureParams, extract_features
from fsdd_pipeline.models.inputs import InputSpec, inputs_from_matrices
from fsdd_pipeline.models.linear import (
    detector_features,
    gated_log_proba,
    standardized_logreg,
)
from fsdd_pipeline.voices.tts import FAMILIES

# Rooms people record in: RT60 from a furnished office to a bare hall, the microphone from
# close (DRR 12 dB) to across the room (0 dB).
RT60_S = (0.2, 0.9)
DRR_DB = (0.0, 12.0)
TRAIN_SEED, TEST_SEED, VOICES_SEED = 11, 23, 37

# Noise for the copies of a variant trained in rooms and in noise (white, the workflow's
# augmentation's), and for the held-out clips and voices in noise (white or pink, as places
# people speak in), SNR in dB against the clip's own power.
TRAIN_SNR_DB = (10.0, 30.0)
TEST_SNR_DB = (5.0, 20.0)
TEST_NOISE_COLORS = ("white", "pink")
# Milder rooms for the training copies: closer microphones, less reverberant rooms.
MILD_RT60_S = (0.1, 0.5)
MILD_DRR_DB = (6.0, 18.0)
# name: (copies of the FSDD training clips, copies of the training voices, share of clips
# copied, the copies' rooms: RT60 and DRR ranges, factor on both heads' C, copies endpointed)
VARIANTS = {
    "champion": (False, False, 0.0, None, 1.0, True),
    "rooms": (True, False, 1.0, (RT60_S, DRR_DB), 1.0, True),
    "rooms and voices in rooms": (True, True, 1.0, (RT60_S, DRR_DB), 1.0, True),
    "rooms, half the clips": (True, False, 0.5, (RT60_S, DRR_DB), 1.0, True),
    "mild rooms": (True, False, 1.0, (MILD_RT60_S, MILD_DRR_DB), 1.0, True),
    # Twice the rows weaken the same C's regularization by half: halve C to keep it.
    "rooms, C halved": (True, False, 1.0, (RT60_S, DRR_DB), 0.5, True),
    "rooms and voices in rooms, C halved": (True, True, 1.0, (RT60_S, DRR_DB), 0.5, True),
    # The copies' features taken from the whole reverberant clip, its tail included, as
    # the workflow's waveform augmentation takes them (no endpointing after the room).
    "rooms, copies not endpointed": (True, False, 1.0, (RT60_S, DRR_DB), 1.0, False),
    # Every copy in a room and in white noise (the room's ranges and TRAIN_SNR_DB).
    "rooms and noise, voices too": (True, True, 1.0, (RT60_S, DRR_DB, TRAIN_SNR_DB), 1.0, True),
}
# name: (variant, variant, weight of the second): the two models' log-probabilities
# averaged (both heads read the same embedding, so a blend costs no more audio work).
BLENDS = {
    "champion and rooms blended": ("champion", "rooms", 0.5),
    "champion and mild rooms blended": ("champion", "mild rooms", 0.5),
    "champion and rooms blended, 0.3": ("champion", "rooms", 0.3),
    "champion and rooms (C halved) blended": ("champion", "rooms, C halved", 0.5),
}
# name: (dry model, room model, hard): a room detector (logistic regression on the clip's
# pooled embedding, trained on the fold's clips and training voices, dry, and on the room
# model's copies of them) weighs the two models' probabilities by its probability of a
# room, or (hard) picks one.
GATES = {
    "champion or rooms, by a room detector": ("champion", "rooms and voices in rooms", False),
    "champion or rooms, by a room detector (hard)": ("champion", "rooms and voices in rooms", True),
    "champion or rooms (FSDD copies only), by a room detector (hard)": ("champion", "rooms", True),
    "champion or rooms (copies not endpointed), by a room detector (hard)": (
        "champion",
        "rooms, copies not endpointed",
        True,
    ),
    "champion or rooms and noise, by a detector (hard)": (
        "champion",
        "rooms and noise, voices too",
        True,
    ),
}


def champion_views(samples_list, config, params, endpoint=True):
    """(x, found): the champion's inputs of each clip (endpointed first, as prediction
    reads a take), and whether speech was found (a clip without is all zeros)."""
    spec = InputSpec.from_model_config(
        config["models"][CHAMPION], config["training"]["frames"], params
    )
    features = params.extracted_features[-2:]  # the embedding and its speed views
    matrices, found = [], []
    for samples in samples_list:
        try:
            if endpoint:
                samples, _ = prepare_clip(
                    samples,
                    params.sample_rate,
                    params.sample_rate,
                    params.endpoint,
                    params.min_duration_s,
                )
            matrices.append(extract_features(np.asarray(samples, np.float32), params, features))
            found.append(True)
        except RecordingError:
            matrices.append(None)
            found.append(False)
    shape_from = next(m for m in matrices if m is not None)
    blank = {name: np.zeros_like(matrix) for name, matrix in shape_from.items()}
    x = inputs_from_matrices([m if m is not None else blank for m in matrices], spec)
    return x, np.array(found)


def rooms(samples_list, seed, sample_rate, ranges=(RT60_S, DRR_DB)):
    """Each clip in its own room, drawn from ``seed`` and the clip's position; with a third
    range (SNR, dB), then in white noise at an SNR drawn from it."""
    degraded = []
    for index, samples in enumerate(samples_list):
        rng = np.random.default_rng([seed, index])
        samples = in_room(samples, sample_rate, rng, *ranges[:2])
        if len(ranges) > 2:
            samples = np.clip(add_noise(samples, rng.uniform(*ranges[2]), rng), -1, 1)
        degraded.append(samples)
    return degraded


def in_noise(samples_list, seed, sample_rate):
    """Each clip in white or pink noise at an SNR drawn from TEST_SNR_DB, clipped as a
    recording is."""
    noisy = []
    for index, samples in enumerate(samples_list):
        rng = np.random.default_rng([seed, index])
        samples = np.asarray(samples, np.float64)
        color = TEST_NOISE_COLORS[int(rng.integers(len(TEST_NOISE_COLORS)))]
        noise = coloured_noise(samples.size, color, sample_rate, rng)
        power = np.mean(np.square(samples)) / 10 ** (rng.uniform(*TEST_SNR_DB) / 10)
        noisy.append(np.clip(samples + np.sqrt(power) * noise, -1, 1).astype(np.float32))
    return noisy


def cached(path, compute):
    if path.is_file():
        stored = np.load(path)
        return stored["x"], stored["found"]
    x, found = compute()
    partial = path.with_suffix(f".{os.getpid()}.npz")
    np.savez(partial, x=x, found=found)
    partial.replace(path)
    return x, found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, default=Path("results"))
    parser.add_argument("--config", type=Path, default=Path("config/config.yaml"))
    parser.add_argument("--cache", type=Path, required=True)
    parser.add_argument("--variant", choices=list(VARIANTS), nargs="+", default=list(VARIANTS))
    parser.add_argument("--blend", choices=list(BLENDS), nargs="*", default=list(BLENDS))
    parser.add_argument("--gate", choices=list(GATES), nargs="*", default=list(GATES))
    parser.add_argument("--json", type=Path, help="write the report here")
    args = parser.parse_args(argv)
    config = yaml.safe_load(args.config.read_text())
    params = FeatureParams.from_config(config)
    args.cache.mkdir(parents=True, exist_ok=True)
    dataset = pd.read_parquet(args.results / "dataset/features.parquet").reset_index(drop=True)
    voices = pd.read_parquet(args.results / "training_voices/features.parquet")
    clips = pd.read_parquet(args.results / "voices/clips.parquet").reset_index(drop=True)
    rate = params.sample_rate

    x, y = champion_inputs(dataset, config, CHAMPION)
    xt, yt = champion_inputs(voices.reset_index(drop=True), config, CHAMPION)
    samples = [np.asarray(s, np.float32) for s in dataset["samples"]]
    voice_samples = [np.asarray(s, np.float32) for s in voices["samples"]]
    # The workflow's clips are endpointed already: embedded again here they must give the
    # dataset's own inputs, or the copies would differ from the clips in more than the room.
    check, _ = champion_views(samples[:20], config, params, endpoint=False)
    assert np.array_equal(check, x[:20]), "embedding here differs from the workflow's"

    def train_copies(ranges, table, name, endpoint=True):
        """The training copies of ``table``'s clips in rooms of ``ranges``, cached by them."""
        tag = "_".join(f"{bound:g}" for pair in ranges for bound in pair)
        tag += "" if endpoint else "_whole"
        return cached(
            args.cache / f"{name}_train_rooms_{tag}.npz",
            lambda: champion_views(
                rooms(table, TRAIN_SEED, rate, ranges), config, params, endpoint
            ),
        )

    x_test_rooms, found_test = cached(
        args.cache / "fsdd_test_rooms.npz",
        lambda: champion_views(rooms(samples, TEST_SEED, rate), config, params),
    )
    clip_samples = [np.asarray(s, np.float32) for s in clips["samples"]]
    xv, found_v = cached(
        args.cache / "validation_voices.npz", lambda: champion_views(clip_samples, config, params)
    )
    clean = (clips["condition"] == "clean").to_numpy()
    clean_voices = [s for s, c in zip(clip_samples, clean, strict=True) if c]
    xv_rooms, found_v_rooms = cached(
        args.cache / "validation_voices_rooms.npz",
        lambda: champion_views(rooms(clean_voices, VOICES_SEED, rate), config, params),
    )
    x_test_noise, found_noise = cached(
        args.cache / "fsdd_test_noise.npz",
        lambda: champion_views(in_noise(samples, TEST_SEED, rate), config, params),
    )
    xv_noise, found_v_noise = cached(
        args.cache / "validation_voices_noise.npz",
        lambda: champion_views(in_noise(clean_voices, VOICES_SEED, rate), config, params),
    )
    yv = clips["digit"].to_numpy()
    print(
        "no speech found: FSDD rooms",
        int((~found_test).sum()),
        "voices",
        int((~found_v).sum()),
        "voices in rooms",
        int((~found_v_rooms).sum()),
        flush=True,
    )
    score = scorer(
        (x, y, x_test_rooms, found_test, x_test_noise, found_noise),
        dataset,
        (xv, yv, found_v, xv_rooms, found_v_rooms, xv_noise, found_v_noise),
        clips,
    )
    rows, models = [], {}
    for name in [*args.variant, *args.blend, *args.gate]:
        if name in GATES:
            dry, wet, hard = GATES[name]
            _, voice_copies, _, ranges, _, endpoint = VARIANTS[wet]
            in_rooms = (
                train_copies(ranges, samples, "fsdd", endpoint),
                train_copies(ranges, voice_samples, "training_voices", endpoint)
                if voice_copies
                else (xt[:0], np.zeros(0, bool)),
            )
            fitted = gate_fitter(models[dry], models[wet], (x, xt), in_rooms, hard)
            rows.append(score(name, fitted))
            continue
        if name in BLENDS:
            first, second, weight = BLENDS[name]

            def fitted(train, fold, first=first, second=second, weight=weight):
                return Blend(models[first](train, fold), models[second](train, fold), weight)

            rows.append(score(name, fitted))
            continue
        copies, voice_copies, share, ranges, c_factor, endpoint = VARIANTS[name]
        model_config = copy.deepcopy(config)
        for key in ("C", "frame_C"):
            model_config["models"][CHAMPION][key] *= c_factor
        # Rows every fold adds: the training voices, and their copies in rooms.
        always = [(xt, yt)]
        fsdd_copies = None
        if copies:
            x_copies, found_copies = train_copies(ranges, samples, "fsdd", endpoint)
            chosen = np.random.default_rng(TRAIN_SEED).random(len(y)) < share
            fsdd_copies = (x_copies, found_copies & chosen)
        if voice_copies:
            xt_copies, found_voices = train_copies(
                ranges, voice_samples, "training_voices", endpoint
            )
            always.append((xt_copies[found_voices], yt[found_voices]))
        fitted = variant_fitter(name, (x, y), always, fsdd_copies, model_config, args.cache)
        models[name] = fitted
        rows.append(score(name, fitted))
    from benchmarks.report import machine_description, write_report

    write_report(
        {
            "command": "nice -n 10 python -m benchmarks.reverb_study "
            + shlex.join(argv if argv is not None else sys.argv[1:]),
            "machine": machine_description(),
            "tables": report_tables(rows),
        },
        args.json,
    )


def report_tables(rows):
    """LOSO (clean and in rooms) and the validation voices per variant, in percent."""
    table = (pd.DataFrame(rows).set_index("variant") * 100).round(2)
    main = ["loso_mean", "loso_worst", "loso_rooms_mean", "loso_rooms_worst"]
    main += ["voices_clean", "voices_take", "voices_rooms"]
    families = [f"{family}_{condition}" for condition in ("clean", "rooms") for family in FAMILIES]
    speakers = sorted(c for c in table.columns if c.startswith("rooms_") and c != "rooms_mean")
    return {
        "Rooms: LOSO (clean and in rooms) and validation voices (%)": table[main]
        .reset_index()
        .to_dict(orient="records"),
        "In noise: LOSO and validation voices, white or pink noise at 5-20 dB SNR (%)": table[
            ["loso_mean", "loso_noise_mean", "loso_noise_worst", "voices_clean", "voices_noise"]
        ]
        .reset_index()
        .to_dict(orient="records"),
        "Validation voices by family (%)": table[families].reset_index().to_dict(orient="records"),
        "Held-out speakers in rooms (%)": table[speakers].reset_index().to_dict(orient="records"),
    }


def variant_fitter(name, fsdd, always, fsdd_copies, config, cache):
    """fitted(train, fold): the champion trained on the ``train`` rows of ``fsdd`` (x, y),
    their copies in rooms where ``fsdd_copies`` (x, usable) gives them, and the ``always``
    rows (x, y) of every fold."""
    x, y = fsdd

    def fitted(train, fold):
        parts = [(x[train], y[train]), *always]
        if fsdd_copies is not None:
            keep = train & fsdd_copies[1]
            parts.append((fsdd_copies[0][keep], y[keep]))
        xs = np.concatenate([part[0] for part in parts])
        ys = np.concatenate([part[1] for part in parts])
        keyed = copy.deepcopy(config) | {"fold": fold, "reverb_study": name}
        return fold_model(keyed, CHAMPION, xs, ys, np.ones(len(ys), bool), cache)

    return fitted


def room_detector(dry, wet):
    """A logistic regression telling clips in rooms from dry ones, on their pooled
    embedding; ``dry`` and ``wet``: lists of champion inputs."""
    dry, wet = np.concatenate(dry), np.concatenate(wet)
    features = np.concatenate([detector_features(dry), detector_features(wet)])
    labels = np.concatenate([np.zeros(len(dry)), np.ones(len(wet))])
    return standardized_logreg(0.1, 2000).fit(features, labels)


def gate_fitter(dry, wet, dry_inputs, in_rooms, hard):
    """fitted(train, fold): the ``dry`` and ``wet`` variants' models of the fold behind a
    room detector trained on the fold's clips and the training voices (``dry_inputs``: FSDD,
    voices) and their copies in rooms (``in_rooms``: (x, usable) of each)."""
    (x, xt), ((fsdd_wet, fsdd_found), (voices_wet, voices_found)) = dry_inputs, in_rooms

    def fitted(train, fold):
        detector = room_detector(
            [x[train], xt], [fsdd_wet[train & fsdd_found], voices_wet[voices_found]]
        )
        return Gated(dry(train, fold), wet(train, fold), detector, hard)

    return fitted


class Gated:
    """The dry and the room model's probabilities weighed by the detector's probability
    of a room, or (``hard``) the one it picks, by the product's rule
    (models.linear.gated_log_proba, as models.room_gate applies it)."""

    def __init__(self, dry, wet, detector, hard):
        self.dry, self.wet, self.detector, self.hard = dry, wet, detector, hard

    def room_probability(self, x):
        return self.detector.predict_proba(detector_features(x))[:, 1]

    def in_room(self, x):
        return self.detector.decision_function(detector_features(x)) > 0

    def predict(self, x):
        if self.hard:
            log_p = gated_log_proba(
                self.dry.predict_log_proba, self.wet.predict_log_proba, self.in_room, x
            )
            return np.argmax(log_p, axis=1)
        room = self.room_probability(x)[:, None]
        probabilities = (1 - room) * self.dry.predict_proba(x) + room * self.wet.predict_proba(x)
        return np.argmax(probabilities, axis=1)


class Blend:
    """Two fitted models' log-probabilities averaged, ``weight`` on the second."""

    def __init__(self, first, second, weight):
        self.first, self.second, self.weight = first, second, weight

    def predict(self, x):
        log_p = (1 - self.weight) * np.log(self.first.predict_proba(x) + 1e-12)
        log_p += self.weight * np.log(self.second.predict_proba(x) + 1e-12)
        return np.argmax(log_p, axis=1)


def scorer(fsdd, dataset, voices, clips):
    """score(name, fitted): a variant's row, from ``fitted(train rows, fold name)``."""
    x, y, x_test_rooms, found_test, x_test_noise, found_noise = fsdd
    xv, yv, found_v, xv_rooms, found_v_rooms, xv_noise, found_v_noise = voices
    speakers, split = dataset["speaker"], dataset["split"]
    clean = (clips["condition"] == "clean").to_numpy()

    def score(name, fitted):
        row = {"variant": name}
        clean_folds, room_folds, noise_folds = {}, {}, {}
        for speaker in sorted(speakers.unique()):
            model = fitted(((speakers != speaker) & (split != "val")).to_numpy(), speaker)
            held = (speakers == speaker).to_numpy()
            clean_folds[speaker] = float(np.mean(model.predict(x[held]) == y[held]))
            right = (model.predict(x_test_rooms[held]) == y[held]) & found_test[held]
            room_folds[speaker] = float(np.mean(right))
            right = (model.predict(x_test_noise[held]) == y[held]) & found_noise[held]
            noise_folds[speaker] = float(np.mean(right))
            print(name, speaker, clean_folds[speaker], room_folds[speaker], noise_folds[speaker])
            if hasattr(model, "in_room"):  # how often the detector says "room"
                dry_rate = np.mean(model.in_room(x[held]))
                wet_rate = np.mean(model.in_room(x_test_rooms[held]))
                noisy_rate = np.mean(model.in_room(x_test_noise[held]))
                print(
                    f"  room detector: dry clips {dry_rate:.3f}, in rooms {wet_rate:.3f}, "
                    f"in noise {noisy_rate:.3f}"
                )
        row |= {
            "loso_mean": np.mean(list(clean_folds.values())),
            "loso_worst": min(clean_folds.values()),
            "loso_rooms_mean": np.mean(list(room_folds.values())),
            "loso_rooms_worst": min(room_folds.values()),
            "loso_noise_mean": np.mean(list(noise_folds.values())),
            "loso_noise_worst": min(noise_folds.values()),
        }
        model = fitted((split == "train").to_numpy(), "train split")
        correct = (model.predict(xv) == yv) & found_v
        correct_rooms = (model.predict(xv_rooms) == yv[clean]) & found_v_rooms
        for condition in ("clean", "take"):
            mask = (clips["condition"] == condition).to_numpy()
            row[f"voices_{condition}"] = correct[mask].mean()
        row["voices_rooms"] = correct_rooms.mean()
        row["voices_noise"] = ((model.predict(xv_noise) == yv[clean]) & found_v_noise).mean()
        for family in FAMILIES:
            in_family = (clips["family"] == family).to_numpy()
            row[f"{family}_clean"] = correct[clean & in_family].mean()
            row[f"{family}_rooms"] = correct_rooms[in_family[clean]].mean()
        row = {k: (float(v) if k != "variant" else v) for k, v in row.items()}
        row |= {f"clean_{k}": v for k, v in clean_folds.items()}
        row |= {f"rooms_{k}": v for k, v in room_folds.items()}
        print(json.dumps(row), flush=True)
        return row

    return score


if __name__ == "__main__":
    sys.exit(main())
