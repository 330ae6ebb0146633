"""Benchmark of prediction: `fsdd-predict` on one recording from a cold start, and the served
model's requests per second on single-clip POSTs.

    python -m benchmarks.prediction --results ../fullrun/results \
        --recordings ../shared/data/fsdd/recordings --output docs/benchmarks/prediction.json

It works in a throw-away project folder: this checkout's config, the trained folders of the
champion (``--results``/comparison/champion.json) and of one Keras model (``--keras-model``)
copied from a full run's results, and a fresh SQLite MLflow store in which the champion is
logged with this checkout's code and registered as ``champion`` (a logged model carries the
package code it was logged with, and `mlflow models serve` runs that code). It measures

1. cold start: `fsdd-predict <clip>` (the registered champion) and `fsdd-predict --model
   <keras model> <clip>`, each run a fresh process, median of ``--runs`` (wall and CPU time);
2. warm, in this process: the forward pass alone and the whole file (read, endpointing,
   features, forward), median of many calls, for both models;
3. served: a real `mlflow models serve` of the registered champion on 127.0.0.1 with each of
   ``--workers`` worker counts, ``--requests`` single-clip POSTs (``dataframe_split`` of one
   base64 WAV, see docs/usage.md) from each of ``--clients`` concurrent clients: requests
   per second, latency percentiles and the server's and the clients' CPU time per request;
   and the same requests to a served model that does no audio work (the scoring server
   alone), which bounds the share of the machine's limit any model served this way reaches.

Every path must give the same probabilities for the same clip ("predictions consistent").
Timings on a shared machine are noisy: CPU times and the load average are reported with them.
"""

import argparse
import base64
import contextlib
import http.client
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import yaml

from benchmarks.report import machine_description, write_report
from tests.servers import BIN, background_server, free_port, model_serve_command

PROJECT = Path(__file__).resolve().parent.parent
# Probabilities of the same clip may differ by float32 round-off between batch sizes, no more.
CONSISTENCY_ATOL = 1e-6
REQUEST_TIMEOUT_S = 60
COLD_RUN_TIMEOUT_S = 600
SERVER_TIMEOUT_S = 180
# Rounds over the clips that measure the warm CPU time of one clip.
CPU_ROUNDS = 5
# The targets of the prediction work: cold start of the champion and of a Keras model, the
# served model's throughput at the most clients as a share of the machine's limit (cores
# divided by the warm CPU time of one clip), its 95th percentile latency, and a folder's.
TARGETS = {
    "champion cold wall (s)": 1.5,
    "champion cold peak memory (MB)": 250,
    "Keras cold wall (s)": 3.0,
    "served share of the limit": 0.8,
    "served p95 (ms)": 100,
    "folder share of the limit": 0.8,
}


def benchmark_clips(recordings, count):
    """``count`` FSDD test takes spread over digits and speakers, the first for the CLI."""
    clips = sorted(Path(recordings).resolve().glob("*_0.wav"))[::3][:count]
    if not clips:
        sys.exit(f"no FSDD recordings (*_0.wav) in {recordings}")
    return clips


def make_project(folder, results, models, example_clip, champion):
    """A project folder with this checkout's config, the trained ``models`` and a fresh
    MLflow store with ``champion`` logged with this checkout's code and registered."""
    from fsdd_pipeline.serving.cli import MODEL_SUBDIR, MODELS_DIR
    from fsdd_pipeline.serving.pyfunc import log_audio_model
    from fsdd_pipeline.tracking.registry import register_champion
    from fsdd_pipeline.tracking.store import project_tracking, use_store

    shutil.copytree(PROJECT / "config", folder / "config")
    for model in models:
        source = Path(results) / "models" / model / MODEL_SUBDIR
        if not source.is_dir():
            sys.exit(f"no trained model {source}")
        shutil.copytree(source, folder / MODELS_DIR / model / MODEL_SUBDIR)
    config = yaml.safe_load((folder / "config/config.yaml").read_text())
    # The SQLite path resolved against the project folder, as fsdd-predict resolves it.
    tracking = {**config["tracking"], "uri": project_tracking(folder)["uri"]}
    mlflow = use_store(tracking)
    with mlflow.start_run(run_name=f"{champion} (prediction benchmark)") as run:
        info = log_audio_model(
            folder / MODELS_DIR / champion / MODEL_SUBDIR, input_example_wav=example_clip
        )
    register_champion(tracking, champion, run.info.run_id, info.model_uri, "benchmark copy")
    mlflow.set_tracking_uri(None)
    return tracking


# GNU time forks the command from its own small process: the peak memory it reports is the
# command's, where a child of this process would count this process's pages (fork and
# posix_spawn alike record the pre-exec image in ru_maxrss).
GNU_TIME = Path("/usr/bin/time")


def spawn_measured(command, cwd):
    """(wall s, CPU s, peak resident MB or None, exit code, stderr) of one fresh process."""
    with tempfile.NamedTemporaryFile("r") as peak:
        measured = GNU_TIME.is_file()
        prefix = [str(GNU_TIME), "-f", "%M", "-o", peak.name] if measured else []
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        result = subprocess.run(
            [*prefix, *map(str, command)],
            cwd=cwd,
            capture_output=True,
            text=True,
            timeout=COLD_RUN_TIMEOUT_S,
            check=False,
        )
        wall = time.perf_counter() - start
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        kilobytes = peak.read().strip().splitlines()[-1:] if measured else []
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    peak_mb = int(kilobytes[0]) / 1024 if kilobytes else None
    return wall, cpu, peak_mb, result.returncode, result.stderr


def cold_start(command, cwd, runs):
    """(wall s, CPU s, peak MB) of each of ``runs`` fresh processes of ``command``, after one
    untimed run that warms the OS file cache and returns its JSON output."""
    first = subprocess.run(
        [*command, "--json", "--all-probabilities"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=COLD_RUN_TIMEOUT_S,
        check=False,
    )
    if first.returncode:
        sys.exit(f"{' '.join(map(str, command))} failed ({first.returncode}):\n{first.stderr}")
    walls, cpus, peaks = [], [], []
    for _ in range(runs):
        wall, cpu, peak, code, stderr = spawn_measured(command, cwd)
        walls.append(wall)
        cpus.append(cpu)
        peaks.append(peak)
        if code:
            sys.exit(f"{' '.join(map(str, command))} failed: {stderr[-2000:]}")
    return walls, cpus, peaks, json.loads(first.stdout)


def median_ms(call, repeats):
    """Median wall time of ``call()`` in milliseconds, after one untimed call."""
    call()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        call()
        times.append(time.perf_counter() - start)
    return 1000 * float(np.median(times))


def warm_timings(model_dir, clips, repeats):
    """({stage: median ms} of one clip, {clip: probabilities}) of one model in this process:
    reading and endpointing, the model's features, the forward pass, the whole file as one
    word, and the whole file read as every prediction path reads it (its digit string:
    the segmenter, then the model on each word), in wall and CPU time."""
    import soundfile

    from fsdd_pipeline.audio.reading import load_clip
    from fsdd_pipeline.features.spectral import extract_features
    from fsdd_pipeline.models.classifier import DigitClassifier
    from fsdd_pipeline.models.inputs import inputs_from_matrices
    from fsdd_pipeline.serving.transcript import attach_strings_model, transcribe

    classifier = attach_strings_model(DigitClassifier.load(model_dir), model_dir)
    spec, params = classifier.spec, classifier.spec.feature_params
    probabilities = {clip: classifier.predict_file(clip)[0] for clip in clips}

    def read():
        return load_clip(clips[0], params.sample_rate, params.endpoint, params.min_duration_s)

    def features():
        return extract_features(samples, params, spec.matrix_features)

    samples, _ = read()
    x = inputs_from_matrices([features()], spec)
    files = iter(clips * (repeats + 1))
    stages = {
        "read + endpointing (ms)": median_ms(read, repeats),
        "features (ms)": median_ms(features, repeats),
        "forward pass (ms)": median_ms(lambda: classifier.predict_proba(x), repeats),
        "one word (ms)": median_ms(lambda: classifier.predict_file(next(files)), repeats),
    }

    def read_as_served(clip):
        samples, rate = soundfile.read(clip, dtype="float32")
        return transcribe(classifier, samples, rate, clip)

    stages["digit string (ms)"] = median_ms(lambda: read_as_served(next(files)), repeats)
    # The work of one clip on every prediction path, for the machine's limit.
    cpu_start = time.process_time()
    for clip in clips * CPU_ROUNDS:
        read_as_served(clip)
    stages["digit string, CPU (ms)"] = (
        1000 * (time.process_time() - cpu_start) / (len(clips) * CPU_ROUNDS)
    )
    return stages, probabilities


def request_body(clip):
    encoded = base64.b64encode(Path(clip).read_bytes()).decode("ascii")
    return json.dumps({"dataframe_split": {"columns": ["audio_base64"], "data": [[encoded]]}})


class Client:
    """One HTTP/1.1 connection to the scoring server, kept alive between requests."""

    def __init__(self, port):
        self.connection = http.client.HTTPConnection("127.0.0.1", port, timeout=REQUEST_TIMEOUT_S)

    def post(self, body):
        """(seconds, prediction dict) of one request; exits on an error answer."""
        start = time.perf_counter()
        self.connection.request("POST", "/invocations", body, {"Content-Type": "application/json"})
        response = self.connection.getresponse()
        data = response.read()
        elapsed = time.perf_counter() - start
        if response.status != 200:
            sys.exit(f"the served model answered {response.status}: {data[:2000]!r}")
        return elapsed, json.loads(data)["predictions"][0]

    def close(self):
        self.connection.close()


def process_group_cpu_s(group):
    """CPU seconds (user + system) of the live processes of a process group."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError):
            fields = stat.read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) == group:
                total += int(fields[11]) + int(fields[12])
    return total / ticks


def send(port, bodies, clients):
    """Send ``bodies`` from ``clients`` concurrent connections: (wall s, latencies s, answers,
    CPU s of this process's clients)."""
    latencies, answers = [None] * len(bodies), [None] * len(bodies)

    def work(indices):
        client = Client(port)
        try:
            for index in indices:
                latencies[index], answers[index] = client.post(bodies[index])
        finally:
            client.close()

    threads = [
        threading.Thread(target=work, args=(range(i, len(bodies), clients),))
        for i in range(clients)
    ]
    cpu_start, start = time.process_time(), time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    if any(latency is None for latency in latencies):
        sys.exit("some requests were not answered")
    return wall, np.array(latencies), answers, cpu


def serve_and_load(folder, model_uri, env, bodies, requests, client_counts, workers):
    """`mlflow models serve` of ``model_uri`` with ``workers`` processes, loaded by each of
    ``client_counts`` concurrent clients in turn: (start-up s, first request ms, rows of the
    served table, [answers to ``bodies``, one list per client count])."""
    port = free_port()
    start = time.perf_counter()
    with background_server(
        model_serve_command(model_uri, port, workers),
        f"http://127.0.0.1:{port}/ping",
        folder / f"serve-{workers}.log",
        cwd=folder,
        env=env,
        timeout=SERVER_TIMEOUT_S,
    ) as server:
        startup = time.perf_counter() - start
        client = Client(port)
        first, _ = client.post(bodies[0])
        client.close()
        rows, served = [], []
        for n_clients in client_counts:
            load = [bodies[i % len(bodies)] for i in range(requests)]
            cpu_before = process_group_cpu_s(server.pid)
            wall, latencies, answers, client_cpu = send(port, load, n_clients)
            cpu = process_group_cpu_s(server.pid) - cpu_before
            p50, p95, p99 = 1000 * np.percentile(latencies, [50, 95, 99])
            rows.append(
                {
                    "clients": n_clients,
                    "workers": workers,
                    "requests": requests,
                    "requests/s": round(requests / wall, 1),
                    "p50 (ms)": round(p50, 1),
                    "p95 (ms)": round(p95, 1),
                    "p99 (ms)": round(p99, 1),
                    "server CPU per request (ms)": round(1000 * cpu / requests, 1),
                    "client CPU per request (ms)": round(1000 * client_cpu / requests, 2),
                }
            )
            served.append(answers[: len(bodies)])
    return startup, 1000 * first, rows, served


def scoring_server_alone(folder):
    """A model that does no audio work (benchmarks/scoring_server_alone.py), saved in
    ``folder``: served like the champion, it measures what MLflow's scoring server and its
    HTTP stack cost per request by themselves."""
    import mlflow

    path = folder / "scoring_server_alone"
    mlflow.pyfunc.save_model(
        path,
        python_model=str(Path(__file__).with_name("scoring_server_alone.py")),
        pip_requirements=["mlflow"],
    )
    return str(path)


def predict_folder(folder, clips, count):
    """(wall s, files) of `fsdd-predict` (the registered champion) on a folder of ``count``
    recordings, in a fresh process; every file must be predicted."""
    files = folder / "folder"
    files.mkdir()
    for index in range(count):
        clip = clips[index % len(clips)]
        shutil.copy2(clip, files / f"{index:05d}_{clip.name}")
    start = time.perf_counter()
    result = subprocess.run(
        [str(BIN / "fsdd-predict"), "--json", str(files)],
        cwd=folder,
        capture_output=True,
        text=True,
        timeout=COLD_RUN_TIMEOUT_S,
        check=False,
    )
    wall = time.perf_counter() - start
    if result.returncode or len(json.loads(result.stdout)) != count:
        sys.exit(f"fsdd-predict on a folder failed: {result.stderr[-2000:]}")
    return wall, count


def largest_difference(reference, others):
    """Largest absolute difference of probabilities between ``reference`` and each of
    ``others`` ({clip: probabilities}), and whether every digit agrees."""
    worst, digits_agree = 0.0, True
    for other in others:
        for clip, probabilities in other.items():
            expected = reference[clip]
            worst = max(worst, float(np.max(np.abs(np.asarray(probabilities) - expected))))
            digits_agree &= int(np.argmax(probabilities)) == int(np.argmax(expected))
    return worst, digits_agree


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--results", type=Path, required=True, help="a full run's results/")
    parser.add_argument("--recordings", type=Path, required=True, help="FSDD recordings")
    parser.add_argument("--keras-model", default="crnn", help="the Keras model (%(default)s)")
    parser.add_argument("--runs", type=int, default=5, help="cold runs per model (%(default)s)")
    parser.add_argument("--requests", type=int, default=200, help="POSTs per mode (%(default)s)")
    parser.add_argument(
        "--clients",
        type=int,
        nargs="+",
        default=[1, 4, 8],
        help="concurrent clients, one measure each (%(default)s)",
    )
    cores = len(os.sched_getaffinity(0))
    parser.add_argument(
        "--workers",
        type=int,
        nargs="+",
        default=[1, cores],
        help="server worker processes, one server each (%(default)s)",
    )
    parser.add_argument(
        "--folder-files", type=int, default=1000, help="files of the folder run (%(default)s)"
    )
    parser.add_argument("--clips", type=int, default=20, help="distinct clips (%(default)s)")
    parser.add_argument("--output", type=Path, help="write the report (JSON) here")
    args = parser.parse_args()
    from fsdd_pipeline.labels import PROB_COLUMNS

    # The CLI's own setting, so that this process's TensorFlow stays as quiet and exact.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")
    os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")
    load_before = os.getloadavg()[0]
    champion = json.loads((args.results / "comparison/champion.json").read_text())["model"]
    clips = benchmark_clips(args.recordings, args.clips)
    with tempfile.TemporaryDirectory(prefix="fsdd-predict-bench-") as tmp:
        folder = Path(tmp)
        tracking = make_project(
            folder, args.results, [champion, args.keras_model], clips[0], champion
        )
        predict = str(BIN / "fsdd-predict")
        cold_commands = {
            f"{champion} (registered champion)": [predict, str(clips[0])],
            f"{args.keras_model} (Keras)": [predict, "--model", args.keras_model, str(clips[0])],
        }
        cold_rows, cli = [], {}
        for name, command in cold_commands.items():
            walls, cpus, peaks, records = cold_start(command, folder, args.runs)
            cli[name] = {clips[0]: np.array([records[0][f"prob_{d}"] for d in range(10)])}
            shown = " ".join(["fsdd-predict", *command[1:-1], "<clip>"])
            cold_rows.append(
                {
                    "model": name,
                    "command": f"`{shown}`",
                    "runs": args.runs,
                    "wall median (s)": round(float(np.median(walls)), 2),
                    "wall min (s)": round(float(np.min(walls)), 2),
                    "CPU median (s)": round(float(np.median(cpus)), 2),
                    "peak memory median (MB)": (
                        round(float(np.median(peaks))) if None not in peaks else "n/a"
                    ),
                }
            )
        warm_rows, warm = [], {}
        models_dir = folder / "results/models"
        for name, model in zip(cold_commands, [champion, args.keras_model], strict=True):
            stages, warm[name] = warm_timings(models_dir / model / "model", clips, 50)
            warm_rows.append({"model": name, **{k: round(v, 2) for k, v in stages.items()}})
        bodies = [request_body(clip) for clip in clips]
        champion_uri = f"models:/{tracking['registered_model']}@champion"
        store = {"MLFLOW_TRACKING_URI": tracking["uri"]}
        served_rows, served = [], []
        for workers in args.workers:
            startup, first_ms, rows, answers = serve_and_load(
                folder, champion_uri, store, bodies, args.requests, args.clients, workers
            )
            served_rows += rows
            served += [
                {
                    clip: np.array([answer[column] for column in PROB_COLUMNS])
                    for clip, answer in zip(clips, answers_of_one_load, strict=True)
                }
                for answers_of_one_load in answers
            ]
        _, _, alone_rows, _ = serve_and_load(
            folder, scoring_server_alone(folder), {}, bodies, args.requests, [1], 1
        )
        folder_wall, folder_files = predict_folder(folder, clips, args.folder_files)
    champion_name, keras_name = cold_commands
    difference, digits_agree = largest_difference(
        warm[champion_name], [cli[champion_name], *served]
    )
    keras_difference, keras_agree = largest_difference(warm[keras_name], [cli[keras_name]])
    difference = max(difference, keras_difference)
    consistent = digits_agree and keras_agree and difference <= CONSISTENCY_ATOL
    # The machine's limit: every core busy with nothing but the loaded champion's work.
    cpu_per_clip_ms = warm_rows[0]["digit string, CPU (ms)"]
    limit = cores / (cpu_per_clip_ms / 1000)
    # The best server at the most clients.
    busiest = max(
        (row for row in served_rows if row["clients"] == max(args.clients)),
        key=lambda row: row["requests/s"],
    )
    # What serving through `mlflow models serve` can reach at best: every core busy with the
    # clip's own work plus what the scoring server alone and the client spend per request.
    server_alone_ms = alone_rows[0]["server CPU per request (ms)"]
    client_ms = busiest["client CPU per request (ms)"]
    ceiling = cpu_per_clip_ms / (cpu_per_clip_ms + server_alone_ms + client_ms)
    measured = {
        "champion cold wall (s)": cold_rows[0]["wall median (s)"],
        "champion cold peak memory (MB)": cold_rows[0]["peak memory median (MB)"],
        "Keras cold wall (s)": cold_rows[1]["wall median (s)"],
        "served share of the limit": round(busiest["requests/s"] / limit, 2),
        "served p95 (ms)": busiest["p95 (ms)"],
        "folder share of the limit": round(folder_files / folder_wall / limit, 2),
    }
    higher_is_better = {"served share of the limit", "folder share of the limit"}
    target_rows = [
        {
            "measure": name,
            "target": f"{'≥' if name in higher_is_better else '≤'} {goal}",
            "measured": measured[name],
            "met": bool(
                measured[name] >= goal if name in higher_is_better else measured[name] <= goal
            ),
        }
        for name, goal in TARGETS.items()
    ]
    summary = [
        ("cores", cores),
        ("warm CPU per clip, champion, as every path reads it (ms)", round(cpu_per_clip_ms, 2)),
        ("the machine's limit: cores / CPU per clip (clips/s)", round(limit, 1)),
        (
            f"`fsdd-predict <folder of {folder_files}>` (clips/s)",
            round(folder_files / folder_wall, 1),
        ),
        (
            "served: the scoring server alone, a model doing no audio work (server CPU per "
            "request, ms)",
            server_alone_ms,
        ),
        (
            "served: best share of the limit any model reaches this way: CPU per clip / (CPU "
            "per clip + scoring server alone + client)",
            round(ceiling, 2),
        ),
        ("served: `mlflow models serve` start until /ping (s)", round(startup, 1)),
        ("served: first request (ms)", round(first_ms, 1)),
        ("largest probability difference, CLI / served / in-process", f"{difference:.1e}"),
        ("predictions consistent", "PASS" if consistent else "FAIL"),
        ("load average (1 min) before / after", f"{load_before:.1f} / {os.getloadavg()[0]:.1f}"),
    ]
    report = {
        "benchmark": "prediction",
        "command": "python -m benchmarks.prediction --results <full run's results> "
        "--recordings <FSDD recordings>",
        "machine": machine_description(),
        "tables": {
            "cold start (one clip, fresh process)": cold_rows,
            "warm, in one process (one clip)": warm_rows,
            "served champion (single-clip POSTs)": served_rows,
            "summary": [{"measure": m, "value": v} for m, v in summary],
            "targets": target_rows,
        },
        "passed": bool(consistent),
    }
    write_report(report, args.output)
    sys.exit(0 if report["passed"] else 1)


if __name__ == "__main__":
    main()
