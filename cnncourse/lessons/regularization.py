"""Chapter 10's plumbing: L1/L2 penalties (and the article's unsquared one), Adam's coupled L2 vs AdamW,
inverted and spatial dropout with replayable draws, LeNet-5 with the chapter's regularisers, and
the weight measurements (:func:`weight_vector`, :func:`near_zero_fraction`).

The over-fitting experiment itself (settings, seeds, training, the verdicts) is written in the
notebook's cells. Every function here takes tensors or numbers and returns tensors, numbers or a
small dataclass; nothing here changes its inputs or the caller's model. Its figures are in
``cnncourse.drawing.regularization``.

Taught in notebooks/10_regularization.ipynb.
"""
from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Iterable, Sequence

import torch
from torch import Tensor, nn

from ..i18n import message
from ..models import LeNet5

__all__ = [
    "article_penalty",
    "l1_penalty",
    "PenaltyRow",
    "penalty_rows",
    "decay_ratios",
    "dropout_mask",
    "spatial_dropout",
    "dropout_means",
    "DropoutView",
    "dropout_view",
    "summarize_dropout_view",
    "tile_maps",
    "regularised_lenet",
    "weight_tensors",
    "weight_vector",
    "near_zero_fraction",
]


# ----------------------------------------------------------------------------- penalties

def _tensors(params: Iterable[Tensor]) -> list[Tensor]:
    return [p for p in params]


def article_penalty(params: Iterable[Tensor], l1_lambda: float, l2_lambda: float) -> Tensor:
    """The article's line, per tensor: l1·‖w‖₁ + l2·‖w‖₂, summed over the tensors.

    ``torch.norm(w, 2)`` is the Euclidean norm √Σw², NOT the squared penalty Σw²: its
    gradient w/‖w‖ has length 1 whatever the size of w.
    """
    return sum((l1_lambda * torch.norm(w, 1) + l2_lambda * torch.norm(w, 2) for w in _tensors(params)),
               torch.zeros(()))


def l1_penalty(params: Iterable[Tensor], strength: float) -> Tensor:
    """L1 penalty strength·Σ|w| over all tensors (0-d tensor). Its (sub)gradient is strength·sign(w)."""
    return sum((w.abs().sum() for w in _tensors(params)), torch.zeros(())) * strength


def _l2_penalty(params: Iterable[Tensor], weight_decay: float) -> Tensor:
    """The L2 penalty that SGD's ``weight_decay`` equals: (λ/2)·Σ w² over all tensors (0-d tensor).

    Its gradient is λ·w, exactly the term ``torch.optim.SGD(weight_decay=λ)`` adds to each gradient.
    """
    return sum((w.pow(2).sum() for w in _tensors(params)), torch.zeros(())) * (weight_decay / 2)


@dataclass(frozen=True)
class PenaltyRow:
    """One penalty on one weight vector: its value and its gradient."""

    name: str
    value: float
    grad: Tensor

    def __str__(self) -> str:
        g = ", ".join(f"{v:.4f}" for v in self.grad.tolist())
        return f"{self.name:<22} value {self.value:10.4f}   gradient [{g}]"


def penalty_rows(w: Tensor, lam: float) -> list[PenaltyRow]:
    """The candidate 'L2 penalties' at weights ``w`` (1-D): value and gradient of each.

    Rows: λ/2·‖w‖² (what weight decay equals), λ·‖w‖² (the 1/2 forgotten), λ·‖w‖₂ (the article's
    ``torch.norm(w, 2)``), and for reference the weight-decay term λ·w itself.
    """
    rows = []
    for name, fn in (("λ/2·‖w‖²", lambda v: lam / 2 * v.pow(2).sum()),
                     ("λ·‖w‖²", lambda v: lam * v.pow(2).sum()),
                     ("λ·‖w‖₂ (article)", lambda v: lam * torch.norm(v, 2))):
        v = w.detach().clone().double().requires_grad_(True)
        value = fn(v)
        (grad,) = torch.autograd.grad(value, v)
        rows.append(PenaltyRow(name, value.item(), grad))
    rows.append(PenaltyRow("weight decay λ·w", float("nan"), lam * w.detach().double()))
    return rows


def decay_ratios(model: nn.Module, batches: Sequence[tuple[Tensor, Tensor]], lr: float = 1e-3,
                 weight_decay: float = 1e-2) -> dict[str, dict[str, Tensor]]:
    """How much of the nominal decay lr·λ·w each weight really gets, in Adam (coupled L2) vs AdamW.

    Adam (no decay) is run on ``batches`` to build its moments; then one more step is taken
    from that same state three times: without decay, with ``Adam(weight_decay=λ)`` and with
    ``AdamW(weight_decay=λ)``. The decay part of a step is (step with decay − step without);
    the ratio (decay part)/(−lr·λ·w) is 1 when the weight gets exactly the nominal decay.
    Returns {"Adam": {layer: ratios}, "AdamW": {layer: ratios}} for the weight tensors (computed in
    float64 on a copy; the caller's model is not changed).
    """
    net = copy.deepcopy(model).double()  # float64: the decay part is a tiny difference of two steps
    batches = [(xb.double(), yb) for xb, yb in batches]
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    for xb, yb in batches[:-1]:
        opt.zero_grad()
        nn.functional.cross_entropy(net(xb), yb).backward()
        opt.step()
    xb, yb = batches[-1]

    def one_step(kind: str) -> dict[str, Tensor]:
        n = copy.deepcopy(net)
        cls = torch.optim.AdamW if kind == "AdamW" else torch.optim.Adam
        wd = 0.0 if kind == "none" else weight_decay
        o = cls(n.parameters(), lr=lr, weight_decay=wd)
        for p_new, p_old in zip(n.parameters(), net.parameters()):  # same moments and step count
            o.state[p_new] = copy.deepcopy(opt.state[p_old])
        o.zero_grad()
        nn.functional.cross_entropy(n(xb), yb).backward()
        o.step()
        return {name: p.detach().clone() for name, p in n.named_parameters()}

    base = one_step("none")
    before = {name: p.detach() for name, p in net.named_parameters()}
    out: dict[str, dict[str, Tensor]] = {}
    for kind in ("Adam", "AdamW"):
        after = one_step(kind)
        ratios = {}
        for name, w in before.items():
            if not name.endswith("weight"):
                continue
            nominal = -lr * weight_decay * w
            keep = w.abs() > 1e-6  # the ratio is undefined at w = 0
            ratios[name] = ((after[name] - base[name])[keep] / nominal[keep]).double()
        out[kind] = ratios
    return out


# ----------------------------------------------------------------------------- dropout

def dropout_mask(shape: Sequence[int], p: float, generator: torch.Generator | None = None) -> Tensor:
    """Which elements dropout keeps: a bool tensor of ``shape``, True with probability 1 − p.

    u = torch.rand(shape, generator=generator); keep = u < 1 − p (a Bernoulli(1 − p) draw, the rule of
    ``torch.bernoulli``). p = 0 keeps everything, p = 1 nothing (no draw in either case).
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1]; got {p}")
    if p == 0.0:
        return torch.ones(tuple(shape), dtype=torch.bool)
    if p == 1.0:
        return torch.zeros(tuple(shape), dtype=torch.bool)
    return torch.rand(tuple(shape), generator=generator) < 1 - p


def _apply_mask(x: Tensor, keep: Tensor, p: float) -> Tensor:
    if p == 1.0:
        return torch.zeros_like(x)  # 0 · 1/(1 − 1) would be 0 · inf = NaN
    return x * keep.to(x.dtype) / (1 - p)


def _inverted_dropout(x: Tensor, p: float, training: bool = True, generator: torch.Generator | None = None) -> Tensor:
    """Inverted dropout, ``F.dropout``'s rule with reproducible draws.

    x: any shape. In training each element is kept where :func:`dropout_mask` says so (probability
    1 − p) and scaled by 1/(1 − p), so the expected value is x; p = 1 gives zeros. In eval
    (``training=False``) x is returned unchanged.
    """
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1]; got {p}")
    if not training or p == 0.0:
        return x
    return _apply_mask(x, dropout_mask(x.shape, p, generator), p)


def spatial_dropout(x: Tensor, p: float, training: bool = True, generator: torch.Generator | None = None) -> Tensor:
    """Spatial dropout (``nn.Dropout2d``'s rule) on maps (N, C, H, W) or (C, H, W): whole channels.

    One draw per (sample, channel), a mask of shape (N, C, 1, 1); a channel is kept with probability
    1 − p and then scaled by 1/(1 − p); eval returns x unchanged.
    """
    if x.ndim not in (3, 4):
        raise ValueError(f"spatial_dropout expects (N, C, H, W) or (C, H, W); got shape {tuple(x.shape)}")
    if not 0.0 <= p <= 1.0:
        raise ValueError(f"dropout probability must be in [0, 1]; got {p}")
    if not training or p == 0.0:
        return x
    return _apply_mask(x, dropout_mask(x.shape[:-2] + (1, 1), p, generator), p)  # one draw per channel


def dropout_means(x: Tensor, p: float, draws: int = 1000, seed: int = 0) -> dict[str, float]:
    """Mean of x, and the mean over ``draws`` dropout draws of: inverted dropout, dropout without the
    1/(1 − p) scaling, spatial dropout (x must be (C, H, W) or (N, C, H, W) for that one), and eval mode."""
    g = torch.Generator().manual_seed(seed)
    reps = x.unsqueeze(0).expand(draws, *x.shape)  # (draws, ...): one draw per copy
    inverted = _inverted_dropout(reps, p, True, g)
    channels = spatial_dropout(reps.reshape(-1, *x.shape[-3:]), p, True, g) if x.ndim >= 3 else inverted
    return {
        "input": x.mean().item(),
        "inverted dropout (train)": inverted.mean().item(),
        "no 1/(1 − p) scaling": (inverted * (1 - p)).mean().item(),
        "spatial dropout (train)": channels.mean().item(),
        "eval mode": _inverted_dropout(x, p, False).mean().item(),
    }


def tile_maps(maps: Tensor, pad: int = 1) -> Tensor:
    """Maps (C, H, W) side by side -> one (H, C·(W + pad) − pad) picture (one imshow is fast). NaN = gap."""
    c, h, w = maps.shape
    canvas = torch.full((h, c * (w + pad) - pad), float("nan"))
    for i in range(c):
        canvas[:, i * (w + pad):i * (w + pad) + w] = maps[i]
    return canvas


@dataclass(frozen=True)
class DropoutView:
    """Feature maps (C, H, W) of one image after element-wise and after spatial (channel) dropout."""

    p: float
    seed: int
    maps: Tensor
    element_mask: Tensor      # (C, H, W) bool, kept elements
    element: Tensor           # (C, H, W)
    channel_mask: Tensor      # (C,) bool, kept channels
    channel: Tensor           # (C, H, W)
    mean_in: float
    mean_element: float
    mean_channel: float
    expected_element: float   # mean over many draws
    expected_channel: float


def dropout_view(maps: Tensor, p: float, seed: int = 0, draws: int = 200) -> DropoutView:
    """Apply inverted dropout and spatial dropout with probability ``p`` to maps (C, H, W).

    One draw from ``seed`` is shown; the means over ``draws`` further draws show that the
    expected value is preserved (for p < 1). Pure: ``maps`` is not changed.
    """
    maps = maps.detach().float()
    g = torch.Generator().manual_seed(seed)
    el_mask = dropout_mask(maps.shape, p, g)                     # (C, H, W)
    ch_mask = dropout_mask((maps.shape[0],), p, g)               # (C,)
    element = _apply_mask(maps, el_mask, p)
    channel = _apply_mask(maps, ch_mask[:, None, None], p)
    many = dropout_means(maps, p, draws=draws, seed=seed + 1)
    return DropoutView(p, seed, maps, el_mask, element, ch_mask, channel, maps.mean().item(), element.mean().item(),
                       channel.mean().item(), many["inverted dropout (train)"], many["spatial dropout (train)"])


def summarize_dropout_view(v: DropoutView) -> str:
    """One line: kept fractions and means (one draw, and over many draws)."""
    return message("summary.dropout_view", elements=f"{v.element_mask.float().mean().item():.0%}",
                   channels=int(v.channel_mask.sum()), total=len(v.channel_mask), mean_in=f"{v.mean_in:.3f}",
                   element=f"{v.mean_element:.3f}", expected_element=f"{v.expected_element:.3f}",
                   channel=f"{v.mean_channel:.3f}", expected_channel=f"{v.expected_channel:.3f}")


# ----------------------------------------------------------------------------- models and weights

def regularised_lenet(dropout: float = 0.0, spatial_dropout: float = 0.0, norm: str = "none") -> LeNet5:
    """LeNet-5 with ``nn.Dropout(dropout)`` before fc2/fc3, optional ``nn.Dropout2d(spatial_dropout)``
    after each pooling (``features.sdrop1``, ``features.sdrop2``), optional normalisation ("batch")."""
    model = LeNet5(dropout=dropout, norm=norm)
    if spatial_dropout:
        layers = []
        for name, module in model.features.named_children():
            layers.append((name, module))
            if name in ("pool1", "pool2"):
                layers.append((f"sdrop{name[-1]}", nn.Dropout2d(spatial_dropout)))
        model.features = nn.Sequential()
        for name, module in layers:
            model.features.add_module(name, module)
    return model


def weight_tensors(model: nn.Module) -> list[nn.Parameter]:
    """The conv and linear weight tensors of ``model`` (not biases, not norm layers), as live parameters:
    what a penalty in the loss acts on (``l1_penalty(weight_tensors(model), strength)``)."""
    return [m.weight for m in model.modules() if isinstance(m, (nn.Conv2d, nn.Linear))]


def weight_vector(model: nn.Module) -> Tensor:
    """All conv and linear weight tensors (not biases, not norm layers) flattened into one vector (a detached copy)."""
    return torch.cat([w.detach().flatten().cpu() for w in weight_tensors(model)])


def near_zero_fraction(weights: Tensor, threshold: float = 1e-3) -> float:
    """Fraction of weights with |w| < threshold."""
    return (weights.abs() < threshold).float().mean().item()
