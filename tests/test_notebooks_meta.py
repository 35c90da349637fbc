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


def test_a_new_time_label_goes_into_the_chinese_edition_and_keeps_it_up_to_date(tmp_path):
    import shutil

    import nbzh

    (tmp_path / "zh").mkdir()
    english, chinese = tmp_path / CHAPTERS[0].name, tmp_path / "zh" / CHAPTERS[0].name
    shutil.copy(CHAPTERS[0], english)
    shutil.copy(nbzh.zh_path(CHAPTERS[0]), chinese)
    assert nbzh.stale_cells(nbformat.read(english, 4), nbformat.read(chinese, 4)) == []
    timings = {"hardware": "2 CPU cores", "smoke": {english.name: 21.0}, "cpu": {english.name: 150.0}}
    assert time_labels.write_labels([english], timings) == 1
    en_nb, zh_nb = nbformat.read(english, 4), nbformat.read(chinese, 4)
    assert "**Run time** (2 CPU cores, measured by `make site`): smoke ≈ 21 s · cpu ≈ 2.5 min" in en_nb.cells[0].source
    first = next(c for c in zh_nb.cells if c.cell_type == "markdown")
    assert "**运行时间**（2 个 CPU 核心，由 `make site` 测得）：smoke ≈ 21 s · cpu ≈ 2.5 min" in first.source
    assert nbzh.stale_cells(en_nb, zh_nb) == []  # the label was all that changed: still up to date
    en_nb.cells[0].source += "\n\nA new sentence."  # a real change to the English makes it stale, label or not
    nbformat.write(en_nb, english)
    timings["smoke"][english.name] = 30.0
    time_labels.write_labels([english], timings)
    zh_nb = nbformat.read(chinese, 4)
    assert "smoke ≈ 30 s" in next(c for c in zh_nb.cells if c.cell_type == "markdown").source
    assert [s.cell_id for s in nbzh.stale_cells(nbformat.read(english, 4), zh_nb)] == [en_nb.cells[0].id]
