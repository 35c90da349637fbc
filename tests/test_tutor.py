"""Tiered hints and show_solution for every exercise."""
import nbformat
import pytest
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


@pytest.mark.parametrize("home", ["unset", "elsewhere"])
def test_every_exercise_has_a_solution_in_the_course(home, monkeypatch, tmp_path):
    """Found in the checkout whether or not $CNNCOURSE_HOME moves data and outputs elsewhere."""
    if home == "unset":
        monkeypatch.delenv("CNNCOURSE_HOME", raising=False)
    else:
        monkeypatch.setenv("CNNCOURSE_HOME", str(tmp_path))  # an empty course home: no solutions there
    assert checkers()
    for name in checkers():
        assert solution_source(name) is not None, f"no solution cell defines {name} (CNNCOURSE_HOME {home})"


def test_a_hint_or_solution_at_the_end_of_a_cell_shows_once():
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('from cnncourse.checks import hint\nhint("conv_params")')])
    NotebookClient(nb, kernel_name="python3", timeout=120).execute()
    outputs = nb.cells[0].outputs
    assert [o.output_type for o in outputs] == ["stream"] and outputs[0].text.startswith("hint 1/"), outputs
