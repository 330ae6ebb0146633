"""Shared fixtures: a small real subset of FSDD and a copy of the workflow to run it on."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import soundfile

from . import workflow_copy
from .workflow_copy import copy_subset, copy_workflow

PROJECT = Path(__file__).resolve().parents[1]


def fsdd_recordings():
    """The FSDD recordings folder named by $FSDD_RECORDINGS (see README), or None."""
    folder = os.environ.get("FSDD_RECORDINGS")
    return Path(folder) if folder and Path(folder).is_dir() else None


requires_fsdd = pytest.mark.skipif(
    fsdd_recordings() is None,
    reason="set FSDD_RECORDINGS to a folder of FSDD recordings to run this test",
)


@pytest.fixture(scope="session")
def fsdd_subset(tmp_path_factory):
    """140 real FSDD recordings: 2 speakers x 10 digits x 7 takes."""
    source = fsdd_recordings()
    if source is None:
        pytest.skip("set FSDD_RECORDINGS to a folder of FSDD recordings to run this test")
    return copy_subset(source, tmp_path_factory.mktemp("fsdd") / "recordings")


def make_workdir(path, recordings, overrides=None, scenario=None):
    """Copy the workflow into ``path`` with a config pointing at ``recordings``, set up for
    ``scenario`` (a ``.test/config_*.yaml``) and then ``overrides`` (dotted keys)."""
    return copy_workflow(PROJECT, path, recordings, overrides, scenario)


def run_snakemake(workdir, *args, check=True, timeout=1200):
    """Run the real snakemake command line in ``workdir``; fail the test if it fails."""
    result = workflow_copy.run_snakemake(workdir, *args, timeout=timeout)
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


BIN = Path(sys.executable).parent


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def background_server(command, ready_url, log, cwd, env=None, timeout=120):
    """Run an MLflow server command until the block ends; yields once ``ready_url`` answers.

    The server gets its own process group (mlflow starts uvicorn/gunicorn children), which
    is stopped as a whole: SIGTERM, then SIGKILL, with bounded waits.
    """
    # mlflow starts uvicorn through the shell, so the environment's bin must be on PATH.
    env = {**os.environ, **(env or {}), "PATH": f"{BIN}{os.pathsep}{os.environ['PATH']}"}
    with log.open("w") as out:
        server = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while True:
            if server.poll() is not None:
                pytest.fail(f"{command[1]} exited ({server.returncode}):\n{log.read_text()}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(ready_url, timeout=2) as response:
                    if response.status == 200:
                        break
            if time.monotonic() > deadline:
                pytest.fail(f"{ready_url} did not answer in {timeout} s:\n{log.read_text()}")
            time.sleep(0.5)
        yield server
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGTERM)
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(timeout=30)
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=10)


@contextlib.contextmanager
def served_model(model_uri, tracking_uri, folder):
    """A real `mlflow models serve` of ``model_uri`` on 127.0.0.1; yields its base URL."""
    port = free_port()
    command = [
        str(BIN / "mlflow"),
        "models",
        "serve",
        "-m",
        model_uri,
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
    ]
    url = f"http://127.0.0.1:{port}"
    with background_server(
        command,
        f"{url}/ping",
        Path(folder) / "serve.log",
        cwd=folder,
        env={"MLFLOW_TRACKING_URI": tracking_uri},
    ):
        yield url
