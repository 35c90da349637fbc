"""The root conftest's figure check: a figure shown twice, or a figure cell that shows none, fails its cell."""
import base64
import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest

ROOT = Path(__file__).resolve().parent.parent
_spec = importlib.util.spec_from_file_location("root_conftest", ROOT / "conftest.py")
figcheck = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(figcheck)

PNG_A = base64.b64encode(b"\x89PNG fake a").decode()
PNG_B = base64.b64encode(b"\x89PNG fake b").decode()


def _image(png, widget=False):
    data = {"image/png": png, "text/plain": "<Figure>"}
    if widget:
        data["application/vnd.jupyter.widget-view+json"] = {"model_id": "x"}
    return {"output_type": "display_data", "data": data}


@pytest.mark.parametrize("source, expected", [
    ("fig, ax = plt.subplots()\nfig", True),
    ("display(fig)", True),
    ("lesson.draw_pool_view(view)", True),
    ("viz.plot_curves(h)", True),
    ("fig_kernels", True),
    ("fig = draw(x)", False),
    ("print(1)", False),
    ("explorer", False),
    ("x = (", False),
])
def test_expects_figure(source, expected):
    assert figcheck.expects_figure(source) is expected


def test_duplicate_and_missing_figures_are_reported():
    seen = {}
    assert figcheck.figure_problems("fig", [_image(PNG_A)], seen, 3) == []
    dup = figcheck.figure_problems("fig", [_image(PNG_A)], seen, 5)
    assert len(dup) == 1 and "cell 5" in dup[0] and "cell 3" in dup[0]
    twice = figcheck.figure_problems("fig", [_image(PNG_B), _image(PNG_B)], seen, 6)
    assert "already shown by this cell" in twice[0]
    missing = figcheck.figure_problems("lesson.draw_x(v)", [], seen, 7)
    assert "displayed no image" in missing[0]
    # a widget's static fallback is not a figure of the cell
    assert figcheck.figure_problems("explorer", [_image(PNG_A, widget=True)], seen, 8) == []


def test_nbval_fails_a_notebook_that_shows_a_figure_twice(tmp_path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell("import matplotlib\nmatplotlib.use('module://matplotlib_inline.backend_inline')\n"
                                  "import matplotlib.pyplot as plt"),
        nbformat.v4.new_code_cell("fig, ax = plt.subplots()\nax.plot([1, 2])\nfig"),  # inline shows it, and the value again
        nbformat.v4.new_code_cell("fig2, ax2 = plt.subplots()\nax2.plot([2, 1])\nplt.close(fig2)\nfig2"),  # once: fine
    ]
    path = tmp_path / "dup.ipynb"
    nbformat.write(nb, path)
    (tmp_path / "conftest.py").write_text((ROOT / "conftest.py").read_text())
    env = {k: v for k, v in os.environ.items() if k != "MPLBACKEND"}
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--nbval-lax",
                          "--nbval-current-env", str(path)], cwd=tmp_path, capture_output=True, text=True,
                         timeout=180, env=env)
    assert run.returncode == 1, run.stdout + run.stderr
    assert "already shown by this cell" in run.stdout
    assert "1 failed, 2 passed" in run.stdout
