"""Where the course runs: device, seeds, run profiles, folders, and `describe()`.

Every notebook's first code cell calls :func:`describe` and reads its sizes from
:func:`profile`, so one notebook runs in seconds in CI (``smoke``), in minutes on a
laptop (``cpu``) and at full size on a GPU box (``gpu``).

Taught in notebooks/01_introduction.ipynb (first cell).
"""
from __future__ import annotations

import dataclasses
import os
import platform
import random
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

__all__ = [
    "Profile",
    "PROFILES",
    "profile",
    "profile_name",
    "device",
    "device_words",
    "seed_everything",
    "describe",
    "course_dir",
    "data_dir",
    "output_dir",
    "require",
]

PROFILE_ENV = "CNNCOURSE_PROFILE"
DEVICE_ENV = "CNNCOURSE_DEVICE"
HOME_ENV = "CNNCOURSE_HOME"


@dataclass(frozen=True)
class Profile:
    """How big a run is. Notebooks read these numbers instead of hard-coding them.

    ``train_size`` and ``test_size`` cap how many samples a notebook uses (``None`` = all);
    ``epochs`` is the default for a chapter's main training run; ``quick_epochs`` for the
    many small side-by-side comparisons (one per activation, optimiser, ...).
    """

    name: str
    epochs: int
    quick_epochs: int
    batch_size: int
    train_size: int | None
    test_size: int | None
    repeats: int  # seeds per comparison, for mean ± spread

    def replace(self, **overrides) -> "Profile":
        """A copy with some fields changed; ``None`` values are ignored (papermill defaults)."""
        known = {f.name for f in dataclasses.fields(self)}
        unknown = set(overrides) - known
        if unknown:
            raise TypeError(
                f"Profile has no field(s) {sorted(unknown)}; known fields: {sorted(known)}"
            )
        return dataclasses.replace(self, **{k: v for k, v in overrides.items() if v is not None})


PROFILES: dict[str, Profile] = {
    "smoke": Profile("smoke", epochs=1, quick_epochs=1, batch_size=128, train_size=1000, test_size=500, repeats=1),
    "cpu": Profile("cpu", epochs=15, quick_epochs=4, batch_size=64, train_size=None, test_size=None, repeats=2),
    "gpu": Profile("gpu", epochs=30, quick_epochs=10, batch_size=128, train_size=None, test_size=None, repeats=3),
}


def profile_name() -> str:
    """The active profile's name: ``$CNNCOURSE_PROFILE``, else ``gpu`` on a GPU, else ``cpu``."""
    name = os.environ.get(PROFILE_ENV, "").strip().lower()
    if name:
        if name not in PROFILES:
            raise ValueError(
                f"{PROFILE_ENV}={name!r} is not a profile; use one of {sorted(PROFILES)}"
            )
        return name
    return "gpu" if device().type in ("cuda", "mps") else "cpu"


def profile(name: str | None = None, **overrides) -> Profile:
    """The run profile, with overrides (``None`` means "keep the profile's value").

    >>> profile("smoke", epochs=2).epochs
    2
    """
    base = PROFILES[name] if name is not None else PROFILES[profile_name()]
    return base.replace(**overrides)


def device(prefer: str | None = None) -> torch.device:
    """Pick the fastest available device: CUDA, then Apple MPS, then CPU.

    ``prefer`` (or ``$CNNCOURSE_DEVICE``) forces one, e.g. ``"cpu"`` to compare speeds.
    """
    wanted = (prefer or os.environ.get(DEVICE_ENV, "")).strip().lower()
    if wanted:
        kind = wanted.split(":")[0]
        if kind == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' was asked for but torch sees no CUDA GPU; use 'cpu'")
        if kind == "mps" and not _mps_available():
            raise RuntimeError("device 'mps' was asked for but this machine has no Apple MPS; use 'cpu'")
        return torch.device(wanted)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if _mps_available():
        return torch.device("mps")
    return torch.device("cpu")


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def seed_everything(seed: int = 0, deterministic: bool = False) -> torch.Generator:
    """Seed Python, NumPy and torch (CPU and every GPU); return a torch.Generator for data order.

    ``deterministic=True`` also asks cuDNN for deterministic kernels (slower).
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds CUDA and MPS too
    if deterministic:
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False
    return torch.Generator().manual_seed(seed)


def course_dir() -> Path:
    """The course's own folder: ``$CNNCOURSE_HOME``, else the checkout that holds this package."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().resolve()
    checkout = Path(__file__).resolve().parent.parent
    if (checkout / "pyproject.toml").is_file() or (checkout / "notebooks").is_dir():
        return checkout  # an editable install: the course's own checkout
    return Path.home() / "cnncourse"


def data_dir() -> Path:
    """Where downloaded data sets go (``<course>/data``)."""
    return course_dir() / "data"


def output_dir() -> Path:
    """Where checkpoints, figures and rendered pages go (``<course>/outputs``)."""
    return course_dir() / "outputs"


def describe(file=None) -> dict:
    """Print (and return) versions, device, profile and which data sets are available.

    The first code cell of every notebook calls this, so a learner who asks for help
    can paste one block that says everything about their set-up.
    """
    from . import __version__
    from .data import available_datasets

    dev = device()
    prof = profile()
    info = {
        "cnncourse": __version__,
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchvision": _version_of("torchvision"),
        "device": device_words(dev),
        "profile": f"{prof.name} (epochs={prof.epochs}, batch_size={prof.batch_size}, "
        f"train_size={prof.train_size or 'all'})",
        "threads": torch.get_num_threads(),
        "data": ", ".join(f"{k}: {v}" for k, v in available_datasets().items()),
    }
    width = max(map(len, info))
    for key, value in info.items():
        print(f"{key:<{width}} : {value}", file=file or sys.stdout)
    return info


def device_words(dev: torch.device) -> str:
    """The device in words, for printing with a result: "cuda (NVIDIA H200)", "cpu (x86_64, 2 cores)"."""
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    if dev.type == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({platform.machine() or 'unknown'}, {os.cpu_count()} cores)"


def _version_of(module: str) -> str:
    try:
        return __import__(module).__version__
    except ImportError:
        return "not installed"


def _version_tuple(text: str) -> tuple[int, ...]:
    parts = []
    for piece in text.split("."):
        digits = "".join(ch for ch in piece if ch.isdigit())
        parts.append(int(digits) if digits else 0)
    return tuple(parts)


def require(version: str, file=None) -> bool:
    """Say whether the installed cnncourse is at least ``version``; if not, the one command that fixes it.

    The first cell of every notebook calls this, so a learner with an old install learns
    it at once rather than from a strange error halfway through.
    """
    from . import __version__

    ok = _version_tuple(__version__) >= _version_tuple(version)
    if ok:
        print(f"cnncourse {__version__} (this notebook needs >= {version}) ✓", file=file or sys.stdout)
    else:
        print(
            f"✗ this notebook needs cnncourse >= {version} but {__version__} is installed: run "
            f"`python -m pip install -e \"{course_dir()}\"` (or `make lab`), then restart the kernel.",
            file=file or sys.stdout,
        )
    return ok
