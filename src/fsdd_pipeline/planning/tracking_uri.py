"""The tracking URI's SQLite form, which the workflow checks before any job (a deleted store
is noticed at once) and the package resolves against the project folder."""

from pathlib import Path

SQLITE_PREFIX = "sqlite:///"


def sqlite_file(uri):
    """The database file of a sqlite:/// URI (relative to the current folder), else None."""
    return Path(uri[len(SQLITE_PREFIX) :]) if uri.startswith(SQLITE_PREFIX) else None
