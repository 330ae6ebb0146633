"""The speech embedding's inner layers as features: does any layer before its 96-number
output separate held-out speakers' digits better?

Every clip is endpointed and padded as the workflow's features are, and run through the
rewritten embedding model (features.embedding.sequence_model) with some inner layers also
made outputs. Each layer's frames (channels x frequency bands per time step) are pooled
over time as the embedding is (mean, max, sd: features.pooling.summary_statistics) into
the pooled logistic regression of ``emb_logreg`` (standardized, C 0.1), in
leave-one-speaker-out folds trained on all of the other speakers' clips.

    python -m benchmarks.embedding_layers RECORDINGS

Measured (tenth session, FSDD's 3,000 clips; mean / worst fold): the output 97.30 / 93.2,
the last max-pooling (96 channels) 96.63 / 92.0, the layer before it 97.33 / 91.8, two
layers earlier 96.50 / 91.8, the third max-pooling 95.73 / 89.2, the output with the last
max-pooling 97.17 / 93.6: no inner layer is a lever (CHANGELOG.md).
"""

import sys
from pathlib import Path

import numpy as np

from fsdd_pipeline.audio.endpoint import EndpointParams
from fsdd_pipeline.audio.reading import load_clip
from fsdd_pipeline.features.embedding import EMBEDDING_SIZE, get_embedder, sequence_model_bytes
from fsdd_pipeline.features.pooling import summary_statistics
from fsdd_pipeline.models.linear import standardized_logreg
from fsdd_pipeline.planning.naming import parse_recording_name

RATE = 8000
# Inner layers by their node output names in the ONNX graph, from the output backwards.
LAYERS = {
    "last max-pooling": "model/max_pooling2d_4/MaxPool:0",
    "before it": "model/tf.math.maximum_18/Maximum:0",
    "two layers earlier": "model/tf.math.maximum_16/Maximum:0",
    "third max-pooling": "model/max_pooling2d_3/MaxPool:0",
}
COMBINED = {"output and last max-pooling": ("output", "last max-pooling")}


def layered_session():
    """An onnxruntime session of the rewritten embedding model with LAYERS as outputs too."""
    import onnx
    import onnxruntime
    from onnx import TensorProto, helper

    model = onnx.load_from_string(sequence_model_bytes())
    for name in LAYERS.values():
        model.graph.output.append(helper.make_tensor_value_info(name, TensorProto.FLOAT, None))
    options = onnxruntime.SessionOptions()
    options.intra_op_num_threads = 1
    return onnxruntime.InferenceSession(
        model.SerializeToString(), options, providers=["CPUExecutionProvider"]
    )


def pooled_layers(paths):
    """{layer: (clips, features)} pooled per clip, for the output and every LAYERS entry."""
    session, embedder = layered_session(), get_embedder()
    pooled = {name: [] for name in ("output", *LAYERS)}
    for path in paths:
        samples, _ = load_clip(path, RATE, EndpointParams())
        mel = embedder.mel_frames(embedder.model_audio(samples, RATE))
        output, *inner = session.run(None, {"input_1": mel[None, :, :, None]})
        pooled["output"].append(summary_statistics(output.reshape(-1, EMBEDDING_SIZE), 0))
        for name, values in zip(LAYERS, inner, strict=True):
            channels, steps, bands = values[0].shape  # channels first: (C, time, bands)
            frames = values[0].transpose(1, 0, 2).reshape(steps, channels * bands)
            pooled[name].append(summary_statistics(frames, 0))
    return {name: np.array(rows) for name, rows in pooled.items()}


def loso_accuracies(features, digits, speakers):
    """{held-out speaker: accuracy} of the pooled logistic regression."""
    accuracies = {}
    for speaker in sorted(set(speakers)):
        held_out = speakers == speaker
        model = standardized_logreg(0.1, 3000).fit(features[~held_out], digits[~held_out])
        accuracies[speaker] = float(np.mean(model.predict(features[held_out]) == digits[held_out]))
    return accuracies


def main(recordings):
    paths = sorted(Path(recordings).glob("*.wav"))
    names = [parse_recording_name(path) for path in paths]
    digits = np.array([name.digit for name in names])
    speakers = np.array([name.speaker for name in names])
    pooled = pooled_layers(paths)
    variants = {name: (name,) for name in pooled} | COMBINED
    print("| features | dimensions | LOSO mean | worst fold |\n|:--|--:|--:|--:|")
    for label, parts in variants.items():
        features = np.hstack([pooled[part] for part in parts])
        accuracies = loso_accuracies(features, digits, speakers).values()
        print(
            f"| {label} | {features.shape[1]} | {100 * np.mean(list(accuracies)):.2f} "
            f"| {100 * min(accuracies):.1f} |",
            flush=True,
        )


if __name__ == "__main__":
    main(*sys.argv[1:])
