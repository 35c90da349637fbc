"""Bad run parameters stop at the parameters cell, in one line: papermill runs of a tiny notebook.

Every chapter calls ``runtime.profile(PROFILE, epochs=EPOCHS, train_size=TRAIN_SIZE)`` right after
its papermill ``parameters`` cell; this notebook has exactly that, and a later cell that must not
run. Each case is a real ``papermill -p NAME VALUE`` command line (issue 15, item 4): before, ``-p
EPOCHS -1``, ``0`` or ``abc`` passed this cell and failed ~15 s later inside torch, and ``-p PROFILE
bogus`` raised a bare KeyError.
"""
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent

PARAMETERS = 'PROFILE = None   # "smoke", "cpu" or "gpu"\nEPOCHS = None\nTRAIN_SIZE = None\nSEED = 0'
PROFILE_CELL = "from cnncourse import runtime\nP = runtime.profile(PROFILE, epochs=EPOCHS, train_size=TRAIN_SIZE)\nprint('profile', P.name, P.epochs, P.train_size)"
LATER_CELL = "print('a later cell ran')"


@pytest.fixture(scope="module")
def tiny_notebook(tmp_path_factory):
    folder = tmp_path_factory.mktemp("papermill")
    cells = [new_markdown_cell("# tiny chapter"), new_code_cell(PARAMETERS, metadata={"tags": ["parameters"]}),
             new_code_cell(PROFILE_CELL), new_code_cell(LATER_CELL)]
    nb = new_notebook(cells=cells, metadata={"kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}})
    path = folder / "tiny.ipynb"
    nbformat.write(nb, path)
    return path


def _papermill(notebook: Path, *args: str) -> tuple[subprocess.CompletedProcess, nbformat.NotebookNode]:
    out = notebook.with_name(f"out-{abs(hash(args))}.ipynb")
    env = dict(os.environ, OMP_NUM_THREADS="1", CNNCOURSE_PROFILE="smoke")
    proc = subprocess.run([sys.executable, "-m", "papermill", str(notebook), str(out), "--cwd", str(ROOT),
                           "-k", "python3", *args], capture_output=True, text=True, env=env, cwd=ROOT, timeout=180)
    return proc, nbformat.read(out, as_version=4)


def _error(nb) -> tuple[str, str, str]:
    """(source of the cell that failed, exception name, its message) of an executed notebook."""
    for cell in nb.cells:
        for output in cell.get("outputs", []):
            if output.get("output_type") == "error":
                return cell.source, output["ename"], output["evalue"]
    return "", "", ""


@pytest.mark.parametrize("args, message", [
    (("-p", "EPOCHS", "-1"), "profile: epochs=-1 (the notebook's EPOCHS parameter) is not allowed; use a whole number >= 1, "
                             "or None for the smoke profile's 1"),
    (("-p", "EPOCHS", "abc"), "profile: epochs='abc' (the notebook's EPOCHS parameter) is not allowed; use a whole "
                              "number >= 1, or None for the smoke profile's 1"),
    (("-p", "PROFILE", "bogus"), "profile: PROFILE='bogus' is not a profile; use one of ['cpu', 'gpu', 'smoke'], or None "
                                 "($CNNCOURSE_PROFILE, else detected)"),
], ids=["EPOCHS=-1", "EPOCHS=abc", "PROFILE=bogus"])
def test_a_bad_papermill_parameter_stops_at_the_profile_cell_in_one_line(tiny_notebook, args, message):
    proc, nb = _papermill(tiny_notebook, *args)
    assert proc.returncode != 0, proc.stderr[-2000:]
    source, ename, evalue = _error(nb)
    assert source == PROFILE_CELL, source  # the cell right after the parameters, not somewhere later in torch
    assert (ename, evalue) == ("ValueError", message)
    assert "\n" not in evalue and "a later cell ran" not in str(nb.cells[-1].get("outputs"))
