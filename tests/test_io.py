import os
import stat

import matplotlib
import pandas as pd
import pytest

from fsdd_pipeline.io import atomic_path, save_figure, write_csv, write_json, write_parquet

matplotlib.use("Agg")


@pytest.fixture
def restore_umask():
    saved = os.umask(0o022)
    yield
    os.umask(saved)


def mode(path):
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.parametrize(
    "mask, expected",
    [(0o022, 0o644), (0o077, 0o600), (0o002, 0o664)],
    ids=["umask022", "umask077", "umask002"],
)
def test_outputs_get_the_mode_the_umask_gives_a_new_file(tmp_path, restore_umask, mask, expected):
    import matplotlib.pyplot as plt

    os.umask(mask)
    frame = pd.DataFrame({"a": [1, 2]})
    write_json({"a": 1}, tmp_path / "a.json")
    write_csv(frame, tmp_path / "a.csv")
    write_parquet(frame, tmp_path / "a.parquet")
    save_figure(plt.figure(), tmp_path / "a.png")
    with atomic_path(tmp_path / "raw.bin") as temporary:
        temporary.write_bytes(b"x")
    (tmp_path / "plain.txt").write_text("made by open()")
    modes = {p.name: mode(p) for p in tmp_path.iterdir()}
    names = ("a.json", "a.csv", "a.parquet", "a.png", "raw.bin", "plain.txt")
    assert modes == dict.fromkeys(names, expected)


def test_failed_write_leaves_neither_output_nor_temporary(tmp_path):
    with pytest.raises(RuntimeError), atomic_path(tmp_path / "out.json") as temporary:
        temporary.write_text("half")
        raise RuntimeError("crash")
    assert list(tmp_path.iterdir()) == []
