"""The end-to-end scenarios in .test/: valid configs, each used by a test and runnable by hand,
applied as Snakemake merges a --configfile except that `models:` names the only models."""

import re

import pytest
import yaml

from docs.config_reference import SCHEMA
from fsdd_pipeline.planning.config_checks import check_config

from .conftest import PROJECT
from .workflow_copy import apply_scenario, main, scenario_config

SCENARIOS = sorted(path.name for path in (PROJECT / ".test").glob("config_*.yaml"))
CONFIG = yaml.safe_load((PROJECT / "config/config.yaml").read_text())


def test_there_are_scenarios():
    assert "config_training.yaml" in SCENARIOS


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_is_a_valid_config(name):
    check_config(scenario_config(PROJECT, f".test/{name}"), SCHEMA)


@pytest.mark.parametrize("name", SCENARIOS)
def test_scenario_is_used_by_a_test_and_says_how_to_run_it(name):
    text = (PROJECT / ".test" / name).read_text()
    header = text[: re.search(r"^[^#]", text, re.M).start()]
    (test_file,) = re.findall(r"\(tests/(test_\w+\.py)\)", header)
    assert f".test/{name}" in (PROJECT / "tests" / test_file).read_text()
    assert f"python -m tests.workflow_copy .test/{name} " in header
    assert "snakemake " in header


def test_scenario_merges_nested_sections_and_keeps_only_its_models():
    scenario = {
        "features": {"n_mfcc": 13, "embedding": {"min_seconds": 1.0}},
        "loso": {"models": ["fresh"]},
        "levers": [],
        "models": {"mlp": {"epochs": 2}, "fresh": {"type": "svm", "features": ["mfcc"]}},
    }
    merged = apply_scenario(CONFIG, scenario)
    # Mappings merge key by key (as Snakemake merges a --configfile), lists are replaced.
    assert merged["features"] == CONFIG["features"] | {
        "n_mfcc": 13,
        "embedding": CONFIG["features"]["embedding"] | {"min_seconds": 1.0},
    }
    assert merged["features"]["embedding"]["speeds"] == [0.85, 1.15]
    assert merged["loso"] == {"models": ["fresh"]} and merged["levers"] == []
    assert merged["audio"] == CONFIG["audio"]
    # Only the scenario's models, a default one with its changed keys.
    assert list(merged["models"]) == ["mlp", "fresh"]
    assert merged["models"]["mlp"] == CONFIG["models"]["mlp"] | {"epochs": 2}
    assert merged["models"]["fresh"] == {"type": "svm", "features": ["mfcc"]}
    # The shipped config is left as it was.
    assert CONFIG["models"]["mlp"]["epochs"] != 2 and "fresh" not in CONFIG["models"]


def test_a_scenario_without_models_keeps_every_model():
    merged = apply_scenario(CONFIG, {"training": {"threads": 1}})
    assert merged["models"] == CONFIG["models"]
    assert merged["training"] == CONFIG["training"] | {"threads": 1}


def fake_fsdd(folder):
    """Files named like all FSDD recordings of the subset's speakers (contents unread)."""
    folder.mkdir()
    for speaker in ("george", "theo", "jackson"):
        for digit in range(10):
            for take in range(12):
                (folder / f"{digit}_{speaker}_{take}.wav").write_bytes(b"RIFF")
    return folder


def test_by_hand_copy_of_a_scenario_on_the_test_subset(tmp_path, capsys):
    source = fake_fsdd(tmp_path / "fsdd")
    workdir = tmp_path / "run"
    scenario = str(PROJECT / ".test/config_training.yaml")
    main([scenario, str(workdir), "--recordings", str(source), "--subset"])
    config = yaml.safe_load((workdir / "config/config.yaml").read_text())
    assert config == scenario_config(PROJECT, ".test/config_training.yaml") | {
        "recordings_dir": str((workdir / "recordings").resolve())
    }
    recordings = sorted(path.name for path in (workdir / "recordings").iterdir())
    assert len(recordings) == 140 and "0_george_0.wav" in recordings
    assert not any("jackson" in name or name.endswith("_2.wav") for name in recordings)
    assert (workdir / "Snakefile").is_file()
    assert f"cd {workdir} && snakemake" in capsys.readouterr().out

    with pytest.raises(SystemExit):
        main([scenario, str(workdir), "--recordings", str(source)])
