"""The checker machinery: run a learner's function against a PyTorch reference, report in one line.

A :class:`Checker` names an exercise, a reference implementation (PyTorch), the cases to
try (random and edge-case inputs) and *diagnoses*: functions that recognise a likely
mistake from the learner's output (a flipped kernel, the unbiased variance, a missing
bias...) and name it. :func:`check` prints one line, e.g.

    ✓ conv2d: 12/12 cases
    ✗ conv2d: 9/12 cases; first failure [stride=2]: shape (1, 4, 3, 3), expected (1, 4, 2, 2). Hint: ...

Bad input (not a function, a stub that raises, a wrong return type or shape, NaN, a numpy
scalar, a case that runs past its time limit) is reported in that same line, never as a
traceback wall. A from-scratch exercise declares in ``Checker.forbids`` the PyTorch calls it
re-implements; a function that uses one gets a ✗ naming it. What the learner's function
prints is captured and shown, truncated, after the verdict.

The same pieces serve the instructor's grader (:mod:`cnncourse.grade`): :func:`call_case`
runs the learner's function on one case (in the grader, inside a child process) and
:func:`judge_case` compares the outcome with the reference (in the grader, in the parent).
"""
from __future__ import annotations

import contextlib
import copy
import dis
import io
import math
import os
import signal
import threading
import time
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import torch

__all__ = ["Case", "Checker", "CheckResult", "Outcome", "register", "checkers", "run_check", "check", "compare",
           "call_case", "judge_case", "limit_for", "forbidden_in_code", "forbidden_leaves", "CASE_TIME_LIMIT",
           "rel_error", "compare_rel_error", "rel_error_note", "autograd_gradients", "numerical_gradients"]

_PACKAGE_DIR = str(Path(__file__).resolve().parent.parent)

CASE_TIME_LIMIT = 10.0
"""Seconds one case may run before :func:`check` stops it (a loop that never ends, a huge tensor)."""

PRINTED_LINES = 8
"""How many lines of what the learner's function printed :func:`check` shows after the verdict."""


@dataclass(frozen=True)
class Case:
    """One call to try: ``fn(*args, **kwargs)``, labelled for the report.

    ``reference``, when given, replaces the checker's reference for this case only (e.g. centred
    finite differences on a tiny input, where the checker's reference is torch.autograd).
    """

    label: str
    args: tuple = ()
    kwargs: dict = field(default_factory=dict)
    reference: Callable[..., Any] | None = None


@dataclass(frozen=True)
class Checker:
    """An exercise's check.

    ``cases(generator)`` returns the cases (random inputs come from the seeded generator).
    ``reference(*args, **kwargs)`` gives the expected value (PyTorch). ``diagnoses`` is a list of
    ``(predicate(got, case) -> bool, message)``: the first predicate that recognises the learner's
    wrong output names the likely mistake. ``hints`` are the tiered hints, from a nudge to
    nearly the answer. ``compare`` may replace the default tolerance comparison. ``forbids``
    names, as dotted paths (``"torch.nn.functional.conv2d"``, ``"torch.Tensor.log_softmax"``), the
    calls a from-scratch exercise re-implements: using one is a ✗ that names it.

    ``call(fn, args, kwargs)``, when given, replaces the plain ``fn(*args, **kwargs)`` of each case
    (e.g. run the learner's ``torch.autograd.Function`` forward and backward, return the gradients).
    ``note(triples)``, when given, turns the ``(case, got, expected)`` of a check that passed every
    case into text added to the verdict line (e.g. "max rel. error 3e-12").
    ``time_limit``, when given, is the seconds one case of this exercise may take whatever shorter
    limit ``check`` or the grader apply to every exercise (a challenge that trains a network needs
    more than :data:`CASE_TIME_LIMIT`); see :func:`limit_for`.
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
    forbids: Sequence[str] = ()
    call: Callable[[Callable, tuple, dict], Any] | None = None
    note: Callable[[Sequence[tuple[Case, Any, Any]]], str] | None = None
    time_limit: float | None = None


def limit_for(checker: Checker, requested: float | None) -> float | None:
    """The seconds a case of ``checker`` may run when the caller asks for ``requested`` (None: no limit).

    The exercise's own ``time_limit`` wins when it is longer: one definition used by ``check`` and
    by the grader, in its child process and in the parent that waits for it.
    """
    if requested is None or checker.time_limit is None:
        return requested
    return max(requested, checker.time_limit)


@dataclass(frozen=True)
class CheckResult:
    """The verdict of one check: ``ok`` and a one-line ``str()``; ``printed``: what the function printed."""

    name: str
    passed: int
    total: int
    detail: str = ""
    hint: str = ""
    printed: str = ""
    note: str = ""

    @property
    def ok(self) -> bool:
        return self.total > 0 and self.passed == self.total

    def __str__(self) -> str:
        if self.ok:
            return f"✓ {self.name}: {self.passed}/{self.total} cases" + (f", {self.note}" if self.note else "")
        counts = f"{self.passed}/{self.total} cases; " if self.total else ""
        text = f"✗ {self.name}: {counts}{self.detail}"
        if self.hint:
            text = f"{text} Hint: {self.hint}"
        checker = _REGISTRY.get(self.name)
        if self.total and checker is not None and checker.hints:  # the next step, where a hint ladder exists
            text = f"{text} Next: hint({self.name!r})"
        return text

    def __bool__(self) -> bool:
        return self.ok

    def _ipython_display_(self) -> None:
        """:func:`check` already printed the line; show nothing more when it ends a cell."""


@dataclass
class Outcome:
    """What one call of the learner's function gave (see :func:`call_case`)."""

    value: Any = None
    args_after: tuple = ()
    error: tuple[str, str, str] | None = None  # (exception type, first line of its message, where in the learner's code)
    not_implemented: bool = False
    timed_out: bool = False
    forbidden: str = ""
    seconds: float = 0.0


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


def _plain_number(value):
    """A numpy scalar (np.int64, np.float32, np.bool_) as the Python number it holds; anything else as it is."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0 and hasattr(value, "item"):
        try:
            return value.item()
        except Exception:  # noqa: BLE001 - an odd numpy object stays as it is
            return value
    return value


def compare(got, expected, atol: float = 1e-5, rtol: float = 1e-4, where: str = "") -> str | None:
    """None if ``got`` matches ``expected`` (recursively, within tolerance), else what differs.

    Numpy scalars count as the numbers they hold; NaN and inf are reported, never raised.
    """
    at = f" at {where}" if where else ""
    got = _plain_number(got)
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
        return None if got == expected else f"returned {got!r:.80}{at}, expected {expected!r}"
    if isinstance(expected, (int, float)):
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            return f"returned {_shape_or_type(got)}{at}, expected a number ({expected!r})"
        if not math.isfinite(got):
            return f"returned {got!r}{at}, expected {expected!r}"
        if isinstance(expected, int) and not isinstance(got, int) and got != int(got):
            return f"returned {got!r}{at}, expected the whole number {expected}"
        if not math.isclose(got, expected, rel_tol=rtol, abs_tol=atol):
            return f"returned {got:.6g}{at}, expected {expected:.6g}"
        return None
    try:
        same = bool(got == expected)
    except Exception:  # noqa: BLE001 - an answer that cannot even be compared
        same = False
    return None if same else f"returned {got!r:.80}{at}, expected {expected!r:.80}"


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
                if b.shape == a.shape and b.dtype == a.dtype and b.is_floating_point():
                    if torch.allclose(b, a, rtol=0, atol=0, equal_nan=True):
                        continue
                return True
    return False


# ----------------------------------------------------------------------------- forbidden calls

def _short(path: str) -> str:
    """``torch.nn.functional.conv2d`` as a learner writes it: ``F.conv2d``."""
    return path.replace("torch.nn.functional.", "F.").replace("torch.nn.", "nn.")


def forbidden_leaves(forbids: Sequence[str]) -> dict[str, str]:
    """The last names of the forbidden paths (``conv2d``, ``Conv2d``), each with the path to report."""
    leaves: dict[str, str] = {}
    for path in forbids:
        leaves.setdefault(path.rsplit(".", 1)[-1], path)
    return leaves


def _resolve(path: str):
    """(owner, attribute name, object) for a dotted path such as ``torch.nn.functional.conv2d``; None if absent."""
    import importlib

    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        try:
            owner = importlib.import_module(".".join(parts[:cut]))
        except ImportError:
            continue
        try:
            for name in parts[cut:-1]:
                owner = getattr(owner, name)
            return owner, parts[-1], getattr(owner, parts[-1])
        except AttributeError:
            return None
    return None


def _forbidden_objects(forbids: Sequence[str]) -> dict[int, str]:
    found = {}
    for path in forbids:
        resolved = _resolve(path)
        if resolved is not None:
            found.setdefault(id(resolved[2]), path)
    return found


def forbidden_in_code(fn, forbids: Sequence[str]) -> str:
    """The forbidden call ``fn``'s code uses ("F.conv2d"), or "" (a static look at its bytecode).

    Finds ``F.conv2d(...)`` and ``x.log_softmax(...)`` (an attribute with a forbidden name), an alias
    (``c = F.conv2d`` in another cell, then ``c(...)``), and looks inside nested functions, lambdas
    and the learner's own helper functions that ``fn`` calls.
    """
    if not forbids:
        return ""
    leaves, objects = forbidden_leaves(forbids), _forbidden_objects(forbids)
    seen: set[int] = set()

    def scan_function(f) -> str:
        if not isinstance(f, types.FunctionType) or id(f) in seen:
            return ""
        seen.add(id(f))
        namespace = getattr(f, "__globals__", {})
        cells = {}
        for name, cell in zip(f.__code__.co_freevars, f.__closure__ or ()):
            with contextlib.suppress(ValueError):
                cells[name] = cell.cell_contents
        return scan_code(f.__code__, namespace, cells)

    def scan_code(code, namespace, cells) -> str:
        for ins in dis.get_instructions(code):
            name = ins.argval if isinstance(ins.argval, str) else None
            if name is None:
                continue
            if ins.opname in ("LOAD_ATTR", "LOAD_METHOD", "IMPORT_FROM") and name in leaves:
                return _short(leaves[name])
            if ins.opname in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF", "LOAD_CLASSDEREF"):
                value = cells.get(name, namespace.get(name)) if ins.opname.endswith("DEREF") else namespace.get(name)
                if value is not None and id(value) in objects:
                    return f"{_short(objects[id(value)])} (as {name})" if name != objects[id(value)].rsplit(".", 1)[-1] else _short(objects[id(value)])
                if isinstance(value, types.FunctionType) and _learner_code(value.__code__):
                    found = scan_function(value)
                    if found:
                        return found
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                found = scan_code(const, namespace, cells)
                if found:
                    return found
        return ""

    try:
        return scan_function(fn) if isinstance(fn, types.FunctionType) else ""
    except Exception:  # noqa: BLE001 - code this look cannot read is left to the run-time guard
        return ""


def _learner_code(code) -> bool:
    """True for code written in a notebook or a script, not for this package's or an installed library's."""
    filename = code.co_filename
    return not (filename.startswith(_PACKAGE_DIR) or "site-packages" in filename or "dist-packages" in filename
                or filename.startswith(str(Path(torch.__file__).parent.parent)))


class _ForbiddenCall(BaseException):
    """Raised inside the learner's function when it calls a forbidden operator (not caught by ``except Exception``)."""


@contextlib.contextmanager
def _forbidden_guard(forbids: Sequence[str], record: list[str]):
    """While active, the forbidden callables record their first use in ``record`` and raise."""
    patched = []
    for path in forbids:
        resolved = _resolve(path)
        if resolved is None or not callable(resolved[2]):
            continue
        owner, attr, original = resolved

        def tripwire(*args, _path=path, **kwargs):
            record.append(_short(_path))
            raise _ForbiddenCall(_short(_path))

        own = attr in vars(owner)  # a class's inherited method is deleted again, not copied onto the class
        try:
            setattr(owner, attr, tripwire)
        except (AttributeError, TypeError):
            continue
        patched.append((owner, attr, original, own))
    try:
        yield
    finally:
        for owner, attr, original, own in reversed(patched):
            if own:
                setattr(owner, attr, original)
            else:
                delattr(owner, attr)


# ----------------------------------------------------------------------------- time limit

class _CaseTimeout(BaseException):
    """Raised inside the learner's function when a case runs past its time limit."""


@contextlib.contextmanager
def _time_limit(seconds: float | None):
    """Stop the block after ``seconds`` (SIGALRM, on the main thread of a Unix process; else not enforced here)."""
    usable = (seconds is not None and seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def stop(signum, frame):
        raise _CaseTimeout()

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


# ----------------------------------------------------------------------------- one case: call, then judge

def call_case(checker: Checker, fn, case: Case, time_limit: float | None = CASE_TIME_LIMIT) -> Outcome:
    """Call ``fn`` on a copy of ``case``'s inputs, with the forbidden calls guarded and a time limit."""
    args, kwargs = tuple(_clone(a) for a in case.args), {k: _clone(v) for k, v in case.kwargs.items()}
    record: list[str] = []
    start = time.perf_counter()
    outcome = Outcome(args_after=args)
    try:
        with _time_limit(time_limit), _forbidden_guard(checker.forbids, record):
            outcome.value = checker.call(fn, args, kwargs) if checker.call is not None else fn(*args, **kwargs)
    except _CaseTimeout:
        outcome.timed_out = True
    except _ForbiddenCall:
        pass
    except NotImplementedError:
        outcome.not_implemented = True
    except Exception as err:  # noqa: BLE001 - the learner's error, reported in one line
        message = str(err).strip().splitlines()[0] if str(err).strip() else ""
        outcome.error = (type(err).__name__, message[:300], _learner_line(err))
    outcome.seconds = time.perf_counter() - start
    if time_limit and outcome.seconds > time_limit and not outcome.timed_out:
        outcome.timed_out = True  # where the alarm could not interrupt (a long C call, Windows): judged after the fact
    outcome.forbidden = record[0] if record else ""
    return outcome


def _forbidden_line(name: str, call: str) -> str:
    return (f"your function calls {call}, which this exercise asks you to write yourself; "
            f"compute it from simpler tensor operations instead.")


def judge_case(checker: Checker, case: Case, outcome: Outcome, time_limit: float | None = CASE_TIME_LIMIT):
    """``(passed, problem, hint, stop)`` for one case; ``stop`` ends the check (a stub, a forbidden call, a timeout)."""
    if outcome.forbidden:
        return False, _forbidden_line(checker.name, outcome.forbidden), "", True
    if outcome.timed_out:
        limit = f"{time_limit:g} s" if time_limit else "its time limit"
        return False, (f"[{case.label}] did not finish within {limit} (stopped): a loop that never ends, "
                       f"or far too slow (loop over output positions, not over every number)."), "", True
    if outcome.not_implemented:
        return False, "not implemented yet: replace the `raise NotImplementedError` line with your code.", "", True
    if outcome.error is not None:
        kind, message, where = outcome.error
        return False, f"[{case.label}] raised {kind}: {message}{where}", "", False
    if checker.check_inputs_unchanged and _changed(case.args, outcome.args_after):
        return False, f"[{case.label}] your function changed its input in place; work on a copy or build a new tensor.", "", False
    got = outcome.value
    try:
        expected = (case.reference or checker.reference)(*case.args, **case.kwargs)
        problem = (checker.compare or (lambda g, e: compare(g, e, checker.atol, checker.rtol)))(got, expected)
    except Exception as err:  # noqa: BLE001 - an answer so odd the comparison itself fails
        problem = f"your answer could not be compared ({type(err).__name__}: {str(err)[:120]}); returned {_shape_or_type(got)}"
    if problem is None:
        return True, "", "", False
    return False, f"[{case.label}] {problem}.", _diagnose(checker, got, case), False


def _note(checker: Checker, cases: Sequence[Case], values: list) -> str:
    """The checker's note on a check that passed every case ("" without one, or if it fails)."""
    if checker.note is None:
        return ""
    try:
        triples = [(case, got, (case.reference or checker.reference)(*case.args, **case.kwargs))
                   for case, got in zip(cases, values)]
        return str(checker.note(triples))
    except Exception:  # noqa: BLE001 - a note is extra; never let it spoil a verdict
        return ""


def _verdict(checker: Checker, cases: Sequence[Case], outcomes, time_limit, printed: Callable[[], str] = lambda: ""):
    passed, first_problem, hint = 0, "", ""
    values = []
    for case, outcome in zip(cases, outcomes):
        values.append(outcome.value)
        ok, problem, case_hint, stop = judge_case(checker, case, outcome, time_limit)
        if stop:
            if problem.startswith("not implemented"):
                return CheckResult(checker.name, 0, len(cases), problem, printed=printed())
            return CheckResult(checker.name, 0 if outcome.forbidden else passed, len(cases), problem, printed=printed())
        if ok:
            passed += 1
        elif not first_problem:
            first_problem, hint = problem, case_hint
    note = _note(checker, cases, values) if cases and passed == len(cases) else ""
    return CheckResult(checker.name, passed, len(cases), "" if passed == len(cases) else first_problem,
                       "" if passed == len(cases) else hint, printed(), note)


def _unknown(name, registry) -> CheckResult:
    close = [n for n in registry if isinstance(name, str) and (name in n or n in name)]
    suggestion = f" Did you mean {close[0]!r}?" if close else f" Known exercises: {', '.join(sorted(registry))}."
    return CheckResult(str(name), 0, 0, f"no exercise named {name!r}.{suggestion}")


def run_check(name: str, fn, seed: int = 0, time_limit: float | None = CASE_TIME_LIMIT) -> CheckResult:
    """Check ``fn`` against exercise ``name``'s reference; return the verdict without printing.

    Each case may run ``time_limit`` seconds; what ``fn`` prints is captured into ``result.printed``.
    """
    registry = checkers()
    if not isinstance(name, str) or name not in registry:
        return _unknown(name, registry)
    checker = registry[name]
    time_limit = limit_for(checker, time_limit)
    if not callable(fn):
        return CheckResult(
            name, 0, 0,
            f"expected your function, got {type(fn).__name__} {fn!r:.60}; pass the function itself: check({name!r}, {name}).",
        )
    cases = list(checker.cases(torch.Generator().manual_seed(seed)))
    call = forbidden_in_code(fn, checker.forbids)
    if call:
        return CheckResult(name, 0, len(cases), _forbidden_line(name, call))
    buffer = io.StringIO()

    def outcomes():
        for case in cases:
            with contextlib.redirect_stdout(buffer), contextlib.redirect_stderr(buffer):
                outcome = call_case(checker, fn, case, time_limit)
            yield outcome

    return _verdict(checker, cases, outcomes(), time_limit, buffer.getvalue)


def _diagnose(checker: Checker, got, case: Case) -> str:
    for recognises, message in checker.diagnoses:
        try:
            if recognises(got, case):
                return message
        except Exception:  # noqa: BLE001 - a diagnosis that cannot apply is simply skipped
            continue
    return ""


def printed_excerpt(text: str, lines: int = PRINTED_LINES, width: int = 160) -> str:
    """What a function printed, cut to its first ``lines`` lines of ``width`` characters, with a count of the rest."""
    if not text.strip():
        return ""
    all_lines = text.rstrip("\n").split("\n")
    shown = [line if len(line) <= width else line[:width] + " …" for line in all_lines[:lines]]
    more = len(all_lines) - len(shown)
    head = f"  your function printed {len(all_lines)} line{'s' if len(all_lines) != 1 else ''}"
    head += f" (the first {len(shown)} shown):" if more else ":"
    return "\n".join([head] + [f"  | {line}" for line in shown] + ([f"  | … {more} more lines"] if more else []))


def check(name: str, fn, seed: int = 0, time_limit: float | None = CASE_TIME_LIMIT) -> CheckResult:
    """Check your function for exercise ``name``; print a one-line verdict (then what it printed) and return it."""
    result = run_check(name, fn, seed, time_limit)
    print(result)
    excerpt = printed_excerpt(result.printed)
    if excerpt:
        print(excerpt)
    if not result.ok and os.environ.get("NBGRADER_EXECUTION"):
        raise AssertionError(str(result))  # under nbgrader a failed test is an error in the grade cell
    return result


# ----------------------------------------------------------------------------- gradients: relative error, autograd, finite differences

_AUTOGRAD_GRAD = torch.autograd.grad  # kept here, so a checker's own autograd still works while an exercise forbids it

REL_ERROR_FLOOR = 1e-8
"""The floor of the denominator in :func:`rel_error` (cs231n's 1e-8)."""


def _tensor_pairs(got, expected, where: str = "", names: Sequence[str] = ()):
    """(where, got, expected) for every tensor of ``expected``, walking tuples, lists and dicts alike."""
    if isinstance(expected, torch.Tensor):
        yield where, got, expected
    elif isinstance(expected, (tuple, list)) and isinstance(got, (tuple, list)):
        for i, (g, e) in enumerate(zip(got, expected)):
            name = names[i] if not where and i < len(names) else (f"{where}[{i}]" if where else f"item {i}")
            yield from _tensor_pairs(g, e, name)
    elif isinstance(expected, dict) and isinstance(got, dict):
        for key in expected:
            if key in got:
                yield from _tensor_pairs(got[key], expected[key], f"{where}[{key!r}]" if where else str(key))


def _rel(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    a, b = a.detach().double(), b.detach().double()
    rel = (a - b).abs() / (a.abs() + b.abs()).clamp(min=REL_ERROR_FLOOR)
    both_inf_equal = torch.isinf(a) & (a == b)
    rel = torch.where(both_inf_equal, torch.zeros_like(rel), rel)
    return torch.where(torch.isnan(rel), torch.full_like(rel, math.inf), rel)


def rel_error(got, expected) -> float:
    """cs231n's relative error: the largest ``|a - b| / max(1e-8, |a| + |b|)`` over all elements.

    ``got`` and ``expected`` may be tensors or (nested) tuples, lists and dicts of them; the largest
    error over all their tensors is returned (NaN counts as inf; no tensors: 0.0).
    """
    worst = 0.0
    for _, g, e in _tensor_pairs(got, expected):
        if isinstance(g, torch.Tensor) and g.shape == e.shape and e.numel():
            worst = max(worst, _rel(g, e).max().item())
        elif not isinstance(g, torch.Tensor) or g.shape != e.shape:
            return math.inf
    return worst


def compare_rel_error(max_error: float = 1e-6, names: Sequence[str] = (), same_dtype: bool = True):
    """A ``Checker.compare``: same structure (and dtype) as expected, and :func:`rel_error` <= ``max_error``.

    ``names`` label the items of a returned tuple in the report (``("dx", "dw", "db")``).
    """
    def compare_(got, expected) -> str | None:
        problem = compare(got, expected, atol=math.inf, rtol=0.0)  # types and shapes only (and NaN)
        if problem and not problem.startswith("values differ"):
            for i, name in enumerate(names):
                problem = problem.replace(f"at item {i}", f"in {name}").replace(f"item {i}", name)
            return problem
        for where, g, e in _tensor_pairs(got, expected, names=names):
            at = f" in {where}" if where else ""
            if same_dtype and e.is_floating_point() and g.dtype != e.dtype:
                return (f"dtype {str(g.dtype).replace('torch.', '')}{at}, expected {str(e.dtype).replace('torch.', '')} "
                        f"(the inputs' dtype: make new tensors with x.new_zeros(...) or torch.zeros_like(x))")
            if not e.numel():
                continue
            rel = _rel(g, e)
            if rel.max().item() > max_error:
                idx = tuple(int(i) for i in torch.unravel_index(rel.argmax(), rel.shape)) if rel.ndim else ()
                return (f"max rel. error {rel.max().item():.2g}{at} at index {idx} "
                        f"(got {g.detach()[idx].item():.5g}, expected {e.detach()[idx].item():.5g})")
        return None
    return compare_


def _short_float(value: float) -> str:
    return "0" if value == 0 else ("inf" if math.isinf(value) else f"{value:.0e}")


def rel_error_note(reference_name: str = "autograd", own_reference_name: str = "finite differences"):
    """A ``Checker.note``: "max rel. error 3e-15 vs autograd, 2e-10 vs finite differences".

    Cases without their own reference are measured against the checker's (``reference_name``), cases
    with one (``Case.reference``) against theirs (``own_reference_name``).
    """
    def note(triples) -> str:
        shared = [rel_error(got, expected) for case, got, expected in triples if case.reference is None]
        own = [rel_error(got, expected) for case, got, expected in triples if case.reference is not None]
        parts = []
        if shared:
            parts.append(f"{_short_float(max(shared))} vs {reference_name}" if own else _short_float(max(shared)))
        if own:
            parts.append(f"{_short_float(max(own))} vs {own_reference_name}")
        return "max rel. error " + ", ".join(parts) if parts else ""
    return note


def autograd_gradients(f: Callable[..., torch.Tensor], tensors: Sequence[torch.Tensor], grad_output: torch.Tensor):
    """torch.autograd's gradients of ``sum(f(*tensors) * grad_output)`` with respect to each of ``tensors``.

    The tensors are copied (never changed); a tensor the output does not depend on gets zeros.
    """
    leaves = [t.detach().clone().requires_grad_(True) for t in tensors]
    with torch.enable_grad():
        out = f(*leaves)
        grads = _AUTOGRAD_GRAD(out, leaves, grad_output, allow_unused=True)
    return tuple(torch.zeros_like(t) if g is None else g.detach() for t, g in zip(leaves, grads))


def numerical_gradients(f: Callable[..., torch.Tensor], tensors: Sequence[torch.Tensor], grad_output: torch.Tensor,
                        h: float = 1e-6):
    """Centred finite differences of ``sum(f(*tensors) * grad_output)``: ``(L(t + h) - L(t - h)) / 2h``, element by element.

    Meant for float64 and tiny inputs (two calls of ``f`` per element); the tensors are copied.
    """
    values = [t.detach().clone() for t in tensors]
    grads = []
    with torch.no_grad():
        for t in values:
            grad = torch.zeros_like(t)
            flat, grad_flat = t.view(-1), grad.view(-1)
            for i in range(flat.numel()):
                old = flat[i].item()
                flat[i] = old + h
                plus = (f(*values) * grad_output).sum().item()
                flat[i] = old - h
                minus = (f(*values) * grad_output).sum().item()
                flat[i] = old
                grad_flat[i] = (plus - minus) / (2 * h)
            grads.append(grad)
    return tuple(grads)
