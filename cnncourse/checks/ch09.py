"""Checks for exercises/09_learning_rate.ipynb: the lr of one step of warm-up + cosine, and of step decay.

The references are PyTorch's schedulers themselves, stepped on a dummy optimiser in the right
order (``optimizer.step()`` then ``scheduler.step()``): ``SequentialLR(LinearLR(start_factor =
1/(W + 1), total_iters = W), CosineAnnealingLR(T_max = total − W, eta_min = min_lr),
milestones = [W])`` and ``StepLR(step_size, gamma)``. The cases include no warm-up, the first
step, the last warm-up step, the switch to cosine and the last step.

Taught in notebooks/09_learning_rate.ipynb.
"""
from __future__ import annotations

import math
from functools import lru_cache

from torch.optim import lr_scheduler

from ..lessons.learning_rate import make_scheduler, record_lrs
from .core import FLOAT64, Case, Checker, Mistake, register

__all__ = ["warmup_cosine_lr", "step_decay_lr"]


# ----------------------------------------------------------------------------- warm-up + cosine

@lru_cache(maxsize=32)
def _warmup_cosine_curve(total_steps: int, warmup_steps: int, base_lr: float, min_lr: float) -> tuple[float, ...]:
    lrs = record_lrs(lambda opt: make_scheduler("warmup_cosine", opt, total_steps, warmup_steps=warmup_steps, min_lr=min_lr),
                     total_steps, base_lr)
    return tuple(lrs.tolist())


def _torch_warmup_cosine(step, total_steps, warmup_steps, base_lr, min_lr):
    """The lr of step ``step`` under PyTorch's SequentialLR(LinearLR, CosineAnnealingLR)."""
    return _warmup_cosine_curve(total_steps, warmup_steps, base_lr, min_lr)[step]


_SETTINGS = [
    # (total_steps, warmup_steps, base_lr, min_lr, steps to check)
    (20, 5, 0.1, 0.001, (0, 1, 4, 5, 6, 12, 19)),
    (10, 0, 1.0, 0.0, (0, 1, 5, 9)),
    (100, 10, 3e-4, 1e-5, (0, 9, 10, 50, 99)),
    (8, 7, 0.5, 0.05, (0, 6, 7)),
    (1, 0, 0.2, 0.0, (0,)),
]


def _warmup_cosine_cases(_g):
    cases = []
    for total, warmup, base, low, steps in _SETTINGS:
        for t in steps:
            where = ("first step" if t == 0 else "last step" if t == total - 1 else
                     "last warm-up step" if t == warmup - 1 else "first cosine step" if t == warmup else f"step {t}")
            cases.append(Case(f"{where}: step={t}, total_steps={total}, warmup_steps={warmup}, base_lr={base:g}, min_lr={low:g}",
                              (t, total, warmup, base, low)))
    return cases


def _wc_variant(kind: str, t, total, warmup, base, low):
    if t < warmup:
        if kind == "warmup_t_over_w":
            return base * t / warmup
        if kind == "warmup_t1_over_w":
            return base * (t + 1) / warmup
        return base * (t + 1) / (warmup + 1)
    progress = {
        "cosine_total": (t - warmup) / total,
        "cosine_not_shifted": t / (total - warmup),
        "cosine_t_over_total": t / total,
        "cosine_minus_one": (t - warmup) / (total - warmup - 1) if total - warmup > 1 else 0.0,
    }.get(kind, (t - warmup) / (total - warmup))
    half = (1 + math.cos(math.pi * progress)) / 2
    if kind == "no_min_lr":
        return base * half
    if kind == "min_added":
        return low + base * half
    return low + (base - low) * half


def _wc_mistake(name, kind):
    """The mistake ``kind`` of :func:`_wc_variant`: the lr it gives for the case's step."""
    return Mistake(name, lambda *args: _wc_variant(kind, *args))


warmup_cosine_lr = register(Checker(
    name="warmup_cosine_lr",
    reference=_torch_warmup_cosine,
    cases=_warmup_cosine_cases,
    diagnoses=[
        _wc_mistake("warmup_from_zero", "warmup_t_over_w"),  # base_lr·t/W: starts at lr 0
        _wc_mistake("warmup_early_peak", "warmup_t1_over_w"),  # base_lr·(t + 1)/W: peaks one step early
        _wc_mistake("no_min_lr", "no_min_lr"),
        _wc_mistake("min_added", "min_added"),
        _wc_mistake("cosine_over_total", "cosine_total"),
        _wc_mistake("cosine_not_shifted", "cosine_not_shifted"),
        _wc_mistake("cosine_ignores_warmup", "cosine_t_over_total"),
        _wc_mistake("cosine_one_step_short", "cosine_minus_one"),
    ],
    tol=FLOAT64,
    check_inputs_unchanged=False,
))


# ----------------------------------------------------------------------------- step decay

@lru_cache(maxsize=32)
def _step_curve(epochs: int, base_lr: float, step_size: int, gamma: float) -> tuple[float, ...]:
    lrs = record_lrs(lambda opt: lr_scheduler.StepLR(opt, step_size=step_size, gamma=gamma), epochs, base_lr)
    return tuple(lrs.tolist())


def _torch_step_decay(epoch, base_lr, step_size, gamma):
    """The lr of epoch ``epoch`` (from 0) under PyTorch's StepLR, stepped once per epoch."""
    return _step_curve(epoch + 1, base_lr, step_size, gamma)[epoch]


def _step_cases(_g):
    cases = []
    for base, size, gamma, epochs in [(0.1, 3, 0.5, (4, 0, 1, 2, 3, 7, 9)), (1.0, 1, 0.9, (0, 1, 5)),
                                      (0.05, 10, 0.1, (9, 10, 25)), (0.3, 4, 1.0, (6,))]:
        for e in epochs:
            cases.append(Case(f"epoch={e}, base_lr={base:g}, step_size={size}, gamma={gamma:g}", (e, base, size, gamma)))
    return cases


def _step_variant(kind, epoch, base, size, gamma):
    exponent = {
        "no_floor": epoch / size,
        "off_by_one": (epoch + 1) // size,
        "every_epoch": epoch,
        "ceil": math.ceil(epoch / size),
    }.get(kind, epoch // size)
    if kind == "times":
        return base * gamma * (epoch // size)
    return base * gamma ** exponent


def _step_mistake(name, kind):
    """The mistake ``kind`` of :func:`_step_variant`: the lr it gives for the case's epoch."""
    return Mistake(name, lambda *args: _step_variant(kind, *args))


step_decay_lr = register(Checker(
    name="step_decay_lr",
    reference=_torch_step_decay,
    cases=_step_cases,
    diagnoses=[
        _step_mistake("no_floor", "no_floor"),  # epoch / step_size, not floored
        _step_mistake("off_by_one", "off_by_one"),
        _step_mistake("ceil", "ceil"),
        _step_mistake("every_epoch", "every_epoch"),
        _step_mistake("times", "times"),  # gamma * drops instead of gamma ** drops
    ],
    tol=FLOAT64,
    check_inputs_unchanged=False,
))
