"""Validation of the workflow config, run by the Snakefile before any job: the JSON schema
(every key known, typed and in range) and what a schema cannot express (relations between
keys, the recordings folder). Every error names the key and what is wrong with it."""

import hashlib
import json
import os
from pathlib import Path

import yaml

from fsdd_pipeline.errors import ConfigError, RecordingError
from fsdd_pipeline.io import write_text
from fsdd_pipeline.planning.audio_formats import SUPPORTED_TEXT
from fsdd_pipeline.planning.naming import (
    OFFICIAL_TEST_INDICES,
    list_recordings,
    parse_recording_name,
)

RANGE_KEYS = ("noise_snr_db", "gain_db", "speed", "pitch_semitones", "room_rt60_s", "room_drr_db")


def _check_features(config):
    audio, features = config["audio"], config["features"]
    nyquist = audio["sample_rate"] / 2
    if features["n_mfcc"] > features["n_mels"]:
        raise ConfigError(
            "features.n_mfcc",
            f"{features['n_mfcc']} MFCCs need at least as many mel bands "
            f"(features.n_mels is {features['n_mels']})",
        )
    if features["fmax"] is not None and features["fmax"] > nyquist:
        raise ConfigError(
            "features.fmax",
            f"{features['fmax']} Hz is above half the sample rate ({nyquist:g} Hz)",
        )
    upper = features["fmax"] if features["fmax"] is not None else nyquist
    if features["fmin"] >= upper:
        raise ConfigError(
            "features.fmin", f"{features['fmin']} Hz is not below the upper band edge {upper:g} Hz"
        )
    if features["hop_length"] > features["n_fft"]:
        raise ConfigError(
            "features.hop_length",
            f"{features['hop_length']} samples is longer than the FFT window "
            f"(features.n_fft is {features['n_fft']}): samples between frames would be skipped",
        )


def _check_room_gate(name, model):
    """A room gate needs a model it can hold two of, and copies in rooms to tell apart."""
    if model["type"] != "frame_logreg" or not model.get("speed_views"):
        raise ConfigError(
            f"models.{name}.room_gate", "needs a frame_logreg model with speed_views: true"
        )
    settings = model.get("augment") or {}
    if settings.get("room_rt60_s") is None or settings.get("copies", 1) < 1:
        raise ConfigError(
            f"models.{name}.room_gate",
            "needs copies in rooms to learn from: augment with room_rt60_s, room_drr_db "
            "and copies >= 1",
        )
    if settings.get("probability", 1) != 1:
        raise ConfigError(
            f"models.{name}.augment.probability",
            "a room gate learns that every copy is in a room: the probability must be 1",
        )


def _check_models(config):
    for name, model in config["models"].items():
        settings = model.get("augment") or {}
        for key in RANGE_KEYS:
            value = settings.get(key)
            if isinstance(value, list) and value[0] > value[1]:
                raise ConfigError(f"models.{name}.augment.{key}", f"range {value} has low > high")
        features = model["features"]
        if model["pooling"] == "sequence" and "embedding" in features and len(features) > 1:
            raise ConfigError(
                f"models.{name}.features",
                "the embedding (one frame per 80 ms) cannot be stacked frame by frame with "
                f"{', '.join(f for f in features if f != 'embedding')}: use it alone, or a "
                "pooled input (mean, stats, summary)",
            )
        if model.get("speed_views"):
            _check_speed_views(name, model, config["features"]["embedding"]["speeds"])
        if model.get("room_gate"):
            _check_room_gate(name, model)
    for position, lever in enumerate(config["levers"]):
        for key in ("baseline", "variant"):
            if key in lever and lever[key] not in config["models"]:
                raise ConfigError(
                    f"levers.{position}.{key}", f"{lever[key]!r} is not a model in 'models'"
                )
    for key in ("loso", "strings"):
        for name in config[key]["models"]:
            if name not in config["models"]:
                raise ConfigError(f"{key}.models", f"{name!r} is not a model in 'models'")
    _check_strings(config["strings"])
    for key in ("digits", "gain_db"):
        value = config["voices"]["strings"][key]
        if value[0] > value[1]:
            raise ConfigError(f"voices.strings.{key}", f"range {value} has low > high")


def _check_strings(strings):
    segmenter = strings["segmenter"]
    if segmenter["onset_class"] and segmenter["min_word_frames"] < 2:
        raise ConfigError(
            "strings.segmenter.min_word_frames",
            f"{segmenter['min_word_frames']} frame: a word's first frame is its own class "
            "(strings.segmenter.onset_class), so a word lasts at least 2",
        )
    for key in (
        "train_speed",
        "train_pitch_semitones",
        "takes.digits",
        "takes.pause_s",
        "takes.snr_db",
        "takes.gain_db",
    ):
        *parents, leaf = key.split(".")
        value = strings[parents[0]][leaf] if parents else strings[leaf]
        if value[0] > value[1]:
            raise ConfigError(f"strings.{key}", f"range {value} has low > high")


def _check_speed_views(name, model, speeds):
    key = f"models.{name}.speed_views"
    if model["type"] not in ("logreg", "frame_logreg"):
        raise ConfigError(key, f"is for logreg and frame_logreg models, not {model['type']}")
    if model["features"] != ["embedding"]:
        raise ConfigError(
            key, f"speed views exist for the embedding alone, not {model['features']}"
        )
    if not speeds:
        raise ConfigError(key, "needs the speeds of features.embedding.speeds, which is empty")


def _is_official_test_take(name):
    try:
        return parse_recording_name(name).index in OFFICIAL_TEST_INDICES
    except RecordingError:  # misnamed files are rejected, by name, during extraction
        return False


def check_recordings(folder):
    """A local recordings folder must exist and hold recordings of the official test takes."""
    key = "recordings_dir"
    folder = Path(os.path.expanduser(folder))
    if not folder.is_dir():
        raise ConfigError(key, f"folder not found: {folder}")
    names = list_recordings(folder)
    if not names:
        raise ConfigError(key, f"{folder} holds no recordings ({SUPPORTED_TEXT})")
    if not any(_is_official_test_take(name) for name in names):
        first, last = OFFICIAL_TEST_INDICES[0], OFFICIAL_TEST_INDICES[-1]
        raise ConfigError(
            key,
            f"{folder} has no recordings of takes {first}-{last}, FSDD's official test "
            "split: the models could not be evaluated",
        )


def _key(path):
    return ".".join(str(part) for part in path) or "(top level)"


def validate_schema(config, schema_path):
    """Raise ConfigError for the most specific schema violation, naming its key."""
    import jsonschema

    # libyaml's loader when PyYAML has it: the pure-Python one takes a tenth of a second
    # of every snakemake call over the schema.
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    schema = yaml.load(Path(schema_path).read_text(), Loader=loader)
    validator = jsonschema.Draft202012Validator(schema)
    error = jsonschema.exceptions.best_match(validator.iter_errors(config))
    if error is None:
        return
    # A oneOf (a section or null) fails as a whole; its sub-errors say which key is wrong.
    while error.context:
        error = jsonschema.exceptions.best_match(error.context)
    if error.validator == "additionalProperties":
        unknown = sorted(set(error.instance) - set(error.schema.get("properties", {})))
        known = ", ".join(sorted(error.schema.get("properties", {})))
        raise ConfigError(
            _key([*error.absolute_path, unknown[0]]), f"unknown key (known keys: {known})"
        )
    raise ConfigError(_key(error.absolute_path), error.message)


def _schema_digest(config, schema_path):
    """Digest of a config, its schema and these checks: the same passes or fails alike."""
    texts = [json.dumps(config, sort_keys=True, default=str), Path(schema_path).read_text()]
    texts.append(Path(__file__).read_text())
    return hashlib.sha256("\n".join(texts).encode()).hexdigest()


def check_config(config, schema_path, passed_record=None):
    """Raise ConfigError naming the first key that is invalid or cannot work with the others.

    ``passed_record``: a file that remembers the last config to pass the schema, so that the
    same config is not validated again on every snakemake call (importing jsonschema and
    validating took a tenth of a second of each, a no-op included). The checks that look
    at the recordings folder run every time.
    """
    digest = _schema_digest(config, schema_path)
    record = Path(passed_record) if passed_record else None
    if not (record and record.is_file() and record.read_text() == digest):
        validate_schema(config, schema_path)
        if record:
            try:
                write_text(digest, record)
            except OSError:  # a read-only project folder: validate every time
                pass
    _check_features(config)
    _check_models(config)
    if config.get("recordings_dir"):
        check_recordings(config["recordings_dir"])
