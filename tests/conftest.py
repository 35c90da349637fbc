"""Test settings for the package's unit tests: a headless plotting backend and a seed per test.

Warnings are errors (pyproject's ``filterwarnings``). ``MPLBACKEND`` is set here, not
exported to notebook kernels, where it would hide the figures.
"""
import os

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402
import torch  # noqa: E402


@pytest.fixture(autouse=True)
def _seed_and_close_figures():
    """Every test starts from seed 0 and leaves no open figures behind."""
    torch.manual_seed(0)
    yield
    import matplotlib.pyplot as plt

    plt.close("all")


@pytest.fixture
def no_open_figures():
    """For the tests of drawing modules: a drawing function must close its figure before returning it
    (else a notebook shows it twice: once by the inline backend, once as the cell's result)."""
    import matplotlib.pyplot as plt

    plt.close("all")
    yield
    assert plt.get_fignums() == [], "a drawing function left its figure open (it would show twice in a notebook)"


@pytest.fixture
def labelled():
    """``labelled(ax)``: the axes has a title and both axis labels."""
    return lambda ax: bool(ax.get_title()) and bool(ax.get_xlabel()) and bool(ax.get_ylabel())


@pytest.fixture
def smoke_profile(monkeypatch):
    monkeypatch.setenv("CNNCOURSE_PROFILE", "smoke")
    return "smoke"


def _can_write(folder) -> bool:
    import tempfile

    try:
        with tempfile.NamedTemporaryFile(dir=folder):
            return True
    except OSError:
        return False


@pytest.fixture
def read_only_dir(tmp_path):
    """A folder this process cannot write to, for real: chmod 555, or, for root (who ignores
    permission bits), /sys/kernel (sysfs refuses new files even to root). Skips where neither works."""
    from pathlib import Path

    folder = tmp_path / "read-only"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        if not _can_write(folder):
            yield folder
            return
        sysfs = Path("/sys/kernel")
        if sysfs.is_dir() and not _can_write(sysfs):
            yield sysfs
            return
        pytest.skip("no folder here that this user cannot write to (root outside Linux)")
    finally:
        folder.chmod(0o755)


os.environ.setdefault("CNNCOURSE_PROFILE", "smoke")
