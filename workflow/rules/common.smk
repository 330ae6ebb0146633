# Helpers shared by the rules: where the recordings are, how they are batched, and
# the config sections that reach the rules through params.
import os
from pathlib import Path

from fsdd_pipeline.models import KERAS_TYPES, SKLEARN_TYPES
from fsdd_pipeline.naming import batch_count, batch_of, list_recordings


wildcard_constraints:
    batch=r"batch\d{3}",
    model="|".join(config["models"]),
    speaker=r"[a-z][a-z0-9]*",


def recordings_dir():
    """The configured recordings folder, or the downloaded one (after the checkpoint ran)."""
    if config["recordings_dir"]:
        return os.path.abspath(os.path.expanduser(config["recordings_dir"]))
    return checkpoints.download_fsdd.get().output.recordings


def recordings_by_batch():
    """{batch: [recording paths]} for every recording in the recordings folder."""
    folder = recordings_dir()
    names = list_recordings(folder)
    features = config["features"]
    n_batches = batch_count(
        len(names), features["recordings_per_batch"], features.get("batches")
    )
    batches = {}
    for name in names:
        batch = batch_of(name, n_batches)
        batches.setdefault(batch, []).append(os.path.join(folder, name))
    return batches


def recording_speakers():
    """Speakers of the recordings (from their file names): one LOSO fold each."""
    names = [Path(p).name for paths in recordings_by_batch().values() for p in paths]
    return sorted({n.split("_")[1] for n in names if n.count("_") == 2})


def batch_recordings(wildcards):
    return recordings_by_batch()[wildcards.batch]


def feature_batch_dirs(wildcards):
    return expand("results/features/{batch}", batch=sorted(recordings_by_batch()))


def feature_params():
    """Everything that determines a recording's features; a change re-extracts all."""
    batching = ("batches", "recordings_per_batch")
    features = {
        key: value for key, value in config["features"].items() if key not in batching
    }
    return config["audio"] | features


def eda_example_recordings(wildcards):
    """One recording per digit (the first by name) for the waveform figure."""
    examples = {}
    for path in sorted(p for paths in recordings_by_batch().values() for p in paths):
        examples.setdefault(Path(path).name.split("_")[0], path)
    return [examples[digit] for digit in sorted(examples)]


EDA_FIGURES = [
    "durations",
    "rms_by_digit_speaker",
    "counts",
    "waveforms",
    "mfcc_examples",
    "chroma_examples",
    "spectrogram_examples",
]


def eda_figures():
    return expand("results/figures/eda/{figure}.png", figure=EDA_FIGURES)


MODELS = list(config["models"])
LOSO_MODELS = config["loso"]["models"]
for name in LOSO_MODELS:
    if name not in config["models"]:
        raise ValueError(
            f"config key 'loso.models': {name!r} is not a model in 'models'"
        )


def models_of_types(types):
    """Regex matching the configured model names of the given types (never matches if none)."""
    names = [name for name, model in config["models"].items() if model["type"] in types]
    return "|".join(names) if names else "(?!)"


def model_file(model):
    """The saved model of a configured model: model.keras, or model.joblib for scikit-learn."""
    suffix = "joblib" if config["models"][model]["type"] in SKLEARN_TYPES else "keras"
    return f"results/models/{model}/model.{suffix}"


def trained_models():
    return [model_file(model) for model in MODELS]


def loso_outputs():
    return ["results/loso/accuracy_per_speaker.png"] if LOSO_MODELS else []
