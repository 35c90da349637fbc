"""The course's optimisers, written out: SGD (momentum, Nesterov), Adagrad, RMSprop, Adam, AdamW.

Each rule is a *pure* update function (tensors in, new tensors out; nothing is changed in
place) with its formula in the docstring, plus a thin :class:`torch.optim.Optimizer`
wrapper that keeps the state under PyTorch's own names (``momentum_buffer``, ``sum``,
``square_avg``, ``exp_avg``, ``exp_avg_sq``, ``step``). They follow ``torch.optim``'s exact
conventions, so tests/test_optim.py matches every one of them to ``torch.optim`` step for step:

* SGD keeps b = μ·b + (1 − dampening)·g and steps p ← p − lr·b (the buffer is *not* scaled by
  the learning rate; the first step sets b = g); Nesterov steps along g + μ·b.
* Adagrad divides by √(Σg²) + eps (eps outside the root, default 1e-10; the sum starts at
  ``initial_accumulator_value``).
* RMSprop divides by √(E[g²]) + eps with E[g²] ← α·E[g²] + (1 − α)·g².
* Adam bias-corrects both moments; Adam's ``weight_decay`` is an L2 term added to the
  gradient, AdamW's shrinks the weights directly: p ← p − lr·λ·p.

The arithmetic is written in the order PyTorch's kernels evaluate it, so on CPU the results
agree to the last bit or nearly. ``lr`` may also be a tensor that broadcasts against the
parameter (e.g. one learning rate per row), which lets chapter 08 run many learning rates
in one go.

Taught in notebooks/08_optimizers.ipynb.
"""
from __future__ import annotations

from typing import Iterable

import torch
from torch import Tensor

__all__ = [
    "sgd_update",
    "adagrad_update",
    "rmsprop_update",
    "adam_update",
    "SGD",
    "Adagrad",
    "RMSprop",
    "Adam",
    "AdamW",
    "OPTIMIZERS",
    "make_optimizer",
]


# ----------------------------------------------------------------------------- pure update rules

def sgd_update(param: Tensor, grad: Tensor, buf: Tensor | None, *, lr: float, momentum: float = 0.0,
               dampening: float = 0.0, nesterov: bool = False, weight_decay: float = 0.0) -> tuple[Tensor, Tensor | None]:
    """One SGD step; returns (new param, new momentum buffer or None).

        g ← g + λ·p                          (weight_decay λ: an L2 term)
        b ← g                 on the first step (buf is None)
        b ← μ·b + (1 − d)·g   afterwards      (momentum μ, dampening d)
        p ← p − lr·b          or, with Nesterov, p ← p − lr·(g + μ·b)

    Without momentum: p ← p − lr·g. ``param``, ``grad``, ``buf``: tensors of one shape.
    """
    if weight_decay != 0:
        grad = grad + weight_decay * param
    new_buf = None
    if momentum != 0:
        new_buf = grad.clone() if buf is None else momentum * buf + (1 - dampening) * grad
        grad = grad + momentum * new_buf if nesterov else new_buf
    return param - lr * grad, new_buf


def adagrad_update(param: Tensor, grad: Tensor, sum_sq: Tensor, step: int, *, lr: float, lr_decay: float = 0.0,
                   weight_decay: float = 0.0, eps: float = 1e-10) -> tuple[Tensor, Tensor]:
    """One Adagrad step (Duchi et al. 2011); ``step`` counts from 1. Returns (new param, new Σg²).

        g ← g + λ·p
        s ← s + g²                           (s starts at initial_accumulator_value, default 0)
        p ← p − lr_t · g / (√s + eps)        lr_t = lr / (1 + (step − 1)·lr_decay)

    Each element's step shrinks as its own squared gradients pile up.
    """
    if weight_decay != 0:
        grad = grad + weight_decay * param
    clr = lr / (1 + (step - 1) * lr_decay)
    new_sum = sum_sq + grad * grad
    std = new_sum.sqrt() + eps                           # eps outside the root
    return param - clr * grad / std, new_sum


def rmsprop_update(param: Tensor, grad: Tensor, square_avg: Tensor, *, lr: float, alpha: float = 0.99,
                   eps: float = 1e-8, weight_decay: float = 0.0, momentum: float = 0.0, buf: Tensor | None = None,
                   centered: bool = False, grad_avg: Tensor | None = None) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """One RMSprop step (Hinton's lecture 6e, 2012). Returns (param, square_avg, buf, grad_avg).

        g ← g + λ·p
        E[g²] ← α·E[g²] + (1 − α)·g²          (square_avg starts at 0)
        d ← √(E[g²] − E[g]²) + eps if centered, else √E[g²] + eps   (eps outside the root)
        p ← p − lr·g/d                        or, with momentum μ: b ← μ·b + g/d; p ← p − lr·b

    ``buf`` and ``grad_avg`` start as zeros when momentum / centered are used.
    """
    if weight_decay != 0:
        grad = grad + weight_decay * param
    new_sq = alpha * square_avg + (1 - alpha) * grad * grad
    new_grad_avg = None
    if centered:
        new_grad_avg = torch.lerp(grad_avg, grad, 1 - alpha)          # α·E[g] + (1 − α)·g
        denom = (new_sq - new_grad_avg * new_grad_avg).sqrt() + eps
    else:
        denom = new_sq.sqrt() + eps
    new_buf = None
    if momentum > 0:
        new_buf = momentum * buf + grad / denom
        return param - lr * new_buf, new_sq, new_buf, new_grad_avg
    return param - lr * grad / denom, new_sq, new_buf, new_grad_avg


def adam_update(param: Tensor, grad: Tensor, exp_avg: Tensor, exp_avg_sq: Tensor, step: int, *, lr: float = 1e-3,
                betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8, weight_decay: float = 0.0,
                decoupled: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """One Adam step (Kingma & Ba 2015); ``step`` = t counts from 1. Returns (param, m, v).

        Adam:  g ← g + λ·p          AdamW (decoupled=True): p ← p − lr·λ·p   (Loshchilov & Hutter 2019)
        m ← β1·m + (1 − β1)·g       first moment: momentum's running mean of gradients
        v ← β2·v + (1 − β2)·g²      second moment: RMSprop's running mean of squared gradients
        m̂ = m / (1 − β1^t),  v̂ = v / (1 − β2^t)      bias correction (m and v start at 0)
        p ← p − lr·m̂ / (√v̂ + eps)

    PyTorch computes the same thing as p − (lr / (1 − β1^t))·m / (√v / √(1 − β2^t) + eps).
    """
    beta1, beta2 = betas
    if weight_decay != 0:
        if decoupled:
            param = param * (1 - lr * weight_decay)
        else:
            grad = grad + weight_decay * param
    m = torch.lerp(exp_avg, grad, 1 - beta1)                             # β1·m + (1 − β1)·g
    v = beta2 * exp_avg_sq + (1 - beta2) * grad * grad
    bias_correction1 = 1 - beta1 ** step
    bias_correction2 = 1 - beta2 ** step
    denom = v.sqrt() / bias_correction2 ** 0.5 + eps                     # √v̂ + eps
    return param - lr / bias_correction1 * m / denom, m, v


# ----------------------------------------------------------------------------- Optimizer wrappers

class _CourseOptimizer(torch.optim.Optimizer):
    """Loops over the parameters that have a gradient and hands each to ``_update``."""

    @torch.no_grad()
    def step(self, closure=None):
        loss = None
        if closure is not None:
            with torch.enable_grad():
                loss = closure()
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                new_p = self._update(p, p.grad, self.state[p], group)
                p.copy_(new_p)
        return loss

    def _update(self, p: Tensor, grad: Tensor, state: dict, group: dict) -> Tensor:
        raise NotImplementedError


class SGD(_CourseOptimizer):
    """SGD with optional momentum, dampening, Nesterov and L2 weight decay (see :func:`sgd_update`)."""

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0.0, dampening: float = 0.0,
                 weight_decay: float = 0.0, nesterov: bool = False):
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum needs momentum > 0 and dampening = 0 (as in torch.optim.SGD)")
        super().__init__(params, dict(lr=lr, momentum=momentum, dampening=dampening,
                                      weight_decay=weight_decay, nesterov=nesterov))

    def _update(self, p, grad, state, group):
        new_p, buf = sgd_update(p, grad, state.get("momentum_buffer"), lr=group["lr"], momentum=group["momentum"],
                                dampening=group["dampening"], nesterov=group["nesterov"],
                                weight_decay=group["weight_decay"])
        if buf is not None:
            state["momentum_buffer"] = buf
        return new_p


class Adagrad(_CourseOptimizer):
    """Adagrad (see :func:`adagrad_update`)."""

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10):
        super().__init__(params, dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                                      initial_accumulator_value=initial_accumulator_value, eps=eps))

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = 0
            state["sum"] = torch.full_like(p, group["initial_accumulator_value"])
        state["step"] += 1
        new_p, state["sum"] = adagrad_update(p, grad, state["sum"], state["step"], lr=group["lr"],
                                             lr_decay=group["lr_decay"], weight_decay=group["weight_decay"],
                                             eps=group["eps"])
        return new_p


class RMSprop(_CourseOptimizer):
    """RMSprop, optionally centred and with momentum (see :func:`rmsprop_update`)."""

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False):
        super().__init__(params, dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay,
                                      momentum=momentum, centered=centered))

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = 0
            state["square_avg"] = torch.zeros_like(p)
            if group["momentum"] > 0:
                state["momentum_buffer"] = torch.zeros_like(p)
            if group["centered"]:
                state["grad_avg"] = torch.zeros_like(p)
        state["step"] += 1
        new_p, state["square_avg"], buf, grad_avg = rmsprop_update(
            p, grad, state["square_avg"], lr=group["lr"], alpha=group["alpha"], eps=group["eps"],
            weight_decay=group["weight_decay"], momentum=group["momentum"], buf=state.get("momentum_buffer"),
            centered=group["centered"], grad_avg=state.get("grad_avg"))
        if buf is not None:
            state["momentum_buffer"] = buf
        if grad_avg is not None:
            state["grad_avg"] = grad_avg
        return new_p


class Adam(_CourseOptimizer):
    """Adam; ``weight_decay`` is an L2 term added to the gradient (see :func:`adam_update`)."""

    decoupled = False

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0.0):
        super().__init__(params, dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay))

    def _update(self, p, grad, state, group):
        if not state:
            state["step"] = 0
            state["exp_avg"] = torch.zeros_like(p)
            state["exp_avg_sq"] = torch.zeros_like(p)
        state["step"] += 1
        new_p, state["exp_avg"], state["exp_avg_sq"] = adam_update(
            p, grad, state["exp_avg"], state["exp_avg_sq"], state["step"], lr=group["lr"], betas=group["betas"],
            eps=group["eps"], weight_decay=group["weight_decay"], decoupled=self.decoupled)
        return new_p


class AdamW(Adam):
    """AdamW: Adam with decoupled weight decay p ← p − lr·λ·p (default λ = 0.01, as in torch.optim.AdamW)."""

    decoupled = True

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 1e-2):
        super().__init__(params, lr=lr, betas=betas, eps=eps, weight_decay=weight_decay)


# ----------------------------------------------------------------------------- by name

OPTIMIZERS = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw")


def make_optimizer(name: str, params: Iterable, lr: float, *, momentum: float = 0.9,
                   betas: tuple[float, float] = (0.9, 0.999), alpha: float = 0.99,
                   weight_decay: float | None = None, impl: str = "ours") -> torch.optim.Optimizer:
    """An optimiser by name (one of :data:`OPTIMIZERS`), ours (``impl="ours"``) or ``torch.optim``'s.

    ``momentum`` is used by "momentum" and "nesterov", ``betas`` by "adam" and "adamw",
    ``alpha`` (the squared-gradient average's decay) by "rmsprop". ``weight_decay=None``
    keeps each optimiser's default (0, and 0.01 for AdamW).
    """
    if impl not in ("ours", "torch"):
        raise ValueError(f"impl must be 'ours' or 'torch'; got {impl!r}")
    mod = torch.optim if impl == "torch" else _OURS
    wd = {} if weight_decay is None else {"weight_decay": weight_decay}
    if name == "sgd":
        return mod.SGD(params, lr=lr, **wd)
    if name == "momentum":
        return mod.SGD(params, lr=lr, momentum=momentum, **wd)
    if name == "nesterov":
        return mod.SGD(params, lr=lr, momentum=momentum, nesterov=True, **wd)
    if name == "adagrad":
        return mod.Adagrad(params, lr=lr, **wd)
    if name == "rmsprop":
        return mod.RMSprop(params, lr=lr, alpha=alpha, **wd)
    if name == "adam":
        return mod.Adam(params, lr=lr, betas=betas, **wd)
    if name == "adamw":
        return mod.AdamW(params, lr=lr, betas=betas, **wd)
    raise ValueError(f"unknown optimiser {name!r}; choose one of {', '.join(OPTIMIZERS)}")


class _Ours:
    SGD, Adagrad, RMSprop, Adam, AdamW = SGD, Adagrad, RMSprop, Adam, AdamW


_OURS = _Ours
