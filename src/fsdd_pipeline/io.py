"""Writing outputs atomically, so a crash never leaves a half-written file behind, and
reading them back."""

import contextlib
import hashlib
import json
import os
import secrets
from pathlib import Path


def _create_temporary(path):
    """Create an empty, unique file beside ``path``, with the mode a plain open() gives it.

    os.open with 0o666 lets the umask (and default ACLs) decide the permissions, as for
    any new file; tempfile.mkstemp would make every output readable by its owner only.
    """
    while True:
        temporary = path.with_name(f".{path.name}.{secrets.token_hex(4)}{path.suffix}")
        with contextlib.suppress(FileExistsError):
            os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
            return temporary


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = _create_temporary(path)
    try:
        yield temporary
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise


def write_json(data, path):
    with atomic_path(path) as temporary:
        temporary.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n")


def read_json(path):
    return json.loads(Path(path).read_text())


def write_text(text, path):
    with atomic_path(path) as temporary:
        temporary.write_text(text)


def write_csv(frame, path, **kwargs):
    with atomic_path(path) as temporary:
        frame.to_csv(temporary, index=False, **kwargs)


def write_parquet(frame, path):
    with atomic_path(path) as temporary:
        frame.to_parquet(temporary, index=False)


def write_parquet_table(table, path):
    """Write an Arrow table, without a detour through pandas."""
    import pyarrow.parquet as pq

    with atomic_path(path) as temporary:
        pq.write_table(table, temporary)


def save_figure(figure, path, dpi=120):
    """Save a matplotlib figure atomically and close it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=dpi, bbox_inches="tight", format=Path(path).suffix[1:])
    plt.close(figure)


def file_digest(path):
    """Short content digest of a file (the dataset's tags runs and registered models)."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()[:16]
