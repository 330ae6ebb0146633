"""How fast a model reads digit strings: a 7 s take of ten digits (warm, median of 10) and
a 10-minute take of -40 dBFS white noise holding four clear digits (its time and the
process's peak memory).

    python -m benchmarks.strings_speed --model-dir results/models/emb_frame_logreg_speeds/model \\
        --recordings ../shared/data/fsdd/recordings
"""

import argparse
import resource
import time
from pathlib import Path

import numpy as np
import soundfile

from fsdd_pipeline.audio.realistic_takes import noise_take
from fsdd_pipeline.models.classifier import DigitClassifier
from fsdd_pipeline.serving.transcript import attach_strings_model, transcribe
from fsdd_pipeline.strings.takes import StringTakeSettings, synthesize_take

RATE = 8000
LONG_TAKE_S = 600.0
LONG_DIGITS_AT_S = (60.0, 180.0, 300.0, 420.0)
CLEAR_PEAK = 0.5  # -6 dBFS


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model-dir", type=Path, required=True)
    parser.add_argument("--recordings", type=Path, required=True)
    parser.add_argument("--speaker", default="theo")
    args = parser.parse_args()
    classifier = attach_strings_model(DigitClassifier.load(args.model_dir), args.model_dir)
    clips = [
        (
            soundfile.read(
                args.recordings / f"{digit}_{args.speaker}_{digit}.wav", dtype="float32"
            )[0],
            digit,
        )
        for digit in range(10)
    ]
    rng = np.random.default_rng(0)
    settings = StringTakeSettings(pause_s=(0.3, 0.3), overlap_probability=0.0)
    take = synthesize_take(clips, RATE, rng, settings)
    transcribe(classifier, take.samples, RATE)  # warm
    seconds = []
    for _ in range(10):
        start = time.perf_counter()
        digits = transcribe(classifier, take.samples, RATE)["digits"]
        seconds.append(time.perf_counter() - start)
    print(
        f"{take.samples.size / RATE:.1f} s take of {take.digits}: read {digits} in "
        f"{np.median(seconds):.3f} s (median of 10, warm)"
    )
    long = noise_take(LONG_TAKE_S, RATE, rng, level_dbfs=-40, noise_color="white")
    expected = ""
    for (samples, digit), at_s in zip(clips, LONG_DIGITS_AT_S, strict=False):
        at = int(at_s * RATE)
        long[at : at + samples.size] += samples / np.abs(samples).max() * CLEAR_PEAK
        expected += str(digit)
    start = time.perf_counter()
    digits = transcribe(classifier, long, RATE)["digits"]
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(
        f"{LONG_TAKE_S / 60:.0f}-minute take of {expected} in -40 dBFS white noise: read "
        f"{digits} in {time.perf_counter() - start:.2f} s; peak RSS {peak_mb:.0f} MB"
    )


if __name__ == "__main__":
    main()
