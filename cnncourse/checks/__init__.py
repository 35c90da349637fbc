"""Exercise checks: ``check("conv2d", conv2d)`` prints a one-line verdict against PyTorch.

Each chapter's checkers live in their own module (``ch01.py``, ``ch02.py``, ...), loaded
on first use. The machinery is in :mod:`cnncourse.checks.core`.
"""
from __future__ import annotations

import importlib
import pkgutil

from .core import Case, Checker, CheckResult, Outcome, call_case, check, checkers, compare, judge_case, register, run_check
from .tutor import hint, show_solution

__all__ = ["Case", "Checker", "CheckResult", "Outcome", "call_case", "judge_case", "check", "checkers", "compare", "hint", "register", "run_check", "show_solution"]


def _load_chapters() -> None:
    """Import every ``chNN`` module of this package so their checkers are registered."""
    for info in pkgutil.iter_modules(__path__):
        if info.name.startswith("ch"):
            importlib.import_module(f"{__name__}.{info.name}")
