"""Where the course runs: device, seeds, run profiles, folders.

Every notebook reads its sizes from :func:`profile`, so one notebook runs in seconds in
CI (``smoke``), in minutes on a laptop (``cpu``) and at full size on a GPU box (``gpu``).
The set-up report and version check are in :mod:`cnncourse.info`.

Taught in notebooks/01_introduction.ipynb.
"""
from __future__ import annotations

import dataclasses
import os
import platform
import random
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
    "checkout_dir",
    "course_dir",
    "data_dir",
    "output_dir",
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
    repeats: int  # paired seeds per comparison (cnncourse.stats needs >= 5 to decide one)

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
    "smoke": Profile("smoke", epochs=1, quick_epochs=1, batch_size=128, train_size=1000, test_size=500, repeats=2),
    "cpu": Profile("cpu", epochs=15, quick_epochs=4, batch_size=64, train_size=None, test_size=None, repeats=5),
    "gpu": Profile("gpu", epochs=30, quick_epochs=10, batch_size=128, train_size=None, test_size=None, repeats=5),
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

    ``name`` is case-insensitive, like ``$CNNCOURSE_PROFILE``. Every notebook calls this right
    after its parameters cell, so a bad papermill value (``-p EPOCHS -1``, ``0``, ``abc``) stops
    there with one line naming the parameter, its value and what is allowed.

    >>> profile("smoke", epochs=2).epochs
    2
    """
    if name is None:
        key = profile_name()
    else:
        key = name.strip().lower() if isinstance(name, str) else None
        if key not in PROFILES:
            raise ValueError(
                f"profile: PROFILE={name!r} is not a profile; use one of {sorted(PROFILES)}, "
                f"or None (${PROFILE_ENV}, else detected)"
            )
    base = PROFILES[key]
    checked = {field: _whole_number(field, value, base) for field, value in overrides.items() if field in _SIZE_FIELDS}
    return base.replace(**{**overrides, **checked})


# The profile's sizes: whole numbers >= 1 (None in an override keeps the profile's value).
_SIZE_FIELDS = ("epochs", "quick_epochs", "batch_size", "train_size", "test_size", "repeats")


def _whole_number(field: str, value, base: Profile):
    """``value`` as an int >= 1 (None passes through), else a one-line ValueError naming the parameter."""
    if value is None:
        return None
    number = None
    if isinstance(value, int) and not isinstance(value, bool):
        number = value
    elif isinstance(value, float) and value.is_integer():
        number = int(value)
    elif isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        number = int(value.strip())  # papermill's -r passes raw strings
    if number is None or number < 1:
        raise ValueError(
            f"profile: {field}={value!r} (the notebook's {field.upper()} parameter) is not allowed; use a "
            f"whole number >= 1, or None for the {base.name} profile's {getattr(base, field)}"
        )
    return number


_DEVICE_KINDS = ("cpu", "cuda", "mps")


def device(prefer: str | torch.device | None = None) -> torch.device:
    """Pick the fastest available device: CUDA, then Apple MPS, then CPU.

    ``prefer`` (or ``$CNNCOURSE_DEVICE``) forces one, e.g. ``"cpu"`` to compare speeds:
    ``cpu``, ``cuda``, ``cuda:N`` or ``mps``; anything else is a one-line ValueError.
    """
    if isinstance(prefer, torch.device):
        prefer = str(prefer)
    raw = prefer or os.environ.get(DEVICE_ENV, "")
    wanted = raw.strip().lower()
    if wanted:
        kind, _, index = wanted.partition(":")
        if kind not in _DEVICE_KINDS or (index and not index.isdigit()):
            source = f"device({prefer!r})" if prefer else f"{DEVICE_ENV}={raw!r}"
            raise ValueError(
                f"{source} is not a device; use 'cpu', 'cuda', 'cuda:N' or 'mps' "
                f"(or leave {DEVICE_ENV} unset to pick the fastest)"
            )
        if kind == "cuda" and not torch.cuda.is_available():
            raise RuntimeError("device 'cuda' was asked for but torch sees no CUDA GPU; use 'cpu'")
        if kind == "cuda" and index and int(index) >= torch.cuda.device_count():
            raise RuntimeError(
                f"device {wanted!r} was asked for but torch sees {torch.cuda.device_count()} CUDA GPU(s); "
                f"use cuda:0 .. cuda:{torch.cuda.device_count() - 1}"
            )
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


def checkout_dir() -> Path | None:
    """The course's git checkout when this package runs from one (an editable install), else None.

    It holds ``solutions/`` and is what ``pip install -e`` installs; independent of
    ``$CNNCOURSE_HOME``, which only moves data and outputs.
    """
    root = Path(__file__).resolve().parent.parent
    pyproject = root / "pyproject.toml"
    try:
        ours = pyproject.is_file() and 'name = "cnncourse"' in pyproject.read_text(encoding="utf-8")
    except OSError:
        ours = False
    return root if ours else None


def course_dir() -> Path:
    """The course's data home (``data/``, ``outputs/``): ``$CNNCOURSE_HOME``, else the checkout, else ``~/cnncourse``."""
    env = os.environ.get(HOME_ENV)
    if env:
        return Path(env).expanduser().resolve()
    return checkout_dir() or Path.home() / "cnncourse"


def data_dir() -> Path:
    """Where downloaded data sets go (``<course>/data``)."""
    return course_dir() / "data"


def output_dir() -> Path:
    """Where checkpoints, figures and rendered pages go (``<course>/outputs``)."""
    return course_dir() / "outputs"


def device_words(dev: torch.device) -> str:
    """The device in words, for printing with a result: "cuda (NVIDIA H200)", "cpu (x86_64, 2 cores)"."""
    if dev.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(dev)})"
    if dev.type == "mps":
        return "mps (Apple GPU)"
    return f"cpu ({platform.machine() or 'unknown'}, {os.cpu_count()} cores)"
