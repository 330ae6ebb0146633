"""Cost and worth of the pretrained speech embedding on FSDD, in one small experiment.

1. Time: one process loads the two ONNX models, embeds a first clip, then reads and
   embeds ``--clips`` other FSDD recordings
   (8 kHz -> 16 kHz, padded to ``min_seconds``) with one thread: wall and CPU time.
2. Worth: the pooled embedding (mean, max, sd over frames: 288 numbers) of takes 5-29 of
   three speakers; a LogisticRegression(max_iter=2000) trained on two speakers is tested
   on the third, each speaker in turn (750 clips in all). Chance is 10%.

    python benchmarks/speech_embedding.py --recordings ../shared/data/fsdd/recordings
"""

import argparse
import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile
from sklearn.linear_model import LogisticRegression

from fsdd_pipeline.features.embedding import EmbeddingParams, SpeechEmbedder
from fsdd_pipeline.features.pooling import summary_statistics

SPEAKERS = ("george", "lucas", "nicolas")
TAKES = range(5, 30)


def embedding_seconds(embedder, paths):
    """(wall, CPU) seconds to read and embed every file."""
    wall, cpu = time.perf_counter(), time.process_time()
    for path in paths:
        samples, rate = soundfile.read(path, dtype="float32")
        embedder.embed(samples, rate)
    return time.perf_counter() - wall, time.process_time() - cpu


def unseen_speaker_accuracy(embedder, recordings):
    """{held-out speaker: accuracy} of LogisticRegression on pooled embeddings."""
    rows = []
    for speaker in SPEAKERS:
        for digit in range(10):
            for take in TAKES:
                samples, rate = soundfile.read(
                    recordings / f"{digit}_{speaker}_{take}.wav", dtype="float32"
                )
                rows.append(
                    (speaker, digit, summary_statistics(embedder.embed(samples, rate), axis=0))
                )
    frame = pd.DataFrame(rows, columns=["speaker", "digit", "pooled"])
    accuracy = {}
    for held_out in SPEAKERS:
        train, test = frame[frame.speaker != held_out], frame[frame.speaker == held_out]
        model = LogisticRegression(max_iter=2000)
        model.fit(np.stack(train.pooled), train.digit)
        accuracy[held_out] = float(model.score(np.stack(test.pooled), test.digit))
    return accuracy, len(frame)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=Path, required=True)
    parser.add_argument("--clips", type=int, default=300)
    parser.add_argument("--min-seconds", type=float, default=EmbeddingParams().min_seconds)
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()

    start = time.perf_counter()
    embedder = SpeechEmbedder(EmbeddingParams(min_seconds=args.min_seconds), threads=1)
    load_s = time.perf_counter() - start
    paths = sorted(args.recordings.glob("*.wav"))
    chosen = np.random.default_rng(0).choice(len(paths), args.clips + 1, replace=False)
    first_s, _ = embedding_seconds(embedder, [paths[chosen[0]]])
    embed_s, embed_cpu_s = embedding_seconds(embedder, [paths[i] for i in sorted(chosen[1:])])
    accuracy, clips = unseen_speaker_accuracy(embedder, args.recordings)
    results = {
        "min_seconds": args.min_seconds,
        "model_load_s": round(load_s, 3),
        "first_clip_s": round(first_s, 2),
        f"embed_{args.clips}_clips_s": round(embed_s, 2),
        f"embed_{args.clips}_clips_cpu_s": round(embed_cpu_s, 2),
        "ms_per_clip": round(1000 * embed_s / args.clips, 2),
        "lr_clips": clips,
        **{f"lr_accuracy_unseen_{speaker}": acc for speaker, acc in accuracy.items()},
        "lr_accuracy_unseen_mean": float(np.mean(list(accuracy.values()))),
    }
    print(pd.Series(results).to_markdown())
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main()
