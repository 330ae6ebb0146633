"""End-to-end: the real snakemake command on a small real subset of FSDD."""

import os
import shutil
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import soundfile

from .conftest import make_workdir, run_snakemake
from .workflow_copy import job_events

pytestmark = pytest.mark.e2e
FEATURE_TARGETS = ["results/dataset/features.parquet", "results/figures/eda/counts.png"]


@pytest.fixture(scope="module")
def feature_run(tmp_path_factory, fsdd_subset):
    workdir = make_workdir(tmp_path_factory.mktemp("workflow"), fsdd_subset)
    first = run_snakemake(workdir, "plot_eda", "build_dataset")
    return workdir, first


def test_per_file_features_dataset_and_figures(feature_run, fsdd_subset):
    workdir, _ = feature_run
    per_file = sorted(p.stem for p in (workdir / "results/features").glob("batch*/*.parquet"))
    assert per_file == sorted(p.stem for p in fsdd_subset.glob("*.wav"))

    dataset = pd.read_parquet(workdir / "results/dataset/features.parquet")
    assert len(dataset) == 140
    assert dataset.groupby("split").size().to_dict() == {"test": 40, "train": 80, "val": 20}
    assert (dataset.loc[dataset.split == "test", "sample_number"] < 5).all()
    assert set(dataset.gender) == {"male"} and set(dataset.accent) == {"GRC/Greek", "USA/neutral"}
    counts = pd.read_csv(workdir / "results/dataset/counts.csv").set_index("speaker")
    assert counts.loc["total", "total"] == 140 and counts.loc["theo", "3"] == 7

    figures = sorted(p.name for p in (workdir / "results/figures/eda").glob("*.png"))
    assert len(figures) == 7
    assert all((workdir / "results/figures/eda" / f).stat().st_size > 10_000 for f in figures)


def test_second_run_does_nothing(feature_run):
    workdir, _ = feature_run
    again = run_snakemake(workdir, "plot_eda", "build_dataset")
    assert "Nothing to be done" in again.stdout + again.stderr


def test_changed_feature_parameter_reruns_extraction(feature_run):
    workdir, _ = feature_run
    (workdir / "config/changed.yaml").write_text("features:\n  n_mfcc: 20\n")
    dry = run_snakemake(workdir, "build_dataset", "-n", "--configfile", "config/changed.yaml")
    output = dry.stdout + dry.stderr
    assert "extract_features" in output and "build_dataset" in output
    assert "params" in output.lower()  # snakemake's reason: the params changed


def test_bad_recording_is_named_and_other_files_finish(tmp_path, fsdd_subset):
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    for path in sorted(fsdd_subset.glob("*_theo_*.wav"))[:12]:
        (recordings / path.name).write_bytes(path.read_bytes())
    (recordings / "4_theo_3.wav").write_bytes(b"")
    (recordings / "4theo3.wav").write_bytes(b"RIFF")
    workdir = make_workdir(tmp_path / "wf", recordings, {"features.batches": 2})
    result = run_snakemake(workdir, "--keep-going", "build_dataset", check=False)
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert "4_theo_3.wav: cannot read audio" in output
    assert "4theo3.wav: misnamed recording" in output
    extracted = list((workdir / "results/features").glob("batch*/*.parquet"))
    assert len(extracted) == 12
    assert not (workdir / "results/dataset/features.parquet").exists()


def test_truncated_silent_and_m4a_recordings_are_rejected_and_named(tmp_path, fsdd_subset):
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    for path in sorted(fsdd_subset.glob("*_theo_*.wav"))[:12]:
        (recordings / path.name).write_bytes(path.read_bytes())
    real = fsdd_subset / "4_george_5.wav"
    (recordings / "4_theo_3.wav").write_bytes(real.read_bytes()[:100])  # truncated copy
    rng = np.random.default_rng(0)
    dither = rng.standard_normal(8000) * 10 ** (-90 / 20)
    soundfile.write(recordings / "5_theo_3.wav", dither, 8000, subtype="PCM_16")
    (recordings / "6_theo_3.m4a").write_bytes(real.read_bytes())
    expected = {
        "4_theo_3.wav": "truncated file: the WAV header promises",
        "5_theo_3.wav": "no speech: the loudest 32 ms is",
        "6_theo_3.m4a": "unsupported format .m4a: convert to WAV, FLAC, OGG (Vorbis or Opus), "
        "MP3 or AIFF",
    }
    workdir = make_workdir(tmp_path / "wf", recordings, {"features.batches": 2})
    result = run_snakemake(workdir, "--keep-going", "build_dataset", check=False)
    assert result.returncode != 0
    batches = sorted((workdir / "results/features").glob("batch*"))
    listed = pd.concat([pd.read_csv(batch / "rejected.csv") for batch in batches])
    reasons = dict(zip(listed.file_name, listed.reason, strict=True))
    assert sorted(reasons) == sorted(expected)
    for name, reason in expected.items():
        assert reasons[name].startswith(reason), reasons[name]
    # build_dataset's error, in its log and in snakemake's output of the failed job.
    for text in ((workdir / "results/logs/build_dataset.log").read_text(), result.stderr):
        assert "3 recording(s) could not be used" in text
        for name, reason in reasons.items():
            assert f"{name}: {reason}" in text
    assert len(list((workdir / "results/features").glob("batch*/*.parquet"))) == 12

    (workdir / "config/skip.yaml").write_text("dataset:\n  skip_rejected: true\n")
    run_snakemake(workdir, "build_dataset", "--configfile", "config/skip.yaml")
    dataset = pd.read_parquet(workdir / "results/dataset/features.parquet")
    assert len(dataset) == 12 and not set(expected) & set(dataset.file_name)


def planned_jobs(workdir, target):
    """{rule: job count} of a dry run, from its "Job stats" table."""
    dry = run_snakemake(workdir, target, "-n")
    stats = (dry.stdout + dry.stderr).split("Job stats:")
    if len(stats) < 2:
        return {}
    table = stats[1].strip().split("\n\n")[0].splitlines()[2:]
    rows = (line.split() for line in table)
    return {rule: int(count) for rule, count in rows if rule != "total"}


def test_changed_removed_or_added_recording_reextracts_only_its_batch(tmp_path, fsdd_subset):
    """The recordings reach extraction as one folder input and a digest per batch."""
    recordings = tmp_path / "recordings"
    recordings.mkdir()
    for path in sorted(fsdd_subset.glob("*.wav"))[:30]:
        shutil.copy2(path, recordings / path.name)
    workdir = make_workdir(tmp_path / "wf", recordings, {"features.batches": 3})
    run_snakemake(workdir, "build_dataset")
    one_batch = {"extract_features": 1, "build_dataset": 1}

    victim = sorted(recordings.glob("*.wav"))[4]
    samples, rate = soundfile.read(victim, dtype="float32")
    soundfile.write(victim, samples * 0.5, rate, subtype="PCM_16")
    os.utime(victim, (0, 0))  # older than the features: only the content says it changed
    assert planned_jobs(workdir, "build_dataset") == one_batch
    run_snakemake(workdir, "build_dataset")

    victim.unlink()
    assert planned_jobs(workdir, "build_dataset") == one_batch
    run_snakemake(workdir, "build_dataset")

    shutil.copy(sorted(recordings.glob("*.wav"))[0], recordings / "9_theo_50.wav")
    assert planned_jobs(workdir, "build_dataset") == one_batch
    run_snakemake(workdir, "build_dataset")
    assert planned_jobs(workdir, "build_dataset") == {}
    dataset = pd.read_parquet(workdir / "results/dataset/features.parquet")
    assert sorted(dataset.file_name) == sorted(p.name for p in recordings.glob("*.wav"))


def test_invalid_config_names_the_key(tmp_path, fsdd_subset):
    workdir = make_workdir(tmp_path, fsdd_subset, {"features.n_mfcc": 0})
    result = run_snakemake(workdir, "-n", check=False)
    assert result.returncode != 0
    assert "n_mfcc" in result.stdout + result.stderr


def test_script_runs_outside_snakemake_for_debugging(feature_run):
    """`python scripts/build_dataset.py` builds its inputs from the workflow itself."""
    workdir, _ = feature_run
    dataset = workdir / "results/dataset/features.parquet"
    before = pd.read_parquet(dataset)
    dataset.unlink()
    result = subprocess.run(
        [sys.executable, "scripts/build_dataset.py"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stderr[-3000:]
    pd.testing.assert_frame_equal(pd.read_parquet(dataset), before)


def most_running_at_once(snakemake_log, rules):
    """The most jobs of ``rules`` that ran at the same time, from snakemake's log."""
    running, most = set(), 0
    for kind, _, jobid, rule in job_events(snakemake_log):
        if rule not in rules:
            continue
        if kind == "start":
            running.add(jobid)
            most = max(most, len(running))
        else:
            running.discard(jobid)
    return most


def test_compute_jobs_held_to_the_machines_cpus_whatever_cores_says(tmp_path, fsdd_subset):
    workdir = make_workdir(tmp_path / "workflow", fsdd_subset, {"features.batches": 4})
    compute = {"extract_features", "build_dataset"}
    result = run_snakemake(workdir, "build_dataset", cores=8)
    assert "local_cpus=1" in result.stderr
    # Four batches were ready at once: one job per CPU plus one ran.
    assert most_running_at_once(result.stderr, compute) == min(4, len(os.sched_getaffinity(0)) + 1)

    # --resources sets another limit: here one at a time.
    result = run_snakemake(workdir, "build_dataset", "-F", "--resources", "local_cpus=1", cores=8)
    assert most_running_at_once(result.stderr, compute) == 1
