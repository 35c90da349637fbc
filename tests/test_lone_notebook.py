"""A chapter notebook alone, as on Colab or Kaggle: its first cell installs cnncourse and it runs to the end.

The notebook is copied into an empty folder and executed by a kernel from a fresh virtual
environment that has torch but not cnncourse, with ``CNNCOURSE_INSTALL`` pointing at a wheel
built from the checkout. Installing torch into a new environment costs minutes and gigabytes,
so the fresh environment borrows the course environment's packages with a ``.pth`` line naming
its site-packages: a plain path line does not run the ``.pth`` files inside that folder, so the
editable install of cnncourse stays invisible (checked) while pip and the kernel see torch as
installed. Offline: pip is run with ``PIP_NO_INDEX``. Then the chapter's exercise notebook runs in
the same folder: its first cell finds cnncourse installed and its checks report the stubs.

Chapter 07 is one of the quickest (about 14 s in smoke) and uses the offline digits, a quiz and,
in its exercises, the checks.
"""
from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import nbformat
import pytest

import cnncourse

from test_wheel import ROOT, build_wheel

sys.path.insert(0, str(ROOT / "tools"))

import nbtool  # noqa: E402

CHAPTER = ROOT / "notebooks" / "07_loss_functions.ipynb"
EXERCISE = ROOT / "exercises" / "07_loss_functions.ipynb"
CELL_TIMEOUT = 600


def fresh_environment(folder: Path) -> Path:
    """A new virtual environment that sees the course environment's packages but not cnncourse; its python."""
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(folder)], check=True, timeout=120)
    python = folder / ("Scripts/python.exe" if os.name == "nt" else "bin/python")
    own = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                         check=True, capture_output=True, text=True).stdout.strip()
    course = dict.fromkeys([sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]])  # lib and lib64
    Path(own, "course-packages.pth").write_text("".join(f"{folder}\n" for folder in course), encoding="utf-8")
    return python


def kernel_environment(wheel: Path, home: Path) -> dict[str, str]:
    """The kernel's environment: install from the wheel, offline, data and outputs in ``home``."""
    env = {key: value for key, value in os.environ.items()
           if key not in ("PYTHONPATH", "COVERAGE_PROCESS_START", "CNNCOURSE_HOME", "CNNCOURSE_INSTALL")}
    env.update(CNNCOURSE_INSTALL=str(wheel), CNNCOURSE_HOME=str(home), CNNCOURSE_PROFILE="smoke",
               PIP_NO_INDEX="1", PIP_DISABLE_PIP_VERSION_CHECK="1", OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"))
    return env


def run_alone(path: Path, python: Path, env: dict[str, str], allow_stubs: bool = False) -> list[str]:
    """Execute the notebook at ``path`` with ``python``'s kernel; return each code cell's text output.

    ``allow_stubs``: a cell may raise NotImplementedError (an exercise's stub, used before it is
    written); any other error fails with the cell and its message.
    """
    from nbclient import NotebookClient
    from nbclient.exceptions import CellExecutionError

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=CELL_TIMEOUT, kernel_name="python3", allow_errors=allow_stubs,
                            kernel_manager_class=nbtool._kernel_manager_class(python),
                            resources={"metadata": {"path": str(path.parent)}})
    try:
        client.execute(env=env)
    except CellExecutionError as error:
        pytest.fail(f"{path.name}: {error.ename}: {error.evalue}\n{str(error)[-2000:]}", pytrace=False)
    texts = []
    for index, cell in enumerate(cell for cell in nb.cells if cell.cell_type == "code"):
        text = "".join(out.get("text", "") or out.get("data", {}).get("text/plain", "") for out in cell.outputs)
        for out in cell.outputs:
            if out.output_type == "error" and not (allow_stubs and out.ename == "NotImplementedError"):
                pytest.fail(f"{path.name} code cell {index} (`{cell.source.splitlines()[0]}`) raised "
                            f"{out.ename}: {out.evalue}\n{text[-2000:]}", pytrace=False)
        texts.append(text)
    return texts


def _fingerprint(site: Path) -> str:
    """A hash of the course environment's own cnncourse install records (must not change)."""
    files = sorted(p for p in site.glob("*cnncourse*") if p.is_file()) + sorted(site.glob("cnncourse-*.dist-info/*"))
    return hashlib.sha256(b"".join(p.name.encode() + p.read_bytes() for p in files)).hexdigest()


def test_a_lone_chapter_installs_cnncourse_from_the_wheel_and_runs(tmp_path):
    wheel = build_wheel(tmp_path / "wheel")
    python = fresh_environment(tmp_path / "venv")
    lone = tmp_path / "lone"
    lone.mkdir()
    env = kernel_environment(wheel, tmp_path / "home")
    missing = subprocess.run([str(python), "-c", "import cnncourse"], cwd=lone, env=env, capture_output=True, text=True)
    assert missing.returncode != 0 and "No module named 'cnncourse'" in missing.stderr, \
        "the fresh environment must not see cnncourse before the first cell installs it"
    subprocess.run([str(python), "-c", "import torch, ipykernel"], cwd=lone, env=env, check=True)
    course_site = Path(sysconfig.get_paths()["purelib"])
    before = _fingerprint(course_site)

    chapter = Path(shutil.copy2(CHAPTER, lone / CHAPTER.name))
    outputs = run_alone(chapter, python, env)
    first = outputs[0]
    assert "installing" in first and str(wheel) in first, first
    assert f"cnncourse {cnncourse.__version__} (this notebook needs >= " in first and "profile     : smoke" in first, first
    assert "mnist-offline: offline" in first, first
    assert "Self-check quiz" in outputs[-1], f"the quiz showed nothing: {outputs[-1][-500:]}"
    installed = subprocess.run([str(python), "-c", "import cnncourse; print(cnncourse.__file__)"], cwd=lone, env=env,
                               capture_output=True, text=True, check=True).stdout
    assert Path(installed.strip()).is_relative_to(tmp_path / "venv"), installed
    own = Path(installed.strip()).parent.parent
    assert sorted(p.name for p in own.iterdir() if p.name != "__pycache__") == \
        ["cnncourse", f"cnncourse-{cnncourse.__version__}.dist-info", "course-packages.pth"], "pip installed more than cnncourse (torch?)"
    assert _fingerprint(course_site) == before, "installing into the fresh environment changed the course's own"

    exercise = Path(shutil.copy2(EXERCISE, lone / EXERCISE.name))
    outputs = run_alone(exercise, python, env, allow_stubs=True)
    assert "installing" not in outputs[0] and f"cnncourse   : {cnncourse.__version__}" in outputs[0], outputs[0]
    checks = [text for text in outputs if "✗" in text or "✓" in text]
    assert checks and all("not implemented yet" in text for text in checks if "✗" in text), checks
