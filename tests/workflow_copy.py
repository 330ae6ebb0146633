"""Running the workflow from a throw-away copy, as the tests and benchmarks do (not shipped
with the package: it would be copied into every logged MLflow model).

The small end-to-end scenarios of the tests are ``.test/config_*.yaml`` files; by hand:

    python -m tests.workflow_copy .test/config_training.yaml /tmp/fsdd-training \\
        --recordings ../shared/data/fsdd/recordings --subset
    cd /tmp/fsdd-training && snakemake --cores 2
"""

import argparse
import copy
import re
import shutil
import subprocess
import sys
from pathlib import Path

import yaml
from snakemake.utils import update_config

WORKFLOW_FILES = ("Snakefile", "workflow", "scripts", "config", "profiles", "environment.yml")
PROJECT = Path(__file__).resolve().parents[1]
# The tests' subset of FSDD: 2 speakers x 10 digits x 7 takes (140 recordings). Takes 0-1
# fall in the official test split, 5-9 in train/val.
SUBSET_SPEAKERS = ("george", "theo")
SUBSET_TAKES = (0, 1, 5, 6, 7, 8, 9)


def copy_subset(source, folder):
    """Copy the tests' 140 recordings out of the FSDD folder ``source`` into ``folder``."""
    folder = Path(folder)
    folder.mkdir(parents=True)
    for speaker in SUBSET_SPEAKERS:
        for digit in range(10):
            for take in SUBSET_TAKES:
                name = f"{digit}_{speaker}_{take}.wav"
                shutil.copy2(Path(source) / name, folder / name)
    return folder


def apply_scenario(config, scenario):
    """``config`` with a scenario (``.test/config_*.yaml``) on top.

    Merged as ``snakemake --configfile`` merges a file (Snakemake's own ``update_config``:
    mappings key by key, any other value replaced), except ``models``: Snakemake would add
    the scenario's models to all of config.yaml's; here the scenario's are the only ones,
    each on top of config.yaml's model of the same name if there is one.
    """
    merged = copy.deepcopy(config)
    scenario = copy.deepcopy(scenario)
    models = scenario.pop("models", None)
    update_config(merged, scenario)
    if models is not None:
        defaults = merged["models"]
        merged["models"] = {}
        for name, settings in models.items():
            model = copy.deepcopy(defaults.get(name, {}))
            update_config(model, settings)
            merged["models"][name] = model
    return merged


def scenario_config(project, scenario):
    """The config ``project``'s workflow runs with in ``scenario`` (a path, relative to
    ``project`` or absolute)."""
    config = yaml.safe_load((Path(project) / "config/config.yaml").read_text())
    return apply_scenario(config, yaml.safe_load((Path(project) / scenario).read_text()))


def copy_workflow(project, workdir, recordings, overrides=None, scenario=None):
    """Copy the workflow of ``project`` into ``workdir``, reading ``recordings``.

    ``scenario``: a ``.test/config_*.yaml`` file applied to the config (apply_scenario).
    ``overrides`` then maps dotted config keys ("features.batches") to values; a dict value
    replaces that whole section.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        source = Path(project) / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, workdir / name)
    config_path = workdir / "config/config.yaml"
    if scenario:
        config = scenario_config(project, scenario)
    else:
        config = yaml.safe_load(config_path.read_text())
    config["recordings_dir"] = str(Path(recordings).resolve())
    for key, value in (overrides or {}).items():
        *parents, leaf = key.split(".")
        section = config
        for parent in parents:
            section = section[parent]
        section[leaf] = value
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    return workdir


_STAMP = r"^\[(\w{3} \w{3} +\d+ [\d:]+ \d{4})\]\n"
_JOB_START = re.compile(_STAMP + r"(?:local)?rule (\w+):\n(?:.*\n)*?\s+jobid: (\d+)", re.M)
_JOB_FINISH = re.compile(_STAMP + r"Finished jobid: (\d+) \(Rule: (\w+)\)", re.M)
# A job's block: its rule, then (among its indented fields) its benchmark file.
_JOB_BENCHMARK = re.compile(r"^(?:local)?rule (\w+):\n(?:    .*\n)*?    benchmark: (\S+)$", re.M)


def job_events(log_text):
    """Every job's start and finish in a Snakemake log (or its stderr), in log order:
    ("start" or "finish", time stamp as printed, jobid, rule)."""
    starts = [(m.start(), "start", m[1], m[3], m[2]) for m in _JOB_START.finditer(log_text)]
    ends = [(m.start(), "finish", m[1], m[2], m[3]) for m in _JOB_FINISH.finditer(log_text)]
    return [event[1:] for event in sorted(starts + ends)]


def job_benchmark_files(log_text):
    """(rule, benchmark file) of every job of a Snakemake log that declares one."""
    return _JOB_BENCHMARK.findall(log_text)


def run_snakemake(workdir, *args, cores=2, timeout=None):
    """The real snakemake command line in ``workdir`` (targets before options that take lists)."""
    return subprocess.run(
        [sys.executable, "-m", "snakemake", "--cores", str(cores), *args],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def main(argv=None):
    parser = argparse.ArgumentParser(
        prog="python -m tests.workflow_copy",
        description="Copy the workflow into a new folder, set up for one of the .test/ "
        "scenarios; then run snakemake in that folder.",
    )
    parser.add_argument("scenario", type=Path, help="a .test/config_*.yaml file")
    parser.add_argument("workdir", type=Path, help="the new folder")
    parser.add_argument("--recordings", type=Path, required=True, help="FSDD recordings")
    parser.add_argument(
        "--subset",
        action="store_true",
        help="read the tests' 140 of them, copied into WORKDIR/recordings",
    )
    args = parser.parse_args(argv)
    if args.workdir.exists():
        parser.error(f"{args.workdir} exists: name a new folder")
    recordings = args.recordings
    if args.subset:
        recordings = copy_subset(recordings, args.workdir / "recordings")
    copy_workflow(PROJECT, args.workdir, recordings, scenario=args.scenario.resolve())
    print(f"cd {args.workdir} && snakemake --cores 2  # targets, options: top of {args.scenario}")


if __name__ == "__main__":
    main()
