"""The set-up report and the version check that open every notebook.

The first code cell of every notebook (generated from ``tools/bootstrap_cell.py``) installs
cnncourse when it is missing, then calls :func:`require` and :func:`describe`;
``cnncourse info`` prints the same report. A learner who asks for help pastes that block:
versions, platform (local, Colab, Kaggle), GPU (and how to get one there), profile, data.
Its words come from the message catalogue (:mod:`cnncourse.i18n`): Chinese with ``CNNCOURSE_LANG=zh``.
"""
from __future__ import annotations

import os
import platform
import shutil
import sys
from collections.abc import Mapping
from importlib import metadata

import torch
from packaging.version import InvalidVersion, Version

from . import __version__
from .i18n import columns, ljust, message
from .data import available_datasets
from .runtime import checkout_dir, device, device_words, profile

__all__ = ["GPU_ADVICE", "platform_name", "gpu_words", "describe", "require", "upgrade_advice"]

class _Messages(Mapping):
    """A read-only mapping whose values are catalogue messages, in the language active when read."""

    def __init__(self, keys: dict[str, str]):
        self._keys = keys

    def __getitem__(self, name: str) -> str:
        return message(self._keys[name])

    def __iter__(self):
        return iter(self._keys)

    def __len__(self) -> int:
        return len(self._keys)


# The one thing to do to get a GPU, per platform (its words: cnncourse/messages/*.json).
GPU_ADVICE = _Messages({"Colab": "info.gpu_advice_colab", "Kaggle": "info.gpu_advice_kaggle",
                        "local": "info.gpu_advice_local"})


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
        name = torch.cuda.get_device_name(0)
        return message("info.gpu_yes_many", count=count, name=name) if count > 1 else message("info.gpu_yes", name=name)
    backend = getattr(torch.backends, "mps", None)
    if backend is not None and backend.is_available():
        return message("info.gpu_mps")
    where = where or platform_name()
    if where == "local" and shutil.which("nvidia-smi") and torch.version.cuda is None:
        advice = message("info.gpu_cpu_build")
    else:
        advice = GPU_ADVICE.get(where, GPU_ADVICE["local"])
    return message("info.gpu_none", advice=advice)


def _version_of(distribution: str) -> str:
    """An installed distribution's version, read without importing it (importing torchvision is slow)."""
    try:
        return metadata.version(distribution)
    except metadata.PackageNotFoundError:
        return message("info.not_installed")


def describe(file=None) -> dict:
    """Print (and return) versions, platform, GPU, device, profile and which data sets are available.

    The returned dict's keys are fixed names; its values are the printed words (in the active language).
    """
    where = platform_name()
    prof = profile()
    os_words = f"{platform.system()} {platform.machine()}".strip()
    data = available_datasets()
    report = {
        "cnncourse": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": _version_of("torchvision"),
        "platform": where if where != "local" else message("info.platform_local", system=os_words),
        "gpu": gpu_words(where),
        "device": device_words(device()),
        "profile": f"{prof.name} (epochs={prof.epochs}, batch_size={prof.batch_size}, "
        f"train_size={prof.train_size or message('info.train_size_all')})",
        "threads": torch.get_num_threads(),
        "data": ", ".join(f"{k}: {message('info.data_' + v.replace(' ', '_'))}" for k, v in data.items()),
    }
    labels = {key: message(f"info.label_{key}") for key in report}
    width = max(map(columns, labels.values()))
    for key, value in report.items():
        print(f"{ljust(labels[key], width)} : {value}", file=file or sys.stdout)
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
        return message("info.advice_checkout", checkout=checkout)
    return message("info.advice_pip", version=version)


def require(version: str, file=None) -> bool:
    """Say whether the installed cnncourse is at least ``version``; if not, the one command that fixes it.

    Versions compare as PEP 440 versions (``0.1.0rc1`` < ``0.1.0`` < ``0.10.0``); a malformed
    ``version`` raises ValueError.
    """
    needed, installed = _parse(version), _parse(__version__)
    if installed >= needed:
        print(message("info.require_ok", installed=__version__, needed=version), file=file or sys.stdout)
        return True
    print(message("info.require_old", installed=__version__, needed=version, advice=upgrade_advice(version)),
          file=file or sys.stdout)
    return False
