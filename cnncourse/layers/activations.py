"""Activation functions from scratch, their derivatives, and a registry to build CNNs with each.

Every ``f(x)`` works elementwise on a tensor of any shape and keeps its dtype and device;
``f_grad(x)`` is df/dx at each element, the number backpropagation multiplies the
incoming gradient by. Softmax is not elementwise: :func:`softmax_jacobian` gives its
full derivative.

Numerical care (the reason some formulas look longer than the textbook's): ``exp`` of a
large number is ``inf``, and ``torch.where`` back-propagates through BOTH branches, so an
``inf`` in the branch it did not pick still turns the gradient into ``nan``
(``0 * inf = nan``). Each branch therefore only ever sees the inputs it is safe for:
:func:`_split` hands it ``x`` where it is picked and 0 elsewhere (the "double where"
trick; ``x.clamp(min=0)`` would do for the value but gives a 0 gradient at exactly 0).

Taught in notebooks/03_activations.ipynb.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Callable

import torch
from torch import nn

__all__ = [
    "relu",
    "relu_grad",
    "leaky_relu_grad",
    "sigmoid",
    "sigmoid_grad",
    "tanh",
    "tanh_grad",
    "Swish",
    "mish",
    "mish_grad",
    "elu",
    "elu_grad",
    "gelu",
    "gelu_grad",
    "softmax",
    "softmax_jacobian",
    "Activation",
    "ACTIVATIONS",
    "activation",
]


def _split(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """``(x where x >= 0 else 0, x where x < 0 else 0)``: safe inputs for the two branches."""
    nonnegative = x >= 0
    return torch.where(nonnegative, x, 0.0), torch.where(nonnegative, 0.0, x)


def _check_tensor(x, where: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{where}: x must be a torch.Tensor, got {type(x).__name__}; wrap it with torch.tensor(...)")
    if not x.is_floating_point():
        raise TypeError(f"{where}: x must be a floating-point tensor, got {x.dtype}; use x.float()")


# ---------------------------------------------------------------- ReLU family


def relu(x: torch.Tensor) -> torch.Tensor:
    """ReLU: ``max(x, 0)``. Any shape in, same shape out.

    Taught in notebooks/03_activations.ipynb.
    """
    _check_tensor(x, "relu")
    # The gradient at exactly 0 comes out 0 here, matching relu_grad and torch.relu.
    return torch.where(x > 0, x, 0.0)


def relu_grad(x: torch.Tensor) -> torch.Tensor:
    """d relu / dx: 1 where x > 0, else 0 (0 at x = 0, PyTorch's choice). Same shape as x.

    Taught in notebooks/03_activations.ipynb.
    """
    _check_tensor(x, "relu_grad")
    return (x > 0).to(x.dtype)


def _leaky_relu(x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    """Leaky ReLU: x where x > 0, ``negative_slope * x`` elsewhere, so negatives keep a gradient.

    Taught in notebooks/03_activations.ipynb.
    """
    _check_tensor(x, "leaky_relu")
    return torch.where(x > 0, x, negative_slope * x)


def leaky_relu_grad(x: torch.Tensor, negative_slope: float = 0.01) -> torch.Tensor:
    """d leaky_relu / dx: 1 where x > 0, ``negative_slope`` elsewhere. Same shape as x.

    Taught in notebooks/03_activations.ipynb.
    """
    _check_tensor(x, "leaky_relu_grad")
    return torch.where(x > 0, torch.ones_like(x), torch.full_like(x, negative_slope))


def elu(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """ELU (Clevert et al. 2015): x where x > 0, ``alpha * (exp(x) - 1)`` elsewhere.

    Taught in notebooks/03_activations.ipynb.
    """
    _check_tensor(x, "elu")
    # expm1 is exact near 0; the inner where keeps exp finite in the branch the outer one discards.
    negative = torch.where(x > 0, 0.0, x)
    return torch.where(x > 0, x, alpha * torch.expm1(negative))


def elu_grad(x: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """d elu / dx: 1 where x > 0, ``alpha * exp(x)`` elsewhere. Same shape as x.

    Taught in notebooks/03_activations.ipynb.
    """
    _check_tensor(x, "elu_grad")
    return torch.where(x > 0, torch.ones_like(x), alpha * torch.exp(torch.where(x > 0, 0.0, x)))


# ---------------------------------------------------------------- sigmoid family


def sigmoid(x: torch.Tensor) -> torch.Tensor:
    """Logistic sigmoid ``1 / (1 + exp(-x))``, in (0, 1).

    Computed as ``1 / (1 + exp(-x))`` for x >= 0 and ``exp(x) / (1 + exp(x))`` for x < 0,
    so ``exp`` never overflows.

    Taught in notebooks/03_activations.ipynb.
    """
    _check_tensor(x, "sigmoid")
    x_pos, x_neg = _split(x)
    e = torch.exp(x_neg)
    return torch.where(x >= 0, 1 / (1 + torch.exp(-x_pos)), e / (1 + e))


def sigmoid_grad(x: torch.Tensor) -> torch.Tensor:
    """d sigmoid / dx = ``s (1 - s)``, at most 1/4 (at x = 0): why deep sigmoid nets learn slowly.

    Taught in notebooks/03_activations.ipynb.
    """
    _check_tensor(x, "sigmoid_grad")
    s = sigmoid(x)
    return s * (1 - s)


def tanh(x: torch.Tensor) -> torch.Tensor:
    """Hyperbolic tangent ``(exp(x) - exp(-x)) / (exp(x) + exp(-x))`` = ``2 sigmoid(2x) - 1``, in (-1, 1).

    Computed from ``m = expm1(-2|x|)`` as ``-m / (2 + m)`` (odd-symmetric), exact near 0
    and overflow-free.

    Taught in notebooks/03_activations.ipynb.
    """
    _check_tensor(x, "tanh")
    x_pos, x_neg = _split(x)
    m_pos = torch.expm1(-2 * x_pos)  # exp(-2x) - 1 for x >= 0
    m_neg = torch.expm1(2 * x_neg)  # exp(2x) - 1 for x < 0
    return torch.where(x >= 0, -m_pos / (2 + m_pos), m_neg / (2 + m_neg))


def tanh_grad(x: torch.Tensor) -> torch.Tensor:
    """d tanh / dx = ``1 - tanh(x)^2``, at most 1 (at x = 0).

    Taught in notebooks/03_activations.ipynb.
    """
    _check_tensor(x, "tanh_grad")
    return 1 - tanh(x) ** 2


def _swish(x: torch.Tensor, beta: float | torch.Tensor = 1.0) -> torch.Tensor:
    """Swish (Ramachandran et al. 2017): ``x * sigmoid(beta * x)``; ``beta = 1`` is SiLU (``nn.SiLU``).

    ``beta`` may be a tensor (a learnable one: see :class:`Swish`).

    Taught in notebooks/03_activations.ipynb.
    """
    _check_tensor(x, "swish")
    return x * sigmoid(beta * x)


def _swish_grad(x: torch.Tensor, beta: float | torch.Tensor = 1.0) -> torch.Tensor:
    """d swish / dx = ``s + beta x s (1 - s)`` with ``s = sigmoid(beta x)``.

    Taught in notebooks/03_activations.ipynb.
    """
    _check_tensor(x, "swish_grad")
    s = sigmoid(beta * x)
    return s + beta * x * s * (1 - s)


class Swish(nn.Module):
    """Swish as a layer; ``learnable=True`` makes ``beta`` an ``nn.Parameter`` (one per layer).

    With ``learnable=False`` and ``beta=1`` it equals ``nn.SiLU()``. A learnable beta lets
    each layer pick between near-linear (beta -> 0: x/2) and near-ReLU (beta -> inf).

    Taught in notebooks/03_activations.ipynb.
    """

    def __init__(self, beta: float = 1.0, learnable: bool = False):
        super().__init__()
        self.learnable = learnable
        if learnable:
            self.beta = nn.Parameter(torch.tensor(float(beta)))
        else:
            self.beta = float(beta)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return _swish(x, self.beta)

    def extra_repr(self) -> str:
        beta = self.beta.item() if isinstance(self.beta, torch.Tensor) else self.beta
        return f"beta={beta:g}, learnable={self.learnable}"


def _softplus(x: torch.Tensor) -> torch.Tensor:
    """``log(1 + exp(x))`` without overflow: ``x + log1p(exp(-x))`` for x >= 0."""
    x_pos, x_neg = _split(x)
    return torch.where(x >= 0, x_pos + torch.log1p(torch.exp(-x_pos)), torch.log1p(torch.exp(x_neg)))


def mish(x: torch.Tensor) -> torch.Tensor:
    """Mish (Misra 2019): ``x * tanh(softplus(x))``, with ``softplus(x) = log(1 + exp(x))``.

    Taught in notebooks/03_activations.ipynb.
    """
    _check_tensor(x, "mish")
    return x * tanh(_softplus(x))


def mish_grad(x: torch.Tensor) -> torch.Tensor:
    """d mish / dx = ``t + x (1 - t^2) sigmoid(x)`` with ``t = tanh(softplus(x))``.

    (softplus' = sigmoid, tanh' = 1 - tanh^2.)

    Taught in notebooks/03_activations.ipynb.
    """
    _check_tensor(x, "mish_grad")
    t = tanh(_softplus(x))
    return t + x * (1 - t**2) * sigmoid(x)


# ---------------------------------------------------------------- GELU

_GELU_MODES = ("none", "tanh")
_SQRT_2_OVER_PI = math.sqrt(2 / math.pi)
_GELU_CUBIC = 0.044715  # Hendrycks & Gimpel 2016, the tanh approximation's constant


def _check_gelu_mode(approximate: str, where: str) -> None:
    if approximate not in _GELU_MODES:
        raise ValueError(f"{where}: approximate must be 'none' or 'tanh' (like nn.GELU), got {approximate!r}")


def gelu(x: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    """GELU (Hendrycks & Gimpel 2016): ``x * Phi(x)``, Phi the standard normal CDF.

    ``approximate="tanh"``: ``0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))``, as in
    ``nn.GELU(approximate="tanh")`` (and GPT-2).

    Taught in notebooks/03_activations.ipynb.
    """
    _check_tensor(x, "gelu")
    _check_gelu_mode(approximate, "gelu")
    if approximate == "tanh":
        return 0.5 * x * (1 + tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x**3)))
    return 0.5 * x * (1 + torch.erf(x / math.sqrt(2)))


def gelu_grad(x: torch.Tensor, approximate: str = "none") -> torch.Tensor:
    """d gelu / dx: ``Phi(x) + x phi(x)`` (phi the normal density), or the tanh form's derivative.

    Taught in notebooks/03_activations.ipynb.
    """
    _check_tensor(x, "gelu_grad")
    _check_gelu_mode(approximate, "gelu_grad")
    if approximate == "tanh":
        t = tanh(_SQRT_2_OVER_PI * (x + _GELU_CUBIC * x**3))
        inner_grad = _SQRT_2_OVER_PI * (1 + 3 * _GELU_CUBIC * x**2)
        return 0.5 * (1 + t) + 0.5 * x * (1 - t**2) * inner_grad
    cdf = 0.5 * (1 + torch.erf(x / math.sqrt(2)))
    pdf = torch.exp(-0.5 * x**2) / math.sqrt(2 * math.pi)
    return cdf + x * pdf


# ---------------------------------------------------------------- softmax


def softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax along ``dim``: ``exp(x_i) / sum_j exp(x_j)``; entries in (0, 1) summing to 1.

    Subtracts the max first: softmax(x - c) = softmax(x) for any c, and with c = max every
    exp is at most 1, so nothing overflows (``exp(1000)`` is ``inf`` in float64).

    Args:
        x: any shape, e.g. logits (N, num_classes).

    Taught in notebooks/03_activations.ipynb.
    """
    _check_tensor(x, "softmax")
    if x.dim() == 0 or not -x.dim() <= dim < x.dim():
        raise ValueError(f"softmax: dim={dim} is out of range for x of shape {tuple(x.shape)}")
    # detach: the shift does not change the result, so it must not take part in the gradient.
    z = x - x.amax(dim=dim, keepdim=True).detach()
    e = torch.exp(z)
    return e / e.sum(dim=dim, keepdim=True)


def softmax_jacobian(x: torch.Tensor) -> torch.Tensor:
    """Jacobian of softmax of a 1-D ``x`` (C,): ``J[i, j] = s_i (delta_ij - s_j)``, shape (C, C).

    ``J = diag(s) - s s^T``: each row sums to 0, since the outputs always sum to 1.

    Taught in notebooks/03_activations.ipynb.
    """
    _check_tensor(x, "softmax_jacobian")
    if x.dim() != 1:
        raise ValueError(f"softmax_jacobian: x must be 1-D (C,), got shape {tuple(x.shape)}; pass one row, e.g. x[0]")
    s = softmax(x)
    return torch.diag(s) - torch.outer(s, s)


# ---------------------------------------------------------------- registry


@dataclass(frozen=True)
class Activation:
    """One activation, from scratch and in PyTorch, so a notebook can loop over all of them.

    Attributes:
        name: key in :data:`ACTIVATIONS`.
        fn: our ``f(x)`` (default hyper-parameters).
        grad: our ``df/dx(x)``, elementwise.
        torch_module: a no-argument factory of the equivalent ``nn.Module`` (a fresh one per
            call, so two models never share a learnable activation).

    Taught in notebooks/03_activations.ipynb.
    """

    name: str
    fn: Callable[[torch.Tensor], torch.Tensor]
    grad: Callable[[torch.Tensor], torch.Tensor]
    torch_module: Callable[[], nn.Module]


ACTIVATIONS: dict[str, Activation] = {
    a.name: a
    for a in [
        Activation("relu", relu, relu_grad, nn.ReLU),
        Activation("leaky_relu", _leaky_relu, leaky_relu_grad, functools.partial(nn.LeakyReLU, 0.01)),
        Activation("elu", elu, elu_grad, functools.partial(nn.ELU, alpha=1.0)),
        Activation("sigmoid", sigmoid, sigmoid_grad, nn.Sigmoid),
        Activation("tanh", tanh, tanh_grad, nn.Tanh),
        Activation("swish", _swish, _swish_grad, nn.SiLU),
        # beta starts at 1, so before training it computes exactly what "swish" does.
        Activation("adaptive_swish", _swish, _swish_grad, functools.partial(Swish, beta=1.0, learnable=True)),
        Activation("mish", mish, mish_grad, nn.Mish),
        Activation("gelu", gelu, gelu_grad, nn.GELU),
        Activation(
            "gelu_tanh",
            functools.partial(gelu, approximate="tanh"),
            functools.partial(gelu_grad, approximate="tanh"),
            functools.partial(nn.GELU, approximate="tanh"),
        ),
    ]
}


def activation(name: str) -> Activation:
    """``ACTIVATIONS[name]``, with a message listing the names when it is not there.

    Taught in notebooks/03_activations.ipynb.
    """
    try:
        return ACTIVATIONS[name]
    except KeyError:
        raise ValueError(f"activation: unknown name {name!r}; choose one of {sorted(ACTIVATIONS)}") from None
