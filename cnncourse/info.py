"""The set-up report and the version check that open every notebook.

The first code cell of every notebook (generated from ``tools/bootstrap_cell.py``) installs
cnncourse when it is missing, then calls :func:`require` and :func:`describe`;
``cnncourse info`` prints the same report. A learner who asks for help pastes that block:
versions, platform (local, Colab, Kaggle), GPU (and how to get one there), profile, data.
"""
from __future__ import annotations

import os
import platform
import shutil
import sys
from importlib import metadata

import torch
from packaging.version import InvalidVersion, Version

from . import __version__
from .data import available_datasets
from .runtime import checkout_dir, device, device_words, profile

__all__ = ["GPU_ADVICE", "platform_name", "gpu_words", "describe", "require", "upgrade_advice"]

# The one thing to do to get a GPU, per platform.
GPU_ADVICE = {
    "Colab": "Runtime > Change runtime type > a GPU (e.g. T4), then run the notebook again",
    "Kaggle": "Settings > Accelerator > GPU (needs a phone-verified account), then run the notebook again",
    "local": "open this notebook on Colab or Kaggle (the links under its title)",
}


def platform_name() -> str:
    """Where the kernel runs: ``"Colab"``, ``"Kaggle"`` or ``"local"`` (anything else)."""
    if "google.colab" in sys.modules or "COLAB_RELEASE_TAG" in os.environ:
        return "Colab"
    if "KAGGLE_KERNEL_RUN_TYPE" in os.environ or "KAGGLE_URL_BASE" in os.environ:
        return "Kaggle"
    return "local"


def gpu_words(where: str | None = None) -> str:
    """Whether torch sees a GPU, in words; if not, the one thing to do to get one on ``where``."""
    if torch.cuda.is_available():
        count = torch.cuda.device_count()
        return f"yes: {count} x {torch.cuda.get_device_name(0)}" if count > 1 else f"yes: {torch.cuda.get_device_name(0)}"
    backend = getattr(torch.backends, "mps", None)
    if backend is not None and backend.is_available():
        return "yes: Apple GPU (mps)"
    where = where or platform_name()
    if where == "local" and shutil.which("nvidia-smi") and torch.version.cuda is None:
        advice = "this torch is a CPU build: install a CUDA build (pytorch.org/get-started), then restart the kernel"
    else:
        advice = GPU_ADVICE.get(where, GPU_ADVICE["local"])
    return f"none visible; to get one: {advice}"


def _version_of(distribution: str) -> str:
    """An installed distribution's version, read without importing it (importing torchvision is slow)."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return "not installed"


def describe(file=None) -> dict:
    """Print (and return) versions, platform, GPU, device, profile and which data sets are available."""
    where = platform_name()
    prof = profile()
    os_words = f"{platform.system()} {platform.machine()}".strip()
    report = {
        "cnncourse": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": _version_of("torchvision"),
        "platform": where if where != "local" else f"local ({os_words})",
        "gpu": gpu_words(where),
        "device": device_words(device()),
        "profile": f"{prof.name} (epochs={prof.epochs}, batch_size={prof.batch_size}, "
        f"train_size={prof.train_size or 'all'})",
        "threads": torch.get_num_threads(),
        "data": ", ".join(f"{k}: {v}" for k, v in available_datasets().items()),
    }
    width = max(map(len, report))
    for key, value in report.items():
        print(f"{key:<{width}} : {value}", file=file or sys.stdout)
    return report


def _parse(version: str) -> Version:
    try:
        return Version(str(version))
    except InvalidVersion:
        raise ValueError(f"{version!r} is not a version number; write it like '0.1.0'") from None


def upgrade_advice(version: str) -> str:
    """What to run to get cnncourse ``version``: the checkout's own install if there is one, else pip."""
    checkout = checkout_dir()
    if checkout is not None:
        return f'run `python -m pip install -e "{checkout}"` (or `make lab`)'
    return f'run `python -m pip install --upgrade "cnncourse>={version}"` (in a notebook: `%pip install ...`)'


def require(version: str, file=None) -> bool:
    """Say whether the installed cnncourse is at least ``version``; if not, the one command that fixes it.

    Versions compare as PEP 440 versions (``0.1.0rc1`` < ``0.1.0`` < ``0.10.0``); a malformed
    ``version`` raises ValueError.
    """
    needed, installed = _parse(version), _parse(__version__)
    if installed >= needed:
        print(f"cnncourse {__version__} (this notebook needs >= {version}) ✓", file=file or sys.stdout)
        return True
    print(
        f"✗ this notebook needs cnncourse >= {version} but {__version__} is installed: "
        f"{upgrade_advice(version)}, then restart the kernel.",
        file=file or sys.stdout,
    )
    return False
