"""Whether files can be written into a folder, tried for real before any long work starts.

Permission bits say nothing for root, read-only mounts or full disks, so
:func:`writable_problem` creates the folder and a probe file. The data loaders call it before a
download, :func:`cnncourse.train.save_checkpoint` before a save, and the torchrun script
(``python -m cnncourse.capstone --checkpoint ...``) before it trains.
"""
from __future__ import annotations

import tempfile
from pathlib import Path
from typing import NamedTuple

__all__ = ["Unwritable", "writable_problem"]


class Unwritable(NamedTuple):
    """Why a folder cannot take files, and the fix; ``str()`` joins them into one line."""

    why: str
    fix: str

    def __str__(self) -> str:
        return f"{self.why}; {self.fix}"


def writable_problem(folder: str | Path) -> Unwritable | None:
    """Why files cannot be written into ``folder`` (created if missing), or None if they can.

    >>> str(writable_problem("/proc/nope"))  # doctest: +SKIP
    'cannot write to /proc/nope (No such file or directory); make /proc writable or choose another folder'
    """
    folder = Path(folder).expanduser()
    if folder.exists() and not folder.is_dir():
        return Unwritable(f"{folder} is a file, not a folder", "choose another folder")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".cnncourse-probe-"):
            pass
    except OSError as err:
        blocked = folder
        while not blocked.exists() and blocked != blocked.parent:
            blocked = blocked.parent
        reason = err.strerror or type(err).__name__
        return Unwritable(f"cannot write to {folder} ({reason})", f"make {blocked} writable or choose another folder")
    return None
