"""The wheel is complete: every module and data file of the package, and the `cnncourse` command.

Learners on Colab or Kaggle get the course from a wheel, not from ``pip install -e``, so a file
the package reads but the wheel lacks (a quiz, a data file) works in the checkout and fails there.
"""
from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def build_wheel(folder: Path) -> Path:
    """Build the course's wheel offline into ``folder`` and return its path.

    It builds from a copy of pyproject.toml, README.md and ``cnncourse/`` so the checkout
    gets no ``build/`` folder (and parallel test workers do not share one).
    """
    source = folder / "source"
    source.mkdir(parents=True)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)
    shutil.copytree(ROOT / "cnncourse", source / "cnncourse", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    env = {**os.environ, "PIP_NO_INDEX": "1", "PIP_DISABLE_PIP_VERSION_CHECK": "1"}
    done = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "--no-build-isolation", "-w", str(folder / "dist")],
        capture_output=True, text=True, env=env, timeout=300,
    )
    assert done.returncode == 0, f"pip wheel failed:\n{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
    wheels = sorted((folder / "dist").glob("cnncourse-*.whl"))
    assert len(wheels) == 1, f"expected one wheel, got {wheels}"
    return wheels[0]


def package_files() -> set[str]:
    """Every file of the package in the checkout, as the wheel names them (``cnncourse/quizzes/01_x.json``)."""
    return {
        path.relative_to(ROOT).as_posix()
        for path in (ROOT / "cnncourse").rglob("*")
        if path.is_file() and "__pycache__" not in path.parts and path.suffix != ".pyc"
    }


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    return build_wheel(tmp_path_factory.mktemp("wheel"))


def test_the_wheel_holds_every_module_and_data_file(wheel):
    names = set(zipfile.ZipFile(wheel).namelist())
    missing = sorted(package_files() - names)
    assert not missing, f"the wheel lacks {missing}: list them in [tool.setuptools.package-data] in pyproject.toml"
    quizzes = {name for name in names if name.startswith("cnncourse/quizzes/") and name.endswith(".json")}
    assert len(quizzes) >= 12 and "cnncourse/info.py" in names and "cnncourse/__main__.py" in names
    strays = sorted(name for name in names if not name.startswith(("cnncourse/", "cnncourse-")))
    assert not strays, f"the wheel carries files outside the package: {strays}"


def test_the_wheel_declares_the_command_urls_and_dependencies(wheel):
    archive = zipfile.ZipFile(wheel)
    info = next(name for name in archive.namelist() if name.endswith(".dist-info/entry_points.txt"))
    entry_points = configparser.ConfigParser()
    entry_points.read_string(archive.read(info).decode())
    assert entry_points["console_scripts"]["cnncourse"] == "cnncourse.__main__:main"
    metadata = archive.read(info.replace("entry_points.txt", "METADATA")).decode()
    assert "Project-URL: Repository, https://github.com/" in metadata
    for requirement in ("torch", "torchvision", "packaging", "mlxtend", "ipywidgets"):
        assert f"Requires-Dist: {requirement}" in metadata, f"the wheel does not require {requirement}"
