"""Checks on every executed notebook cell (nbval items): each figure appears exactly once.

nbval executes notebooks/ and solutions/ cell by cell (``pytest --nbval-lax``). After each cell
this hook looks at what the cell displayed:

- **duplicated**: the same PNG twice in one notebook (typically a figure shown by the inline
  backend *and* returned as the cell's value, or drawn twice);
- **missing**: a cell whose last line is a figure (``fig``, ``display(fig)``, or a call named
  ``draw_*`` / ``plot_*`` / ``show_*``) that displayed no image.

Unit tests under tests/ are unaffected (they are not notebook cells).
"""
from __future__ import annotations

import ast
import hashlib

import pytest

_FIGURE_CALL_PREFIXES = ("draw", "plot", "show_")


def _name_of(func: ast.AST) -> str:
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return ""


def expects_figure(source: str) -> bool:
    """Whether a cell's last statement is an expression that shows a figure."""
    try:
        tree = ast.parse(source)
    except SyntaxError:
        return False
    if not tree.body or not isinstance(tree.body[-1], ast.Expr):
        return False
    value = tree.body[-1].value
    if isinstance(value, ast.Name):
        return value.id == "fig" or value.id.startswith("fig_")
    if isinstance(value, ast.Call):
        name = _name_of(value.func)
        if name == "display":
            return any(isinstance(a, ast.Name) and (a.id == "fig" or a.id.startswith("fig_")) for a in value.args)
        return name.startswith(_FIGURE_CALL_PREFIXES)
    return False


def figure_problems(source: str, outputs: list, seen: dict[str, int], cell_index: int) -> list[str]:
    """What is wrong with one executed cell's figures; ``seen`` maps PNG hashes to the cell that showed them."""
    problems = []
    images = 0
    for out in outputs or []:
        data = out.get("data", {}) if hasattr(out, "get") else {}
        png = data.get("image/png")
        if not png:
            continue
        if "application/vnd.jupyter.widget-view+json" in data:
            continue  # a widget's static fallback view, not a figure of the cell
        images += 1
        digest = hashlib.sha1(png.encode() if isinstance(png, str) else png).hexdigest()
        if digest in seen:
            where = "this cell" if seen[digest] == cell_index else f"code cell {seen[digest]}"
            problems.append(f"code cell {cell_index} shows a figure already shown by {where} (each figure must appear once: "
                            "close it with plt.close(fig) before returning it, or do not draw it twice)")
        seen[digest] = cell_index
    if images == 0 and expects_figure(source):
        problems.append(f"code cell {cell_index} ends with a figure but displayed no image (was it closed, or "
                        "did the call return None?)")
    return problems


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item):
    result = yield
    outputs = getattr(item, "test_outputs", None)
    cell = getattr(item, "cell", None)
    if outputs is not None and cell is not None and getattr(cell, "cell_type", "code") == "code":
        seen = item.parent.__dict__.setdefault("_cnncourse_seen_figures", {})
        problems = figure_problems(cell.source, outputs, seen, getattr(item, "cell_num", -1))
        if problems:
            pytest.fail("; ".join(problems), pytrace=False)
    return result
