"""The raw-audio MLflow pyfunc model: base64 WAV/FLAC bytes (or samples) in, digits out.

It wraps a trained model folder (``results/models/{name}/``) and computes the features
with the same loading and feature code as the pipeline, so a served or registered model
predicts a recording exactly like ``fsdd-predict`` and the evaluation do.
"""

import base64
import binascii
import importlib.metadata
import io
import shutil
import tempfile
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
from mlflow.exceptions import MlflowException
from mlflow.models import ModelSignature
from mlflow.protos.databricks_pb2 import INVALID_PARAMETER_VALUE
from mlflow.types.schema import Array, ColSpec, Schema

from .classifier import KERAS_FILE, DigitClassifier
from .errors import PipelineError, RecordingError
from .labels import N_CLASSES, PROB_COLUMNS

AUDIO_COLUMN = "audio_base64"
SAMPLES_COLUMN = "samples"
RATE_COLUMN = "sample_rate"

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
    "librosa",
)
KERAS_REQUIREMENTS = ("keras", "tensorflow-cpu")


class AudioInputError(MlflowException, PipelineError):
    """Rows of a request that are not usable audio; ``reasons`` maps row position to reason.

    An MLflow exception with INVALID_PARAMETER_VALUE, so the scoring server answers 400
    with the message instead of a generic 500.
    """

    def __init__(self, reasons):
        self.reasons = dict(reasons)
        message = "; ".join(f"row {row}: {reason}" for row, reason in sorted(self.reasons.items()))
        super().__init__(message, error_code=INVALID_PARAMETER_VALUE)


def _missing(value):
    """None, NaN or NA (a missing cell of a mixed request); arrays are not missing."""
    return value is None or (np.ndim(value) == 0 and bool(pd.isna(value)))


def decode_audio_bytes(data):
    """(samples frames x channels, sample rate) of WAV/FLAC file bytes, read by soundfile."""
    import soundfile

    if not data:
        raise ValueError("no audio data (0 bytes)")
    try:
        return soundfile.read(io.BytesIO(data), dtype="float32", always_2d=True)
    except Exception as error:  # soundfile raises several types for bad data
        reason = getattr(error, "error_string", None) or str(error) or type(error).__name__
        raise ValueError(f"cannot read audio ({reason.strip()})") from error


def _row_clip(row):
    """(samples, rate) of one request row; ValueError with the reason if unusable."""
    encoded = row.get(AUDIO_COLUMN)
    if isinstance(encoded, bytes):
        encoded = encoded.decode("ascii", errors="replace")
    if isinstance(encoded, str) and encoded.strip():
        try:
            # Line breaks are allowed: `base64` wraps its output at 76 characters.
            data = base64.b64decode("".join(encoded.split()), validate=True)
        except (binascii.Error, ValueError) as error:
            raise ValueError(f"{AUDIO_COLUMN} is not valid base64 ({error})") from None
        return decode_audio_bytes(data)
    samples = row.get(SAMPLES_COLUMN)
    if _missing(samples):
        raise ValueError(
            f"no audio: give {AUDIO_COLUMN} (base64 of a WAV/FLAC file), "
            f"or {SAMPLES_COLUMN} and {RATE_COLUMN}"
        )
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


def _as_frame(model_input):
    if isinstance(model_input, pd.DataFrame):
        return model_input
    if isinstance(model_input, dict):
        return pd.DataFrame({k: v if isinstance(v, list) else [v] for k, v in model_input.items()})
    return pd.DataFrame(model_input)


def predictions_frame(probabilities):
    """The output frame of probabilities (n, 10): digit, probability, prob_0..prob_9."""
    probabilities = np.asarray(probabilities, dtype=np.float64).reshape(-1, N_CLASSES)
    frame = pd.DataFrame(probabilities, columns=PROB_COLUMNS)
    frame.insert(0, "probability", probabilities.max(axis=1))
    frame.insert(0, "digit", probabilities.argmax(axis=1).astype(np.int64))
    return frame


class AudioDigitModel(mlflow.pyfunc.PythonModel):
    """Pyfunc model over a trained model folder (artifact ``model_dir``).

    Input: a DataFrame with a column ``audio_base64`` (base64 of a WAV/FLAC file, any
    rate, mono or stereo) or columns ``samples`` (floats) and ``sample_rate``. Output:
    ``digit``, ``probability`` (of that digit) and ``prob_0``..``prob_9``.
    """

    def load_context(self, context):
        self.classifier = DigitClassifier.load(context.artifacts["model_dir"])

    # The DataFrame hint keeps MLflow from inferring a schema from hints (it has ours).
    def predict(self, context, model_input: pd.DataFrame, params=None):
        frame = _as_frame(model_input)
        matrices, reasons = [], {}
        for position, row in enumerate(frame.to_dict("records")):
            try:
                samples, rate = _row_clip(row)
                matrices.append(self.classifier.clip_features(samples, rate, source=position))
            except RecordingError as error:
                reasons[position] = error.reason
            except ValueError as error:
                reasons[position] = str(error)
        if reasons:
            raise AudioInputError(reasons)
        return predictions_frame(self.classifier.predict_proba_matrices(matrices))


def signature():
    """Input: ``audio_base64`` (or ``samples`` + ``sample_rate``); output: the digit columns."""
    inputs = Schema(
        [
            # Optional so that either form passes MLflow's schema enforcement.
            ColSpec("string", AUDIO_COLUMN, required=False),
            ColSpec(Array("double"), SAMPLES_COLUMN, required=False),
            ColSpec("long", RATE_COLUMN, required=False),
        ]
    )
    outputs = Schema(
        [ColSpec("long", "digit"), ColSpec("double", "probability")]
        + [ColSpec("double", column) for column in PROB_COLUMNS]
    )
    return ModelSignature(inputs=inputs, outputs=outputs)


def _pinned(package):
    try:
        return f"{package}=={importlib.metadata.version(package)}"
    except importlib.metadata.PackageNotFoundError:
        return package


def pip_requirements(model_dir):
    """The pinned packages the pyfunc model needs (Keras/TensorFlow only for Keras models)."""
    packages = list(BASE_REQUIREMENTS)
    if (Path(model_dir) / KERAS_FILE).is_file():
        packages += KERAS_REQUIREMENTS
    return [_pinned(package) for package in packages]


def tone_wav_bytes(seconds=0.3, rate=8000, frequency=440.0):
    """A short 16-bit WAV tone, the default input example."""
    import soundfile

    t = np.arange(int(seconds * rate)) / rate
    tone = (0.5 * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    buffer = io.BytesIO()
    soundfile.write(buffer, tone, rate, format="WAV", subtype="PCM_16")
    return buffer.getvalue()


def log_audio_model(model_dir, name="audio_model", input_example_wav=None):
    """Log the raw-audio pyfunc model of ``model_dir`` in the active run; returns ModelInfo.

    The package's own source is logged with the model (``code/fsdd_pipeline``), so it
    can be served where the package is not installed and keeps its feature code.
    """
    model_dir = Path(model_dir)
    DigitClassifier.model_file(model_dir)  # fail early, naming the folder
    wav = Path(input_example_wav).read_bytes() if input_example_wav else tone_wav_bytes()
    example = pd.DataFrame({AUDIO_COLUMN: [base64.b64encode(wav).decode("ascii")]})
    with tempfile.TemporaryDirectory() as scratch:
        # A clean copy of the package: no __pycache__ folders in the logged code.
        code = Path(scratch) / "fsdd_pipeline"
        shutil.copytree(
            Path(__file__).parent, code, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=AudioDigitModel(),
            artifacts={"model_dir": str(model_dir)},
            code_paths=[str(code)],
            signature=signature(),
            input_example=example,
            pip_requirements=pip_requirements(model_dir),
        )
