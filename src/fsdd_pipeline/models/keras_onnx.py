"""A trained Keras model's forward pass as ONNX: written beside model.keras at training
(tf2onnx), read with onnxruntime alone, so that predicting with a Keras model does not
import TensorFlow (about 6 s of a cold start for 1 ms of computation).

The exported graph gives the Keras model's probabilities to within float32 rounding
(a few 1e-6); every prediction path (evaluation, the CLI, the served model, the app)
reads the same file, so they agree with each other bit for bit.
"""

import contextlib
import hashlib
import json
from pathlib import Path

import numpy as np

from fsdd_pipeline.labels import N_CLASSES

ONNX_FILE = "model.onnx"
# The digest of the model.keras the export was made from: a model.keras replaced by hand is
# never predicted with a stale export.
ONNX_DIGEST_FILE = "model.onnx.json"
# The ONNX operator set tf2onnx writes: one onnxruntime 1.16+ runs.
OPSET = 17
# Rows per forward pass: bounds the memory of a large batch.
BATCH_ROWS = 256


def _sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def export_onnx(model, example_shape, keras_path, directory):
    """Write ``model``'s inference graph (inputs: float32 (n, *example_shape)) to
    ``directory``/model.onnx with the digest of ``keras_path``, the saved model it is."""
    import tensorflow as tf
    import tf2onnx

    from fsdd_pipeline.io import atomic_path, write_json

    spec = [tf.TensorSpec((None, *example_shape), tf.float32, name="features")]
    forward = tf.function(lambda x: model(x, training=False), input_signature=spec)
    with normalization_as_variables(model), atomic_path(Path(directory) / ONNX_FILE) as path:
        tf2onnx.convert.from_function(forward, input_signature=spec, opset=OPSET, output_path=path)
    write_json({"keras_sha256": _sha256(keras_path)}, Path(directory) / ONNX_DIGEST_FILE)


@contextlib.contextmanager
def normalization_as_variables(model):
    """Keras' Normalization layer keeps its adapted mean and variance as constant tensors,
    which tf2onnx leaves as unfed graph inputs; as variables they are frozen into the
    graph. Restored on exit: the model is the one saved and logged."""
    import keras
    import tensorflow as tf

    layers = [
        layer
        for layer in _all_layers(model)
        if isinstance(layer, keras.layers.Normalization) and layer.mean is not None
    ]
    saved = [(layer.mean, layer.variance) for layer in layers]
    try:
        for layer in layers:
            layer.mean = tf.Variable(np.asarray(layer.mean), trainable=False)
            layer.variance = tf.Variable(np.asarray(layer.variance), trainable=False)
        yield
    finally:
        for layer, (mean, variance) in zip(layers, saved, strict=True):
            layer.mean, layer.variance = mean, variance


def _all_layers(model):
    for layer in getattr(model, "layers", []):
        yield layer
        yield from _all_layers(layer)


def current_export(directory, keras_path):
    """The folder's model.onnx if it was exported from ``keras_path`` as it is now, else None."""
    onnx_path, digest = Path(directory) / ONNX_FILE, Path(directory) / ONNX_DIGEST_FILE
    if not (onnx_path.is_file() and digest.is_file()):
        return None
    if json.loads(digest.read_text()).get("keras_sha256") != _sha256(keras_path):
        return None
    return onnx_path


class OnnxKerasModel:
    """A Keras classifier's exported forward pass, with the scikit-learn face DigitClassifier
    uses (``predict_proba``, ``classes_``). One intra-op thread, deterministic: a server or
    a folder's worker processes use the cores."""

    classes_ = np.arange(N_CLASSES)

    def __init__(self, path):
        import onnxruntime

        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        options.use_deterministic_compute = True
        self.session = onnxruntime.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
        self.input_name = self.session.get_inputs()[0].name

    def predict_proba(self, x):
        x = np.asarray(x, dtype=np.float32)
        batches = [
            self.session.run(None, {self.input_name: x[start : start + BATCH_ROWS]})[0]
            for start in range(0, len(x), BATCH_ROWS)
        ]
        return np.concatenate(batches).astype(np.float64)
