"""Running the workflow from a throw-away copy, as the tests and benchmarks do (not shipped
with the package: it would be copied into every logged MLflow model)."""

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

WORKFLOW_FILES = ("Snakefile", "workflow", "scripts", "config", "profiles", "environment.yml")


def copy_workflow(project, workdir, recordings, overrides=None):
    """Copy the workflow of ``project`` into ``workdir``, reading ``recordings``.

    ``overrides`` maps dotted config keys ("features.batches") to values; a dict value
    replaces that whole section.
    """
    workdir = Path(workdir)
    workdir.mkdir(parents=True, exist_ok=True)
    for name in WORKFLOW_FILES:
        source = Path(project) / name
        (shutil.copytree if source.is_dir() else shutil.copy2)(source, workdir / name)
    config_path = workdir / "config/config.yaml"
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
