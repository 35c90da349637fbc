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

The solution notebooks also carry nbgrader's cell metadata, stamped by the same command
(:func:`stamp_nbgrader`), so an instructor who uses nbgrader can take ``solutions/`` as an
assignment's source: each cell with a solution region is a ``solution`` cell, and each check cell
(``check("conv2d", conv2d)``) is a locked ``grade`` cell with ``grade_id`` ``check_conv2d`` and its
``points`` (1 unless the cell already says otherwise). Under nbgrader (``NBGRADER_EXECUTION`` set) a
failed check raises, which is how nbgrader sees a failed test; learners see the one-line verdict.
``python -m cnncourse grade`` reads the same points.
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
    "stamp_nbgrader",
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


def stamp_nbgrader(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """A copy of solution notebook ``nb`` with nbgrader metadata on its solution and check cells.

    Other cells lose any nbgrader metadata (they are plain, unlocked cells). Points already set on a
    check cell are kept.
    """
    from .grade import _check_calls, _defined_functions

    stamped = copy.deepcopy(nb)
    used: set[str] = set()
    for index, cell in enumerate(stamped.cells):
        source = _source_text(cell.source)
        old = cell.get("metadata", {}).get("nbgrader", {})
        meta = None
        checks = _check_calls(source) if cell.cell_type == "code" else []
        if BEGIN_MARKER in source:
            names = (_defined_functions(source) or re.findall(r"^class (\w+)", source, re.MULTILINE)) if cell.cell_type == "code" else []
            grade_id = names[0] if names else f"answer_{index}"
            meta = {"grade": False, "grade_id": grade_id, "locked": False, "schema_version": 3,
                    "solution": True, "task": False}
        elif checks:
            points = old.get("points", 1) if isinstance(old.get("points", 1), (int, float)) else 1
            meta = {"grade": True, "grade_id": "check_" + "_".join(name for name, _ in checks), "locked": True,
                    "points": points, "schema_version": 3, "solution": False, "task": False}
        if meta is not None:
            if meta["grade_id"] in used:
                raise ValueError(f"cell {index} repeats nbgrader grade_id {meta['grade_id']!r}; each exercise once per notebook")
            used.add(meta["grade_id"])
            cell.metadata["nbgrader"] = meta
        else:
            cell.get("metadata", {}).pop("nbgrader", None)
    return stamped


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
        nb = stamp_nbgrader(nbformat.read(solution, as_version=4))
        exercise = make_exercise(nb, name=str(solution))
        nbformat.validate(exercise)
        expected[exercises_dir / solution.name] = exercise
    for orphan in sorted(exercises_dir.glob("*.ipynb")):
        expected.setdefault(orphan, None)
    return expected


def _unstamped(solutions_dir: Path) -> dict[Path, nbformat.NotebookNode]:
    """The solution notebooks whose nbgrader metadata is missing or out of date, stamped."""
    out = {}
    for solution in sorted(solutions_dir.glob("*.ipynb")):
        stamped = stamp_nbgrader(nbformat.read(solution, as_version=4))
        if solution.read_bytes() != _render(stamped):
            out[solution] = stamped
    return out


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
    missing, different from what would be generated, or without a solution, and the solution
    files that lack their nbgrader metadata. A missing folder counts as empty there.

    With ``drop_solutions=True`` exercise files whose solution no longer exists are
    deleted (otherwise they are left alone and ``check`` keeps reporting them).

    Raises:
        FileNotFoundError: if ``solutions_dir`` does not exist (when not checking).
        ValueError: if a solution notebook has unbalanced markers.
    """
    solutions_dir, exercises_dir = Path(solutions_dir), Path(exercises_dir)
    if not check and not solutions_dir.is_dir():
        raise FileNotFoundError(f"no solutions folder at {solutions_dir}; nothing to generate from.")
    if check:
        unstamped = list(_unstamped(solutions_dir)) if solutions_dir.is_dir() else []
        expected = _expected(solutions_dir, exercises_dir)
        return unstamped + [path for path, exercise in expected.items() if _is_stale(path, exercise)]
    for solution, stamped in _unstamped(solutions_dir).items():
        nbformat.write(stamped, solution)  # the source of truth carries nbgrader's metadata
    expected = _expected(solutions_dir, exercises_dir)
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
            if path.parent == solutions_dir:
                reason = "lacks nbgrader's cell metadata; run `python -m cnncourse.exercises`"
            elif not solution.is_file():
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
