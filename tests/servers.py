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
def served_model(model_uri, tracking_uri, folder, workers=1):
    """A real `mlflow models serve` of ``model_uri`` on 127.0.0.1 with ``workers``
    processes; yields its base URL."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    with background_server(
        model_serve_command(model_uri, port, workers),
        f"{url}/ping",
        Path(folder) / "serve.log",
        cwd=folder,
        env={"MLFLOW_TRACKING_URI": tracking_uri},
    ):
        yield url


def _hex_port(address):
    return int(address.rsplit(":", 1)[1], 16)


def accepted_socket(server_port, client_port):
    """A duplicate of the server's end of the TCP connection from ``client_port`` to
    ``server_port`` on this machine (Linux: found through /proc, taken with pidfd_getfd),
    or raises OSError saying why it cannot be had."""
    import ctypes

    inodes = [
        fields[9]
        for line in Path("/proc/net/tcp").read_text().splitlines()[1:]
        if (fields := line.split())
        and _hex_port(fields[1]) == server_port
        and _hex_port(fields[2]) == client_port
    ]
    if not inodes:
        raise OSError(f"no connection 127.0.0.1:{client_port} -> :{server_port} in /proc/net/tcp")
    link = f"socket:[{inodes[0]}]"
    for fd in Path("/proc").glob("[0-9]*/fd/*"):
        with contextlib.suppress(OSError):
            if os.readlink(fd) == link:
                pid, number = int(fd.parent.parent.name), int(fd.name)
                break
    else:
        raise OSError(f"no process holds {link}")
    pidfd = os.pidfd_open(pid)
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        duplicate = libc.syscall(438, pidfd, number, 0)  # pidfd_getfd (Linux >= 5.6)
        if duplicate < 0:
            error = ctypes.get_errno()
            raise OSError(error, f"pidfd_getfd of process {pid}: {os.strerror(error)}")
    finally:
        os.close(pidfd)
    return socket.socket(fileno=duplicate)
