"""Help for a learner alone: tiered hints and the reference solution, one call each.

    hint("conv2d")          # level 1: a nudge
    hint("conv2d", 2)       # more
    show_solution("conv2d") # the solution cell from solutions/, if this copy of the course has it
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

from ..i18n import message
from ..runtime import checkout_dir, course_dir
from .core import checkers

__all__ = ["hint", "show_solution", "solution_source", "solution_folders"]


class Printed(str):
    """Text that was already printed: returned for code to use, and not shown a second time by Jupyter."""

    def _ipython_display_(self) -> None:  # IPython calls this instead of showing the repr
        pass


def hint(name: str, level: int = 1) -> str:
    """Print hint ``level`` (1 = a nudge, the last = nearly the answer) for exercise ``name``, in the learner's language.

    The text is also returned (a :class:`Printed` str, which Jupyter does not show again).
    """
    registry = checkers()
    if name not in registry:
        text = message("tutor.unknown", name=name, known=", ".join(sorted(registry)))
    else:
        hints = registry[name].hints
        if not hints:
            text = message("tutor.no_hints", name=name)
        else:
            level = max(1, min(int(level), len(hints)))
            more = message("tutor.more", name=name, level=level + 1) if level < len(hints) \
                else message("tutor.still_stuck", name=name)
            text = message("tutor.hint", level=level, levels=len(hints), name=name, text=hints[level - 1], more=more)
    print(text)
    return Printed(text)


def solution_folders() -> list[Path]:
    """Where solutions are looked for: the checkout's ``solutions/``, then ``$CNNCOURSE_HOME/solutions``."""
    checkout = checkout_dir()
    folders = [checkout / "solutions"] if checkout is not None else []
    home = course_dir() / "solutions"
    return folders + ([home] if home not in folders else [])


def solution_source(name: str, solutions_dir: Path | None = None) -> str | None:
    """The source of the solution cell that defines ``name`` (def or class), or None."""
    folders = [Path(solutions_dir)] if solutions_dir is not None else solution_folders()
    pattern = re.compile(rf"^\s*(def|class)\s+{re.escape(name)}\b", re.MULTILINE)
    for folder in folders:
        for path in sorted(folder.glob("*.ipynb")):
            nb = nbformat.read(path, as_version=4)
            for cell in nb.cells:
                if cell.cell_type == "code" and pattern.search(cell.source):
                    return cell.source
    return None


def show_solution(name: str, solutions_dir: Path | None = None) -> str | None:
    """Print the reference solution of exercise ``name`` from ``solutions/``."""
    source = solution_source(name, solutions_dir)
    if source is None:
        print(message("tutor.no_solution", name=name))
        return None
    lines = [line for line in source.splitlines() if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line]
    text = "\n".join(lines)
    print(text)
    return Printed(text)
