"""Compute modules never pull in a plotting backend: drawing lives in cnncourse.viz and cnncourse.drawing."""
import pkgutil
import subprocess
import sys

import pytest

import cnncourse.lessons

LESSONS = [f"cnncourse.lessons.{m.name}" for m in pkgutil.iter_modules(cnncourse.lessons.__path__)]
COMPUTE = ["cnncourse.stats", "cnncourse.claims", "cnncourse.data", "cnncourse.train", "cnncourse.models",
           "cnncourse.schedules", "cnncourse.layers", "cnncourse.losses", "cnncourse.optim"] + LESSONS


@pytest.mark.parametrize("module", COMPUTE)
def test_compute_module_does_not_import_matplotlib(module):
    code = f"import sys, {module}; print('matplotlib' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert run.returncode == 0, run.stderr
    assert run.stdout.strip() == "False", f"importing {module} imports matplotlib; move its drawing to cnncourse.drawing"


@pytest.mark.parametrize("module", LESSONS)
def test_lessons_source_has_no_matplotlib(module):
    import importlib
    import inspect

    source = inspect.getsource(importlib.import_module(module))
    assert "matplotlib" not in source and "plt." not in source, f"{module} draws; put its figures in cnncourse.drawing"
