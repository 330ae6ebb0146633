"""Downloading the pinned FSDD release and checking it against the shipped checksums."""

import hashlib
import logging
import shutil
import tempfile
import urllib.error
import urllib.request
import zipfile
from pathlib import Path

from fsdd_pipeline.errors import PipelineError

log = logging.getLogger(__name__)

OFFLINE_HINT = (
    "If this machine is offline or cannot reach GitHub, point the workflow at a local copy "
    "of the recordings instead:\n"
    "  snakemake --cores 8 --config recordings_dir=/path/to/free-spoken-digit-dataset/recordings"
)


class DownloadError(PipelineError):
    """The dataset could not be downloaded or did not match its checksums."""


def read_checksums(path):
    """{file name: sha256} from a ``sha256sum``-style file."""
    checksums = {}
    for line in Path(path).read_text().splitlines():
        if line.strip():
            digest, name = line.split(maxsplit=1)
            checksums[name.strip().lstrip("*")] = digest.lower()
    return checksums


def sha256_of(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def fetch(url, destination, timeout_s):
    """Download ``url`` to ``destination``, failing with a message that says what to do offline."""
    log.info("downloading %s", url)
    try:
        with (
            urllib.request.urlopen(url, timeout=timeout_s) as response,
            open(destination, "wb") as out,
        ):
            shutil.copyfileobj(response, out)
    except (urllib.error.URLError, TimeoutError, OSError) as error:
        reason = getattr(error, "reason", error)
        raise DownloadError(
            f"could not download FSDD from {url}: {reason}\n{OFFLINE_HINT}"
        ) from error


def extract_recordings(archive, out_dir, checksums):
    """Unpack the recordings of a release archive into ``out_dir`` and verify every file."""
    out_dir = Path(out_dir)
    staging = Path(tempfile.mkdtemp(prefix=".recordings.", dir=out_dir.parent))
    try:
        with zipfile.ZipFile(archive) as bundle:
            for member in bundle.infolist():
                path = Path(member.filename)
                if path.parent.name == "recordings" and path.name in checksums:
                    (staging / path.name).write_bytes(bundle.read(member))
        missing = sorted(set(checksums) - {p.name for p in staging.iterdir()})
        if missing:
            raise DownloadError(
                f"{archive}: {len(missing)} recording(s) listed in the checksums are missing "
                f"from the archive, e.g. {', '.join(missing[:3])}"
            )
        wrong = sorted(n for n, digest in checksums.items() if sha256_of(staging / n) != digest)
        if wrong:
            raise DownloadError(
                f"{archive}: {len(wrong)} recording(s) do not match their SHA-256 checksum, "
                f"e.g. {', '.join(wrong[:3])}"
            )
        if out_dir.exists():
            shutil.rmtree(out_dir)
        staging.rename(out_dir)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    log.info("verified %d recordings into %s", len(checksums), out_dir)


def download_fsdd(url, checksums_path, out_dir, timeout_s=60):
    """Download the release archive from ``url``, verify it, and unpack its recordings."""
    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    checksums = read_checksums(checksums_path)
    with tempfile.TemporaryDirectory(dir=out_dir.parent) as workdir:
        archive = Path(workdir) / "fsdd.zip"
        fetch(url, archive, timeout_s)
        try:
            extract_recordings(archive, out_dir, checksums)
        except zipfile.BadZipFile as error:
            raise DownloadError(f"{url}: the download is not a zip archive ({error})") from error
