"""Benchmark of the feature stage against one warm in-memory extraction (issue targets).

Measures, on a copy of the recordings in a temporary folder:
  1. warm: one Python process extracting every recording in memory (after a warm-up call);
  2. cold: `snakemake --cores 8` for the per-file features and the combined dataset;
  3. no-op: the same command again;
  4. changed: one recording's content changed; 5. added: one new recording.
and checks the targets: cold <= 5x warm, no-op < 3 s, and that 4 and 5 re-extract only
the batch holding that file and rebuild the dataset.

    python -m benchmarks.feature_stage --recordings ../shared/data/fsdd/recordings
"""

import argparse
import json
import re
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile
import yaml

from tests.workflow_copy import copy_workflow, run_snakemake

PROJECT = Path(__file__).resolve().parents[1]
TARGET = "results/dataset/features.parquet"


def warm_extraction_seconds(recordings, config):
    from fsdd_pipeline.audio import load_audio
    from fsdd_pipeline.features import FeatureParams, extract_features

    params = FeatureParams.from_config(config)
    files = sorted(recordings.glob("*.wav"))
    extract_features(load_audio(files[0], params.sample_rate, params.endpoint), params)
    start = time.perf_counter()
    for path in files:
        extract_features(load_audio(path, params.sample_rate, params.endpoint), params)
    return time.perf_counter() - start, len(files)


def snakemake(workdir, *extra):
    start = time.perf_counter()
    result = run_snakemake(workdir, TARGET, *extra, cores=8)
    elapsed = time.perf_counter() - start
    if result.returncode:
        sys.exit(f"snakemake failed:\n{result.stderr[-3000:]}")
    jobs = re.findall(r"^\s*localrule (\w+):", result.stdout + result.stderr, re.M)
    return elapsed, jobs


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=Path, required=True)
    parser.add_argument("--batches", type=int, help="a fixed number of batches (features.batches)")
    parser.add_argument("--json", type=Path, help="also write the measurements here")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fsdd-bench-") as tmp:
        workdir = Path(tmp)
        recordings = workdir / "recordings"
        shutil.copytree(args.recordings, recordings)
        overrides = {"features.batches": args.batches} if args.batches else {}
        copy_workflow(PROJECT, workdir, recordings, overrides)
        config = yaml.safe_load((workdir / "config/config.yaml").read_text())

        warm, n_files = warm_extraction_seconds(recordings, config)
        cold, cold_jobs = snakemake(workdir)
        n_batches = len(list((workdir / "results/features").glob("batch*")))
        noop, noop_jobs = snakemake(workdir)

        victim = sorted(recordings.glob("*.wav"))[7]
        samples, rate = soundfile.read(victim, dtype="float32")
        soundfile.write(victim, np.clip(samples * 0.5, -1, 1), rate, subtype="PCM_16")
        changed, changed_jobs = snakemake(workdir)

        shutil.copy2(victim, recordings / "9_theo_50.wav")
        added, added_jobs = snakemake(workdir)

    results = {
        "files": n_files,
        "batches": n_batches,
        "warm_in_memory_s": round(warm, 2),
        "cold_snakemake_s": round(cold, 2),
        "cold_over_warm": round(cold / warm, 2),
        "noop_s": round(noop, 2),
        "changed_file_s": round(changed, 2),
        "added_file_s": round(added, 2),
        "jobs": {
            "cold": cold_jobs,
            "noop": noop_jobs,
            "changed": changed_jobs,
            "added": added_jobs,
        },
    }
    print(json.dumps(results, indent=2))
    checks = {
        "cold <= 5x warm": cold <= 5 * warm,
        "no-op < 3 s": noop < 3 and not noop_jobs,
        "changed file re-extracts one batch": sorted(changed_jobs)
        == ["build_dataset", "extract_features"],
        "added file re-extracts one batch": sorted(added_jobs)
        == ["build_dataset", "extract_features"],
    }
    for name, ok in checks.items():
        print(f"{'PASS' if ok else 'FAIL'}  {name}")
    if args.json:
        args.json.write_text(json.dumps(results | {"checks": checks}, indent=2) + "\n")
    sys.exit(0 if all(checks.values()) else 1)


if __name__ == "__main__":
    main()
