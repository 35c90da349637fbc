"""Tests of tools/nbtool.py: percent-script conversion, the saving rule, and `run`."""
from __future__ import annotations

import importlib.util
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook, new_output

ROOT = Path(__file__).resolve().parents[1]


def _load_nbtool():
    """Import tools/nbtool.py (a script, not part of the package)."""
    spec = importlib.util.spec_from_file_location("nbtool", ROOT / "tools" / "nbtool.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


nbtool = _load_nbtool()

SCRIPT = '''\
# %% [markdown] tags=["intro"]
# # Convolution
#
# A kernel slides over the image:
#     indented text stays indented.

# %% tags=["parameters"]
epochs = 1

# %%
def relu(x):

    return max(x, 0)

# %% [markdown]
# Done.

# %% tags=["check", "slow"]
relu(-1)
'''


def test_py2nb_then_nb2py_round_trips(tmp_path):
    src, dest = tmp_path / "a.py", tmp_path / "a.ipynb"
    src.write_text("\n\n" + SCRIPT + "\n\n", encoding="utf-8")  # blank lines around cells are dropped
    assert nbtool.main(["py2nb", str(src), str(dest)]) == 0
    nb = nbformat.read(dest, as_version=4)

    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    assert nb.metadata.kernelspec == {"display_name": "Python 3 (ipykernel)", "language": "python", "name": "python3"}
    assert nb.metadata.language_info == {"name": "python"}
    assert [cell.cell_type for cell in nb.cells] == ["markdown", "code", "code", "markdown", "code"]
    assert [cell.id for cell in nb.cells] == ["cell-00", "cell-01", "cell-02", "cell-03", "cell-04"]
    assert [cell.metadata.get("tags") for cell in nb.cells] == [["intro"], ["parameters"], None, None, ["check", "slow"]]
    assert nb.cells[0].source == "# Convolution\n\nA kernel slides over the image:\n    indented text stays indented."
    assert nb.cells[2].source == "def relu(x):\n\n    return max(x, 0)"

    back = tmp_path / "b.py"
    assert nbtool.main(["nb2py", str(dest), str(back)]) == 0
    assert back.read_text(encoding="utf-8") == SCRIPT
    again = tmp_path / "b.ipynb"
    assert nbtool.main(["py2nb", str(back), str(again)]) == 0
    assert again.read_bytes() == dest.read_bytes()  # deterministic, byte for byte


def test_py2nb_rejects_an_unreadable_header(tmp_path, capsys):
    src = tmp_path / "bad.py"
    src.write_text("# %%\nx = 1\n# %% [widget]\ny = 2\n", encoding="utf-8")
    assert nbtool.main(["py2nb", str(src), str(tmp_path / "bad.ipynb")]) == 2
    assert "bad.py line 3: cannot read cell header '# %% [widget]'" in capsys.readouterr().err
    assert not (tmp_path / "bad.ipynb").exists()


def _executed_notebook() -> nbformat.NotebookNode:
    """A notebook as Jupyter saves it: counts, outputs, timing and widget state everywhere."""
    checked = new_code_cell(
        "# NBVAL_CHECK_OUTPUT\n1 + 1",
        execution_count=3,
        outputs=[new_output("execute_result", data={"text/plain": "2"}, execution_count=3)],
        metadata={"execution": {"iopub.status.busy": "2024-01-01T00:00:00Z"}},
    )
    plain = new_code_cell("print('noise')", execution_count=4, outputs=[new_output("stream", text="noise\n")])
    # nbval only honours the marker on a comment line of its own, so neither does strip.
    trailing = new_code_cell("print(2)  # NBVAL_CHECK_OUTPUT", execution_count=5,
                             outputs=[new_output("stream", text="2\n")])
    nb = new_notebook(cells=[new_markdown_cell("text"), checked, plain, trailing])
    nb.metadata["widgets"] = {"application/vnd.jupyter.widget-state+json": {"state": {}, "version_major": 2}}
    return nb


def test_strip_keeps_only_checked_outputs(tmp_path):
    path = tmp_path / "nb.ipynb"
    nbformat.write(_executed_notebook(), path)
    assert nbtool.main(["strip", str(path)]) == 0
    nb = nbformat.read(path, as_version=4)
    checked, plain, trailing = nb.cells[1:]
    assert [output.data["text/plain"] for output in checked.outputs] == ["2"]
    # checked cells keep their position's count (nbval fails an "unrun" cell with outputs)
    assert checked.execution_count == 1 and checked.outputs[0].execution_count == 1
    assert plain.outputs == [] and trailing.outputs == []
    assert plain.execution_count is None and trailing.execution_count is None
    assert "execution" not in checked.metadata
    assert "widgets" not in nb.metadata
    first = path.read_bytes()
    assert nbtool.main(["strip", str(path)]) == 0
    assert path.read_bytes() == first


def _write(path: Path, *sources: str) -> None:
    """A notebook of code cells (``"md:..."``: a markdown cell) with the course's metadata."""
    cells = [new_markdown_cell(s[3:]) if s.startswith("md:") else new_code_cell(s) for s in sources]
    nb = new_notebook(cells=cells, metadata={"language_info": {"name": "python"}})
    nbformat.write(nb, path)


def test_run_keeps_only_checked_outputs(tmp_path, capsys):
    folder = tmp_path / "chapter"
    folder.mkdir()
    path = folder / "tiny.ipynb"
    _write(
        path,
        "# NBVAL_CHECK_OUTPUT\nprint(1 + 1)",
        "print('noise')",
        "# NBVAL_CHECK_OUTPUT\nimport os\nprint(os.environ['CNNCOURSE_PROFILE'], os.path.basename(os.getcwd()))",
    )
    assert nbtool.main(["run", str(path), "--profile", "cpu", "--timeout", "60"]) == 0
    assert capsys.readouterr().out.startswith(f"{path}: ok in ")
    nb = nbformat.read(path, as_version=4)
    assert [output.text for output in nb.cells[0].outputs] == ["2\n"]
    assert nb.cells[1].outputs == []
    assert [output.text for output in nb.cells[2].outputs] == ["cpu chapter\n"]  # profile, cwd
    assert [cell.execution_count for cell in nb.cells] == [1, None, 3]
    assert nb.metadata == {"language_info": {"name": "python"}}  # kernel info not written back


def test_run_failure_exits_1_names_the_cell_and_keeps_the_file(tmp_path, capsys):
    path = tmp_path / "broken.ipynb"
    _write(path, "x = 1", "md:Now divide.", "y = x / 0\nprint(y)", "print('never')")
    before = path.read_bytes()
    assert nbtool.main(["run", str(path), "--timeout", "60"]) == 1
    report = capsys.readouterr().out
    assert "broken.ipynb: FAILED after" in report
    assert "in cell 2 (`y = x / 0`): ZeroDivisionError: division by zero" in report
    assert path.read_bytes() == before


@pytest.mark.parametrize("command", ["run", "strip", "nb2py"])
def test_missing_input_is_a_one_line_error(tmp_path, capsys, command):
    argv = [command, str(tmp_path / "nope.ipynb")] + ([str(tmp_path / "x.py")] if command == "nb2py" else [])
    assert nbtool.main(argv) == 2
    assert capsys.readouterr().err == f"error: no such file: {tmp_path / 'nope.ipynb'}\n"
