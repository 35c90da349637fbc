"""The checker machinery: run a learner's function against a PyTorch reference, report in one line.

A :class:`Checker` names an exercise, a reference implementation (PyTorch), the cases to
try (random and edge-case inputs) and *diagnoses*: functions that recognise a likely
mistake from the learner's output (a flipped kernel, the unbiased variance, a missing
bias...) and name it. :func:`check` prints one line, e.g.

    ✓ conv2d: 12/12 cases
    ✗ conv2d: 9/12 cases; first failure [stride=2]: shape (1, 4, 3, 3), expected (1, 4, 2, 2). Hint: ...

Bad input (not a function, a stub that raises, a wrong return type or shape) is reported
in that same line, never as a traceback wall.
"""
from __future__ import annotations

import copy
import math
import traceback
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

__all__ = ["Case", "Checker", "CheckResult", "register", "checkers", "run_check", "check", "compare"]

_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)


@dataclass(frozen=True)
class Case:
    """One call to try: ``fn(*args, **kwargs)``, labelled for the report."""

    label: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)


@dataclass(frozen=True)
class Checker:
    """An exercise's check.

    ``cases(generator)`` returns the cases (random inputs come from the seeded generator).
    ``reference(*args, **kwargs)`` gives the expected value (PyTorch). ``diagnoses`` is a list of
    ``(predicate(got, case) -> bool, message)``: the first predicate that recognises the learner's
    wrong output names the likely mistake. ``hints`` are the tiered hints, from a nudge to
    nearly the answer. ``compare`` may replace the default tolerance comparison.
    """

    name: str
    reference: Callable[..., Any]
    cases: Callable[[torch.Generator], Sequence[Case]]
    diagnoses: Sequence[tuple[Callable[[Any, Case], bool], str]] = ()
    hints: Sequence[str] = ()
    atol: float = 1e-5
    rtol: float = 1e-4
    compare: Callable[[Any, Any], str | None] | None = None
    check_inputs_unchanged: bool = True


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check: ``ok`` and a one-line ``str()``."""

    name: str
    passed: int
    total: int
    detail: str = ""
    hint: str = ""

    @property
    def ok(self) -> bool:
        return self.total > 0 and self.passed == self.total

    def __str__(self) -> str:
        if self.ok:
            return f"✓ {self.name}: {self.passed}/{self.total} cases"
        counts = f"{self.passed}/{self.total} cases; " if self.total else ""
        text = f"✗ {self.name}: {counts}{self.detail}"
        return f"{text} Hint: {self.hint}" if self.hint else text

    def __bool__(self) -> bool:
        return self.ok

    def _ipython_display_(self) -> None:
        """:func:`check` already printed the line; show nothing more when it ends a cell."""


_REGISTRY: dict[str, Checker] = {}


def register(checker: Checker) -> Checker:
    """Add a checker to the registry (chapter modules call this at import)."""
    if checker.name in _REGISTRY and _REGISTRY[checker.name] is not checker:
        raise ValueError(f"a checker named {checker.name!r} is already registered")
    _REGISTRY[checker.name] = checker
    return checker


def checkers() -> dict[str, Checker]:
    """All registered checkers, by exercise name (loads every chapter's checks)."""
    from . import _load_chapters

    _load_chapters()
    return dict(_REGISTRY)


def _clone(value):
    if isinstance(value, torch.Tensor):
        return value.clone()
    return copy.deepcopy(value)


def _shape_or_type(value) -> str:
    if isinstance(value, torch.Tensor):
        return f"tensor{tuple(value.shape)} {str(value.dtype).replace('torch.', '')}"
    return type(value).__name__


def compare(got, expected, atol: float = 1e-5, rtol: float = 1e-4, where: str = "") -> str | None:
    """None if ``got`` matches ``expected`` (recursively, within tolerance), else what differs."""
    at = f" at {where}" if where else ""
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return f"returned {type(got).__name__}{at}, expected a tensor of shape {tuple(expected.shape)}"
        if got.shape != expected.shape:
            return f"shape {tuple(got.shape)}{at}, expected {tuple(expected.shape)}"
        if got.dtype != expected.dtype and not (got.is_floating_point() and expected.is_floating_point()):
            return f"dtype {got.dtype}{at}, expected {expected.dtype}"
        if got.device != expected.device:
            return f"tensor on {got.device}{at}, expected {expected.device}"
        g, e = got.detach().double(), expected.detach().double()
        if not torch.allclose(g, e, atol=atol, rtol=rtol, equal_nan=True):
            diff = (g - e).abs()
            diff = torch.where(torch.isnan(diff), torch.full_like(diff, math.inf), diff)
            idx = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape)) if diff.ndim else ()
            return (
                f"values differ{at}: max |got - expected| = {diff.max().item():.3g} at index {idx} "
                f"(got {g[idx].item():.5g}, expected {e[idx].item():.5g})"
            )
        return None
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return f"returned {_shape_or_type(got)}{at}, expected a {type(expected).__name__} of {len(expected)} items"
        for i, (g, e) in enumerate(zip(got, expected)):
            problem = compare(g, e, atol, rtol, f"{where}[{i}]" if where else f"item {i}")
            if problem:
                return problem
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            return f"returned {_shape_or_type(got)}{at}, expected a dict with keys {sorted(expected)}"
        for key in expected:
            problem = compare(got[key], expected[key], atol, rtol, f"{where}[{key!r}]")
            if problem:
                return problem
        return None
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        return None if got == expected else f"returned {got!r}{at}, expected {expected!r}"
    if isinstance(expected, (int, float)):
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            return f"returned {_shape_or_type(got)}{at}, expected a number ({expected!r})"
        if isinstance(expected, int) and not isinstance(got, int) and got != int(got):
            return f"returned {got!r}{at}, expected the whole number {expected}"
        if not math.isclose(got, expected, rel_tol=rtol, abs_tol=atol):
            return f"returned {got:.6g}{at}, expected {expected:.6g}"
        return None
    return None if got == expected else f"returned {got!r}{at}, expected {expected!r}"


def _learner_line(err: BaseException) -> str:
    """'line N' of the learner's code where the error came from (the last frame outside the package)."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if not f.filename.startswith(_PACKAGE_DIR)]
    if not frames:
        return ""
    frame = frames[-1]
    where = "your cell" if "ipykernel" in frame.filename or frame.filename.startswith("<") else Path(frame.filename).name
    code = (frame.line or "").strip()
    return f" (line {frame.lineno} of {where}: `{code}`)" if code else f" (line {frame.lineno} of {where})"


def _changed(before: tuple, after: tuple) -> bool:
    for b, a in zip(before, after):
        if isinstance(b, torch.Tensor) and isinstance(a, torch.Tensor):
            if b.shape != a.shape or not torch.equal(b, a):
                return True
    return False


def run_check(name: str, fn, seed: int = 0) -> CheckResult:
    """Check ``fn`` against exercise ``name``'s reference; return the verdict without printing."""
    registry = checkers()
    if not isinstance(name, str) or name not in registry:
        close = [n for n in registry if isinstance(name, str) and (name in n or n in name)]
        suggestion = f" Did you mean {close[0]!r}?" if close else f" Known exercises: {', '.join(sorted(registry))}."
        return CheckResult(str(name), 0, 0, f"no exercise named {name!r}.{suggestion}")
    checker = registry[name]
    if not callable(fn):
        return CheckResult(
            name, 0, 0,
            f"expected your function, got {type(fn).__name__} {fn!r:.60}; pass the function itself: check({name!r}, {name}).",
        )
    generator = torch.Generator().manual_seed(seed)
    cases = list(checker.cases(generator))
    passed = 0
    first_problem, hint = "", ""
    for case in cases:
        args, kwargs = tuple(_clone(a) for a in case.args), {k: _clone(v) for k, v in case.kwargs.items()}
        try:
            got = fn(*args, **kwargs)
        except NotImplementedError:
            return CheckResult(name, 0, len(cases), "not implemented yet: replace the `raise NotImplementedError` line with your code.")
        except Exception as err:  # noqa: BLE001 - the learner's error, reported in one line
            problem = f"[{case.label}] raised {type(err).__name__}: {str(err).strip().splitlines()[0] if str(err).strip() else ''}{_learner_line(err)}"
            first_problem = first_problem or problem
            continue
        if checker.check_inputs_unchanged and _changed(case.args, args):
            first_problem = first_problem or f"[{case.label}] your function changed its input in place; work on a copy or build a new tensor."
            continue
        expected = checker.reference(*case.args, **case.kwargs)
        problem = (checker.compare or (lambda g, e: compare(g, e, checker.atol, checker.rtol)))(got, expected)
        if problem is None:
            passed += 1
            continue
        if not first_problem:
            first_problem = f"[{case.label}] {problem}."
            hint = _diagnose(checker, got, case)
    if passed == len(cases):
        return CheckResult(name, passed, len(cases))
    return CheckResult(name, passed, len(cases), first_problem, hint)


def _diagnose(checker: Checker, got, case: Case) -> str:
    for recognises, message in checker.diagnoses:
        try:
            if recognises(got, case):
                return message
        except Exception:  # noqa: BLE001 - a diagnosis that cannot apply is simply skipped
            continue
    return ""


def check(name: str, fn, seed: int = 0) -> CheckResult:
    """Check your function for exercise ``name``; print a one-line verdict and return it."""
    result = run_check(name, fn, seed)
    print(result)
    return result

