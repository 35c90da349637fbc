"""Checks for exercises/03_activations.ipynb: Swish and its derivative, Leaky ReLU.

Each learner function is compared with PyTorch (``F.silu``, autograd, ``F.leaky_relu``)
on random tensors and on very large |x|, where a formula written with ``exp(-x)`` overflows
to ``inf`` and ``inf / inf`` turns into ``nan``.

Taught in notebooks/03_activations.ipynb.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .core import Case, Checker, Mistake, Symptom, one_of, register

__all__ = ["swish", "swish_grad", "leaky_relu"]


# ----------------------------------------------------------------------------- references


def _swish_reference(x: torch.Tensor, beta=1.0) -> torch.Tensor:
    """x * sigmoid(beta x) by PyTorch: F.silu when beta = 1, else F.silu(beta x) / beta (beta != 0)."""
    b = float(beta)
    if b == 1.0:
        return F.silu(x)
    if b == 0.0:
        return x / 2
    return F.silu(b * x) / b


def _swish_grad_reference(x: torch.Tensor, beta=1.0) -> torch.Tensor:
    """d/dx of x * sigmoid(beta x), by autograd through PyTorch's sigmoid (in float64)."""
    xr = x.detach().double().requires_grad_(True)
    y = xr * torch.sigmoid(float(beta) * xr)
    (grad,) = torch.autograd.grad(y.sum(), xr)
    return grad.to(x.dtype)


# ----------------------------------------------------------------------------- cases


def _swish_cases(g: torch.Generator):
    big = torch.tensor([-1000.0, -200.0, -90.0, -30.0, -1.0, 0.0, 1.0, 30.0, 90.0, 200.0, 1000.0])
    return [
        Case("beta=1 (SiLU), random (4, 5)", (torch.randn(4, 5, generator=g),), {"beta": 1.0}),
        Case("beta=2, random (2, 3, 4, 4) feature map", (torch.randn(2, 3, 4, 4, generator=g) * 3,), {"beta": 2.0}),
        Case("beta=0.5, random (16,)", (torch.randn(16, generator=g) * 4,), {"beta": 0.5}),
        Case("beta=1.7 given as a 0-d tensor (a learnable beta)", (torch.randn(8, generator=g),),
             {"beta": torch.tensor(1.7)}),
        Case("beta=0 (the line x/2)", (torch.randn(6, generator=g),), {"beta": 0.0}),
        Case("very large |x| (float32 exp overflows above 88)", (big,), {"beta": 1.0}),
        Case("very large |x| with beta=3", (big,), {"beta": 3.0}),
        Case("float64 input keeps float64", (torch.randn(5, dtype=torch.float64, generator=g) * 5,), {"beta": 1.5}),
    ]


def _leaky_cases(g: torch.Generator):
    big = torch.tensor([-1e6, -100.0, -1.0, 0.0, 1.0, 100.0, 1e6])
    return [
        Case("slope 0.01, random (4, 5)", (torch.randn(4, 5, generator=g),), {"negative_slope": 0.01}),
        Case("slope 0.2, random (2, 3, 4, 4) feature map", (torch.randn(2, 3, 4, 4, generator=g),),
             {"negative_slope": 0.2}),
        Case("slope 0.1, large |x|", (big,), {"negative_slope": 0.1}),
        Case("slope 0 (= ReLU)", (torch.randn(10, generator=g),), {"negative_slope": 0.0}),
        Case("slope 1.5 (> 1 is allowed)", (torch.randn(10, generator=g),), {"negative_slope": 1.5}),
        Case("float64 input", (torch.randn(7, dtype=torch.float64, generator=g),), {"negative_slope": 0.3}),
    ]


# ----------------------------------------------------------------------------- diagnoses


# Each mistaken answer is computed in float64 from the case's x and beta (or negative_slope).


def _has_nan(got, case: Case) -> bool:
    return isinstance(got, torch.Tensor) and bool(torch.isnan(got).any()) and bool((case.args[0].abs() > 80).any())


def _swish_wrong_beta(x, beta=1.0):  # sigmoid(x) instead of sigmoid(beta x)
    x = x.double()
    return x * torch.sigmoid(x)


def _swish_beta_outside(x, beta=1.0):
    x, b = x.double(), float(beta)
    return one_of(b * x * torch.sigmoid(b * x), b * x * torch.sigmoid(x))


def _gate_alone(x, beta=1.0):  # swish without its factor x; as a derivative: only the first product-rule term
    return torch.sigmoid(float(beta) * x.double())


def _grad_missing_chain_beta(x, beta=1.0):  # s + x s (1 - s), beta forgotten in the second term
    x, b = x.double(), float(beta)
    s = torch.sigmoid(b * x)
    return s + x * s * (1 - s)


def _grad_only_second_term(x, beta=1.0):
    x, b = x.double(), float(beta)
    s = torch.sigmoid(b * x)
    return one_of(b * x * s * (1 - s), s * (1 - s), b * s * (1 - s))


def _grad_wrong_beta(x, beta=1.0):  # sigmoid(x) used instead of sigmoid(beta x)
    x, b = x.double(), float(beta)
    s = torch.sigmoid(x)
    return one_of(s + x * s * (1 - s), s + b * x * s * (1 - s))


def _grad_returned_value(x, beta=1.0):
    x = x.double()
    return x * torch.sigmoid(float(beta) * x)


def _leaky_positive_side(x, negative_slope=0.01):
    x = x.double()
    return torch.where(x > 0, negative_slope * x, x)


def _leaky_is_relu(x, negative_slope=0.01):
    return x.double().clamp(min=0)


def _leaky_default_slope(x, negative_slope=0.01):
    x = x.double()
    return torch.where(x > 0, x, 0.01 * x)


def _leaky_max_trick(x, negative_slope=0.01):
    x = x.double()
    return torch.maximum(x, negative_slope * x)


def _leaky_abs_negative(x, negative_slope=0.01):
    x = x.double()
    return torch.where(x > 0, x, negative_slope * x.abs())


# ----------------------------------------------------------------------------- checkers


swish = register(Checker(
    name="swish",
    reference=_swish_reference,
    cases=_swish_cases,
    forbids=("torch.nn.functional.silu", "torch.nn.SiLU"),
    diagnoses=[
        Symptom("overflow_nan", _has_nan),  # exp overflowed: inf/inf or 0*inf is nan
        Mistake("beta_ignored", _swish_wrong_beta),
        Mistake("beta_outside", _swish_beta_outside),
        Mistake("gate_alone", _gate_alone),
    ],
))

swish_grad = register(Checker(
    name="swish_grad",
    reference=_swish_grad_reference,
    cases=_swish_cases,
    diagnoses=[
        Symptom("overflow_nan", _has_nan),  # exp overflowed: inf/inf or 0*inf is nan
        Mistake("returned_value", _grad_returned_value),
        Mistake("no_product_term", _gate_alone),  # only the first term of the product rule
        Mistake("chain_beta_missing", _grad_missing_chain_beta),
        Mistake("beta_ignored", _grad_wrong_beta),
        Mistake("only_second_term", _grad_only_second_term),
    ],
))

leaky_relu = register(Checker(
    name="leaky_relu",
    reference=lambda x, negative_slope=0.01: F.leaky_relu(x, negative_slope),
    cases=_leaky_cases,
    forbids=("torch.nn.functional.leaky_relu", "torch.nn.LeakyReLU"),
    diagnoses=[
        Mistake("max_trick", _leaky_max_trick),  # max(x, slope * x): right only for slope <= 1
        Mistake("slope_on_positive_side", _leaky_positive_side),
        Mistake("relu", _leaky_is_relu),
        Mistake("default_slope", _leaky_default_slope),
        Mistake("abs_negative", _leaky_abs_negative),
    ],
))
