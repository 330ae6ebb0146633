"""Benchmark of how the workflow scales with the number of recordings (issue targets).

Builds, in a temporary folder, a corpus ``--factor`` times FSDD: FSDD's recordings plus
``factor - 1`` perturbed copies of each (the speed of every new speaker, the gain of every
clip and a little noise, all seeded) under new speaker names (``theo`` -> ``theov1``, ...),
and a speakers table with their rows. Then, in one run, for FSDD alone (1x) and for that
corpus (Nx), each on its own copy of the workflow:

  1. DAG planning: ``snakemake -n`` of the default target, from nothing (best of --repeats);
  2. cold: ``snakemake --cores N results/dataset/features.parquet`` (extraction and dataset;
     N from --cores, the same at both sizes);
  3. no-op: the same command again (best of --repeats);
  4. training of representative models (--models), one ``snakemake`` run each;

and the peak memory of every job: its own high-water mark, which every job logs as its last
line, beside the ``max_rss`` of Snakemake's benchmark files (sampled, so it may miss a short
peak). Checks: the cold stage takes at most 1.05 x factor the time of 1x; an extraction
job's peak memory stays flat (at most 1.25x); the dataset's and the trainings' grow at most
linearly (at most factor x, i.e. no more MB per 1,000 recordings than at 1x); the no-op and
the planning grow at most linearly.

    python -m benchmarks.scaling --recordings ../shared/data/fsdd/recordings --factor 10 \
        --output docs/benchmarks/scaling.json
"""

import argparse
import os
import re
import resource
import shutil
import sys
import tempfile
import threading
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd
import soundfile
import yaml

from benchmarks.report import machine_description, write_report
from fsdd_pipeline.planning.naming import list_recordings, parse_recording_name
from fsdd_pipeline.workflow_logging import logged_peak_memory_mb
from tests.workflow_copy import copy_workflow, run_snakemake

PROJECT = Path(__file__).resolve().parents[1]
FEATURES_TARGET = "results/dataset/features.parquet"
TRACKING_TARGET = "results/mlflow/experiment.json"
# A cheap scikit-learn model and a cheap Keras one, both on the pooled speech embedding
# (the champion's input): every model reads the whole dataset, as these two do.
DEFAULT_MODELS = ("emb_logreg", "emb_mlp")

# Perturbation of the copies: each new speaker speaks at its own speed (which also shifts
# its pitch), each clip gets its own gain, and white noise far below the clip's level
# makes no two copies alike.
SPEED_RANGE = (0.92, 1.08)
GAIN_DB_RANGE = (-6.0, 0.0)
NOISE_BELOW_RMS_DB = 45.0

TIME_TOLERANCE = 1.05  # cold feature stage: at most 1.05 x factor the 1x time
FLAT_TOLERANCE = 1.25  # extraction jobs' peak memory: "flat" within 25%

_JOB = re.compile(r"^\s*(?:local)?rule (\w+):", re.M)


def copy_speaker_name(speaker, copy):
    return f"{speaker}v{copy}"


def perturbed(samples, speed, gain_db, rng):
    """``samples`` played ``speed`` times faster (linear interpolation), ``gain_db`` louder,
    with white noise NOISE_BELOW_RMS_DB below the result's RMS."""
    positions = np.arange(0, len(samples) - 1, speed)
    out = np.interp(positions, np.arange(len(samples)), samples) * 10 ** (gain_db / 20)
    rms = np.sqrt(np.mean(np.square(out)))
    out += rng.standard_normal(len(out)) * rms * 10 ** (-NOISE_BELOW_RMS_DB / 20)
    return np.clip(out, -1, 1).astype(np.float32)


def build_corpus(source, speakers_table, folder, factor, seed=0):
    """Write ``folder/recordings`` (every recording of ``source`` and ``factor - 1``
    perturbed copies of each under new speakers) and ``folder/speakers.csv`` (the rows of
    ``speakers_table`` and one per new speaker, with the original speaker's metadata).
    Returns (recordings folder, speakers table, number of recordings)."""
    source, folder = Path(source), Path(folder)
    recordings = folder / "recordings"
    recordings.mkdir(parents=True)
    speakers = pd.read_csv(speakers_table)
    copies = range(1, factor)
    rng = np.random.default_rng(seed)
    speeds = {
        (copy, speaker): rng.uniform(*SPEED_RANGE)
        for copy in copies
        for speaker in speakers.speaker
    }
    names = list_recordings(source)
    for name in names:
        shutil.copy2(source / name, recordings / name)
        if not copies:
            continue
        recording = parse_recording_name(name)
        samples, rate = soundfile.read(source / name, dtype="float32")
        for copy in copies:
            clip_rng = np.random.default_rng([seed, copy, zlib.crc32(name.encode())])
            gain_db = clip_rng.uniform(*GAIN_DB_RANGE)
            speed = speeds[copy, recording.speaker]
            speaker = copy_speaker_name(recording.speaker, copy)
            copy_path = recordings / f"{recording.digit}_{speaker}_{recording.index}.wav"
            soundfile.write(
                copy_path, perturbed(samples, speed, gain_db, clip_rng), rate, subtype="PCM_16"
            )
    table = pd.concat(
        [speakers]
        + [
            speakers.assign(speaker=[copy_speaker_name(s, copy) for s in speakers.speaker])
            for copy in copies
        ],
        ignore_index=True,
    )
    clashes = table.speaker[table.speaker.duplicated()].tolist()
    if clashes:
        sys.exit(f"new speaker names clash with existing ones: {clashes}")
    table.to_csv(folder / "speakers.csv", index=False)
    return recordings, folder / "speakers.csv", len(names) * factor


class LoadMonitor:
    """The machine's 1-minute load average, sampled in the background: the benchmark shares
    the machine, and the times mean little without it."""

    def __init__(self, interval_s=2.0):
        self.samples = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(interval_s,), daemon=True)

    def _run(self, interval_s):
        while not self._stop.is_set():
            self.samples.append((time.monotonic(), os.getloadavg()[0]))
            self._stop.wait(interval_s)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def between(self, start, end):
        """(mean, max) load average of the samples between two time.monotonic() readings."""
        loads = [load for at, load in self.samples if start <= at <= end] or [os.getloadavg()[0]]
        return round(float(np.mean(loads)), 1), round(float(np.max(loads)), 1)


def snakemake(workdir, *args, cores=8):
    """Run snakemake in ``workdir``: (wall s, CPU s of it and its jobs, rules of the jobs run)."""
    cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = run_snakemake(workdir, *args, cores=cores)
    wall = time.perf_counter() - start
    cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if result.returncode:
        sys.exit(f"snakemake {' '.join(args)} failed:\n{result.stderr[-3000:]}")
    cpu = sum(getattr(cpu_after, f) - getattr(cpu_before, f) for f in ("ru_utime", "ru_stime"))
    return wall, cpu, _JOB.findall(result.stdout + result.stderr)


def peak_memory(results, log, benchmark):
    """(the job's logged peak, Snakemake's sampled max_rss) in MB for one job."""
    sampled = pd.read_csv(results / benchmark, sep="\t")["max_rss"]
    sampled = pd.to_numeric(sampled, errors="coerce").max()
    return logged_peak_memory_mb(results / log), None if pd.isna(sampled) else float(sampled)


def run_scale(workdir, recordings, speakers, models, repeats, load, cores=8):
    """Every measurement of one corpus on a fresh copy of the workflow; the cold feature
    stage runs with ``cores`` job slots."""
    copy_workflow(PROJECT, workdir, recordings, {"speakers": str(speakers)})
    start = time.monotonic()
    planning = min(snakemake(workdir, "-n")[0] for _ in range(repeats))
    cold_start = time.monotonic()
    cold_s, cold_cpu, cold_jobs = snakemake(workdir, FEATURES_TARGET, cores=cores)
    cold_end = time.monotonic()
    noops = [snakemake(workdir, FEATURES_TARGET) for _ in range(repeats)]
    snakemake(workdir, TRACKING_TARGET)
    training_s = {model: snakemake(workdir, training_target(model))[0] for model in models}

    results = workdir / "results"
    batches = sorted(p.name for p in (results / "features").glob("batch*"))
    extraction = [
        peak_memory(
            results, f"logs/extract_features/{b}.log", f"benchmarks/extract_features/{b}.tsv"
        )
        for b in batches
    ]
    memory = {
        "extraction job (largest)": tuple(
            _largest(values) for values in zip(*extraction, strict=True)
        ),
        "build_dataset": peak_memory(
            results, "logs/build_dataset.log", "benchmarks/build_dataset.tsv"
        ),
    } | {
        f"train_model {model}": peak_memory(
            results, f"logs/train/{model}.log", f"benchmarks/train/{model}.tsv"
        )
        for model in models
    }
    return {
        "recordings": len(list_recordings(recordings)),
        "batches": len(batches),
        "planning_s": planning,
        "cold_s": cold_s,
        "cold_cpu_s": cold_cpu,
        "cold_jobs": len(cold_jobs),
        "cold_load": load.between(cold_start, cold_end),
        "noop_s": min(wall for wall, _, _ in noops),
        "noop_jobs": sum(len(jobs) for _, _, jobs in noops),
        "training_s": training_s,
        "memory": memory,
        "load": load.between(start, time.monotonic()),
    }


def training_target(model):
    return f"results/models/{model}/training.json"


def per_thousand(mb, run):
    return round(mb / (run["recordings"] / 1000), 1)


def scaling_tables(one, many, factor):
    """The report's tables and whether every check passed, from the 1x and Nx runs."""
    checks = []

    def row(measure, small, large, limit=None):
        ratio = large / small
        if limit is not None:
            checks.append(ratio <= limit)
        return {
            "measure": measure,
            "1x": round(small, 2),
            f"{factor}x": round(large, 2),
            "ratio": round(ratio, 2),
            "target": "" if limit is None else f"<= {limit:g}",
            "result": "" if limit is None else ("PASS" if ratio <= limit else "FAIL"),
        }

    def measured(measure, key, limit=None):
        return row(measure, one[key], many[key], limit)

    times = [
        measured("recordings", "recordings"),
        measured("extraction batches", "batches"),
        measured("DAG planning, `snakemake -n` (s)", "planning_s", factor),
        measured("cold feature stage + dataset (s)", "cold_s", TIME_TOLERANCE * factor),
        measured("cold feature stage + dataset, CPU (s)", "cold_cpu_s"),
        measured("no-op rerun (s)", "noop_s", factor),
    ] + [
        row(f"training {model}, its `snakemake` run (s)", seconds, many["training_s"][model])
        for model, seconds in one["training_s"].items()
    ]
    checks.append(one["noop_jobs"] == many["noop_jobs"] == 0)

    memory = []
    for job, (small, small_sampled) in one["memory"].items():
        large, large_sampled = many["memory"][job]
        flat = job.startswith("extraction")
        limit = FLAT_TOLERANCE if flat else factor
        ratio = large / small
        checks.append(ratio <= limit)
        memory.append(
            {
                "job": job,
                "1x peak (MB)": round(small),
                f"{factor}x peak (MB)": round(large),
                "ratio": round(ratio, 2),
                "MB per 1,000 recordings, 1x": "" if flat else per_thousand(small, one),
                f"MB per 1,000 recordings, {factor}x": "" if flat else per_thousand(large, many),
                # The slope, without the interpreter's and libraries' fixed share.
                "MB per 1,000 added recordings": ""
                if flat
                else round((large - small) / ((many["recordings"] - one["recordings"]) / 1000), 1),
                "Snakemake max_rss, 1x / Nx (MB)": f"{_mb(small_sampled)} / {_mb(large_sampled)}",
                "target": f"flat: <= {FLAT_TOLERANCE:g}x" if flat else f"linear: <= {factor}x",
                "result": "PASS" if ratio <= limit else "FAIL",
            }
        )

    conditions = [
        {
            "run": f"{scale} ({run['recordings']} recordings)",
            "cold stage jobs": run["cold_jobs"],
            "jobs in the no-op reruns": run["noop_jobs"],
            "load average in the cold stage (mean / max)": "{} / {}".format(*run["cold_load"]),
            "load average in the whole run (mean / max)": "{} / {}".format(*run["load"]),
        }
        for scale, run in (("1x", one), (f"{factor}x", many))
    ]
    return {"scaling": times, "peak memory": memory, "conditions": conditions}, all(checks)


def _largest(values):
    values = [v for v in values if v is not None]
    return max(values) if values else None


def _mb(value):
    return "n/a" if value is None else round(value)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=Path, required=True)
    parser.add_argument("--factor", type=int, default=10, help="corpus size in FSDDs (>= 2)")
    parser.add_argument(
        "--models", nargs="+", default=list(DEFAULT_MODELS), help="models whose training to measure"
    )
    parser.add_argument("--repeats", type=int, default=3, help="no-op and dry runs: best of")
    parser.add_argument("--seed", type=int, default=0, help="seed of the perturbed copies")
    parser.add_argument(
        "--cores",
        type=int,
        default=8,
        help="job slots of the cold feature stage at both sizes (FSDD has only 4 batches: "
        "with more slots than CPUs, only the larger corpus runs more jobs than CPUs at once)",
    )
    parser.add_argument("--output", type=Path, help="write the report (JSON) here")
    parser.add_argument("--keep", type=Path, help="work in this (new) folder and keep it")
    args = parser.parse_args()
    if args.factor < 2:
        parser.error("--factor must be at least 2")
    config = yaml.safe_load((PROJECT / "config/config.yaml").read_text())
    speakers_table = PROJECT / config["speakers"]
    with tempfile.TemporaryDirectory(prefix="fsdd-scaling-") as tmp, LoadMonitor() as load:
        root = args.keep or Path(tmp)
        corpus_start = time.perf_counter()
        corpora = {
            scale: build_corpus(
                args.recordings, speakers_table, root / f"corpus{scale}x", scale, args.seed
            )
            for scale in (1, args.factor)
        }
        corpus_s = time.perf_counter() - corpus_start
        print(f"corpora built in {corpus_s:.0f} s", file=sys.stderr)
        one, many = (
            run_scale(
                root / f"workflow{scale}x",
                *corpora[scale][:2],
                args.models,
                args.repeats,
                load,
                args.cores,
            )
            for scale in (1, args.factor)
        )
    tables, passed = scaling_tables(one, many, args.factor)
    report = {
        "benchmark": "scaling",
        "command": (
            "python -m benchmarks.scaling --recordings <FSDD recordings> "
            f"--factor {args.factor} --models {' '.join(args.models)} --cores {args.cores}"
        ),
        "machine": machine_description(),
        "tables": tables,
        "passed": passed,
    }
    write_report(report, args.output)
    sys.exit(0 if passed else 1)


if __name__ == "__main__":
    main()
