"""Chapter 03's compute functions: activation curves and their derivatives, dead units and
their revival, sparsity, gradient norms and signal spread through deep nets, and the
activation explorer.

Every function takes tensors or a model and returns numbers, tensors or a small dataclass;
it never trains, moves or changes the model it is given (forward passes run in eval mode
and the mode is restored; gradient probes run on a copy). The figures are drawn by
:mod:`cnncourse.drawing.activations`; the activations themselves live in
:mod:`cnncourse.layers.activations`.

Taught in notebooks/03_activations.ipynb.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..i18n import message
from ..layers import activations as A
from ..models import hooked_forward

__all__ = [
    "EXPLORER_CHOICES",
    "PARAMETER",
    "naive_softmax",
    "AutogradRow",
    "autograd_table",
    "format_autograd_table",
    "Curve",
    "activation_curve",
    "summarize_curve",
    "unit_activity",
    "dead_units",
    "dead_fraction",
    "dead_share",
    "revived_fraction",
    "zero_fraction",
    "deep_mlp",
    "layer_gradient_norms",
    "signal_spread",
    "swish_betas",
    "format_table",
]

# The explorer's activations, and which one knob (if any) each has.
EXPLORER_CHOICES = ("relu", "leaky_relu", "elu", "sigmoid", "tanh", "swish", "mish", "gelu", "gelu_tanh")
PARAMETER: dict[str, tuple[str, float]] = {  # name -> (knob, default)
    "leaky_relu": ("negative_slope", 0.01),
    "elu": ("alpha", 1.0),
    "swish": ("beta", 1.0),
}


def naive_softmax(x: torch.Tensor, dim: int = -1) -> torch.Tensor:
    """Softmax straight from the formula, ``exp(x) / sum(exp(x))``: overflows for logits above ~88 (float32).

    Kept to show the failure; use :func:`cnncourse.layers.softmax` (max subtracted) or ``torch.softmax``.
    """
    e = torch.exp(x)
    return e / e.sum(dim=dim, keepdim=True)


# ----------------------------------------------------------------------------- derivatives vs autograd


@dataclass(frozen=True)
class AutogradRow:
    """One activation checked on ``x``: our f vs PyTorch's module, our f' vs autograd of PyTorch's f."""

    name: str
    value_error: float  # max |f(x) - torch f(x)|
    grad_error: float  # max |f'(x) - autograd d torch f / dx|
    nan_free: bool  # our f and f' are finite everywhere on x


def autograd_table(x: torch.Tensor, names: Sequence[str] | None = None) -> list[AutogradRow]:
    """Compare every registry activation (value and derivative) with PyTorch on the points ``x`` (any shape)."""
    rows = []
    for name in names or A.ACTIVATIONS:
        act = A.activation(name)
        module = act.torch_module()
        xr = x.detach().clone().requires_grad_(True)
        reference = module(xr)
        (reference_grad,) = torch.autograd.grad(reference.sum(), xr)
        ours, ours_grad = act.fn(x), act.grad(x)
        rows.append(AutogradRow(
            name,
            (ours - reference.detach()).abs().max().item(),
            (ours_grad - reference_grad).abs().max().item(),
            bool(torch.isfinite(ours).all() and torch.isfinite(ours_grad).all()),
        ))
    return rows


def format_autograd_table(rows: Sequence[AutogradRow], tol: float = 1e-5) -> str:
    """The table as text, with pass/fail against ``tol`` (deterministic: no float noise printed)."""
    lines = [f"{'activation':<15}{'f = torch':>11}{'df/dx = autograd':>18}{'finite':>8}"]
    for r in rows:
        lines.append(f"{r.name:<15}{str(r.value_error < tol):>11}{str(r.grad_error < tol):>18}{str(r.nan_free):>8}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- curves (the explorer)


@dataclass(frozen=True)
class Curve:
    """f and f' of one activation on a grid, plus the autograd derivative as a check."""

    name: str
    knob: str | None
    value: float | None
    x: torch.Tensor  # (points,)
    f: torch.Tensor  # (points,)
    df: torch.Tensor  # (points,) our closed-form derivative
    df_autograd: torch.Tensor  # (points,) autograd of our f

    @property
    def grad_error(self) -> float:
        """max |closed-form f' - autograd f'| on the grid."""
        return (self.df - self.df_autograd).abs().max().item()


def _fn_and_grad(name: str, value: float | None) -> tuple[Callable, Callable]:
    act = A.activation(name)
    if name in PARAMETER:
        knob = PARAMETER[name][0]
        value = PARAMETER[name][1] if value is None else value
        kw = {knob: value}
        return (lambda x: act.fn(x, **kw)), (lambda x: act.grad(x, **kw))
    return act.fn, act.grad


def activation_curve(name: str = "relu", value: float | None = None, x_min: float = -5.0, x_max: float = 5.0,
                     points: int = 401) -> Curve:
    """f(x), f'(x) and autograd's f'(x) of activation ``name`` on ``points`` values in [x_min, x_max].

    ``value`` sets the activation's one knob (:data:`PARAMETER`: Leaky ReLU's slope, ELU's
    alpha, Swish's beta); activations without a knob ignore it.
    """
    if name not in A.ACTIVATIONS:
        raise ValueError(f"activation_curve: unknown activation {name!r}; choose one of {sorted(A.ACTIVATIONS)}")
    fn, grad = _fn_and_grad(name, value)
    x = torch.linspace(x_min, x_max, points, dtype=torch.float64)
    xr = x.clone().requires_grad_(True)
    y = fn(xr)
    (auto,) = torch.autograd.grad(y.sum(), xr)
    knob = PARAMETER.get(name, (None, None))
    used = (knob[1] if value is None else value) if knob[0] else None
    return Curve(name, knob[0], used, x, y.detach(), grad(x), auto)


def summarize_curve(c: Curve) -> str:
    """One line: the knob, f'(0), the range of f' on the grid and the autograd check."""
    knob = f" ({c.knob} = {c.value:.2f})" if c.knob else ""
    zero = int(torch.argmin(c.x.abs()))
    return message("summary.activation_curve", name=c.name, knob=knob, slope0=f"{c.df[zero].item():.3f}",
                   low=f"{c.df.min().item():.3f}", high=f"{c.df.max().item():.3f}", x0=f"{c.x[0].item():g}",
                   x1=f"{c.x[-1].item():g}", error=f"{c.grad_error:.1e}")


# ----------------------------------------------------------------------------- dead units and sparsity


def _activation_layers(model: nn.Module) -> dict[str, nn.Module]:
    """The model's activation modules by name (``features.act1``, ...), in order."""
    kinds = (nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.SiLU, nn.Mish, nn.ELU, nn.GELU, A.Swish)
    return {name: m for name, m in model.named_modules() if isinstance(m, kinds)}


@torch.no_grad()
def unit_activity(model: nn.Module, images: torch.Tensor, layers: Sequence[str] | None = None
                  ) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """For each activation layer: its input (pre-activation) and output on ``images`` (N, C, H, W).

    Returns ``{name: (pre, post)}``, CPU tensors of shape (N, ...) — (N, C, H, W) after a
    convolution, (N, features) after a linear layer. Eval mode, restored afterwards.
    """
    available = _activation_layers(model)
    layers = list(layers) if layers is not None else list(available)
    missing = [n for n in layers if n not in available]
    if missing:
        raise KeyError(f"unit_activity: no activation layer(s) {missing}; the model has {list(available)}")
    captured: dict[str, tuple[torch.Tensor, torch.Tensor]] = {}
    hooked_forward(model, images, {
        available[n]: (lambda _m, inp, out, n=n: captured.__setitem__(n, (inp[0].detach().cpu(), out.detach().cpu())))
        for n in layers
    })
    return {n: captured[n] for n in layers}


def dead_units(model: nn.Module, images: torch.Tensor, layers: Sequence[str] | None = None) -> dict[str, torch.Tensor]:
    """Which units are off for EVERY image of ``images``: ``{layer: bool tensor (units,)}``.

    A unit is one feature of a linear layer, or one channel (filter) of a convolution: the
    channel counts as off when its pre-activation is <= 0 at every position of every image.
    For ReLU such a unit outputs 0 and gets gradient 0 from all of ``images`` ("dead" on
    them); for Leaky ReLU it is only quiet: its gradient is the slope, not 0. Pass the
    whole training set to ask "does any training image still reach this unit?".
    """
    masks = {}
    for n, (pre, _) in unit_activity(model, images, layers).items():
        never = (pre <= 0).all(dim=0)  # (features,) or (C, H, W)
        if never.ndim == 3:
            never = never.flatten(1).all(dim=1)  # (C,)
        masks[n] = never
    return masks


def dead_fraction(model: nn.Module, images: torch.Tensor, layers: Sequence[str] | None = None) -> dict[str, float]:
    """Per layer, the fraction of units off for every image of ``images`` (see :func:`dead_units`)."""
    return {n: m.float().mean().item() for n, m in dead_units(model, images, layers).items()}


def dead_share(masks: dict[str, torch.Tensor]) -> float:
    """The share of all units (every layer of ``masks``, from :func:`dead_units`) that are dead."""
    total = sum(m.numel() for m in masks.values())
    if total == 0:
        raise ValueError("dead_share: the masks hold no units; take them with dead_units on a model with activation layers")
    return sum(int(m.sum()) for m in masks.values()) / total


def revived_fraction(dead_then: dict[str, torch.Tensor], dead_now: dict[str, torch.Tensor]) -> float:
    """Of all units dead in ``dead_then`` (masks from :func:`dead_units`), the share alive in ``dead_now``.

    Both are masks of the same model at two moments (e.g. at initialisation and after
    training), on the same images. A ReLU unit that is dead gets no gradient itself, so
    when it fires again the change came from below: the layers that feed it moved its inputs.
    """
    if set(dead_then) != set(dead_now):
        raise ValueError(f"revived_fraction: the masks cover different layers ({sorted(dead_then)} vs {sorted(dead_now)}); "
                         "take both with dead_units on the same model")
    dead = sum(int(dead_then[n].sum()) for n in dead_then)
    if dead == 0:
        raise ValueError("revived_fraction: no unit was dead in dead_then, so there is nothing to revive; "
                         "measure on more images or at a moment when some units are off")
    revived = sum(int((dead_then[n] & ~dead_now[n]).sum()) for n in dead_then)
    return revived / dead


def zero_fraction(model: nn.Module, images: torch.Tensor, layers: Sequence[str] | None = None) -> dict[str, float]:
    """Fraction of activation outputs that are exactly 0 on ``images`` (sparsity), per layer."""
    return {n: (post == 0).float().mean().item() for n, (_, post) in unit_activity(model, images, layers).items()}


# ----------------------------------------------------------------------------- vanishing gradients


def deep_mlp(activation: str | Callable[[], nn.Module], depth: int = 15, width: int = 64, in_features: int = 784,
             num_classes: int = 10, init: str = "matched") -> nn.Sequential:
    """``depth`` hidden Linear(width) + activation layers, then Linear(num_classes); input flattened.

    ``init="matched"``: each activation gets the initialisation made for it — He/Kaiming
    (He et al. 2015) for the ReLU family, Glorot/Xavier (Glorot & Bengio 2010) with
    ``nn.init.calculate_gain`` for sigmoid and tanh — so the comparison is fair to both.
    ``init="default"`` keeps PyTorch's default. Biases start at 0 with ``"matched"``.
    """
    from ..models import make_activation

    if depth < 1:
        raise ValueError(f"deep_mlp: depth must be >= 1; got {depth}")
    if init not in ("matched", "default"):
        raise ValueError(f"deep_mlp: init must be 'matched' or 'default'; got {init!r}")
    layers: list[nn.Module] = [nn.Flatten()]
    sizes = [in_features] + [width] * depth
    for i in range(depth):
        linear = nn.Linear(sizes[i], sizes[i + 1])
        act = make_activation(activation)
        if init == "matched":
            if isinstance(act, (nn.Sigmoid, nn.Tanh)):
                nn.init.xavier_normal_(linear.weight, gain=nn.init.calculate_gain(type(act).__name__.lower()))
            else:
                nn.init.kaiming_normal_(linear.weight, nonlinearity="relu")
            nn.init.zeros_(linear.bias)
        layers += [linear, act]
    layers.append(nn.Linear(width, num_classes))
    return nn.Sequential(*layers)


def layer_gradient_norms(model: nn.Module, images: torch.Tensor, labels: torch.Tensor) -> list[float]:
    """L2 norm of the cross-entropy loss gradient w.r.t. each Linear/Conv2d weight, input side first.

    Works on a deep copy, so the caller's model keeps its gradients and mode.
    """
    probe = copy.deepcopy(model).cpu().train()
    probe.zero_grad(set_to_none=True)
    F.cross_entropy(probe(images.cpu()), labels.cpu()).backward()
    return [m.weight.grad.norm().item() for m in probe.modules() if isinstance(m, (nn.Linear, nn.Conv2d))]


def signal_spread(model: nn.Module, images: torch.Tensor) -> list[float]:
    """How much each activation layer's input still depends on the image, input side first.

    For every activation layer: the standard deviation over ``images`` of each unit's
    pre-activation, averaged over the units (for a convolution: over channels and positions).
    Near 0 means every image reaches that layer as almost the same vector, so the layers
    above cannot tell the images apart, whatever the optimiser does.
    """
    return [pre.std(dim=0).mean().item() for pre, _ in unit_activity(model, images).values()]


# ----------------------------------------------------------------------------- small helpers


def swish_betas(model: nn.Module) -> dict[str, float]:
    """The beta of every :class:`cnncourse.layers.Swish` layer in ``model``, by layer name."""
    return {name: (m.beta.item() if isinstance(m.beta, torch.Tensor) else float(m.beta))
            for name, m in model.named_modules() if isinstance(m, A.Swish)}


def format_table(rows: Sequence[dict], columns: Sequence[tuple[str, str, str]]) -> str:
    """Rows of dicts as a text table; ``columns`` are (key, header, format spec), e.g. ("acc", "accuracy", ".3f")."""
    widths = [max(len(h), *(len(format(r[k], f)) for r in rows)) if rows else len(h) for k, h, f in columns]
    lines = ["  ".join(f"{h:>{w}}" for (_, h, _), w in zip(columns, widths))]
    for r in rows:
        lines.append("  ".join(f"{format(r[k], f):>{w}}" for (k, _, f), w in zip(columns, widths)))
    return "\n".join(lines)
