"""The instructor's grader grades synthetic submissions of chapter 02's exercises (output_size and conv2d
are varied; conv2d_backward and Conv2dFunction are left unsolved in every submission).

Each submission is the course's own exercise notebook with some function cells replaced, as a
learner would hand it in: solved, unsolved, half-solved, crashing, looping, cheating three ways.
"""
import copy
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

from cnncourse import grade

ROOT = Path(__file__).resolve().parent.parent
EXERCISE = ROOT / "exercises" / "02_convolution.ipynb"
SOLUTION = ROOT / "solutions" / "02_convolution.ipynb"


def _function_cell(nb: dict, name: str) -> int:
    for i, cell in enumerate(nb["cells"]):
        if cell["cell_type"] == "code" and f"def {name}(" in "".join(cell["source"]):
            return i
    raise AssertionError(f"no cell defines {name}")


def _submission(replace: dict[str, str] | None = None, solved: tuple[str, ...] = (), extra: str = "") -> dict:
    """The exercise notebook with ``solved`` functions taken from the solution and ``replace`` cells written in."""
    nb, solution = json.loads(EXERCISE.read_text()), json.loads(SOLUTION.read_text())
    for name in solved:
        nb["cells"][_function_cell(nb, name)]["source"] = copy.deepcopy(solution["cells"][_function_cell(solution, name)]["source"])
    for name, source in (replace or {}).items():
        nb["cells"][_function_cell(nb, name)]["source"] = source
    if extra:
        nb["cells"].append({"cell_type": "code", "metadata": {}, "source": extra, "outputs": [], "execution_count": None})
    return nb


ZEROS = "def conv2d(x, weight, bias=None, stride=1, padding=0):\n    return torch.zeros(1)\n"


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("submissions")
    subs = {
        "alice": _submission(solved=("output_size", "conv2d")),
        "bob": _submission(),
        "carol": _submission(solved=("output_size",)),
        "dave": _submission(solved=("output_size",), replace={
            "conv2d": "import os\ndef conv2d(x, weight, bias=None, stride=1, padding=0):\n    os._exit(3)\n"}),
        "erin": _submission(solved=("output_size",), replace={
            "conv2d": "def conv2d(x, weight, bias=None, stride=1, padding=0):\n    while True:\n        pass\n"}),
        "frank": _submission(replace={"conv2d": ZEROS}, extra=(
            "def check(name, fn, *args, **kwargs):\n    print(f'✓ {name}: 10/10 cases')\n    return True\n")),
        "gina": _submission(replace={"conv2d": (
            "import torch\ntorch.allclose = lambda *a, **k: True\ntorch.testing.assert_close = lambda *a, **k: None\n"
            "def conv2d(x, weight, bias=None, stride=1, padding=0):\n"
            "    torch.allclose = lambda *a, **k: True\n    torch.equal = lambda *a, **k: True\n"
            "    return torch.zeros(1)\n")}),
        "hank": _submission(solved=("output_size",), replace={
            "conv2d": "def conv2d(x, weight, bias=None, stride=1, padding=0):\n"
                      "    return F.conv2d(x, weight, bias, stride=stride, padding=padding)\n"}),
        "ivan": _submission(solved=("output_size", "conv2d"), extra=(
            "import pathlib\nfor p in pathlib.Path('..').glob('*.csv'):\n    p.write_text('student,total\\nivan,999\\n')\n")),
    }
    for name, nb in subs.items():
        (folder / f"{name}.ipynb").write_text(json.dumps(nb))
    judy = folder / "judy"  # a student as a folder of notebooks
    judy.mkdir()
    (judy / "02_convolution.ipynb").write_text(json.dumps(_submission(solved=("conv2d",))))
    (folder / "broken.ipynb").write_text("{ not json")
    out = folder.parent / "grades.csv"
    grades, columns = grade.grade_folder(folder, out, case_limit=2.0, progress=False)
    rows = {row["student"]: row for row in csv.DictReader(out.read_text().splitlines())}
    return rows, out


@pytest.mark.parametrize(("student", "output_size", "conv2d"), [
    ("alice", "1", "1"),   # the solutions: full marks
    ("bob", "0", "0"),     # the unsolved exercise notebook
    ("carol", "1", "0"),   # half-solved
    ("dave", "1", "0"),    # conv2d kills its process: the other exercise still counts
    ("erin", "1", "0"),    # conv2d loops forever: stopped, 0, and grading goes on
    ("frank", "0", "0"),   # redefines check to print ✓
    ("gina", "0", "0"),    # patches torch.allclose / assert_close / equal
    ("hank", "1", "0"),    # conv2d calls F.conv2d
    ("ivan", "1", "1"),    # tries to overwrite the CSV: ignored
    ("judy", "0", "1"),    # a student folder
    ("broken", "0", "0"),  # not a notebook at all
])
def test_each_submission_gets_the_grade_its_functions_earn(graded, student, output_size, conv2d):
    rows, _ = graded
    row = rows[student]
    assert (row["output_size"], row["conv2d"]) == (output_size, conv2d), row
    assert row["total"] == str(int(output_size) + int(conv2d))


def test_the_csv_has_one_row_per_student_and_the_issue_s_columns(graded):
    rows, out = graded
    assert list(csv.reader(out.read_text().splitlines()))[0] == [
        "student", "output_size", "conv2d", "conv2d_backward", "Conv2dFunction", "total"]
    assert all(row["conv2d_backward"] == row["Conv2dFunction"] == "0" for row in rows.values())  # never solved here
    assert len(rows) == 11


def test_feedback_says_why_in_one_line_per_exercise(graded):
    _, out = graded
    feedback = out.parent / "feedback"
    assert "✓ conv2d" in (feedback / "alice.md").read_text()
    assert "not implemented yet" in (feedback / "bob.md").read_text()
    assert "did not finish within 2 s" in (feedback / "erin.md").read_text()
    assert "F.conv2d" in (feedback / "hank.md").read_text()
    assert "✗ conv2d" in (feedback / "frank.md").read_text()


def test_the_command_line_grades_a_folder(tmp_path):
    (tmp_path / "subs").mkdir()
    (tmp_path / "subs" / "alice.ipynb").write_text(json.dumps(_submission(solved=("output_size",))))
    done = subprocess.run([sys.executable, "-m", "cnncourse", "grade", str(tmp_path / "subs"), "--out",
                           str(tmp_path / "g.csv"), "--no-progress"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert "graded 1 student" in done.stdout
    assert (tmp_path / "g.csv").read_text().splitlines()[1] == "alice,1,0,0,0,1"


def test_a_missing_folder_is_one_clear_line(tmp_path):
    done = subprocess.run([sys.executable, "-m", "cnncourse", "grade", str(tmp_path / "nope")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode != 0 and "is not a folder" in done.stderr and "Traceback" not in done.stderr
