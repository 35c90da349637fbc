"""An instructor who uses nbgrader can use the course's notebooks with it.

The solutions carry nbgrader's cell metadata (stamped by ``python -m cnncourse.exercises``). These
tests run the real nbgrader (from the ``dev`` extra) on chapter 04: ``generate_assignment`` makes the
student version from the solution, and ``validate`` passes the solution and fails the unsolved one.
"""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

from cnncourse.exercises import make_exercise, stamp_nbgrader

ROOT = Path(__file__).resolve().parent.parent
NOTEBOOK = "04_pooling.ipynb"
NBGRADER = [sys.executable, "-m", "nbgrader"]


def _run(args, cwd, timeout=600):
    # nbgrader runs the `alembic` script of its environment for its database: put that bin/ first
    env = dict(os.environ, PATH=str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", ""))
    return subprocess.run(NBGRADER + args, cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env)


def test_every_solution_carries_nbgrader_metadata():
    for path in sorted((ROOT / "solutions").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        assert nb == stamp_nbgrader(nb), f"{path.name}: run python -m cnncourse.exercises"
        grades = [c.metadata["nbgrader"] for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
        solutions = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("solution")]
        assert grades and solutions, path.name
        assert all(g["locked"] and g["points"] > 0 and g["grade_id"].startswith("check_") for g in grades)


def test_the_grader_reads_the_same_points():
    from cnncourse.grade import course_exercises

    key = course_exercises(ROOT / "exercises")
    nb = json.loads((ROOT / "exercises" / NOTEBOOK).read_text())
    points = {c["metadata"]["nbgrader"]["grade_id"]: c["metadata"]["nbgrader"]["points"]
              for c in nb["cells"] if c["metadata"].get("nbgrader", {}).get("grade")}
    assert {f"check_{e.name}": e.points for e in key["04_pooling"]} == points


@pytest.fixture(scope="module")
def course(tmp_path_factory):
    root = tmp_path_factory.mktemp("nbgrader_course")
    (root / "source" / "ch04").mkdir(parents=True)
    shutil.copy(ROOT / "solutions" / NOTEBOOK, root / "source" / "ch04" / NOTEBOOK)
    (root / "nbgrader_config.py").write_text(
        "c = get_config()\nc.CourseDirectory.root = %r\nc.CourseDirectory.course_id = 'cnncourse'\n"
        "c.ExecutePreprocessor.timeout = 300\n" % str(root))
    done = _run(["generate_assignment", "ch04", "--force"], root)
    assert done.returncode == 0, done.stdout + done.stderr
    return root


def test_nbgrader_makes_the_student_version_from_the_solution(course):
    released = nbformat.read(course / "release" / "ch04" / NOTEBOOK, as_version=4)
    ours = make_exercise(nbformat.read(ROOT / "solutions" / NOTEBOOK, as_version=4))
    code = lambda nb: [c.source for c in nb.cells if c.cell_type == "code"]  # noqa: E731
    released_code = "\n".join(code(released))
    assert "### BEGIN SOLUTION" not in released_code and "YOUR CODE HERE" in released_code
    assert len(code(released)) == len(code(ours))  # the same cells as our own exercises/


def test_nbgrader_validate_passes_the_solution_and_fails_the_stub(course, tmp_path):
    solved = _run(["validate", str(ROOT / "solutions" / NOTEBOOK)], course)
    assert solved.returncode == 0 and "Success! Your notebook passes all the tests." in solved.stdout, solved.stdout
    shutil.copy(course / "release" / "ch04" / NOTEBOOK, tmp_path / NOTEBOOK)
    unsolved = _run(["validate", str(tmp_path / NOTEBOOK)], course)
    assert "VALIDATION FAILED" in unsolved.stdout and "max_pool2d" in unsolved.stdout, unsolved.stdout
