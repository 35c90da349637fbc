"""Chapter 04's compute functions: pooled sizes, what max keeps and average blurs, shift
robustness, the pooling alternatives' shapes and receptive fields, and the pooling explorer.

Every function takes tensors or numbers and returns numbers, tensors or a small dataclass;
nothing here changes its inputs or moves a model, and nothing here draws: the figures are in
:mod:`cnncourse.drawing.pooling`. The pooling itself (max, average, global average, output
size) lives in :mod:`cnncourse.layers.pooling`; the experiments (models, seeds, training, the
decisions) are in the notebook's cells.

Taught in notebooks/04_pooling.ipynb.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ..i18n import message
from ..layers.conv import receptive_field
from ..layers.pooling import _global_avg_pool2d, pool_output_size
from .convolution import apply_kernels, hand_kernels

# The experiments and the explorer pool with PyTorch's native kernels (no (N, C, K*K, H', W')
# window tensor in memory, so several times faster); tests/test_layers_pooling.py checks that
# cnncourse.layers.pooling's from-scratch max / avg pooling give the same values.
_max_pool2d = F.max_pool2d
avg_pool2d = F.avg_pool2d

__all__ = [
    "SizeRow",
    "size_rows",
    "format_size_rows",
    "sobel_magnitude",
    "subsample",
    "reconstruction_error",
    "strong_edge_survival",
    "AlternativeRow",
    "alternative_rows",
    "format_alternative_rows",
    "measured_receptive_field",
    "window_counts",
    "shift_images",
    "SHIFT_POOLS",
    "shift_change",
    "shifted_accuracy",
    "PoolView",
    "pool_view",
    "summarize_pool_view",
]


# ----------------------------------------------------------------------------- output size

@dataclass(frozen=True)
class SizeRow:
    """One pooling setting on an H x H input: the formula's H' and what ``nn.MaxPool2d`` returns."""

    label: str
    size: int
    kernel_size: int
    stride: int
    padding: int
    formula: int
    torch_size: int

    @property
    def overlapping(self) -> bool:
        """Windows overlap when the stride is smaller than the window."""
        return self.stride < self.kernel_size


def size_rows(settings: Sequence[tuple[str, int, int, int | None, int]]) -> list[SizeRow]:
    """For each ``(label, H, K, S, P)`` (S None = K): H' from the formula and from PyTorch."""
    rows = []
    for label, size, k, s, p in settings:
        stride = k if s is None else s
        x = torch.zeros(1, 1, size, size)
        torch_size = nn.MaxPool2d(k, stride=s, padding=p)(x).shape[-1]
        rows.append(SizeRow(label, size, k, stride, p, pool_output_size(size, k, stride, p), torch_size))
    return rows


def format_size_rows(rows: Sequence[SizeRow]) -> str:
    """The rows as a text table."""
    lines = [f"{'setting':<34} {'H':>4} {'K':>2} {'S':>2} {'P':>2}  {'formula':>7}  {'nn.MaxPool2d':>12}  overlap"]
    for r in rows:
        lines.append(f"{r.label:<34} {r.size:>4} {r.kernel_size:>2} {r.stride:>2} {r.padding:>2}  "
                     f"{r.formula:>7}  {r.torch_size:>12}  {'yes' if r.overlapping else 'no'}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- max keeps, average blurs

def sobel_magnitude(gray: torch.Tensor) -> torch.Tensor:
    """Edge strength (1, H, W) of a gray image (1, H, W): sqrt(Sobel x² + Sobel y²).

    A stand-in for a first-layer feature map: large on edges, near 0 on flat regions.
    """
    kernels = {name: k for name, k in hand_kernels().items() if name.startswith("Sobel")}
    return apply_kernels(gray, kernels)["Sobel magnitude"].unsqueeze(0)


def subsample(x: torch.Tensor, kernel_size: int) -> torch.Tensor:
    """Keep every K-th pixel of (N, C, H, W), i.e. the top-left of each K x K window: no pooling at all."""
    H_out, W_out = x.shape[-2] // kernel_size, x.shape[-1] // kernel_size
    return x[..., : H_out * kernel_size : kernel_size, : W_out * kernel_size : kernel_size]


def reconstruction_error(image: torch.Tensor, pooled: torch.Tensor) -> float:
    """How much of ``image`` (C, H, W) its pooled map (C, H', W') cannot give back, as a fraction.

    The pooled map is up-sampled to H'·K x W'·K (K = H // H', bilinear: the smooth guess of
    the pixels between its samples) and compared with the image cropped to that size:
    ``||x - up(p)||² / ||x - mean(x)||²``. 0 is a perfect reconstruction; 1 is no better than
    painting the whole image in its mean gray. What a 2x2 pool keeps of the photo's detail is
    1 minus this.
    """
    if image.ndim != 3 or pooled.ndim != 3 or image.shape[0] != pooled.shape[0]:
        raise ValueError(f"reconstruction_error needs an image (C, H, W) and its pooled map (C, H', W'); "
                         f"got {tuple(image.shape)} and {tuple(pooled.shape)}")
    k = image.shape[-2] // pooled.shape[-2]
    H, W = pooled.shape[-2] * k, pooled.shape[-1] * k
    if k < 1 or W > image.shape[-1]:
        raise ValueError(f"reconstruction_error: {tuple(pooled.shape)} is not a pooled map of {tuple(image.shape)}")
    x = image[..., :H, :W].double()
    up = F.interpolate(pooled.double().unsqueeze(0), size=(H, W), mode="bilinear", align_corners=False)[0]
    spread = ((x - x.mean()) ** 2).sum().item()
    if spread == 0:
        raise ValueError("reconstruction_error: the image is one flat colour; there is no detail to lose")
    return ((x - up) ** 2).sum().item() / spread


def strong_edge_survival(edges: torch.Tensor, pooled: torch.Tensor, kernel_size: int, quantile: float = 0.95) -> float:
    """Of the K x K windows that hold a strong edge (above the ``quantile`` of ``edges``),
    the fraction whose pooled value is still above that threshold.

    ``edges`` is (1, H, W), ``pooled`` its non-overlapping K x K pooling (1, H/K, W/K).
    Max pooling keeps every one of them by construction; average pooling dilutes a thin
    edge with the flat pixels beside it.
    """
    threshold = torch.quantile(edges.flatten(), quantile)
    holds_edge = _max_pool2d((edges > threshold).float().unsqueeze(0), kernel_size)[0] > 0  # (1, H', W')
    survived = pooled > threshold
    return (survived & holds_edge).sum().item() / max(1, holds_edge.sum().item())


# ----------------------------------------------------------------------------- alternatives

@dataclass(frozen=True)
class AlternativeRow:
    """A down-sampling (or not) layer on a (1, C, H, W) map: shape out, parameters, receptive field."""

    label: str
    out_shape: tuple[int, ...]
    params: int
    receptive_field: int  # of one output pixel, in input pixels along one axis
    downsampling: float  # input H / output H


def alternative_rows(layers: dict[str, tuple[nn.Module, Sequence[tuple[int, int, int]]]],
                     in_shape: tuple[int, int, int, int]) -> list[AlternativeRow]:
    """Run each ``label: (module, [(K, S, D), ...])`` on zeros of ``in_shape`` (N, C, H, W).

    The (K, S, D) list describes the module's windows for :func:`receptive_field`.
    """
    x = torch.zeros(in_shape)
    rows = []
    for label, (module, windows) in layers.items():
        with torch.no_grad():
            out = module(x)
        params = sum(p.numel() for p in module.parameters())
        rows.append(AlternativeRow(label, tuple(out.shape), params, receptive_field(list(windows)),
                                   in_shape[-2] / out.shape[-2]))
    return rows


def format_alternative_rows(rows: Sequence[AlternativeRow]) -> str:
    """The rows as a text table."""
    lines = [f"{'layer':<44} {'output shape':<18} {'params':>7}  {'receptive field':>15}  {'H_in / H_out':>12}"]
    for r in rows:
        lines.append(f"{r.label:<44} {str(r.out_shape):<18} {r.params:>7}  {r.receptive_field:>15}  {r.downsampling:>12.2f}")
    return "\n".join(lines)


def measured_receptive_field(module: nn.Module, in_shape: tuple[int, int, int, int], seed: int = 0) -> int:
    """Receptive field of the centre output pixel, measured: the width (along W) of the input
    pixels whose gradient is non-zero when that one output is back-propagated.

    Runs on a seeded random input through a copy of ``module`` (the caller's module is not
    touched). Use convolution (or average pool) stacks: a max pool passes the gradient to one
    winner per window and would under-count.
    """
    import copy

    probe = copy.deepcopy(module).double()
    x = torch.randn(in_shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64, requires_grad=True)
    out = probe(x)  # (N, C, H', W')
    out[0, :, out.shape[-2] // 2, out.shape[-1] // 2].sum().backward()
    columns = x.grad[0].abs().sum(dim=(0, 1)) > 0  # (W,)
    hit = columns.nonzero().flatten()
    return int(hit.max() - hit.min() + 1) if hit.numel() else 0


def window_counts(size: int, kernel_size: int, stride: int, padding: int = 0) -> dict[int, int]:
    """How many pooling windows each pixel of a size x size input falls in -> {windows: pixels}.

    1 everywhere for non-overlapping pooling (S = K); up to 4 for AlexNet's 3x3 windows at
    stride 2; 0 for pixels a stride larger than the window skips.
    """
    x = torch.ones(1, 1, size, size, requires_grad=True)
    (F.avg_pool2d(x, kernel_size, stride, padding, count_include_pad=True).sum() * kernel_size ** 2).backward()
    counts = x.grad.round().long().flatten()
    values, freq = counts.unique(return_counts=True)
    return {int(v): int(f) for v, f in zip(values, freq)}


# ----------------------------------------------------------------------------- shift robustness

def shift_images(images: torch.Tensor, dx: int, dy: int = 0) -> torch.Tensor:
    """Shift (N, C, H, W) images right by dx and down by dy pixels; the pixels that enter are 0."""
    H, W = images.shape[-2:]
    padded = F.pad(images, (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0)))
    top, left = max(-dy, 0), max(-dx, 0)
    return padded[..., top:top + H, left:left + W]


# The pools compared under shifts, each (N, C, H, W) -> a tensor per image.
SHIFT_POOLS: dict[str, Callable[[torch.Tensor], torch.Tensor]] = {
    "no pooling": lambda m: m,
    "avg pool 2x2": lambda m: avg_pool2d(m, 2),
    "max pool 2x2": lambda m: _max_pool2d(m, 2),
    "max pool 3x3/2 (overlapping)": lambda m: _max_pool2d(m, 3, 2, 1),
    "max pool 4x4": lambda m: _max_pool2d(m, 4),
    "global average pool": _global_avg_pool2d,
}


@torch.no_grad()
def shift_change(features: Callable[[torch.Tensor], torch.Tensor], images: torch.Tensor,
                 shifts: Sequence[int] = (1, 2, 3),
                 pools: dict[str, Callable[[torch.Tensor], torch.Tensor]] | None = None) -> dict[str, list[float]]:
    """Relative change of each pooled representation when the input moves ``s`` pixels right.

    ``features`` maps images (N, C, H, W) to feature maps (N, C', H', W') (identity for raw
    pixels). For each pool p and shift s: the mean over images of
    ``||p(f(shift(x, s))) - p(f(x))|| / ||p(f(x))||``. Returns ``{pool name: [change per shift]}``.
    """
    pools = pools or SHIFT_POOLS
    base_maps = features(images)
    out: dict[str, list[float]] = {name: [] for name in pools}
    for s in shifts:
        moved_maps = features(shift_images(images, s, 0))
        for name, pool in pools.items():
            a, b = pool(base_maps).flatten(1), pool(moved_maps).flatten(1)  # (N, D)
            change = (b - a).norm(dim=1) / a.norm(dim=1).clamp_min(1e-12)
            out[name].append(change.mean().item())
    return out


@torch.no_grad()
def shifted_accuracy(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                     shifts: Sequence[int] = (0, 1, 2, 3)) -> list[float]:
    """Accuracy of ``model`` on ``images`` shifted s pixels right and s down, for each s.

    Runs in eval mode on the model's device and restores the mode; never moves the model.
    """
    param = next(model.parameters())
    was_training = model.training
    model.eval()
    try:
        accs = []
        for s in shifts:
            x = shift_images(images, s, s).to(param.device)
            accs.append((model(x).argmax(1).cpu() == labels.cpu()).float().mean().item())
        return accs
    finally:
        model.train(was_training)


# ----------------------------------------------------------------------------- the explorer

@dataclass(frozen=True)
class PoolView:
    """An image (C, H, W) and its pooling by one (kind, K, S) setting."""

    image: torch.Tensor
    pooled: torch.Tensor
    kind: str
    kernel_size: int
    stride: int

    @property
    def in_shape(self) -> tuple[int, ...]:
        return tuple(self.image.shape)

    @property
    def out_shape(self) -> tuple[int, ...]:
        return tuple(self.pooled.shape)


def pool_view(image: torch.Tensor, kind: str = "max", kernel_size: int = 2, stride: int = 2) -> PoolView:
    """Pool an image (C, H, W) with a K x K window and stride S; ``kind`` is "max" or "avg"."""
    if kind not in ("max", "avg"):
        raise ValueError(f"pool_view: kind must be 'max' or 'avg'; got {kind!r}")
    pool = _max_pool2d if kind == "max" else avg_pool2d
    pooled = pool(image.unsqueeze(0), kernel_size, stride)[0]  # (C, H', W')
    return PoolView(image, pooled, kind, kernel_size, stride)


def summarize_pool_view(view: PoolView) -> str:
    """One line: shapes, and how many input pixels each output pixel covers / skips."""
    k, s = view.kernel_size, view.stride
    overlap = message("summary.pool_overlap") if s < k else (
        message("summary.pool_tile") if s == k else message("summary.pool_skip", pixels=s - k))
    kept = math.prod(view.out_shape[1:]) / math.prod(view.in_shape[1:])
    return message("summary.pool_view", input=view.in_shape, output=view.out_shape, kept=f"{kept:.1%}", overlap=overlap)
