"""Checks for exercises/10_regularization.ipynb: inverted dropout, and the L2 penalty that weight decay equals.

Dropout is random, so the check makes it deterministic: the learner draws u with the generator
it is given, and the reference draws the same u from an identical generator; the rule itself is
``F.dropout``'s (kept values scaled by 1/(1 − p), eval mode = identity, p = 1 gives zeros), and
``tests/test_checks_ch10.py`` shows that ``F.dropout``'s outputs follow that rule. The L2 penalty is
checked by value and by its gradient, which must be λ·w: what ``torch.optim.SGD(weight_decay=λ)`` adds.

Taught in notebooks/10_regularization.ipynb.
"""
from __future__ import annotations

import copy

import torch
import torch.nn.functional as F

from ..i18n import message
from .core import FLOAT64, Case, Checker, Mistake, Symptom, compare, one_of, register

__all__ = ["inverted_dropout", "l2_penalty"]


# ----------------------------------------------------------------------------- inverted dropout

def _uniform(x, generator):
    """The u the learner draws: torch.rand(x.shape, generator=generator), from a copy of the generator."""
    return torch.rand(x.shape, generator=copy.deepcopy(generator))


def _reference_dropout(x, p, training, generator):
    """F.dropout's rule with the learner's draws: keep where u < 1 − p, scale by 1/(1 − p)."""
    if not training or p == 0.0:
        return F.dropout(x, p, training=False)  # the identity
    if p == 1.0:
        return F.dropout(x, 1.0, training=True)  # all zeros
    keep = _uniform(x, generator) < 1 - p
    return x * keep.to(x.dtype) / (1 - p)


def _dropout_cases(g: torch.Generator):
    def gen(seed):
        return torch.Generator().manual_seed(seed)
    return [
        Case("training, p = 0.5, x (4, 8)", (torch.randn(4, 8, generator=g), 0.5, True, gen(1))),
        Case("training, p = 0.2, feature maps (2, 3, 5, 5)", (torch.rand(2, 3, 5, 5, generator=g), 0.2, True, gen(2))),
        Case("training, p = 0.8, x (3, 16)", (torch.randn(3, 16, generator=g), 0.8, True, gen(3))),
        Case("eval mode (training=False), p = 0.5", (torch.randn(4, 8, generator=g), 0.5, False, gen(4))),
        Case("training, p = 0 (keep everything)", (torch.randn(5, 6, generator=g), 0.0, True, gen(5))),
        Case("training, p = 1 (drop everything)", (torch.randn(5, 6, generator=g), 1.0, True, gen(6))),
        Case("eval mode, p = 0.3, maps (2, 3, 4, 4)", (torch.rand(2, 3, 4, 4, generator=g), 0.3, False, gen(7))),
    ]


def _masked(rule: str, scale: str):
    """A Mistake's ``wrong``: x·mask·factor for a wrong mask rule or scale (training cases with 0 < p < 1 only)."""
    def wrong(x, p, training, generator):
        if not training or not 0 < p < 1:
            return None
        u = _uniform(x, generator)
        masks = {"right": [u < 1 - p, u >= p], "keep_p": [u < p, u >= 1 - p], "other_rule": [u >= p]}[rule]
        factors = {"none": [1.0], "right": [1 / (1 - p)], "times": [1 - p], "keep_p": [1 / p, 1 / (1 - p), 1.0]}[scale]
        return one_of(*(x * m.to(x.dtype) * f for m in masks for f in factors))
    return wrong


def _eval_scaled(x, p, training, generator):
    if training or not 0 < p < 1:
        return None
    return one_of(x / (1 - p), x * (1 - p))


def _eval_dropped(x, p, training, generator):
    """Eval mode answered as training mode: the kept values scaled, or not."""
    if training or not 0 < p < 1:
        return None
    return one_of(*_masked("right", "right")(x, p, True, generator), *_masked("right", "none")(x, p, True, generator))


def _nan_at_one(got, case):
    return case.args[1] == 1.0 and isinstance(got, torch.Tensor) and bool(torch.isnan(got).any())


inverted_dropout = register(Checker(
    name="inverted_dropout",
    reference=_reference_dropout,
    cases=_dropout_cases,
    diagnoses=[
        Symptom("nan_at_one", _nan_at_one),  # p = 1: 0 · 1/(1 − p) = NaN
        Mistake("eval_scaled", _eval_scaled),
        Mistake("eval_dropped", _eval_dropped),
        Mistake("no_scaling", _masked("right", "none")),
        Mistake("times_keep", _masked("right", "times")),  # kept values times (1 − p), not divided
        Mistake("other_rule", _masked("other_rule", "right")),  # keep where u ≥ p, not u < 1 − p
        Mistake("keep_p", _masked("keep_p", "keep_p")),  # p taken as the probability to keep
    ],
))


# ----------------------------------------------------------------------------- L2 penalty

def _leaves(t: torch.Tensor) -> list[torch.Tensor]:
    """The leaf tensors a result was computed from (walks the autograd graph)."""
    found, seen, stack = [], set(), [t.grad_fn]
    while stack:
        fn = stack.pop()
        if fn is None or fn in seen:
            continue
        seen.add(fn)
        if hasattr(fn, "variable"):
            found.append(fn.variable)
        stack.extend(next_fn for next_fn, _ in fn.next_functions)
    return found


def _reference_l2(params, weight_decay):
    """(λ/2)·Σ w² and λ (the checker also checks the gradient λ·w)."""
    value = sum((p.detach().double().pow(2).sum() for p in params), torch.zeros((), dtype=torch.float64))
    return value * (weight_decay / 2), weight_decay


def _l2_compare(got, expected):
    want, weight_decay = expected
    if isinstance(got, torch.Tensor) and got.numel() == 1 and got.ndim > 0:
        got = got.reshape(())
    if not isinstance(got, torch.Tensor):
        return message("compare.l2_penalty.not_a_tensor", kind=type(got).__name__)
    if got.ndim != 0:
        return message("compare.l2_penalty.not_one_number", shape=f"{tuple(got.shape)}")
    problem = compare(got.detach().double(), want, FLOAT64)
    if problem:
        return message("compare.l2_penalty.value", problem=problem)
    leaves = [leaf for leaf in _leaves(got) if leaf.requires_grad]
    if not got.requires_grad or not leaves:
        return message("compare.l2_penalty.no_gradient")
    grads = torch.autograd.grad(got, leaves, allow_unused=True)
    for leaf, grad in zip(leaves, grads):
        grad = torch.zeros_like(leaf) if grad is None else grad
        problem = compare(grad.double(), (weight_decay * leaf.detach()).double(), FLOAT64)
        if problem:
            return message("compare.l2_penalty.gradient", problem=problem)
    return None


def _params(g, *shapes):
    return [torch.randn(*s, generator=g, dtype=torch.float64).requires_grad_(True) for s in shapes]


def _l2_cases(g: torch.Generator):
    return [
        Case("conv weight, bias, linear weight; λ = 0.01", (_params(g, (4, 1, 3, 3), (4,), (10, 36)), 0.01)),
        Case("one weight tensor; λ = 0.5", (_params(g, (3, 5)), 0.5)),
        Case("a tuple of three tensors; λ = 1e-4", (tuple(_params(g, (8,), (2, 2), (6, 4))), 1e-4)),
        Case("λ = 0 (no penalty)", (_params(g, (3, 3), (3,)), 0.0)),
        Case("large weights (norm ≫ 1); λ = 0.1", ([(10 * p.detach()).requires_grad_(True) for p in _params(g, (5, 5))], 0.1)),
    ]


def _l2_value(kind: str):
    """A Mistake's ``wrong``: the penalty's value with mistake ``kind`` (0-d, or of shape (1,)), for λ > 0."""
    def wrong(params, weight_decay):
        wd, ws = weight_decay, [p.detach().double() for p in params]
        if wd == 0:
            return None
        values = {
            "unsquared": [wd * sum(torch.norm(w, 2) for w in ws), wd / 2 * sum(torch.norm(w, 2) for w in ws),
                          wd * torch.cat([w.flatten() for w in ws]).norm(), wd / 2 * torch.cat([w.flatten() for w in ws]).norm()],
            "no_half": [wd * sum(w.pow(2).sum() for w in ws)],
            "mean": [wd / 2 * sum(w.pow(2).mean() for w in ws), wd * sum(w.pow(2).mean() for w in ws)],
            "first_only": [wd / 2 * ws[0].pow(2).sum()] if len(ws) > 1 else [],
        }[kind]
        return one_of(*(form for v in values for form in (v.reshape(()), v.reshape(1))))
    return wrong


l2_penalty = register(Checker(
    name="l2_penalty",
    reference=_reference_l2,
    cases=_l2_cases,
    compare=_l2_compare,
    tol=FLOAT64,
    diagnoses=[
        Mistake("unsquared", _l2_value("unsquared")),  # the norm ‖w‖₂, not its square
        Mistake("no_half", _l2_value("no_half")),
        Mistake("mean", _l2_value("mean")),
        Mistake("first_only", _l2_value("first_only")),
    ],
))
