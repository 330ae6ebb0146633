"""Endpoint detectors compared on synthesized takes, and the crop of clean FSDD clips.

Every take is a real FSDD clip at a random place in a 2.5-3 s take (``place_in_take``)
with a white, pink or brown noise floor 20, 30 or 40 dB below the word, a random DC
offset and gain, and a click near each end, stored as 16-bit PCM would be. Each detector
gives per-frame speech decisions that go through the same word segmentation and crop
(``fsdd_pipeline.audio.endpoint``), scored against the true word position: IoU of the loudest
detected word, coverage (share of the word inside the crop, which adds the margin), and
the rate of takes where speech was found. Takes without a word (noise at several levels,
digital silence, dither) score the rate of "no speech". Finally the energy detector crops
clean FSDD clips, which must come out essentially intact.

    python benchmarks/endpointing.py --recordings ../shared/data/fsdd/recordings --json out.json

Detectors: ``energy`` (this package), ``webrtcvad-N`` (``pip install webrtcvad-wheels``,
aggressiveness N, 10 ms frames at 8 kHz) and ``silero-8k``/``silero-16k`` (the Silero VAD
ONNX file shipped in the openwakeword wheel, with Silero's own hysteresis), each skipped
when its package is missing; ``--detectors`` picks some.
"""

import argparse
import importlib.util
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile

from fsdd_pipeline.audio.endpoint import (
    EndpointParams,
    activity_to_segments,
    crop_region,
    crop_to_speech,
    detect_speech,
    frame_levels_db,
)
from fsdd_pipeline.audio.realistic_takes import noise_take, place_in_take
from fsdd_pipeline.features.librosa_runtime import load_librosa

SNRS_DB = (40, 30, 20)
COLORS = ("white", "pink", "brown")
NOISE_LEVELS_DBFS = (-30, -50, -66)
SILERO_RATES = (8000, 16000)


def as_pcm16(samples):
    """What writing the take to a 16-bit WAV and reading it back gives."""
    return (np.round(np.clip(samples, -1, 1) * 32767) / 32767).astype(np.float32)


def energy_detector(samples, sample_rate, params):
    return detect_speech(samples, sample_rate, params)


def webrtc_detector(aggressiveness):
    """webrtcvad's decision on every 10 ms frame (the energy detector's hop) at 8 kHz."""
    import webrtcvad

    vad = webrtcvad.Vad(aggressiveness)

    def detect(samples, sample_rate, params):
        levels, hop = frame_levels_db(samples, sample_rate, params)
        pcm = (np.clip(samples, -1, 1) * 32767).astype("<i2")
        step = int(0.010 * sample_rate)
        active = np.zeros(len(levels), dtype=bool)
        for index in range(len(levels)):
            chunk = pcm[index * hop : index * hop + step]
            if len(chunk) == step:
                active[index] = vad.is_speech(chunk.tobytes(), sample_rate)
        return activity_to_segments(active, levels, sample_rate, len(samples), params)

    return detect


def silero_detector(rate, threshold=0.5):
    """Silero VAD (recurrent state, 32 ms chunks) at 8 or 16 kHz, mapped onto the 10 ms grid.

    As in Silero's own ``get_speech_timestamps``, speech starts at ``threshold`` and
    continues while the probability stays above ``threshold - 0.15``.
    """
    librosa = load_librosa()
    import onnxruntime

    location = importlib.util.find_spec("openwakeword").submodule_search_locations[0]
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = options.inter_op_num_threads = 1
    session = onnxruntime.InferenceSession(
        str(Path(location) / "resources" / "models" / "silero_vad.onnx"),
        sess_options=options,
        providers=["CPUExecutionProvider"],
    )
    chunk = int(0.032 * rate)

    def detect(samples, sample_rate, params):
        levels, hop = frame_levels_db(samples, sample_rate, params)
        audio = librosa.resample(samples, orig_sr=sample_rate, target_sr=rate)
        state = {"h": np.zeros((2, 1, 64), np.float32), "c": np.zeros((2, 1, 64), np.float32)}
        speaking, decisions = False, []
        for start in range(0, len(audio) - chunk + 1, chunk):
            inputs = {"input": audio[None, start : start + chunk], "sr": np.array(rate), **state}
            probability, state["h"], state["c"] = session.run(None, inputs)
            speaking = probability[0, 0] >= (threshold - 0.15 if speaking else threshold)
            decisions.append(speaking)
        frame = params.frame_ms / 1000 * sample_rate
        centres_s = (np.arange(len(levels)) * hop + frame / 2) / sample_rate
        chunk_index = np.minimum((centres_s * rate // chunk).astype(int), len(decisions) - 1)
        active = np.asarray(decisions)[chunk_index]
        return activity_to_segments(active, levels, sample_rate, len(samples), params)

    return detect


def available_detectors():
    detectors = {"energy": energy_detector}
    if importlib.util.find_spec("webrtcvad"):
        detectors.update({f"webrtcvad-{level}": webrtc_detector(level) for level in (1, 2, 3)})
    if importlib.util.find_spec("onnxruntime") and importlib.util.find_spec("openwakeword"):
        for rate in SILERO_RATES:
            detectors[f"silero-{rate // 1000}k"] = silero_detector(rate)
    return detectors


def pick_clips(recordings, count, seed):
    """``count`` FSDD clips drawn without replacement, the same for every detector."""
    files = sorted(recordings.glob("*.wav"))
    chosen = np.random.default_rng(seed).choice(len(files), size=count, replace=False)
    return [files[index] for index in sorted(chosen)]


def word_takes(clips, seed):
    """(condition, Take) for every clip and noise condition, with random DC, gain and clicks."""
    rng = np.random.default_rng(seed)
    takes = []
    for path in clips:
        samples, rate = soundfile.read(path, dtype="float32")
        for snr_db in SNRS_DB:
            for color in COLORS:
                take = place_in_take(
                    samples,
                    rate,
                    rng,
                    duration_s=rng.uniform(2.5, 3.0),
                    snr_db=snr_db,
                    noise_color=color,
                    dc_offset=rng.choice([-1, 1]) * rng.uniform(0.0, 0.1),
                    gain_db=rng.uniform(-20.0, 0.0),
                    edge_clicks=True,
                )
                takes.append((f"{color} {snr_db} dB", take))
    return takes


def empty_takes(count, sample_rate, seed):
    """(condition, samples) of takes without a word: noise, silence and dither, with clicks."""
    rng = np.random.default_rng(seed)
    conditions = [(f"{c} noise {lvl} dBFS", lvl, c) for lvl in NOISE_LEVELS_DBFS for c in COLORS]
    conditions += [("digital silence", None, "white"), ("dithered silence", -101, "white")]
    takes = []
    for name, level_dbfs, color in conditions:
        for _ in range(count):
            samples = noise_take(
                rng.uniform(2.5, 3.0),
                sample_rate,
                rng,
                level_dbfs=level_dbfs,
                noise_color=color,
                dc_offset=rng.choice([-1, 1]) * rng.uniform(0.0, 0.1) if level_dbfs else 0.0,
                click_amplitude=rng.uniform(0.05, 0.5) if level_dbfs else None,
            )
            takes.append((name, samples))
    return takes


def overlap(region, take):
    return max(0, min(region[1], take.word_end) - max(region[0], take.word_start))


def iou(region, take):
    """Intersection over union of a (start, end) region and the take's true word."""
    union = max(region[1], take.word_end) - min(region[0], take.word_start)
    return overlap(region, take) / union


def score_word_takes(detect, takes, params):
    rows = []
    for condition, take in takes:
        samples = as_pcm16(take.samples)
        segments = detect(samples, take.sample_rate, params)
        word = max(segments, key=lambda segment: segment.peak_db, default=None)
        crop = crop_region(segments, len(samples), take.sample_rate, params)
        rows.append(
            {
                "condition": condition,
                "found": word is not None,
                "iou": iou((word.start, word.end), take) if word else 0.0,
                "coverage": overlap(crop, take) / (take.word_end - take.word_start) if crop else 0,
                "words": len(segments),
            }
        )
    return pd.DataFrame(rows)


def score_empty_takes(detect, takes, sample_rate, params):
    rows = []
    for condition, samples in takes:
        found = bool(detect(as_pcm16(samples), sample_rate, params))
        rows.append({"condition": condition, "no_speech": not found})
    return pd.DataFrame(rows)


def clean_clip_crops(recordings, count, seed, params):
    """How much of clean FSDD clips the energy detector's crop cuts (seconds, energy share)."""
    rows = []
    for path in pick_clips(recordings, count, seed):
        samples, rate = soundfile.read(path, dtype="float32")
        cropped, info = crop_to_speech(samples, rate, params)
        centred = samples - samples.mean()
        kept = centred[int(round(info.start_s * rate)) : int(round(info.end_s * rate))]
        lost = 1 - float(np.sum(np.square(kept)) / np.sum(np.square(centred)))
        rows.append({"speech_found": info.speech_found, "cut_s": info.cut_s, "energy_lost": lost})
    return pd.DataFrame(rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=Path, required=True)
    parser.add_argument("--clips", type=int, default=60, help="FSDD clips placed in takes")
    parser.add_argument("--empty", type=int, default=10, help="takes per no-word condition")
    parser.add_argument("--clean", type=int, default=300, help="clean FSDD clips cropped")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--detectors", nargs="+", help="only these detectors (default: all)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    params = EndpointParams()
    clips = pick_clips(args.recordings, args.clips, args.seed)
    takes = word_takes(clips, args.seed)
    rate = takes[0][1].sample_rate
    empties = empty_takes(args.empty, rate, args.seed)

    by_condition, summary = {}, []
    for name, detect in available_detectors().items():
        if args.detectors and name not in args.detectors:
            continue
        begin = time.perf_counter()
        words = score_word_takes(detect, takes, params)
        empty = score_empty_takes(detect, empties, rate, params)
        seconds = time.perf_counter() - begin
        by_condition[name] = words.groupby("condition", sort=False)["iou"].mean()
        summary.append(
            {
                "detector": name,
                "mean_iou": words["iou"].mean(),
                "iou_p10": words["iou"].quantile(0.1),
                "coverage": words["coverage"].mean(),
                "coverage>=0.95": (words["coverage"] >= 0.95).mean(),
                "speech_found": words["found"].mean(),
                "one_word": (words["words"] == 1).mean(),
                "no_speech_on_empty": empty["no_speech"].mean(),
                "ms_per_take": 1000 * seconds / (len(takes) + len(empties)),
            }
        )
        by_condition[name] = pd.concat(
            [by_condition[name], empty.groupby("condition", sort=False)["no_speech"].mean()]
        )
    summary = pd.DataFrame(summary).set_index("detector")
    conditions = pd.DataFrame(by_condition)
    clean = clean_clip_crops(args.recordings, args.clean, args.seed + 1, params)
    clean_summary = {
        "clips": len(clean),
        "speech_found": clean["speech_found"].mean(),
        "mean_cut_s": clean["cut_s"].mean(),
        "p95_cut_s": clean["cut_s"].quantile(0.95),
        "max_cut_s": clean["cut_s"].max(),
        "mean_energy_lost": clean["energy_lost"].mean(),
        "max_energy_lost": clean["energy_lost"].max(),
        "clips_losing_over_1pct_energy": int((clean["energy_lost"] > 0.01).sum()),
    }

    print(f"{len(takes)} word takes ({args.clips} clips x 9 conditions), {len(empties)} empty\n")
    print(summary.to_markdown(floatfmt=".3f"))
    print("\nIoU per condition (word takes), rate of 'no speech' (empty takes):\n")
    print(conditions.to_markdown(floatfmt=".3f"))
    print(f"\nClean FSDD clips cropped by the energy detector ({params.margin_s} s margin):\n")
    print(pd.Series(clean_summary).to_markdown(floatfmt=".4f"))
    if args.json:
        args.json.write_text(
            json.dumps(
                {
                    "params": params.as_dict(),
                    "summary": summary.reset_index().to_dict(orient="records"),
                    "by_condition": conditions.reset_index().to_dict(orient="records"),
                    "clean_clips": clean_summary,
                },
                indent=2,
                default=float,
            )
        )


if __name__ == "__main__":
    main()
