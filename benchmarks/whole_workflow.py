"""Benchmark of the whole default workflow, cold: `snakemake --cores 8` from nothing to every
target of `rule all`, on a copy of the workflow in a temporary folder (issue target: at most
10 minutes on a 2-core machine, with no accuracy lost).

    python -m benchmarks.whole_workflow --recordings ../shared/data/fsdd/recordings \
        --output docs/benchmarks/whole_workflow.json

It reports the wall time and CPU time of the run, every rule's jobs (count, summed and
longest job time, from Snakemake's own log), and checks every model's official-split
accuracy and the best LOSO mean of the run against ``benchmarks/accuracy_baseline.csv``
(the figures of the README before the performance work).
"""

import argparse
import re
import resource
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

import pandas as pd

from benchmarks.report import machine_description, write_report
from tests.workflow_copy import copy_workflow, run_snakemake

PROJECT = Path(__file__).resolve().parent.parent
BASELINE = Path(__file__).resolve().parent / "accuracy_baseline.csv"
LIMIT_S = 600.0

_STAMP = r"^\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]\n"
_START = re.compile(_STAMP + r"(?:local)?rule (\w+):\n(?:.*\n)*?\s+jobid: (\d+)", re.M)
_FINISH = re.compile(_STAMP + r"Finished jobid: (\d+) \(Rule: (\w+)\)", re.M)


def _time(stamp):
    return datetime.strptime(" ".join(stamp.split()), "%a %b %d %H:%M:%S %Y")


def job_times(log_text):
    """One row per finished job of a Snakemake log: rule, jobid, seconds (1 s resolution)."""
    starts = {jobid: (rule, _time(stamp)) for stamp, rule, jobid in _START.findall(log_text)}
    rows = []
    for stamp, jobid, rule in _FINISH.findall(log_text):
        if jobid in starts:
            seconds = (_time(stamp) - starts[jobid][1]).total_seconds()
            rows.append({"rule": rule, "jobid": int(jobid), "seconds": seconds})
    return pd.DataFrame(rows, columns=["rule", "jobid", "seconds"])


def rule_table(jobs):
    """Per rule: number of jobs, their summed and longest wall time, longest first."""
    table = jobs.groupby("rule")["seconds"].agg(jobs="count", total_s="sum", longest_s="max")
    return table.sort_values("total_s", ascending=False).reset_index()


def accuracy_checks(results, baseline):
    """Rows (check, baseline, measured, ok) for every baseline model and the best LOSO mean."""
    comparison = pd.read_csv(results / "comparison/comparison.csv").set_index("model")
    rows = []
    for model, expected in baseline.set_index("model")["test_accuracy"].items():
        if model in comparison.index:
            measured = float(comparison.loc[model, "test_accuracy"])
            rows.append((f"{model} official-split accuracy", expected, measured))
    loso = pd.read_csv(results / "loso/loso_summary.csv")
    best_loso = baseline["loso_mean_accuracy"].max()
    rows.append(("best LOSO mean accuracy", best_loso, float(loso["mean_accuracy"].max())))
    return pd.DataFrame(
        [(name, b, m, m >= b - 1e-9) for name, b, m in rows],
        columns=["check", "baseline", "measured", "ok"],
    )


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--recordings", type=Path, required=True)
    parser.add_argument("--output", type=Path, help="write the report (JSON) here")
    parser.add_argument("--keep", type=Path, help="run in this folder and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="fsdd-whole-bench-") as tmp:
        workdir = args.keep or Path(tmp)
        copy_workflow(PROJECT, workdir, args.recordings)
        cpu_before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        result = run_snakemake(workdir, cores=8)
        wall = time.perf_counter() - start
        cpu_after = resource.getrusage(resource.RUSAGE_CHILDREN)
        if result.returncode:
            sys.exit(f"snakemake failed:\n{result.stderr[-3000:]}")
        jobs = job_times(result.stderr)
        checks = accuracy_checks(workdir / "results", pd.read_csv(BASELINE))
    cpu = sum(getattr(cpu_after, f) - getattr(cpu_before, f) for f in ("ru_utime", "ru_stime"))
    rules = rule_table(jobs)
    summary = pd.DataFrame(
        [
            ("jobs", len(jobs)),
            ("wall time (s)", round(wall, 1)),
            ("CPU time (s)", round(cpu, 1)),
            (f"target: wall <= {LIMIT_S:.0f} s", "PASS" if wall <= LIMIT_S else "FAIL"),
            ("accuracy kept", "PASS" if checks["ok"].all() else "FAIL"),
        ],
        columns=["measure", "value"],
    )
    report = {
        "benchmark": "whole_workflow",
        "command": "python -m benchmarks.whole_workflow --recordings <FSDD recordings>",
        "machine": machine_description(),
        "tables": {
            "summary": summary.to_dict("records"),
            "rules": rules.round(1).to_dict("records"),
            "accuracy": checks.round(4).to_dict("records"),
        },
        "passed": bool(wall <= LIMIT_S and checks["ok"].all()),
    }
    write_report(report, args.output)
    sys.exit(0 if report["passed"] else 1)


if __name__ == "__main__":
    main()
