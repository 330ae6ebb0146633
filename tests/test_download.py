import hashlib
import zipfile

import pytest

from fsdd_pipeline.data.download import DownloadError, download_fsdd

from .conftest import make_workdir, run_snakemake, write_tone


@pytest.fixture
def release(tmp_path):
    """A release-shaped zip of two recordings and its checksum file."""
    sources = [write_tone(tmp_path / f"{d}_theo_0.wav", 300 + d) for d in (1, 2)]
    archive = tmp_path / "release.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sources:
            bundle.write(path, f"free-spoken-digit-dataset-1.0.10/recordings/{path.name}")
        bundle.writestr("free-spoken-digit-dataset-1.0.10/README.md", "readme")
    checksums = tmp_path / "SHA256SUMS"
    checksums.write_text(
        "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n" for p in sources)
    )
    return archive, checksums


def test_download_unpacks_and_verifies(tmp_path, release):
    archive, checksums = release
    out = tmp_path / "resources/recordings"
    download_fsdd(archive.as_uri(), checksums, out)
    assert sorted(p.name for p in out.iterdir()) == ["1_theo_0.wav", "2_theo_0.wav"]


def test_checksum_mismatch_is_refused(tmp_path, release):
    archive, checksums = release
    lines = checksums.read_text().splitlines()
    lines[0] = "0" * 64 + "  1_theo_0.wav"
    checksums.write_text("\n".join(lines) + "\n")
    out = tmp_path / "resources/recordings"
    with pytest.raises(DownloadError, match="do not match their SHA-256"):
        download_fsdd(archive.as_uri(), checksums, out)
    assert not out.exists()


def test_offline_download_says_how_to_use_a_local_copy(tmp_path, release):
    _, checksums = release
    with pytest.raises(DownloadError) as error:
        download_fsdd("http://127.0.0.1:9/fsdd.zip", checksums, tmp_path / "r", timeout_s=5)
    assert "could not download FSDD" in str(error.value)
    assert "--config recordings_dir=" in str(error.value)


@pytest.mark.e2e
def test_workflow_downloads_when_no_recordings_folder_is_set(tmp_path, fsdd_subset):
    """recordings_dir: null: the download checkpoint runs, then extraction reads its folder."""
    sources = sorted(fsdd_subset.glob("*_theo_*.wav"))[:12]
    archive = tmp_path / "release.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        for path in sources:
            bundle.write(path, f"free-spoken-digit-dataset-1.0.10/recordings/{path.name}")
    checksums = tmp_path / "SHA256SUMS"
    checksums.write_text(
        "".join(f"{hashlib.sha256(p.read_bytes()).hexdigest()}  {p.name}\n" for p in sources)
    )
    overrides = {
        "recordings_dir": None,
        "download.url": archive.as_uri(),
        "download.checksums": str(checksums),
    }
    workdir = make_workdir(tmp_path / "wf", fsdd_subset, overrides)
    run_snakemake(workdir, "build_dataset")
    downloaded = sorted(p.name for p in (workdir / "resources").glob("fsdd-*/recordings/*.wav"))
    assert downloaded == [p.name for p in sources]
    per_file = (workdir / "results/features").glob("batch*/*.parquet")
    assert sorted(p.stem + ".wav" for p in per_file) == downloaded
    again = run_snakemake(workdir, "build_dataset")
    assert "Nothing to be done" in again.stdout + again.stderr
