"""tools/render_course.py: papermill execution with parameters, HTML pages, an index with times and key numbers."""
import json
import os
import subprocess
import sys
from pathlib import Path

import nbformat
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook

ROOT = Path(__file__).resolve().parent.parent


def _chapter(path: Path, body: str):
    nb = new_notebook(cells=[
        new_markdown_cell("# 99 · A tiny chapter"),
        new_code_cell("PROFILE = None\nKERNEL = 3", metadata={"tags": ["parameters"]}),
        new_code_cell(body),
    ])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, path)


def test_render_executes_with_parameters_and_indexes_key_numbers(tmp_path):
    src = tmp_path / "nb"
    src.mkdir()
    _chapter(src / "99_tiny.ipynb", "from cnncourse.report import key_numbers\nkey_numbers(kernel_squared=KERNEL ** 2, profile=PROFILE)")
    _chapter(src / "98_broken.ipynb", "1 / 0")
    out = tmp_path / "site"
    run = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "render_course.py"), "--profile", "smoke", "--out", str(out),
         "-p", "KERNEL", "5", str(src / "99_tiny.ipynb"), str(src / "98_broken.ipynb")],
        capture_output=True, text=True, timeout=300,
    )
    assert run.returncode == 1, run.stderr  # the broken chapter fails the run ...
    assert "1 chapter(s) failed: 98_broken.ipynb" in run.stderr
    index = (out / "index.html").read_text()
    assert "A tiny chapter" in index and "kernel_squared = 25" in index and "profile = smoke" in index  # ... the other renders
    assert "ZeroDivisionError" in index
    assert "kernel_squared" in (out / "99_tiny.html").read_text()
    timings = json.loads((out / "timings.json").read_text())
    assert timings["profile"] == "smoke" and set(timings["seconds"]) == {"99_tiny.ipynb", "98_broken.ipynb"}


def test_render_rejects_missing_notebooks(tmp_path):
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "render_course.py"), str(tmp_path / "nope.ipynb")],
                         capture_output=True, text=True, timeout=60)
    assert run.returncode == 2 and "no such notebook" in run.stderr


def test_render_gathers_the_claims_ledgers_into_site_claims_json(tmp_path):
    src = tmp_path / "nb"
    src.mkdir()
    home = tmp_path / "home"
    stale = home / "outputs" / "claims" / "05_tiny.json"
    stale.parent.mkdir(parents=True)
    stale.write_text('[{"id": "norm.bn-higher-lr", "verdict": "supported", "expected": "supported"}]')
    _chapter(src / "04_tiny.ipynb",
             "from cnncourse import claims, stats\n"
             "ledger = claims.Ledger('04_tiny', PROFILE)\n"
             "v = stats.fact('2x2 pool halves 28', 28 // 2 == 14, '28 -> 14')\n"
             "ledger.record('pool.reduces-size-widens-rf', v, expected='supported')")
    _chapter(src / "05_tiny.ipynb", "1 / 0")  # fails before recording: its stale ledger must not be reported
    out = tmp_path / "site"
    env = {**os.environ, "CNNCOURSE_HOME": str(home)}
    run = subprocess.run([sys.executable, str(ROOT / "tools" / "render_course.py"), "--profile", "smoke", "--out", str(out),
                          str(src / "04_tiny.ipynb"), str(src / "05_tiny.ipynb")],
                         capture_output=True, text=True, timeout=300, env=env)
    assert run.returncode == 1, run.stderr
    rows = {r["id"]: r for r in json.loads((out / "claims.json").read_text(encoding="utf-8"))}
    assert len(rows) >= 70 and rows["pool.reduces-size-widens-rf"]["verdict"] == "supported"
    assert rows["pool.reduces-size-widens-rf"]["summary"] == "2x2 pool halves 28: 28 -> 14 → supported"
    assert rows["pool.reduces-size-widens-rf"]["chapter"] == "04"
    assert rows["norm.bn-higher-lr"]["verdict"] is None  # the stale file was removed before 05_tiny ran
    index = (out / "index.html").read_text(encoding="utf-8")
    assert "pool.reduces-size-widens-rf" in index and "not measured" in index
