"""Shared fixtures: a small real subset of FSDD and a copy of the workflow to run it on."""

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile

from fsdd_pipeline.planning.naming import DOWNLOADED_RECORDINGS

from . import workflow_copy
from .workflow_copy import copy_subset, copy_workflow

PROJECT = Path(__file__).resolve().parents[1]
NO_RECORDINGS = (
    "no FSDD recordings: run `snakemake --cores 8` once (it downloads them into "
    f"{DOWNLOADED_RECORDINGS}) or set FSDD_RECORDINGS to a folder of FSDD recordings"
)


def fsdd_recordings():
    """The FSDD recordings: the folder $FSDD_RECORDINGS names or, when it is unset, the one
    the workflow downloads into the project; None when that folder does not exist."""
    folder = os.environ.get("FSDD_RECORDINGS")
    path = Path(folder) if folder else PROJECT / DOWNLOADED_RECORDINGS
    return path if path.is_dir() else None


requires_fsdd = pytest.mark.skipif(fsdd_recordings() is None, reason=NO_RECORDINGS)


@pytest.fixture(scope="session")
def fsdd_subset(tmp_path_factory):
    """140 real FSDD recordings: 2 speakers x 10 digits x 7 takes."""
    source = fsdd_recordings()
    if source is None:
        pytest.skip(NO_RECORDINGS)
    return copy_subset(source, tmp_path_factory.mktemp("fsdd") / "recordings")


def make_workdir(path, recordings, overrides=None, scenario=None):
    """Copy the workflow into ``path`` with a config pointing at ``recordings``, set up for
    ``scenario`` (a ``.test/config_*.yaml``) and then ``overrides`` (dotted keys)."""
    return copy_workflow(PROJECT, path, recordings, overrides, scenario)


def run_snakemake(workdir, *args, check=True, timeout=1200, cores=2):
    """Run the real snakemake command line in ``workdir``; fail the test if it fails."""
    result = workflow_copy.run_snakemake(workdir, *args, cores=cores, timeout=timeout)
    if check and result.returncode != 0:
        raise AssertionError(
            f"snakemake {' '.join(args)} failed ({result.returncode}):\n"
            f"{result.stdout[-4000:]}\n{result.stderr[-6000:]}"
        )
    return result


def write_tone(path, frequency=440.0, seconds=0.5, rate=8000, channels=1, amplitude=0.5):
    """A sine tone (optionally multi-channel) written as 16-bit PCM."""
    t = np.arange(int(seconds * rate)) / rate
    tone = (amplitude * np.sin(2 * np.pi * frequency * t)).astype(np.float32)
    data = np.stack([tone] * channels, axis=1) if channels > 1 else tone
    soundfile.write(path, data, rate, subtype="PCM_16")
    return path


@pytest.fixture
def restored_tracking_uri(monkeypatch):
    """MLflow exports the tracking URI a test sets as $MLFLOW_TRACKING_URI: undone after."""
    import mlflow

    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    yield
    mlflow.set_tracking_uri(None)
