"""The bootstrap first cell and the Colab/Kaggle links (``tools/bootstrap_cell.py``, ``nbtool bootstrap``).

- every chapter, solution and exercise notebook starts with the template's text, exactly;
- the links under each title, and those in the README, open that notebook in the repository
  declared in ``[project.urls]``;
- the template, executed where cnncourse "is missing", calls pip with the installed torch and
  torchvision pinned, installs ``$CNNCOURSE_INSTALL`` when set, says clearly when pip fails, and
  turns on Colab's widget manager there (the real install runs in tests/test_lone_notebook.py);
- ``nbtool bootstrap`` is idempotent and keeps a first code cell that is not a set-up cell.
"""
from __future__ import annotations

import re
import subprocess
import sys
import types
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from packaging.version import Version

import cnncourse

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

import nbtool  # noqa: E402

CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
EXERCISES = sorted((ROOT / "exercises").glob("*.ipynb"))
TEMPLATE = nbtool.bootstrap_source()
LINKED = [(path, nbtool.link_target(path)) for path in CHAPTERS + SOLUTIONS] + \
         [(path, f"exercises/{path.name}") for path in EXERCISES]
FIX = "python tools/nbtool.py bootstrap notebooks/*.ipynb solutions/*.ipynb && python -m cnncourse.exercises"


def _id(item):
    path = item[0] if isinstance(item, tuple) else item
    return f"{path.parent.name}/{path.name}"


@pytest.mark.parametrize("path", CHAPTERS + SOLUTIONS + EXERCISES, ids=_id)
def test_every_notebook_starts_with_the_bootstrap_cell(path):
    cells = nbformat.read(path, as_version=4).cells
    first = next(cell for cell in cells if cell.cell_type == "code")
    same = first.source == TEMPLATE
    assert same, f"{path.name}: the first code cell is not tools/bootstrap_cell.py; run {FIX}"


@pytest.mark.parametrize("item", LINKED, ids=_id)
def test_title_links_open_this_notebook_in_the_declared_repository(item):
    path, target = item
    title = nbformat.read(path, as_version=4).cells[0].source
    linked = nbtool.open_links(target) in title.splitlines()
    assert linked, f"{path.name}: missing or stale Colab/Kaggle links under the title; run {FIX}"


def test_readme_links_every_chapter_and_only_declared_urls():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    for path in CHAPTERS:
        urls = nbtool.open_urls(f"notebooks/{path.name}")
        assert urls["colab"] in readme and urls["kaggle"] in readme, f"README: no Colab/Kaggle link for {path.name}"
    expected = {url for path, target in LINKED for url in nbtool.open_urls(target).values()}
    found = set(re.findall(r"https://(?:colab\.research\.google\.com/github|kaggle\.com/kernels/welcome)[^)\s]*", readme))
    assert found and found <= expected, f"README links that match no notebook of the repository: {sorted(found - expected)}"


def test_links_follow_pyproject(tmp_path):
    assert nbtool.repository_url() == "https://github.com/cnncourse/cnncourse"
    other = tmp_path / "pyproject.toml"
    other.write_text('[project]\nname = "x"\n[project.urls]\nRepository = "https://github.com/someone/fork/"\n')
    assert nbtool.repository_url(other) == "https://github.com/someone/fork"
    urls = nbtool.open_urls("notebooks/07_loss_functions.ipynb", nbtool.repository_url(other))
    assert urls["colab"] == "https://colab.research.google.com/github/someone/fork/blob/main/notebooks/07_loss_functions.ipynb"
    assert urls["kaggle"] == "https://kaggle.com/kernels/welcome?src=https://github.com/someone/fork/blob/main/notebooks/07_loss_functions.ipynb"
    other.write_text('[project]\nname = "x"\n')
    with pytest.raises(ValueError, match=r"\[project.urls\] needs Repository"):
        nbtool.repository_url(other)


def test_the_template_needs_a_version_this_checkout_has():
    needs = re.search(r'^NEEDS = "([^"]+)"', TEMPLATE, re.MULTILINE)[1]
    assert Version(needs) <= Version(cnncourse.__version__)
    assert not re.search(r"^\s*[!%]", TEMPLATE, re.MULTILINE), "no shell commands or magics in the first cell"


# ----------------------------------------------------------------------------- the template, executed


def _run_template(monkeypatch, returncode=0, colab=False):
    """Execute the template with cnncourse "missing" and pip faked; return what pip was asked and given."""
    calls = []
    saved = sys.modules["cnncourse"]

    def fake_run(argv, **kwargs):
        pins = Path(argv[argv.index("-c") + 1]).read_text()
        calls.append((argv, pins, kwargs))
        if returncode == 0:
            sys.modules["cnncourse"] = saved  # "installed"
        return subprocess.CompletedProcess(argv, returncode, stdout="pip said this\n", stderr="")

    monkeypatch.setitem(sys.modules, "cnncourse", None)  # `import cnncourse` raises ImportError
    monkeypatch.setattr(subprocess, "run", fake_run)
    if colab:
        widgets = types.SimpleNamespace(enabled=0)
        output = types.SimpleNamespace(enable_custom_widget_manager=lambda: setattr(widgets, "enabled", widgets.enabled + 1))
        monkeypatch.setitem(sys.modules, "google", types.ModuleType("google"))
        monkeypatch.setitem(sys.modules, "google.colab", types.SimpleNamespace(output=output))
        monkeypatch.setenv("COLAB_RELEASE_TAG", "test")
    namespace = {}
    try:
        exec(compile(TEMPLATE, "tools/bootstrap_cell.py", "exec"), namespace)  # noqa: S102 - the course's own cell
    finally:
        sys.modules["cnncourse"] = saved
    return calls, namespace, (widgets.enabled if colab else None)


def test_missing_cnncourse_is_installed_with_torch_pinned(monkeypatch, capsys, smoke_profile):
    monkeypatch.delenv("CNNCOURSE_INSTALL", raising=False)
    monkeypatch.delenv("COLAB_RELEASE_TAG", raising=False)
    calls, namespace, _ = _run_template(monkeypatch)
    [(argv, pins, kwargs)] = calls
    assert argv[:5] == [sys.executable, "-m", "pip", "install", "--quiet"] and argv[-1] == "cnncourse>=0.1.0"
    assert pins.splitlines() == [f"torch=={metadata.version('torch')}", f"torchvision=={metadata.version('torchvision')}"]
    assert kwargs.get("capture_output") is True
    out = capsys.readouterr().out
    assert out.startswith("cnncourse is not installed here; installing cnncourse>=0.1.0 with pip ...\n")
    assert "(this notebook needs >= 0.1.0) ✓" in out and "platform" in out
    assert namespace["runtime"].profile().name == "smoke" and namespace["report"]["cnncourse"] == cnncourse.__version__


def test_cnncourse_install_overrides_the_source_and_colab_gets_its_widget_manager(monkeypatch, capsys, smoke_profile):
    monkeypatch.setenv("CNNCOURSE_INSTALL", "git+https://github.com/someone/fork@branch")
    calls, namespace, enabled = _run_template(monkeypatch, colab=True)
    assert calls[0][0][-1] == "git+https://github.com/someone/fork@branch"
    assert enabled == 1 and namespace["report"]["platform"] == "Colab"


def test_a_failed_install_says_what_to_do(monkeypatch, capsys):
    monkeypatch.delenv("CNNCOURSE_INSTALL", raising=False)
    with pytest.raises(RuntimeError, match=r"pip could not install cnncourse>=0.1.0 \(its messages are above\)"):
        _run_template(monkeypatch, returncode=1)
    assert "pip said this" in capsys.readouterr().out


def test_an_installed_cnncourse_is_used_as_it_is(monkeypatch, capsys, smoke_profile):
    monkeypatch.setattr(subprocess, "run", lambda *a, **k: pytest.fail("pip must not run when cnncourse imports"))
    exec(compile(TEMPLATE, "tools/bootstrap_cell.py", "exec"), {})  # noqa: S102
    out = capsys.readouterr().out
    assert out.startswith(f"cnncourse {cnncourse.__version__} (this notebook needs >= 0.1.0) ✓\n") and "installing" not in out


# ----------------------------------------------------------------------------- nbtool bootstrap


def _notebook(*cells):
    nb = new_notebook(cells=list(cells))
    for index, cell in enumerate(nb.cells):
        cell.id = f"cell-{index:02d}"
    return nb


def test_bootstrap_command_replaces_the_setup_cell_keeps_other_code_and_is_idempotent(tmp_path, capsys):
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "solutions").mkdir()
    chapter = tmp_path / "notebooks" / "07_x.ipynb"
    nbformat.write(_notebook(new_markdown_cell("# 07 — X\n\nWhat it covers."),
                             new_code_cell('from cnncourse import runtime\n\nruntime.require("0.1.0")\nruntime.describe()'),
                             new_code_cell("P = runtime.profile()")), chapter)
    solution = tmp_path / "solutions" / "07_x.ipynb"
    nbformat.write(_notebook(new_markdown_cell("# 07 — X: exercises"), new_code_cell("import torch")), solution)

    assert nbtool.main(["bootstrap", str(chapter), str(solution)]) == 0
    assert capsys.readouterr().out.splitlines() == [f"{chapter}: updated", f"{solution}: updated"]
    cells = nbformat.read(chapter, as_version=4).cells
    assert [c.source for c in cells[1:]] == [TEMPLATE, "P = runtime.profile()"]
    assert cells[0].source == f"# 07 — X\n\n{nbtool.open_links('notebooks/07_x.ipynb')}\n\nWhat it covers."
    cells = nbformat.read(solution, as_version=4).cells
    assert [c.source for c in cells[1:]] == [TEMPLATE, "import torch"]  # inserted: the imports stay
    assert cells[0].source == f"# 07 — X: exercises\n\n{nbtool.open_links('exercises/07_x.ipynb')}"

    before = chapter.read_bytes(), solution.read_bytes()
    assert nbtool.main(["bootstrap", str(chapter), str(solution)]) == 0
    assert (chapter.read_bytes(), solution.read_bytes()) == before
    assert capsys.readouterr().out.splitlines() == [f"{chapter}: unchanged", f"{solution}: unchanged"]


def test_bootstrap_command_refuses_generated_exercises_and_untitled_notebooks(tmp_path, capsys):
    (tmp_path / "exercises").mkdir()
    exercise = tmp_path / "exercises" / "07_x.ipynb"
    nbformat.write(_notebook(new_markdown_cell("# 07"), new_code_cell("1")), exercise)
    assert nbtool.main(["bootstrap", str(exercise)]) == 2
    assert "exercises/ is generated: bootstrap solutions/, then run python -m cnncourse.exercises" in capsys.readouterr().err
    (tmp_path / "notebooks").mkdir()
    untitled = tmp_path / "notebooks" / "07_x.ipynb"
    nbformat.write(_notebook(new_code_cell("1")), untitled)
    assert nbtool.main(["bootstrap", str(untitled)]) == 2
    assert "the first cell must be the markdown title" in capsys.readouterr().err
