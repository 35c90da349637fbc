"""Help for a learner alone: tiered hints and the reference solution, one call each.

    hint("conv2d")          # level 1: a nudge
    hint("conv2d", 2)       # more
    show_solution("conv2d") # the solution cell from solutions/, if this copy of the course has it
"""
from __future__ import annotations

import re
from pathlib import Path

import nbformat

from ..runtime import course_dir
from .core import checkers

__all__ = ["hint", "show_solution", "solution_source"]


def hint(name: str, level: int = 1) -> str:
    """Print and return hint ``level`` (1 = a nudge, the last = nearly the answer) for exercise ``name``."""
    registry = checkers()
    if name not in registry:
        text = f"no exercise named {name!r}; known exercises: {', '.join(sorted(registry))}"
    else:
        hints = registry[name].hints
        if not hints:
            text = f"{name}: no hints written yet; try show_solution({name!r})"
        else:
            level = max(1, min(int(level), len(hints)))
            more = f" (more: hint({name!r}, {level + 1}))" if level < len(hints) else f" (still stuck: show_solution({name!r}))"
            text = f"hint {level}/{len(hints)} for {name}: {hints[level - 1]}{more}"
    print(text)
    return text


def solution_source(name: str, solutions_dir: Path | None = None) -> str | None:
    """The source of the solution cell that defines ``name`` (def or class), or None."""
    folder = Path(solutions_dir) if solutions_dir is not None else course_dir() / "solutions"
    pattern = re.compile(rf"^\s*(def|class)\s+{re.escape(name)}\b", re.MULTILINE)
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
        print(f"no solution for {name!r} in this copy of the course (solutions/ is missing or withheld); ask your instructor")
        return None
    lines = [line for line in source.splitlines() if "### BEGIN SOLUTION" not in line and "### END SOLUTION" not in line]
    text = "\n".join(lines)
    print(text)
    return text
