"""An exclusive lock between processes, for what must not be done by two at once."""

import contextlib
import fcntl
from pathlib import Path


@contextlib.contextmanager
def exclusive_lock(path):
    """Hold an exclusive flock on ``path`` (created if missing) for the block."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
