"""Background servers on 127.0.0.1 (``mlflow server``, ``mlflow models serve``) for the tests
and the benchmarks: started in their own process group, stopped by its id with bounded waits.
Free of pytest, so that a benchmark can use it too."""

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

BIN = Path(sys.executable).parent


class ServerError(RuntimeError):
    """A server exited or did not answer in time; the message holds its log."""


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@contextlib.contextmanager
def background_server(command, ready_url, log, cwd, env=None, timeout=120):
    """Run an MLflow server command until the block ends; yields its Popen once
    ``ready_url`` answers.

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
                raise ServerError(f"{command[1]} exited ({server.returncode}):\n{log.read_text()}")
            with contextlib.suppress(OSError):
                with urllib.request.urlopen(ready_url, timeout=2) as response:
                    if response.status == 200:
                        break
            if time.monotonic() > deadline:
                raise ServerError(f"{ready_url} did not answer in {timeout} s:\n{log.read_text()}")
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


def model_serve_command(model_uri, port, workers=1):
    """`mlflow models serve` of ``model_uri`` on 127.0.0.1:``port`` with ``workers``
    processes, in this environment."""
    return [
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
        "--workers",
        str(workers),
    ]


@contextlib.contextmanager
def served_model(model_uri, tracking_uri, folder):
    """A real `mlflow models serve` of ``model_uri`` on 127.0.0.1; yields its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with background_server(
        model_serve_command(model_uri, port),
        f"{url}/ping",
        Path(folder) / "serve.log",
        cwd=folder,
        env={"MLFLOW_TRACKING_URI": tracking_uri},
    ):
        yield url
