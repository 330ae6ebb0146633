"""The config schema and checks: every key documented with a default, the reference page
(docs/configuration.md) generated from it, and every invalid value refused before any job,
naming its key."""

import json
import subprocess
import sys

import pytest
import yaml

from docs.config_reference import SCHEMA, config_table, page_section
from fsdd_pipeline.errors import ConfigError
from fsdd_pipeline.features.spectral import FeatureParams
from fsdd_pipeline.planning import config_checks
from fsdd_pipeline.planning.config_checks import check_config
from fsdd_pipeline.tracking.store import DEFAULT_REGISTERED_MODEL

from .conftest import PROJECT, write_tone

CONFIG = yaml.safe_load((PROJECT / "config/config.yaml").read_text())


def schema_properties(schema):
    """(dotted key, property schema) of every documented key, sections and models' keys."""
    definitions = schema["$defs"]
    stack = [("", schema["properties"])] + [
        (f"$defs.{name}.", definitions[name]["properties"])
        for name in ("endpoint", "model", "augment", "spec_augment")
    ]
    while stack:
        prefix, properties = stack.pop()
        for key, spec in properties.items():
            yield f"{prefix}{key}", spec
            if "properties" in spec:
                stack.append((f"{prefix}{key}.", spec["properties"]))


def test_every_key_has_a_description_and_a_default():
    schema = yaml.safe_load(SCHEMA.read_text())
    for key, spec in schema_properties(schema):
        assert spec.get("description"), key
        assert "default" in spec, key


def test_shipped_config_holds_the_schema_defaults():
    schema = yaml.safe_load(SCHEMA.read_text())
    for key, spec in schema_properties(schema):
        if key.startswith("$defs") or "properties" in spec or key == "models":
            continue
        value = CONFIG
        for part in key.split("."):
            value = value[part]
        assert value == spec["default"], key


def test_the_predict_command_falls_back_to_the_schemas_registered_model():
    schema = yaml.safe_load(SCHEMA.read_text())
    default = schema["properties"]["tracking"]["properties"]["registered_model"]["default"]
    assert default == DEFAULT_REGISTERED_MODEL


def test_configuration_reference_is_generated_from_the_schema():
    assert page_section() == config_table(), (
        "docs/configuration.md is stale: run python -m docs.config_reference"
    )


def check(config):
    check_config(config, SCHEMA)


def changed(**sections):
    # Through JSON: the shipped config shares one augment block (a YAML anchor) between
    # models, and a change must touch only the model it names.
    config = json.loads(json.dumps(CONFIG))
    for dotted, value in sections.items():
        *parents, leaf = dotted.split("__")
        target = config
        for part in parents:
            target = target[part]
        target[leaf] = value
    return config


def test_shipped_config_is_valid():
    check(CONFIG)


@pytest.mark.parametrize(
    "change, key, reason",
    [
        ({"models__cnn__epoch": 2}, "models.cnn.epoch", "unknown key"),
        ({"models__cnn__learning_rat": 0.1}, "models.cnn.learning_rat", "unknown key"),
        ({"models__rnn__bidirectonal": True}, "models.rnn.bidirectonal", "unknown key"),
        ({"models__crnn__reduce_lr_patiense": 2}, "models.crnn.reduce_lr_patiense", "unknown"),
        ({"models__cnn__augment__copies": -1}, "models.cnn.augment.copies", "minimum of 0"),
        ({"models__cnn__augment__noise_snr_db": "loud"}, "models.cnn.augment.noise_snr_db", "loud"),
        ({"models__cnn__augment__speed": [1.2, 0.9]}, "models.cnn.augment.speed", "low > high"),
        ({"models__cnn__spec_augment__time_mask": 1}, "models.cnn.spec_augment.time_mask", "key"),
        ({"features__n_mfcc": 100}, "features.n_mfcc", "mel bands"),
        ({"features__fmax": 6000}, "features.fmax", "half the sample rate"),
        ({"features__n_fft": 16, "features__hop_length": 4096}, "features.hop_length", "FFT"),
        ({"loso__models": ["nope"]}, "loso.models", "not a model"),
        ({"strings__train_speed": [1.2, 0.9]}, "strings.train_speed", "low > high"),
        (
            {"strings__segmenter__min_word_frames": 1},
            "strings.segmenter.min_word_frames",
            "at least 2",
        ),
        ({"tracking__urj": "x"}, "tracking.urj", "unknown key"),
    ],
)
def test_invalid_values_are_refused_naming_the_key(change, key, reason):
    with pytest.raises(ConfigError, match=reason) as error:
        check(changed(**change))
    assert error.value.key == key


def test_recordings_folder_must_exist_hold_recordings_and_test_takes(tmp_path):
    with pytest.raises(ConfigError, match="folder not found"):
        check(changed(recordings_dir=str(tmp_path / "missing")))
    with pytest.raises(ConfigError, match=r"holds no recordings \(WAV, FLAC, OGG"):
        check(changed(recordings_dir=str(tmp_path)))
    write_tone(tmp_path / "3_theo_7.wav")
    write_tone(tmp_path / "3theo_2.wav")  # misnamed: extraction rejects it, it is no test take
    with pytest.raises(ConfigError, match="no recordings of takes 0-4"):
        check(changed(recordings_dir=str(tmp_path)))
    write_tone(tmp_path / "3_theo_2.wav")
    check(changed(recordings_dir=str(tmp_path)))


def test_snakemake_stops_before_any_job_naming_the_key(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("models:\n  rnn:\n    bidirectonal: true\n")
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--configfile", str(bad)],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode != 0
    assert "config key 'models.rnn.bidirectonal': unknown key" in result.stdout + result.stderr
    assert "Job stats" not in result.stdout + result.stderr


def test_a_config_that_passed_the_schema_is_not_validated_again(tmp_path, monkeypatch):
    record = tmp_path / ".snakemake/config-passed-schema"
    check_config(CONFIG, SCHEMA, passed_record=record)
    assert record.is_file()

    def validate_schema(config, schema_path):
        raise AssertionError("validated again")

    monkeypatch.setattr(config_checks, "validate_schema", validate_schema)
    check_config(CONFIG, SCHEMA, passed_record=record)  # the same config: remembered
    monkeypatch.undo()
    with pytest.raises(ConfigError, match="less than the minimum"):
        check_config(changed(features__n_mfcc=0), SCHEMA, passed_record=record)


def schema_defaults(properties):
    """The config a schema's defaults make: nested sections filled in from their keys."""
    return {
        key: schema_defaults(spec["properties"]) if "properties" in spec else spec["default"]
        for key, spec in properties.items()
    }


def test_feature_params_defaults_are_the_default_config():
    schema = yaml.safe_load(SCHEMA.read_text())
    defaults = schema_defaults(schema["properties"])
    assert FeatureParams() == FeatureParams.from_config(defaults)
    assert FeatureParams() == FeatureParams.from_config(CONFIG)
