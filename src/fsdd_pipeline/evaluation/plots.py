"""Figures: matplotlib with its file-only Agg backend, set once, and imported only by the
functions that draw (importing an evaluation module does not import matplotlib)."""

import functools


@functools.cache
def pyplot():
    """matplotlib.pyplot on the Agg backend (no display needed: figures go to files)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot

    return matplotlib.pyplot
