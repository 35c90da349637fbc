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
def smoke_profile(monkeypatch):
    monkeypatch.setenv("CNNCOURSE_PROFILE", "smoke")
    return "smoke"


os.environ.setdefault("CNNCOURSE_PROFILE", "smoke")
