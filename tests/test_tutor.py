"""Tiered hints and show_solution for every exercise."""
import nbformat
from nbformat.v4 import new_code_cell, new_notebook

from cnncourse.checks import checkers, hint, show_solution
from cnncourse.checks.tutor import solution_source


def test_hints_go_from_nudge_to_solution_pointer(capsys):
    first = hint("conv_params")
    assert first.startswith("hint 1/") and "hint('conv_params', 2)" in first
    last = hint("conv_params", 99)
    assert "show_solution('conv_params')" in last
    assert "no exercise named" in hint("conv_parms")


def test_show_solution_prints_the_solution_cell_without_markers(tmp_path, capsys):
    nb = new_notebook(cells=[new_code_cell("def relu(x):\n    ### BEGIN SOLUTION\n    return x.clamp(min=0)\n    ### END SOLUTION")])
    nbformat.write(nb, tmp_path / "03_x.ipynb")
    text = show_solution("relu", tmp_path)
    assert text == "def relu(x):\n    return x.clamp(min=0)"
    assert show_solution("relu", tmp_path / "withheld") is None
    assert "withheld" in capsys.readouterr().out


def test_every_exercise_has_a_solution_in_the_course():
    for name in checkers():
        assert solution_source(name) is not None, f"no solution cell defines {name}"
