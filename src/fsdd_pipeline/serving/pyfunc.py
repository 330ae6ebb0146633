"""The raw-audio MLflow pyfunc model: base64 audio file bytes (or samples) in, digits out.

It wraps a trained model folder (``results/models/{name}/``) and computes the features
with the same loading and feature code as the pipeline, so a served or registered model
predicts a recording exactly like ``fsdd-predict`` and the evaluation do.
"""

import base64
import binascii
import contextlib
import importlib.metadata
import io
import json
import numbers
import os
import shutil
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.types.schema import ColSpec, Schema

import fsdd_pipeline
from fsdd_pipeline.audio.reading import read_audio
from fsdd_pipeline.errors import PipelineError, RecordingError
from fsdd_pipeline.labels import N_CLASSES, PROB_COLUMNS
from fsdd_pipeline.models.classifier import KERAS_FILE, DigitClassifier
from fsdd_pipeline.models.inputs import InputSpec
from fsdd_pipeline.planning.audio_formats import SUPPORTED_TEXT
from fsdd_pipeline.serving.nodelay import keep_tcp_nodelay
from fsdd_pipeline.serving.transcript import NO_DIGIT_REASON, attach_strings_model, transcribe
from fsdd_pipeline.strings.segmentation import SEGMENTER_FILE
from fsdd_pipeline.tracking.registry import MODEL_DIR_ARTIFACT

# The audio one request may carry (a 10-minute 16 kHz 16-bit take is 19 MB).
MAX_REQUEST_MB = 64
AUDIO_COLUMN = "audio_base64"
SAMPLES_COLUMN = "samples"
RATE_COLUMN = "sample_rate"
INPUT_COLUMNS = (AUDIO_COLUMN, SAMPLES_COLUMN, RATE_COLUMN)
ACCEPTED_INPUT = (
    f"{AUDIO_COLUMN} (base64 of a {SUPPORTED_TEXT} file), or {SAMPLES_COLUMN} "
    f"(a list of numbers) with {RATE_COLUMN} (Hz)"
)

# Pinned to this environment so that the logged model states what it was built with
# (and MLflow does not spend time inferring the requirements).
BASE_REQUIREMENTS = (
    "mlflow",
    "cloudpickle",
    "numpy",
    "pandas",
    "scipy",
    "scikit-learn",
    "joblib",
    "soundfile",
    "soxr",
    "librosa",
)
# TensorFlow loads model.keras where its ONNX export (models.keras_onnx) is missing or stale.
KERAS_REQUIREMENTS = ("keras", "tensorflow-cpu", "onnxruntime")
# The speech embedding's two ONNX files ship in the openwakeword wheel; onnxruntime runs them,
# once onnx has rewritten the embedding to run over a whole clip.
EMBEDDING_REQUIREMENTS = ("openwakeword", "onnxruntime", "onnx")


class AudioRequestError(MlflowException, PipelineError):
    """A request the model cannot take (unknown columns, unnamed inputs, unusable rows).

    An MLflow exception, so the scoring server answers ``http_status`` (400) with the message
    instead of a generic 500.
    """

    http_status = 400

    def __init__(self, message):
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)

    # MLflow's scoring server rewrites the message of an exception the model raises into
    # "Failed to predict data '<the whole request>'. Error: ...": a 12.8 MB upload got a
    # 12.8 MB answer. The message is the reason and the rows it names, and stays so.
    @property
    def message(self):
        return self._reason

    @message.setter
    def message(self, value):
        if not hasattr(self, "_reason"):
            self._reason = value

    def get_http_status_code(self):
        return self.http_status


class AudioRequestTooLargeError(AudioRequestError):
    """A request over the size the model takes (HTTP 413)."""

    http_status = 413


class AudioInputError(AudioRequestError):
    """Rows of a request that are not usable audio; ``reasons`` maps row position to reason."""

    def __init__(self, reasons):
        self.reasons = dict(reasons)
        super().__init__(
            "; ".join(f"row {row}: {reason}" for row, reason in sorted(self.reasons.items()))
        )


def _missing(value):
    """None, NaN or NA (a missing cell of a mixed request); lists and arrays are not missing."""
    return value is None or (pd.api.types.is_scalar(value) and bool(pd.isna(value)))


def _plain(value):
    """Python scalars and lists for numpy values (MLflow hands JSON values as arrays)."""
    return value.tolist() if isinstance(value, np.ndarray) else value


def _is_one_clip(samples):
    """A flat list of numbers: the samples of one clip, not one list of samples per row."""
    return isinstance(samples, list) and all(isinstance(x, numbers.Real) for x in samples)


def _check_columns(names):
    unknown = [name for name in names if name not in INPUT_COLUMNS]
    if unknown:
        raise AudioRequestError(
            f"unknown column(s) {', '.join(map(repr, unknown))}: accepted columns are "
            f"{ACCEPTED_INPUT}"
        )


def _column_rows(name, value):
    """The per-row values of one column given as a whole (dict form of a request)."""
    value = _plain(value)
    if not isinstance(value, list) or (name == SAMPLES_COLUMN and _is_one_clip(value)):
        return [value]
    return value


def request_rows(model_input):
    """The rows of a request as dicts, in whichever form MLflow hands them to the model.

    The scoring server passes a DataFrame for ``dataframe_split``/``dataframe_records``, a
    dict of arrays for ``inputs`` given as columns and for ``instances`` (whose rows it
    merges into columns), and a list of dicts for ``inputs`` given as rows. Unknown
    columns and unnamed values raise AudioRequestError naming them.
    """
    if isinstance(model_input, pd.DataFrame):
        _check_columns(model_input.columns)
        names = list(model_input.columns)
        # Row dicts from the columns' lists: DataFrame.to_dict("records") costs ~10x more.
        values = [model_input[name].tolist() for name in names]
        return [dict(zip(names, row, strict=True)) for row in zip(*values, strict=True)]
    if isinstance(model_input, dict):
        _check_columns(model_input)
        columns = {name: _column_rows(name, value) for name, value in model_input.items()}
        lengths = {name: len(values) for name, values in columns.items()}
        if len(set(lengths.values())) > 1:
            counts = ", ".join(f"{name} {length}" for name, length in lengths.items())
            raise AudioRequestError(
                f"the columns hold different numbers of rows ({counts}): give every "
                "column one value per row"
            )
        n_rows = next(iter(lengths.values()), 0)
        return [{name: values[i] for name, values in columns.items()} for i in range(n_rows)]
    if isinstance(model_input, list) and all(isinstance(row, dict) for row in model_input):
        for row in model_input:
            _check_columns(row)
        return [{name: _plain(value) for name, value in row.items()} for row in model_input]
    raise AudioRequestError(
        f"unnamed input ({type(model_input).__name__}): name the columns, accepted are "
        f'{ACCEPTED_INPUT}; e.g. {{"inputs": {{"{AUDIO_COLUMN}": ["<base64>"]}}}}'
    )


def _audio_bytes(row):
    """The size of a row's audio as sent: base64 text, or four bytes a sample."""
    encoded = row.get(AUDIO_COLUMN)
    if isinstance(encoded, str | bytes):
        return len(encoded) * 3 // 4
    samples = row.get(SAMPLES_COLUMN)
    return 4 * len(samples) if isinstance(samples, list | np.ndarray) else 0


def check_request_size(rows, limit_mb=None):
    """AudioRequestTooLargeError (413) if the rows' audio is over ``limit_mb`` (default:
    $FSDD_MAX_REQUEST_MB, else MAX_REQUEST_MB), before any of it is decoded."""
    limit_mb = float(limit_mb or os.environ.get("FSDD_MAX_REQUEST_MB") or MAX_REQUEST_MB)
    total = sum(_audio_bytes(row) for row in rows)
    if total > limit_mb * 1e6:
        raise AudioRequestTooLargeError(
            f"request too large: {total / 1e6:.1f} MB of audio in {len(rows)} rows, over the "
            f"{limit_mb:g} MB this model takes per request (FSDD_MAX_REQUEST_MB): send fewer "
            "or shorter takes per request"
        )


def _row_clip(row):
    """(samples, rate) of one request row; RecordingError or ValueError with the reason."""
    encoded = row.get(AUDIO_COLUMN)
    if not _missing(encoded):
        if not (_missing(row.get(SAMPLES_COLUMN)) and _missing(row.get(RATE_COLUMN))):
            raise ValueError(
                f"both {AUDIO_COLUMN} and {SAMPLES_COLUMN}/{RATE_COLUMN} given: give one form "
                "of audio per row (MLflow merges the rows of an `instances` request into "
                "columns: give them all the same columns)"
            )
        if isinstance(encoded, bytes):
            encoded = encoded.decode("ascii", errors="replace")
        if not isinstance(encoded, str):
            raise ValueError(f"{AUDIO_COLUMN} is not a base64 string ({type(encoded).__name__})")
        try:
            # Line breaks are allowed: `base64` wraps its output at 76 characters.
            data = base64.b64decode("".join(encoded.split()), validate=True)
        except (binascii.Error, ValueError) as error:
            raise ValueError(f"{AUDIO_COLUMN} is not valid base64 ({error})") from None
        return read_audio(io.BytesIO(data), source=AUDIO_COLUMN)
    samples = row.get(SAMPLES_COLUMN)
    if _missing(samples):
        raise ValueError(f"no audio: give {ACCEPTED_INPUT}")
    rate = row.get(RATE_COLUMN)
    try:
        rate = None if _missing(rate) else int(rate)
    except (TypeError, ValueError):
        rate = None
    if rate is None or rate <= 0:
        raise ValueError(f"{SAMPLES_COLUMN} given without a positive integer {RATE_COLUMN}")
    try:
        samples = np.asarray(samples, dtype=np.float32)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{SAMPLES_COLUMN} is not a list of numbers ({error})") from None
    return samples, rate


def _prediction_columns(probabilities):
    """digit, probability and prob_0..prob_9 of probabilities (n, 10), as columns."""
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1, N_CLASSES)
    columns = {
        "digit": probabilities.argmax(axis=1).astype(np.int64),
        "probability": probabilities.max(axis=1),
    }
    return columns | {name: probabilities[:, d] for d, name in enumerate(PROB_COLUMNS)}


def predictions_frame(probabilities):
    """The output frame of probabilities (n, 10): digit, probability, prob_0..prob_9."""
    # Built from its columns at once: inserting into a frame costs more than a prediction's
    # forward pass, and a served request pays it every time.
    return pd.DataFrame(_prediction_columns(probabilities), copy=False)


class AudioDigitModel(mlflow.pyfunc.PythonModel):
    """Pyfunc model over a trained model folder (artifact ``model_dir``).

    Input: rows with a column ``audio_base64`` (base64 of a WAV, FLAC, OGG, MP3 or AIFF file,
    any rate, mono or stereo) or columns ``samples`` (floats) and ``sample_rate``, in any
    MLflow request format (request_rows). Output, one row per input row: ``digits`` (every
    digit of the take in order), ``words`` (a JSON list, see transcripts_frame) and its
    single-digit answer's ``digit``, ``probability`` (of that digit) and ``prob_0``..``prob_9``;
    otherwise AudioRequestError (HTTP 400) naming every unusable row or column and why.
    """

    def load_context(self, context):
        # In each server worker before it accepts a connection (see serving.nodelay).
        keep_tcp_nodelay()
        model_dir = context.artifacts[MODEL_DIR_ARTIFACT]
        self.classifier = attach_strings_model(DigitClassifier.load(model_dir), model_dir)
        self.classifier.prepare_for_prediction()

    # The DataFrame hint keeps MLflow from deriving an input schema from type hints.
    def predict(self, context, model_input: pd.DataFrame, params=None):
        transcripts, reasons = [], {}
        rows = request_rows(model_input)
        check_request_size(rows)
        for position, row in enumerate(rows):
            try:
                samples, rate = _row_clip(row)
                transcript = transcribe(self.classifier, samples, rate, position)
                if not transcript["words"]:
                    raise RecordingError(position, NO_DIGIT_REASON)
                transcripts.append(transcript)
            except RecordingError as error:
                reasons[position] = error.reason
            except ValueError as error:
                reasons[position] = str(error)
        if reasons:
            raise AudioInputError(reasons)
        return transcripts_frame(transcripts)


# --- digit strings (fsdd_pipeline.strings): every word of a take, in order ---


def transcripts_frame(transcripts):
    """One output row per take: ``digits`` (the string), ``words`` (its words as a JSON
    list: start_s, end_s, digit, probability, probabilities, level_dbfs), and, as before,
    ``digit``, ``probability`` and prob_0..prob_9: its single-digit answer
    (strings.decode.single_digit_answer)."""
    columns = _prediction_columns([t["probabilities"] for t in transcripts])
    columns["digits"] = [t["digits"] for t in transcripts]
    columns["words"] = [json.dumps(t["words"]) for t in transcripts]
    return pd.DataFrame(columns, copy=False)


# --- end of digit strings ---


def signature():
    """The output columns, and no input schema: the model checks its inputs itself.

    With an input schema, MLflow drops unknown columns before the model sees them (a
    request of unknown columns only would get an empty answer) and reshapes ``inputs``
    and ``instances`` requests into a single row, so request_rows does the checking.
    """
    outputs = Schema(
        [ColSpec("long", "digit"), ColSpec("double", "probability")]
        + [ColSpec("double", column) for column in PROB_COLUMNS]
        + [ColSpec("string", "digits"), ColSpec("string", "words")]
    )
    return ModelSignature(inputs=None, outputs=outputs)


def _pinned(package):
    try:
        return f"{package}=={importlib.metadata.version(package)}"
    except importlib.metadata.PackageNotFoundError:
        return package


def pip_requirements(model_dir):
    """The pinned packages the pyfunc model needs (Keras/TensorFlow only for Keras models,
    the embedding's packages only for models that read it)."""
    packages = list(BASE_REQUIREMENTS)
    if (Path(model_dir) / KERAS_FILE).is_file():
        packages += KERAS_REQUIREMENTS
    # The digit-string segmenter reads the speech embedding, whatever the model's features.
    segmenter = (Path(model_dir) / SEGMENTER_FILE).is_file()
    if segmenter or "embedding" in InputSpec.load(model_dir).features:
        packages += EMBEDDING_REQUIREMENTS
    return [_pinned(package) for package in packages]


def tone_wav_bytes(seconds=0.3, rate=8000, frequency=440.0):
    """A short 16-bit WAV tone, the default input example."""
    import soundfile

    t = np.arange(int(seconds * rate)) / rate
    tone = (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    buffer = io.BytesIO()
    soundfile.write(buffer, tone, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


@contextlib.contextmanager
def package_source():
    """A clean copy of the package's source (no __pycache__ folders) to log with a model."""
    with tempfile.TemporaryDirectory() as scratch:
        code = Path(scratch) / "fsdd_pipeline"
        # The whole package (this module is in its serving subpackage).
        shutil.copytree(
            Path(fsdd_pipeline.__file__).parent,
            code,
            ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
        )
        yield code


def log_audio_model(model_dir, name="audio_model", input_example_wav=None):
    """Log the raw-audio pyfunc model of ``model_dir`` in the active run; returns ModelInfo.

    The package's own source is logged with the model (``code/fsdd_pipeline``), so it
    can be served where the package is not installed and keeps its feature code.
    """
    model_dir = Path(model_dir)
    DigitClassifier.model_file(model_dir)  # fail early, naming the folder
    wav = Path(input_example_wav).read_bytes() if input_example_wav else tone_wav_bytes()
    example = pd.DataFrame({AUDIO_COLUMN: [base64.b64encode(wav).decode("ascii")]})
    with package_source() as code:
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=AudioDigitModel(),
            artifacts={MODEL_DIR_ARTIFACT: str(model_dir)},
            code_paths=[str(code)],
            signature=signature(),
            input_example=example,
            pip_requirements=pip_requirements(model_dir),
        )
