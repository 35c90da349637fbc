"""What every chapter notebook promises, checked without running it.

- portable: no shell commands or magics, no absolute paths, so it runs on Windows, macOS and Linux;
- the first code cell is the bootstrap cell (checked in tests/test_bootstrap.py);
- a papermill ``parameters`` cell exists;
- it ends with its self-check quiz;
- its run-time label matches a measured run (``notebooks/timings.json``) within 2x;
- only cells marked ``# NBVAL_CHECK_OUTPUT`` carry committed outputs.
"""
import re
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import time_labels  # noqa: E402

from cnncourse.quiz import quiz_names  # noqa: E402

CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
ALL = CHAPTERS + sorted((ROOT / "solutions").glob("*.ipynb")) + sorted((ROOT / "exercises").glob("*.ipynb"))
SHELL_OR_MAGIC = re.compile(r"^\s*(!|%)", re.MULTILINE)
ABSOLUTE_PATH = re.compile(r"""["'](/(home|tmp|Users|work|root)/|[A-Za-z]:\\\\)""")


def code_cells(path):
    return [c for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code"]


@pytest.mark.parametrize("path", ALL, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_portable_no_shell_magics_or_absolute_paths(path):
    for i, cell in enumerate(code_cells(path)):
        assert not SHELL_OR_MAGIC.search(cell.source), f"{path.name} cell {i}: shell command or magic"
        assert not ABSOLUTE_PATH.search(cell.source), f"{path.name} cell {i}: absolute path; use pathlib and runtime folders"


@pytest.mark.parametrize("path", ALL, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_only_checked_cells_keep_outputs(path):
    for i, cell in enumerate(code_cells(path)):
        if cell.outputs:
            assert "# NBVAL_CHECK_OUTPUT" in cell.source, f"{path.name} cell {i} has outputs but is not checked"
            assert cell.execution_count is not None, f"{path.name} cell {i}: nbval needs an execution count here"
        else:
            assert cell.execution_count is None, f"{path.name} cell {i}: no outputs, so no execution count"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_has_a_parameters_cell(path):
    cells = code_cells(path)
    assert any("parameters" in c.metadata.get("tags", []) for c in cells), f"{path.name}: no papermill parameters cell"


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_ends_with_its_quiz(path):
    if path.stem not in quiz_names():
        pytest.fail(f"{path.name}: no quiz in cnncourse/quizzes/{path.stem}.json")
    last = code_cells(path)[-1].source
    assert f'quiz("{path.stem}")' in last, f"{path.name}: the last code cell must show quiz(\"{path.stem}\")"


def test_time_labels_match_measured_runs():
    problems = time_labels.stale(CHAPTERS, time_labels.load_timings())
    assert not problems, "stale run-time labels (run make site PROFILE=smoke/cpu, then python tools/time_labels.py):\n" + "\n".join(problems)
