"""Every hint ladder stops short of the answer: no hint contains a line of the solution's code.

show_solution is the answer; a hint that already prints the solution's lines makes the exercise a
copying task. Lines are compared without spaces and without comments; short lines (a bare
``return out``) are not counted.
"""
import json
import re
from pathlib import Path

import pytest

from cnncourse.checks import checkers
from cnncourse.checks.tutor import solution_source

MIN_CHARS = 14


def _solution_lines(name: str) -> list[str]:
    source = solution_source(name) or ""
    match = re.search(r"### BEGIN SOLUTION\n(.*?)### END SOLUTION", source, re.DOTALL)
    body = match.group(1) if match else ""
    lines = []
    for line in body.splitlines():
        code = re.sub(r"\s+", "", line.split("#", 1)[0])
        code = code.removeprefix("return")
        if len(code) >= MIN_CHARS:
            lines.append(code)
    return lines


NAMES = sorted(n for n in checkers() if _solution_lines(n))


def test_the_solutions_are_found():
    assert len(NAMES) >= 20, NAMES


@pytest.mark.parametrize("name", NAMES)
def test_no_hint_gives_a_line_of_the_solution(name):
    leaked = []
    for level, text in enumerate(checkers()[name].hints, 1):
        flat = re.sub(r"\s+", "", text)
        leaked += [f"hint {level} contains {line!r}" for line in _solution_lines(name) if line in flat]
    assert not leaked, f"{name}: " + "; ".join(leaked)


@pytest.mark.parametrize("path", sorted((Path(__file__).resolve().parent.parent / "exercises").glob("*.ipynb")),
                         ids=lambda p: p.stem)
def test_every_exercise_notebook_shows_how_to_get_help(path):
    nb = json.loads(path.read_text())
    code = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code")
    text = "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")
    assert "from cnncourse.checks import check, hint, show_solution" in code
    assert "hint(" in text and "show_solution(" in text
    assert "check again for the hints" not in text  # a re-run prints the same line


def test_a_failed_check_ends_with_the_next_step():
    from cnncourse.checks import run_check

    line = str(run_check("leaky_relu", lambda x, negative_slope=0.01: x))
    assert line.startswith("✗ leaky_relu") and line.endswith("Next: hint('leaky_relu')")
