"""Tests of the exercise generator, and of the course's real solution/exercise notebooks.

The real-notebook tests run every solution notebook in-process and require that each of
its checks passes; then they run the generated exercise and require that each check
fails (an unsolved stub must never pass by accident).
"""
from __future__ import annotations

import copy
import importlib.util
import json
import subprocess
import sys
import types
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

from cnncourse.exercises import CODE_STUB, generate, main, make_exercise

ROOT = Path(__file__).resolve().parents[1]
SOLUTIONS_DIR = ROOT / "solutions"
EXERCISES_DIR = ROOT / "exercises"

STUB = "\n".join(CODE_STUB)


def _notebook(*cells) -> nbformat.NotebookNode:
    """A small notebook with the course's kernelspec."""
    kernelspec = {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    return new_notebook(cells=list(cells), metadata={"kernelspec": kernelspec})


def _solution() -> nbformat.NotebookNode:
    """A solution notebook with a markdown answer, a code region, a solution-only cell and outputs."""
    return _notebook(
        new_markdown_cell("Why flip the kernel?\n\n### BEGIN SOLUTION\nBecause convolution.\n### END SOLUTION"),
        new_code_cell(
            "def relu(x):\n    ### BEGIN SOLUTION\n    return x.clamp(min=0)\n    ### END SOLUTION",
            metadata={"tags": ["exercise"]},
            execution_count=2,
            outputs=[new_output("stream", text="done\n")],
        ),
        new_code_cell("print(relu)", metadata={"tags": ["solution-only"]}),
    )


# ----------------------------------------------------------------------------- make_exercise


def test_code_region_becomes_stub_at_marker_indentation():
    exercise = make_exercise(_solution())
    indented = "\n".join("    " + line for line in CODE_STUB)
    assert exercise.cells[1].source == "def relu(x):\n" + indented


def test_several_regions_in_one_cell():
    source = "a = 1\n### BEGIN SOLUTION\nb = 2\n### END SOLUTION\nc = 3\n  ### BEGIN SOLUTION\n  d = 4\n  ### END SOLUTION"
    exercise = make_exercise(_notebook(new_code_cell(source)))
    indented = "\n".join("  " + line for line in CODE_STUB)
    assert exercise.cells[0].source == f"a = 1\n{STUB}\nc = 3\n{indented}"


def test_markdown_region_becomes_answer_stub():
    exercise = make_exercise(_solution())
    assert exercise.cells[0].source == "Why flip the kernel?\n\nYOUR ANSWER HERE"


def test_solution_only_cells_are_dropped_other_tags_kept():
    exercise = make_exercise(_solution())
    assert len(exercise.cells) == 2
    assert exercise.cells[1].metadata.tags == ["exercise"]
    assert exercise.metadata.kernelspec.name == "python3"


def test_outputs_and_execution_counts_are_cleared():
    exercise = make_exercise(_solution())
    assert exercise.cells[1].outputs == []
    assert exercise.cells[1].execution_count is None


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("x = 1\n### BEGIN SOLUTION\ny = 2", "on line 2 without a matching '### END SOLUTION'"),
        ("x = 1\n### END SOLUTION", "'### END SOLUTION' on line 2 without a '### BEGIN SOLUTION' before it"),
        ("### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION\n### END SOLUTION", "nested"),
        ("x = 1  ### BEGIN SOLUTION\n### END SOLUTION", "markers must stand alone"),
    ],
    ids=["begin-without-end", "end-without-begin", "nested", "inline-marker"],
)
def test_unbalanced_markers_raise_naming_notebook_and_cell(source, message):
    nb = _notebook(new_markdown_cell("intro"), new_code_cell(source))
    with pytest.raises(ValueError, match="^solutions/01_x.ipynb: cell 1 ") as error:
        make_exercise(nb, name="solutions/01_x.ipynb")
    assert message in str(error.value)
    assert "\n" not in str(error.value)


def test_markdown_markers_are_checked_too():
    nb = _notebook(new_markdown_cell("### BEGIN SOLUTION\nanswer"))
    with pytest.raises(ValueError, match="cell 0 has '### BEGIN SOLUTION' on line 1"):
        make_exercise(nb)


def test_input_is_not_mutated():
    solution = _solution()
    before = copy.deepcopy(solution)
    make_exercise(solution)
    assert solution == before


# ----------------------------------------------------------------------------- generate


def _write_solutions(folder: Path, *names: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        nbformat.write(_solution(), folder / name)


def test_generate_writes_nbformat_layout_and_is_deterministic(tmp_path):
    _write_solutions(tmp_path / "solutions", "01_a.ipynb", "02_b.ipynb")
    written = generate(tmp_path / "solutions", tmp_path / "exercises")
    assert [path.name for path in written] == ["01_a.ipynb", "02_b.ipynb"]
    text = (tmp_path / "exercises" / "01_a.ipynb").read_text(encoding="utf-8")
    assert text.endswith("}\n") and text.startswith('{\n "cells": [\n')  # indent 1, trailing newline
    nb = nbformat.read(tmp_path / "exercises" / "01_a.ipynb", as_version=4)
    assert nb == make_exercise(nbformat.read(tmp_path / "solutions" / "01_a.ipynb", as_version=4))
    first = text.encode("utf-8")
    (tmp_path / "exercises" / "01_a.ipynb").unlink()
    generate(tmp_path / "solutions", tmp_path / "exercises")
    assert (tmp_path / "exercises" / "01_a.ipynb").read_bytes() == first


def test_check_reports_missing_stale_and_extra_files(tmp_path):
    solutions, exercises_dir = tmp_path / "solutions", tmp_path / "exercises"
    _write_solutions(solutions, "01_a.ipynb", "02_b.ipynb", "03_c.ipynb")
    generate(solutions, exercises_dir)
    assert generate(solutions, exercises_dir, check=True) == []

    (exercises_dir / "01_a.ipynb").unlink()  # missing
    nb = nbformat.read(exercises_dir / "02_b.ipynb", as_version=4)
    nb.cells[1].source = "def relu(x):\n    return x"  # edited by hand
    nbformat.write(nb, exercises_dir / "02_b.ipynb")
    nbformat.write(_solution(), exercises_dir / "09_orphan.ipynb")  # no solution
    before = sorted(path.name for path in exercises_dir.iterdir())

    stale = generate(solutions, exercises_dir, check=True)
    assert [path.name for path in stale] == ["01_a.ipynb", "02_b.ipynb", "09_orphan.ipynb"]
    assert sorted(path.name for path in exercises_dir.iterdir()) == before  # check wrote nothing


def test_generate_keeps_orphans_unless_dropped(tmp_path):
    solutions, exercises_dir = tmp_path / "solutions", tmp_path / "exercises"
    _write_solutions(solutions, "01_a.ipynb")
    _write_solutions(exercises_dir, "09_orphan.ipynb")
    generate(solutions, exercises_dir)
    assert (exercises_dir / "09_orphan.ipynb").exists()
    generate(solutions, exercises_dir, drop_solutions=True)
    assert sorted(path.name for path in exercises_dir.iterdir()) == ["01_a.ipynb"]
    assert generate(solutions, exercises_dir, check=True) == []


def test_check_with_missing_folders(tmp_path):
    assert generate(tmp_path / "solutions", tmp_path / "exercises", check=True) == []
    _write_solutions(tmp_path / "exercises", "01_a.ipynb")
    assert [p.name for p in generate(tmp_path / "solutions", tmp_path / "exercises", check=True)] == ["01_a.ipynb"]
    with pytest.raises(FileNotFoundError, match="no solutions folder"):
        generate(tmp_path / "solutions", tmp_path / "exercises")


def test_generate_error_names_the_notebook(tmp_path):
    (tmp_path / "solutions").mkdir()
    nbformat.write(_notebook(new_code_cell("### BEGIN SOLUTION")), tmp_path / "solutions" / "01_bad.ipynb")
    with pytest.raises(ValueError, match=r"01_bad\.ipynb: cell 0 has"):
        generate(tmp_path / "solutions", tmp_path / "exercises")


# ----------------------------------------------------------------------------- command line


def test_cli_check_exit_codes(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    _write_solutions(tmp_path / "solutions", "01_a.ipynb", "02_b.ipynb")

    assert main(["--check"]) == 1
    lines = capsys.readouterr().out.splitlines()  # the solutions lack nbgrader's metadata, the exercises are missing
    assert len(lines) == 4, lines
    assert all(line.startswith("stale: solutions/0") and "nbgrader" in line for line in lines[:2]), lines
    assert all(line.startswith("stale: exercises/0") for line in lines[2:]), lines

    assert main([]) == 0
    assert "generated 2 exercises" in capsys.readouterr().out
    assert main(["--check"]) == 0
    assert capsys.readouterr().out == "exercises in sync with solutions (2 notebooks)\n"

    nbformat.write(_notebook(new_code_cell("### END SOLUTION")), tmp_path / "solutions" / "03_bad.ipynb")
    assert main(["--check"]) == 2
    assert capsys.readouterr().err.startswith("error: solutions/03_bad.ipynb: cell 0 has")


def test_module_runs_with_dash_m(tmp_path):
    _write_solutions(tmp_path / "sol", "01_a.ipynb")
    command = [sys.executable, "-m", "cnncourse.exercises", "--check", "--solutions", "sol", "--exercises", "ex"]
    done = subprocess.run(command, cwd=tmp_path, capture_output=True, text=True, timeout=60)
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines() == [
        "stale: sol/01_a.ipynb lacks nbgrader's cell metadata; run `python -m cnncourse.exercises`",
        "stale: ex/01_a.ipynb is missing; run `python -m cnncourse.exercises`",
    ]


# ----------------------------------------------------------------------------- the real course files


def test_exercises_in_sync():
    """exercises/ is exactly what `python -m cnncourse.exercises` generates from solutions/."""
    stale = generate(SOLUTIONS_DIR, EXERCISES_DIR, check=True)
    assert not stale, f"stale exercises {[str(p) for p in stale]}; run `python -m cnncourse.exercises`"


class _NoShell:
    """Stands in for ``get_ipython()``: display-only magics do nothing, the others are refused."""

    HARMLESS = {"matplotlib", "config", "load_ext", "autoreload"}

    def run_line_magic(self, name, line):
        if name not in self.HARMLESS:
            raise RuntimeError(f"the in-process notebook runner does not support %{name}")

    def run_cell_magic(self, name, line, cell):
        raise RuntimeError(f"the in-process notebook runner does not support %%{name}")

    def system(self, command):
        raise RuntimeError(f"the in-process notebook runner does not run shell commands (!{command})")


def _execute_in_process(nb, folder: Path, name: str, *, stubs_allowed: bool) -> list:
    """Run the code cells of ``nb`` in a fresh namespace; return every ``check`` result.

    cwd is ``folder``, matplotlib draws off-screen and ``plt.show`` does nothing. With
    ``stubs_allowed`` a cell raising NotImplementedError is skipped (a learner's stub);
    any other exception fails the test, naming the cell.
    """
    import matplotlib
    from IPython.core.inputtransformer2 import TransformerManager
    from IPython.display import display

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import cnncourse
    import cnncourse.checks

    original = cnncourse.checks.check
    results = []

    def recording_check(*args, **kwargs):
        result = original(*args, **kwargs)
        results.append(result)
        return result

    shell = _NoShell()
    namespace = {"__name__": "__main__", "display": display, "get_ipython": lambda: shell}
    transformer = TransformerManager()
    with pytest.MonkeyPatch.context() as patch, matplotlib.rc_context({"figure.max_open_warning": 0}):
        # Wherever the package re-exports this same function, notebooks may import it from there.
        for module in (cnncourse, cnncourse.checks, getattr(cnncourse.checks, "core", None)):
            if module is not None and getattr(module, "check", None) is original:
                patch.setattr(module, "check", recording_check)
        patch.setattr(plt, "show", lambda *args, **kwargs: None)
        patch.setenv("CNNCOURSE_PROFILE", "smoke")
        patch.chdir(folder)
        try:
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                code = compile(transformer.transform_cell(cell.source), f"<{name} cell {index}>", "exec")
                try:
                    exec(code, namespace)  # noqa: S102 - running the course's own notebook
                except Exception as error:
                    if stubs_allowed and isinstance(error, NotImplementedError):
                        continue  # the learner's stub: the check cell below reports it
                    first = cell.source.strip().splitlines()[0] if cell.source.strip() else ""
                    raise AssertionError(
                        f"{name} cell {index} (`{first}`) raised {type(error).__name__}: {error}"
                    ) from error
        finally:
            plt.close("all")
    return results


def _solution_notebooks() -> list[Path]:
    """The solution notebooks, once the checkers they call exist (until then: none)."""
    if importlib.util.find_spec("cnncourse.checks") is None:
        return []
    return sorted(SOLUTIONS_DIR.glob("*.ipynb"))


@pytest.mark.parametrize("solution", _solution_notebooks(), ids=lambda path: path.stem)
def test_solutions_pass_and_stubs_fail(solution):
    nb = nbformat.read(solution, as_version=4)
    name = f"solutions/{solution.name}"
    results = _execute_in_process(nb, solution.parent, name, stubs_allowed=False)
    assert results, f"{name} calls no check(...)"
    failed = [str(result) for result in results if not result.ok]
    assert not failed, f"{name}: the solution fails its checks: {failed}"

    exercise = make_exercise(nb, name=name)
    results = _execute_in_process(exercise, EXERCISES_DIR if EXERCISES_DIR.is_dir() else solution.parent,
                                  f"exercises/{solution.name}", stubs_allowed=True)
    assert results, f"exercises/{solution.name} runs no check(...) (did a stub stop the check cell?)"
    passing = [str(result) for result in results if result.ok]
    assert not passing, f"exercises/{solution.name}: unsolved stubs pass their checks: {passing}"


# ----------------------------------------------------------------------------- the in-process runner itself


class _FakeResult:
    def __init__(self, name: str, ok: bool):
        self.name, self.ok = name, ok

    def __str__(self) -> str:
        return f"{'✓' if self.ok else '✗'} {self.name}"


def _fake_check(name, fn):
    try:
        ok = fn(2.0) == 4.0
    except Exception:  # noqa: BLE001 - a failing learner function is a failed check
        ok = False
    return _FakeResult(name, ok)


def test_in_process_runner_records_checks_and_skips_stubs(tmp_path, monkeypatch):
    """The runner above, on a toy notebook and a stand-in ``cnncourse.checks``."""
    fake = types.ModuleType("cnncourse.checks")
    fake.check = _fake_check
    import cnncourse

    monkeypatch.setitem(sys.modules, "cnncourse.checks", fake)
    monkeypatch.setattr(cnncourse, "checks", fake, raising=False)
    (tmp_path / "data.json").write_text(json.dumps({"power": 2}))
    solution = _notebook(
        new_markdown_cell("Square a number."),
        new_code_cell("%matplotlib inline\nimport json\nfrom pathlib import Path\nimport matplotlib.pyplot as plt\n"
                      "power = json.loads(Path('data.json').read_text())['power']"),
        new_code_cell("def square(x):\n    ### BEGIN SOLUTION\n    return x ** power\n    ### END SOLUTION"),
        new_code_cell("plt.plot([1, 2], [1, 4])\nplt.show()"),
        new_code_cell("from cnncourse.checks import check\ncheck('square', square)"),
    )
    results = _execute_in_process(solution, tmp_path, "toy", stubs_allowed=False)
    assert [(r.name, r.ok) for r in results] == [("square", True)]

    results = _execute_in_process(make_exercise(solution), tmp_path, "toy", stubs_allowed=True)
    assert [(r.name, r.ok) for r in results] == [("square", False)]

    top_level_stub = _notebook(new_code_cell("### BEGIN SOLUTION\nx = 1\n### END SOLUTION"),
                               new_code_cell("from cnncourse.checks import check\ncheck('x', lambda v: x)"))
    results = _execute_in_process(make_exercise(top_level_stub), tmp_path, "toy", stubs_allowed=True)
    assert [(r.name, r.ok) for r in results] == [("x", False)]
    with pytest.raises(AssertionError, match=r"toy cell 1 \(`undefined_name`\) raised NameError"):
        _execute_in_process(_notebook(new_code_cell("1"), new_code_cell("undefined_name")), tmp_path, "toy",
                            stubs_allowed=True)
