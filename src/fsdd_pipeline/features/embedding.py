"""A frozen pretrained speech embedding: Google's speech_embedding, run with onnxruntime.

The model (arXiv 2002.01322; released by Google on TF Hub under Apache-2.0) was trained
on a large speech corpus to give one 96-number vector per 80 ms that separates words
well, which is what a classifier of a few speakers' digits lacks. Its ONNX form ships in
the ``openwakeword==0.5.1`` wheel as two files, used here and nothing else from that
package: ``melspectrogram.onnx`` (16 kHz audio at int16 scale -> 32 mel bins every
10 ms) and ``embedding_model.onnx`` (76 mel frames -> 96 numbers). They are read from
the installed package; nothing is ever downloaded. The wheel's wake-word models, under a
non-commercial licence, are not used. Licence caveat: openWakeWord's README puts "all
included pre-trained models" under CC BY-NC-SA 4.0 while describing the embedding as a
re-implementation of Google's Apache-2.0 model; its maintainer has not yet said which
applies to these two files (dscripka/openWakeWord issues 313, 338, 346, 348).
"""

import functools
import hashlib
import importlib.util
import logging
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from fsdd_pipeline.audio.resampling import resample

log = logging.getLogger(__name__)

MODEL_PACKAGE = "openwakeword"
MODEL_FILES = {"melspectrogram": "melspectrogram.onnx", "embedding": "embedding_model.onnx"}
MODEL_RATE = 16000
INT16_SCALE = 32767.0
MEL_WINDOW = 512  # samples of audio per mel frame (the model's FFT length)
MEL_HOP = 160  # 10 ms at 16 kHz
MEL_BINS = 32
WINDOW_FRAMES = 76  # mel frames per embedding (0.775 s)
WINDOW_STEP = 8  # mel frames between embeddings (80 ms)
EMBEDDING_SIZE = 96
# Audio needed for one embedding window.
MIN_MODEL_SAMPLES = MEL_WINDOW + (WINDOW_FRAMES - 1) * MEL_HOP


@dataclass(frozen=True)
class EmbeddingParams:
    """What determines a clip's embedding (all from config).

    ``min_seconds``: shorter clips are padded with silence on both sides to this length,
    the word in the middle (1.5 s gives 9 embedding frames; never less than one window).
    ``speeds``: the clip is also embedded played at each of these speeds (its speed views,
    fsdd_pipeline.models.speed_views); empty: no views.
    """

    # The config schema's defaults (a test keeps FeatureParams() equal to the default config).
    min_seconds: float = 1.5
    speeds: tuple = (0.85, 1.15)

    def __post_init__(self):
        # From config the speeds come as a list; a tuple keeps the settings hashable.
        object.__setattr__(self, "speeds", tuple(float(speed) for speed in self.speeds))
        if any(speed <= 0 for speed in self.speeds):
            raise ValueError(f"embedding speeds must be positive: {self.speeds}")

    def as_dict(self):
        return asdict(self)


def model_directory():
    """The folder of the installed openwakeword package holding its ONNX models.

    Found without importing openwakeword (whose import loads tflite and its wake-word code).
    """
    spec = importlib.util.find_spec(MODEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise ModuleNotFoundError(
            f"the speech embedding needs the {MODEL_PACKAGE} package: "
            f"pip install {MODEL_PACKAGE}==0.5.1"
        )
    return Path(next(iter(spec.submodule_search_locations))) / "resources" / "models"


def model_files():
    """{"melspectrogram": path, "embedding": path} of the two ONNX files; they must exist."""
    files = {name: model_directory() / file_name for name, file_name in MODEL_FILES.items()}
    missing = [str(path) for path in files.values() if not path.is_file()]
    if missing:
        raise FileNotFoundError(f"speech embedding model files missing: {missing}")
    return files


@functools.cache
def model_sha256():
    """{"melspectrogram": hex digest, "embedding": hex digest}: every run of a model that
    reads the embedding records them as tags (tracking.runs.embedding_model_tags)."""
    return {
        name: hashlib.sha256(path.read_bytes()).hexdigest() for name, path in model_files().items()
    }


def embedding_frames(n_samples, sample_rate, params=EmbeddingParams()):
    """Number of embedding frames ``embed`` gives for a clip of ``n_samples``."""
    resampled = int(np.ceil(n_samples * MODEL_RATE / sample_rate))
    length = max(resampled, int(round(params.min_seconds * MODEL_RATE)), MIN_MODEL_SAMPLES)
    mel_frames = (length - MEL_WINDOW) // MEL_HOP + 1
    return (mel_frames - WINDOW_FRAMES) // WINDOW_STEP + 1


class SpeechEmbedder:
    """The two ONNX sessions and the steps between them; see ``get_embedder`` for a shared one.

    ``threads`` sets onnxruntime's intra-op threads (inter-op: 1). Results are
    deterministic: the same clip gives bit-identical embeddings.
    """

    def __init__(self, params=EmbeddingParams(), threads=1):
        import onnxruntime

        self.params = params
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = int(threads)
        options.inter_op_num_threads = 1
        options.use_deterministic_compute = True
        files = model_files()
        self._mel, self._embedding = (
            onnxruntime.InferenceSession(
                model, sess_options=options, providers=["CPUExecutionProvider"]
            )
            for model in (str(files["melspectrogram"]), sequence_model_bytes())
        )

    def model_audio(self, samples, sample_rate):
        """Mono float samples in [-1, 1] as the model takes them: 16 kHz, int16 scale, padded."""
        samples = np.asarray(samples, dtype=np.float32)
        if samples.ndim != 1 or samples.size == 0:
            raise ValueError(f"expected non-empty 1-D samples, got shape {samples.shape}")
        if sample_rate != MODEL_RATE:
            samples = resample(samples, sample_rate, MODEL_RATE)
        target = max(int(round(self.params.min_seconds * MODEL_RATE)), MIN_MODEL_SAMPLES)
        missing = max(0, target - samples.size)
        padded = np.pad(samples, (missing // 2, missing - missing // 2))
        return (padded * INT16_SCALE).astype(np.float32)

    def mel_frames(self, model_audio):
        """(frames, 32) mel spectrogram, shifted and scaled as the embedding model expects."""
        (mel,) = self._mel.run(None, {"input": model_audio[None, :]})
        # openWakeWord's scaling brings this ONNX mel close to Google's own front end.
        return (mel.reshape(-1, MEL_BINS) / 10.0 + 2.0).astype(np.float32)

    def embed(self, samples, sample_rate):
        """(frames, 96) float32: one embedding per 80 ms of (padded) audio."""
        return self.embed_model_audio(self.model_audio(samples, sample_rate))

    def embed_model_audio(self, model_audio):
        """(frames, 96) float32 of audio already as the model takes it (``model_audio``)."""
        return self.embed_mel(self.mel_frames(model_audio))

    def embed_mel(self, mel):
        """(frames, 96) float32 of a (frames, 32) mel spectrogram as ``mel_frames`` gives it."""
        # One run over the whole sequence gives the embedding of every window (sequence_model).
        (embeddings,) = self._embedding.run(None, {"input_1": mel[None, :, :, None]})
        return embeddings.reshape(-1, EMBEDDING_SIZE).astype(np.float32)


def sequence_model(path):
    """The embedding model (serialized) rewritten to embed a whole mel sequence in one run.

    The model is convolutional in time, with no padding along it, and pools to a stride of
    WINDOW_STEP frames: run on T frames, it gives the (T - 76) // 8 + 1 embeddings of the
    76-frame windows every 8 frames, the same numbers (a test checks them bit for bit), and
    computes the layers of overlapping windows once instead of up to nine times (4.8x less
    CPU for a 1.5 s clip). Only its first and last reshapes are tied to one window: the
    first (frames x bins into channels-first order) gets a free number of frames, the last
    (one 96-vector per window) becomes a transpose that keeps the steps.
    """
    import onnx
    from onnx import helper, numpy_helper

    model = onnx.load(str(path))
    graph = model.graph
    first, last = graph.node[0], graph.node[-1]
    if first.op_type != "Reshape" or last.op_type != "Reshape":
        raise ValueError(f"{path}: not the speech embedding model this code rewrites")
    # The reshapes' target shapes are initializers: the first gets a free number of frames,
    # the last one's goes with its node.
    shapes = {initializer.name: initializer for initializer in graph.initializer}
    free_frames = np.array([1, 1, -1, MEL_BINS], dtype=np.int64)
    shapes[first.input[1]].CopyFrom(numpy_helper.from_array(free_frames, first.input[1]))
    graph.initializer.remove(shapes[last.input[1]])
    steps_last = helper.make_node(
        "Transpose", [last.input[0]], list(last.output), perm=[0, 2, 3, 1]
    )
    graph.node.remove(last)
    graph.node.append(steps_last)
    # The declared shapes of one window: one sequence of any length in, its steps out.
    del graph.value_info[:]
    frames, steps = (
        graph.input[0].type.tensor_type.shape.dim,
        graph.output[0].type.tensor_type.shape.dim,
    )
    frames[0].dim_value, frames[1].dim_param = 1, "frames"
    steps[0].dim_value, steps[1].dim_param = 1, "steps"
    return model.SerializeToString()


# The rewritten sequence model's file in a trained model's folder, and its digests.
SEQUENCE_MODEL_FILE = "embedding_sequence.onnx"
SEQUENCE_DIGEST_FILE = "embedding_sequence.json"
# Rewritten sequence models this process knows, by the digest of the file they were made from.
_sequence_models = {}


def sequence_model_bytes():
    """The installed embedding model rewritten by ``sequence_model``: a copy stored with a
    trained model (``offer_sequence_model``) if it was made from this very file, else made
    now (importing onnx and rewriting cost about half a second)."""
    source = model_sha256()["embedding"]
    if source not in _sequence_models:
        _sequence_models[source] = sequence_model(model_files()["embedding"])
    return _sequence_models[source]


def save_sequence_model(directory):
    """Store the rewritten model in a trained model's folder, with the digests that let a
    later process use it instead of rewriting: its own, and that of the file it came from."""
    from fsdd_pipeline.io import atomic_path, write_json

    model = sequence_model_bytes()
    with atomic_path(Path(directory) / SEQUENCE_MODEL_FILE) as path:
        Path(path).write_bytes(model)
    digests = {
        "source_sha256": model_sha256()["embedding"],
        "sha256": hashlib.sha256(model).hexdigest(),
    }
    write_json(digests, Path(directory) / SEQUENCE_DIGEST_FILE)


def offer_sequence_model(directory):
    """Use the rewritten model stored in a trained model's folder, if it was made from the
    installed embedding model and is intact; True if it was taken."""
    import json

    digests, model = Path(directory) / SEQUENCE_DIGEST_FILE, Path(directory) / SEQUENCE_MODEL_FILE
    if not (digests.is_file() and model.is_file()):
        return False
    expected = json.loads(digests.read_text())
    source = model_sha256()["embedding"]
    if expected.get("source_sha256") != source:
        return False  # another openwakeword release: rewrite its own model instead
    data = model.read_bytes()
    if hashlib.sha256(data).hexdigest() != expected.get("sha256"):
        log.warning("%s does not match its digest: the embedding model is rewritten instead", model)
        return False
    _sequence_models.setdefault(source, data)
    return True


def get_embedder(params=None, threads=1):
    """The process-wide SpeechEmbedder for these settings (default EmbeddingParams()): the
    models load once per process, however the settings are passed."""
    return _shared_embedder(params or EmbeddingParams(), int(threads))


@functools.cache
def _shared_embedder(params, threads):
    return SpeechEmbedder(params, threads)
