"""fsdd-ui: the MLflow UI on a project's tracking store, opened on its runs ranked.

MLflow 3.17's UI opens every experiment on its GenAI overview, whatever the experiment's
``mlflow.experimentKind`` tag; the runs of a machine-learning experiment are one click away
under a switch. This command starts ``mlflow server`` on the project's store (127.0.0.1 only)
and prints the address of the experiment's runs table in the machine-learning view, in the
shared view the workflow stores with the experiment (tracking.store.RANKING_VIEW: ranked by
the LOSO mean accuracy that chooses the champion, the metrics that rank the models as
columns):

    http://127.0.0.1:5000/#/experiments/<id>/runs?viewStateShareKey=fsdd-ranking&workflowType=machine_learning

(checked in Chromium with MLflow 3.17.2: without workflowType the GenAI overview opens).
A project that was moved or copied opens its own artifacts (tracking.relocation). Ctrl-C
stops the server.
"""

import argparse
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import webbrowser
from pathlib import Path
from urllib.parse import urlencode

from fsdd_pipeline.planning.tracking_uri import sqlite_file
from fsdd_pipeline.tracking.relocation import follow_project
from fsdd_pipeline.tracking.store import EXPERIMENT_TAGS, RANKING_VIEW_KEY, project_tracking

HOST = "127.0.0.1"
DEFAULT_PORT = 5000
STARTUP_TIMEOUT_S = 120


class UiError(Exception):
    """What keeps the UI from starting, said to the user."""


def experiment_url(base_url, experiment_id):
    """The experiment's runs table in the machine-learning view, in the ranked view."""
    query = urlencode({"viewStateShareKey": RANKING_VIEW_KEY, "workflowType": "machine_learning"})
    return f"{base_url}/#/experiments/{experiment_id}/runs?{query}"


def build_parser():
    parser = argparse.ArgumentParser(
        prog="fsdd-ui",
        description="Start the MLflow UI on a project's tracking store and print (or open) "
        "the address of its runs, ranked.",
    )
    parser.add_argument(
        "--project-dir",
        type=Path,
        default=Path("."),
        help="project folder whose config/config.yaml names the store (default: .)",
    )
    parser.add_argument("--port", type=int, default=DEFAULT_PORT, help="port (default 5000)")
    parser.add_argument(
        "--tracking-uri", help="another store than the project's (e.g. sqlite:///path/mlflow.db)"
    )
    parser.add_argument("--experiment", help="experiment name (default: the project's)")
    parser.add_argument("--open", action="store_true", help="open the address in a browser")
    return parser


def store_and_experiment(args):
    """(tracking URI, experiment id) of the store to show; UiError if there is none."""
    settings = project_tracking(args.project_dir)
    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or settings["uri"]
    name = args.experiment or settings["experiment"]
    if not uri or not name:
        raise UiError(
            f"{args.project_dir.resolve()} has no config/config.yaml: run in the project "
            "folder or give --project-dir (or --tracking-uri and --experiment)"
        )
    database = sqlite_file(uri)
    if database is not None:
        if not database.is_file():
            raise UiError(f"no MLflow store at {database}: run the workflow first")
        follow_project(database)
    import mlflow

    client = mlflow.MlflowClient(tracking_uri=uri)
    experiment = client.get_experiment_by_name(name)
    if experiment is None:
        raise UiError(f"no experiment {name!r} in {uri}: run the workflow first")
    # A store from before the ranked view and the description gets them now.
    for key, value in EXPERIMENT_TAGS.items():
        client.set_experiment_tag(experiment.experiment_id, key, value)
    return uri, experiment.experiment_id


def start_server(uri, port, log_path):
    """``mlflow server`` on ``uri`` at HOST:port, its output in ``log_path``; waits until it
    answers. Returns the process."""
    mlflow_command = Path(sys.executable).parent / "mlflow"
    command = [
        str(mlflow_command) if mlflow_command.is_file() else "mlflow",
        "server",
        "--backend-store-uri",
        uri,
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    # No background job workers: the UI is all this server is for.
    env = os.environ | {"MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false"}
    with open(log_path, "w") as log:
        server = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env)
    deadline = time.monotonic() + STARTUP_TIMEOUT_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise UiError(f"mlflow server exited ({server.returncode}); see {log_path}")
        try:
            with urllib.request.urlopen(f"http://{HOST}:{port}/health", timeout=2):
                return server
        except (urllib.error.URLError, OSError):
            time.sleep(0.5)
    server.terminate()
    raise UiError(f"mlflow server did not answer within {STARTUP_TIMEOUT_S} s; see {log_path}")


def main(argv=None):
    args = build_parser().parse_args(argv)
    try:
        uri, experiment_id = store_and_experiment(args)
        log_path = Path(args.project_dir) / "results" / "logs" / "fsdd-ui.log"
        log_path.parent.mkdir(parents=True, exist_ok=True)
        server = start_server(uri, args.port, log_path)
    except UiError as error:
        print(f"fsdd-ui: {error}", file=sys.stderr)
        return 2
    # A terminated fsdd-ui stops its server too (SIGTERM would skip the finally below).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    url = experiment_url(f"http://{HOST}:{args.port}", experiment_id)
    print(f"MLflow UI of {uri} (server log: {log_path}):\n{url}", flush=True)
    if args.open:
        webbrowser.open(url)
    try:
        return server.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        if server.poll() is None:
            server.terminate()
            server.wait(timeout=30)


if __name__ == "__main__":
    sys.exit(main())
