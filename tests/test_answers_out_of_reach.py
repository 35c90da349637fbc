"""No exercise's answer is within reach of the learner's ``import``.

Each exercise (the name its checker is registered under: the function or class the learner writes in
``exercises/NN_*.ipynb``) has its reference answer only in ``solutions/NN_*.ipynb``, which
``show_solution`` reads. So:

- no module of the ``cnncourse`` package outside ``cnncourse.checks`` has a public attribute under an
  exercise's name (or exports, in ``__all__``, a function or class of that name under another one);
  the package's own from-scratch copies are private (``_name``) and checked against PyTorch in tests/;
- in ``cnncourse.checks`` an exercise's name is only its :class:`~cnncourse.checks.core.Checker`, which
  is not callable (it holds the cases, hints and the PyTorch reference, and computes no answer itself);
- no chapter notebook calls the package's copy of an exercise (``intro.translate(...)``,
  ``layers.conv_params(...)``, even ``layers._conv_params(...)``) or imports it by name: the chapter
  writes the function in a cell, or uses PyTorch's own operator.
"""
from __future__ import annotations

import ast
import importlib
import pkgutil
from pathlib import Path

import nbformat
import pytest

import cnncourse
from cnncourse.checks import checkers
from cnncourse.checks.core import Checker

ROOT = Path(__file__).resolve().parent.parent
CHAPTERS = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))
EXERCISES = frozenset(checkers())


def _is_exercise(attr: str) -> bool:
    """An exercise's name, or its private spelling (``_translate``)."""
    return attr in EXERCISES or attr.lstrip("_") in EXERCISES


def _modules():
    names = ["cnncourse"] + [m.name for m in pkgutil.walk_packages(cnncourse.__path__, "cnncourse.")]
    return [importlib.import_module(name) for name in names]


MODULES = _modules()


def test_exercise_names_are_known():
    assert {"translate", "conv_params", "max_pool2d", "AddGaussianNoise", "focal_loss"} <= EXERCISES


@pytest.mark.parametrize("module", [m for m in MODULES if not m.__name__.startswith("cnncourse.checks")],
                         ids=lambda m: m.__name__)
def test_package_exposes_no_answer(module):
    found = []
    for name in EXERCISES & set(vars(module)):
        found.append(f"{module.__name__}.{name} ({type(getattr(module, name)).__name__})")
    exported = set(getattr(module, "__all__", ()))
    for name, obj in vars(module).items():
        if name in EXERCISES or name.startswith("_") or not _is_exercise(str(getattr(obj, "__name__", ""))):
            continue
        if name in exported or str(getattr(obj, "__module__", "")).startswith("cnncourse"):
            found.append(f"{module.__name__}.{name} (an alias of {obj.__name__})")
    assert not found, "an exercise's answer is importable from the package: " + ", ".join(sorted(found))


@pytest.mark.parametrize("module", [m for m in MODULES if m.__name__.startswith("cnncourse.checks")],
                         ids=lambda m: m.__name__)
def test_checks_expose_only_checkers_under_exercise_names(module):
    for name in EXERCISES & set(vars(module)):
        obj = getattr(module, name)
        assert isinstance(obj, Checker) and not callable(obj), (
            f"{module.__name__}.{name} is a {type(obj).__name__}; only the exercise's Checker may carry its name")
    for name, obj in vars(module).items():
        if not name.startswith("_") and name not in EXERCISES and _is_exercise(str(getattr(obj, "__name__", ""))):
            pytest.fail(f"{module.__name__}.{name} is an alias of {obj.__name__}")


def _dotted(node: ast.AST) -> str | None:
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    parts.append(node.id)
    return ".".join(reversed(parts))


def package_calls(source: str) -> list[str]:
    """The calls (and imports) of the package's copy of an exercise in one cell of Python source."""
    tree = ast.parse(source)
    modules = {}  # local name -> cnncourse module it stands for
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for a in node.names:
                if a.name.split(".")[0] == "cnncourse":
                    modules[a.asname or a.name.split(".")[0]] = a.name if a.asname else "cnncourse"
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == "cnncourse":
            for a in node.names:
                if _is_exercise(a.name):
                    found.append(f"from {node.module} import {a.name}")
                modules[a.asname or a.name] = f"{node.module}.{a.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and _is_exercise(node.func.attr):
            owner = _dotted(node.func.value)
            if owner is not None and owner.split(".")[0] in modules:
                found.append(f"{owner}.{node.func.attr}(")
    return found


def test_package_calls_finds_aliases():
    cell = ("from cnncourse.lessons import introduction as intro\nfrom cnncourse import layers\nimport cnncourse\n"
            "import torch.nn.functional as F\n"
            "intro.translate(x, 1, 0)\nlayers._conv_params(1, 6, 5)\ncnncourse.losses.focal_loss(z, t, 2.0)\n"
            "F.max_pool2d(x, 2)\ntranslate(x, 1, 0)\n")
    assert package_calls(cell) == ["intro.translate(", "layers._conv_params(", "cnncourse.losses.focal_loss("]
    assert package_calls("from cnncourse.layers import max_pool2d as pool") == ["from cnncourse.layers import max_pool2d"]


@pytest.mark.parametrize("path", CHAPTERS, ids=lambda p: p.name)
def test_chapter_does_not_call_the_package_copy_of_an_exercise(path):
    source = "\n".join(c.source for c in nbformat.read(path, as_version=4).cells if c.cell_type == "code")
    found = package_calls(source)
    assert not found, f"{path.name} calls the package's copy of an exercise: {sorted(set(found))}"
