"""Benchmark: train every default model in one `snakemake --cores 8` run (issue target:
all within 10 minutes on a 2-core CPU machine), on an existing combined dataset.

    python -m benchmarks.training_stage --recordings ../shared/data/fsdd/recordings

It copies the workflow and the dataset already built under results/ (or builds it),
then times the training jobs alone and prints each model's own training time.
"""

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import yaml

from tests.workflow_copy import copy_workflow, run_snakemake

PROJECT = Path(__file__).resolve().parents[1]


def snakemake(workdir, *targets):
    result = run_snakemake(workdir, *targets, cores=8)
    if result.returncode:
        sys.exit(f"snakemake failed:\n{result.stderr[-3000:]}")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=Path, required=True)
    parser.add_argument("--limit-s", type=float, default=600)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fsdd-train-bench-") as tmp:
        workdir = Path(tmp)
        copy_workflow(PROJECT, workdir, args.recordings)
        config = yaml.safe_load((workdir / "config/config.yaml").read_text())
        snakemake(workdir, "results/dataset/features.parquet", "results/mlflow/experiment.json")
        models = list(config["models"])
        targets = [f"results/models/{m}/training.json" for m in models]
        start = time.perf_counter()
        snakemake(workdir, *targets)
        elapsed = time.perf_counter() - start
        per_model = {
            m: json.loads((workdir / f"results/models/{m}/training.json").read_text())
            for m in models
        }
    print(
        json.dumps(
            {
                "training_stage_s": round(elapsed, 1),
                "models": {m: i["training_time_s"] for m, i in per_model.items()},
            },
            indent=2,
        )
    )
    ok = elapsed <= args.limit_s
    print(
        f"{'PASS' if ok else 'FAIL'}  all {len(models)} models trained in {elapsed:.0f} s "
        f"(limit {args.limit_s:.0f} s)"
    )
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
