"""Writing outputs atomically, so a crash never leaves a half-written file behind."""

import contextlib
import json
import os
import tempfile
from pathlib import Path


@contextlib.contextmanager
def atomic_path(path):
    """Yield a temporary path beside ``path``; rename it onto ``path`` only on success."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=path.suffix, dir=path.parent
    )
    os.close(handle)
    try:
        yield Path(temporary)
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


def save_figure(figure, path, dpi=120):
    """Save a matplotlib figure atomically and close it."""
    import matplotlib.pyplot as plt

    with atomic_path(path) as temporary:
        figure.savefig(temporary, dpi=dpi, bbox_inches="tight", format=Path(path).suffix[1:])
    plt.close(figure)
