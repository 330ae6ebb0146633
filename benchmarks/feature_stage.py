"""Benchmark of the feature stage against an in-process floor and of a no-op rerun against
an empty Snakemake workflow's, all measured in the same run (issue targets).

On a copy of the workflow and the recordings in a temporary folder:

1. floor: one warm Python process computing, in memory, everything an extraction job
   computes per recording (``fsdd_pipeline.data.extraction.recording_record``: loading and
   endpointing, MFCC, chroma, log-mel and the speech embedding), after a warm-up call;
2. cold: ``snakemake --cores 8 results/dataset/features.parquet`` (every batch extracted,
   the combined dataset built);
3. no-op: the same command again, against an empty reference workflow's no-op (a Snakefile
   with one rule whose output exists, in a folder of its own), run alternately;
4. planning: ``snakemake -n`` of the whole default workflow on the copy (every model,
   LOSO fold and evaluation planned, none run: a full run takes too long to rerun here);
5. one recording's content changed, then one recording added: each must re-extract one
   batch and rebuild the dataset.

Targets: cold <= 3x floor, no-op <= 1.3x the empty workflow's no-op. Timed steps that are
repeated report their median; the load average is reported because a shared machine's
other work shows in every wall time.

    python -m benchmarks.feature_stage --recordings ../shared/data/fsdd/recordings \
        --output docs/benchmarks/feature_stage.json
"""

import argparse
import logging
import os
import re
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import yaml

from benchmarks.report import machine_description, write_report
from tests.workflow_copy import copy_workflow, run_snakemake

PROJECT = Path(__file__).resolve().parents[1]
TARGET = "results/dataset/features.parquet"
COLD_OVER_FLOOR_LIMIT = 3.0
NOOP_OVER_EMPTY_LIMIT = 1.3
EMPTY_SNAKEFILE = """\
rule all:
    output:
        "done.txt",
    shell:
        "touch {output}"
"""
_JOB = re.compile(r"^\s*(?:local)?rule (\w+):", re.M)


def floor_seconds(recordings, config, speakers_path):
    """Seconds one warm process takes to compute every recording's feature row in memory,
    with the extraction job's own per-recording function; and the number of recordings."""
    from fsdd_pipeline.data.extraction import recording_record
    from fsdd_pipeline.data.metadata import read_speakers
    from fsdd_pipeline.features.spectral import FeatureParams

    logging.getLogger("fsdd_pipeline").setLevel(logging.ERROR)
    params = FeatureParams.from_config(config)
    speakers = read_speakers(speakers_path)
    files = sorted(recordings.glob("*.wav"))
    recording_record(files[0], params, speakers)  # imports, Numba kernels, ONNX sessions
    start = time.perf_counter()
    for path in files:
        recording_record(path, params, speakers)
    return time.perf_counter() - start, len(files)


def timed_snakemake(workdir, *args):
    """(seconds, names of the jobs run) of one snakemake call; exits if it fails."""
    start = time.perf_counter()
    result = run_snakemake(workdir, *args, cores=8)
    elapsed = time.perf_counter() - start
    if result.returncode:
        sys.exit(f"snakemake {' '.join(args)} failed in {workdir}:\n{result.stderr[-3000:]}")
    return elapsed, _JOB.findall(result.stdout + result.stderr)


def empty_workflow(folder):
    """A workflow with one rule whose output exists: Snakemake's own no-op cost."""
    folder.mkdir()
    (folder / "Snakefile").write_text(EMPTY_SNAKEFILE)
    (folder / "done.txt").write_text("")
    return folder


def alternating_noops(workdir, reference, repeats):
    """No-op times of the project's built target and of the empty workflow, run in turns
    so that a change of load on the machine affects both alike."""
    # One untimed run of each first: the first calls after the cold run took up to twice as
    # long in wall time, not in CPU time.
    timed_snakemake(workdir, TARGET)
    timed_snakemake(reference)
    project, empty = [], []
    for _ in range(repeats):
        seconds, jobs = timed_snakemake(workdir, TARGET)
        if jobs:
            sys.exit(f"the no-op rerun ran jobs: {jobs}")
        project.append(seconds)
        empty.append(timed_snakemake(reference)[0])
    return project, empty


def one_batch_rerun(jobs):
    return sorted(jobs) == ["build_dataset", "extract_features"]


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=Path, required=True)
    parser.add_argument("--batches", type=int, help="a fixed number of batches (features.batches)")
    parser.add_argument("--repeats", type=int, default=7, help="no-op and planning runs each")
    parser.add_argument("--output", type=Path, help="write the report (JSON) here")
    args = parser.parse_args()
    load_before = os.getloadavg()
    with tempfile.TemporaryDirectory(prefix="fsdd-bench-") as tmp:
        workdir = Path(tmp) / "workflow"
        recordings = Path(tmp) / "recordings"
        shutil.copytree(args.recordings, recordings)
        overrides = {"features.batches": args.batches} if args.batches else {}
        copy_workflow(PROJECT, workdir, recordings, overrides)
        reference = empty_workflow(Path(tmp) / "empty")
        config = yaml.safe_load((workdir / "config/config.yaml").read_text())

        floor, n_files = floor_seconds(recordings, config, workdir / config["speakers"])
        cold, cold_jobs = timed_snakemake(workdir, TARGET)
        n_batches = len(list((workdir / "results/features").glob("batch*")))
        noops, empty_noops = alternating_noops(workdir, reference, args.repeats)
        plans = [timed_snakemake(workdir, "-n")[0] for _ in range(args.repeats)]

        victim = sorted(recordings.glob("*.wav"))[7]
        samples, rate = soundfile.read(victim, dtype="float32")
        soundfile.write(victim, np.clip(samples * 0.5, -1, 1), rate, subtype="PCM_16")
        changed, changed_jobs = timed_snakemake(workdir, TARGET)

        shutil.copy2(victim, recordings / "9_theo_50.wav")
        added, added_jobs = timed_snakemake(workdir, TARGET)
    load_after = os.getloadavg()

    noop, empty_noop, plan = (statistics.median(t) for t in (noops, empty_noops, plans))
    checks = [
        ("cold / floor", round(cold / floor, 2), f"<= {COLD_OVER_FLOOR_LIMIT:g}",
         cold <= COLD_OVER_FLOOR_LIMIT * floor),
        ("no-op / empty workflow's no-op", round(noop / empty_noop, 2),
         f"<= {NOOP_OVER_EMPTY_LIMIT:g}", noop <= NOOP_OVER_EMPTY_LIMIT * empty_noop),
        ("one WAV changed: jobs run", ", ".join(sorted(changed_jobs)),
         "build_dataset, extract_features", one_batch_rerun(changed_jobs)),
        ("one WAV added: jobs run", ", ".join(sorted(added_jobs)),
         "build_dataset, extract_features", one_batch_rerun(added_jobs)),
    ]  # fmt: skip
    measures = [
        ("recordings", n_files),
        ("extraction batches", n_batches),
        ("floor: one warm process, every recording in memory (s)", round(floor, 2)),
        ("floor per recording (ms)", round(1000 * floor / n_files, 1)),
        (f"cold `snakemake --cores 8 {TARGET}` (s)", round(cold, 2)),
        (f"no-op rerun of {TARGET} (s, median)", round(noop, 2)),
        ("no-op of an empty workflow (s, median)", round(empty_noop, 2)),
        ("`snakemake -n` of the whole default workflow (s, median)", round(plan, 2)),
        ("one WAV changed (s)", round(changed, 2)),
        ("one WAV added (s)", round(added, 2)),
        ("load average before / after (1 min)", f"{load_before[0]:.1f} / {load_after[0]:.1f}"),
    ]
    report = {
        "benchmark": "feature_stage",
        "command": "python -m benchmarks.feature_stage --recordings <FSDD recordings>",
        "machine": machine_description(),
        "tables": {
            "measures": [{"measure": name, "value": value} for name, value in measures],
            "targets": [
                {"check": name, "measured": value, "target": target, "passed": bool(ok)}
                for name, value, target, ok in checks
            ],
            "repeated runs (s)": [
                {"run": name, "times": " ".join(f"{t:.2f}" for t in times)}
                for name, times in (
                    (f"no-op of {TARGET}", noops),
                    ("empty workflow no-op", empty_noops),
                    ("whole workflow -n", plans),
                )
            ],
        },
        "passed": all(ok for *_, ok in checks),
    }
    write_report(report, args.output)
    sys.exit(0 if report["passed"] else 1)


if __name__ == "__main__":
    main()
