"""Generate the exercise notebooks from the solution notebooks.

Exercises are never edited by hand: ``solutions/NN_name.ipynb`` is the source and
``exercises/NN_name.ipynb`` is generated from it by :func:`make_exercise`.

The markers are nbgrader's. In a code cell::

    def relu(x):
        ### BEGIN SOLUTION
        return x.clamp(min=0)
        ### END SOLUTION

becomes::

    def relu(x):
        # YOUR CODE HERE
        raise NotImplementedError("Write this part, then run the check cell below.")

In a markdown cell the region becomes ``YOUR ANSWER HERE``. Cells tagged
``solution-only`` are dropped, and all outputs are cleared.

Run ``python -m cnncourse.exercises`` to regenerate, ``--check`` to verify (CI).
"""

from __future__ import annotations

import argparse
import copy
import re
import sys
from collections.abc import Sequence
from pathlib import Path

import nbformat

__all__ = [
    "BEGIN_MARKER",
    "END_MARKER",
    "CODE_STUB",
    "MARKDOWN_STUB",
    "SOLUTION_ONLY_TAG",
    "make_exercise",
    "generate",
    "main",
]

BEGIN_MARKER = "### BEGIN SOLUTION"
END_MARKER = "### END SOLUTION"
CODE_STUB = (
    "# YOUR CODE HERE",
    'raise NotImplementedError("Write this part, then run the check cell below.")',
)
MARKDOWN_STUB = ("YOUR ANSWER HERE",)
SOLUTION_ONLY_TAG = "solution-only"

# A marker hidden inside a line (`x = 1  ### BEGIN SOLUTION`) would leak the solution,
# so any leftover mention of a marker is an error rather than silently kept.
_ANY_MARKER = re.compile(r"(BEGIN|END) SOLUTION")


def _replace_regions(source: str, stub: Sequence[str], where: str) -> str:
    """Return ``source`` with each marked region replaced by ``stub``.

    The stub lines are indented like the BEGIN marker. ``where`` names the cell in
    error messages ("solutions/01_x.ipynb: cell 3").
    """
    out: list[str] = []
    begin_line = None  # 1-based line number of the open BEGIN marker, if any
    for number, line in enumerate(source.split("\n"), start=1):
        stripped = line.strip()
        if stripped.startswith(BEGIN_MARKER):
            if begin_line is not None:
                raise ValueError(
                    f"{where} has a nested {BEGIN_MARKER!r} on line {number} "
                    f"(the region opened on line {begin_line} is not closed)."
                )
            begin_line = number
            indent = line[: len(line) - len(line.lstrip())]
            out.extend(indent + stub_line for stub_line in stub)
        elif stripped.startswith(END_MARKER):
            if begin_line is None:
                raise ValueError(
                    f"{where} has {END_MARKER!r} on line {number} without a {BEGIN_MARKER!r} before it."
                )
            begin_line = None
        elif begin_line is None:
            if _ANY_MARKER.search(line):
                raise ValueError(
                    f"{where} mentions a solution marker on line {number}; "
                    f"markers must stand alone on their line."
                )
            out.append(line)
    if begin_line is not None:
        raise ValueError(
            f"{where} has {BEGIN_MARKER!r} on line {begin_line} without a matching {END_MARKER!r}."
        )
    return "\n".join(out)


def _source_text(source: str | list[str]) -> str:
    """Cell source as one string (in-memory notebooks may hold a list of lines)."""
    return source if isinstance(source, str) else "".join(source)


def make_exercise(nb: nbformat.NotebookNode, *, name: str = "notebook") -> nbformat.NotebookNode:
    """Return the exercise version of the solution notebook ``nb`` (``nb`` is not modified).

    Solution regions are replaced by stubs, cells tagged ``solution-only`` are dropped,
    code outputs and execution counts are cleared; all other metadata is kept.
    ``name`` (e.g. the notebook's path) only appears in error messages.

    Raises:
        ValueError: if a cell's markers are unbalanced or nested.
    """
    exercise = copy.deepcopy(nb)
    cells = []
    for index, cell in enumerate(exercise.cells):
        if SOLUTION_ONLY_TAG in cell.get("metadata", {}).get("tags", []):
            continue
        where = f"{name}: cell {index}"
        if cell.cell_type == "code":
            cell.source = _replace_regions(_source_text(cell.source), CODE_STUB, where)
            cell.outputs = []
            cell.execution_count = None
        elif cell.cell_type == "markdown":
            cell.source = _replace_regions(_source_text(cell.source), MARKDOWN_STUB, where)
        cells.append(cell)
    exercise.cells = cells
    return exercise


def _render(nb: nbformat.NotebookNode) -> bytes:
    """The exact bytes ``nbformat.write(nb, path)`` puts on disk (indent 1, trailing newline)."""
    text = nbformat.writes(nb)
    if not text.endswith("\n"):
        text += "\n"
    return text.encode("utf-8")


def _expected(solutions_dir: Path, exercises_dir: Path) -> dict[Path, nbformat.NotebookNode | None]:
    """Map every exercise path to the notebook it should contain (``None``: it has no solution)."""
    expected: dict[Path, nbformat.NotebookNode | None] = {}
    for solution in sorted(solutions_dir.glob("*.ipynb")):
        nb = nbformat.read(solution, as_version=4)
        exercise = make_exercise(nb, name=str(solution))
        nbformat.validate(exercise)
        expected[exercises_dir / solution.name] = exercise
    for orphan in sorted(exercises_dir.glob("*.ipynb")):
        expected.setdefault(orphan, None)
    return expected


def _is_stale(path: Path, exercise: nbformat.NotebookNode | None) -> bool:
    """True if ``path`` is missing, differs from ``exercise``, or has no solution."""
    return exercise is None or not path.is_file() or path.read_bytes() != _render(exercise)


def generate(
    solutions_dir: str | Path = "solutions",
    exercises_dir: str | Path = "exercises",
    check: bool = False,
    drop_solutions: bool = False,
) -> list[Path]:
    """Write ``exercises_dir/X.ipynb`` for every ``solutions_dir/X.ipynb``.

    Returns the exercise paths generated. Files already up to date are left untouched.

    With ``check=True`` nothing is written; returns the exercise files that are stale:
    missing, different from what would be generated, or without a solution. A missing
    folder counts as empty there.

    With ``drop_solutions=True`` exercise files whose solution no longer exists are
    deleted (otherwise they are left alone and ``check`` keeps reporting them).

    Raises:
        FileNotFoundError: if ``solutions_dir`` does not exist (when not checking).
        ValueError: if a solution notebook has unbalanced markers.
    """
    solutions_dir, exercises_dir = Path(solutions_dir), Path(exercises_dir)
    if not check and not solutions_dir.is_dir():
        raise FileNotFoundError(f"no solutions folder at {solutions_dir}; nothing to generate from.")
    expected = _expected(solutions_dir, exercises_dir)
    if check:
        return [path for path, exercise in expected.items() if _is_stale(path, exercise)]
    written = []
    for path, exercise in expected.items():
        if exercise is None:
            if drop_solutions:
                path.unlink()
            continue
        if _is_stale(path, exercise):
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(exercise, path)
        written.append(path)
    return written


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: ``python -m cnncourse.exercises [--check] [--solutions DIR] [--exercises DIR]``.

    Returns the exit status: 0 ok, 1 stale exercises (with ``--check``), 2 bad input.
    """
    parser = argparse.ArgumentParser(
        prog="python -m cnncourse.exercises",
        description="Generate exercise notebooks from solution notebooks.",
    )
    parser.add_argument("--check", action="store_true", help="write nothing; exit 1 if any exercise is stale")
    parser.add_argument("--solutions", default="solutions", metavar="DIR", help="solution notebooks (default: solutions)")
    parser.add_argument("--exercises", default="exercises", metavar="DIR", help="exercise notebooks (default: exercises)")
    args = parser.parse_args(argv)
    solutions_dir, exercises_dir = Path(args.solutions), Path(args.exercises)
    try:
        if args.check:
            stale = generate(solutions_dir, exercises_dir, check=True)
        else:
            written = generate(solutions_dir, exercises_dir)
    except (ValueError, FileNotFoundError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    if args.check:
        for path in stale:
            solution = solutions_dir / path.name
            if not solution.is_file():
                reason = f"has no solution in {solutions_dir}/; delete it"
            elif not path.is_file():
                reason = "is missing; run `python -m cnncourse.exercises`"
            else:
                reason = "differs from its solution; run `python -m cnncourse.exercises`"
            print(f"stale: {path} {reason}")
        if stale:
            return 1
        count = len(list(solutions_dir.glob("*.ipynb")))
        print(f"exercises in sync with solutions ({count} notebooks)")
        return 0
    for path in sorted(set(exercises_dir.glob("*.ipynb")) - set(written)):
        print(f"note: {path} has no solution in {solutions_dir}/; delete it")
    print(f"generated {len(written)} exercises in {exercises_dir}/")
    return 0


if __name__ == "__main__":
    sys.exit(main())
