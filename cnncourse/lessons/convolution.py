"""Chapter 02's compute functions: hand-made kernels, how edge-like learned kernels are, the
dot-pair task behind kernel size, multi-channel convolution by hand, receptive fields, border
reach and padding modes, per-setting costs (counted and measured), timings and the explorer.

Every function takes tensors or numbers and returns numbers, tensors or a small dataclass;
nothing here changes its inputs, and nothing here draws: the figures are in
:mod:`cnncourse.drawing.convolution`. The convolution itself (loops, im2col, sizes, costs)
lives in :mod:`cnncourse.layers.conv`.

Taught in notebooks/02_convolution.ipynb.
"""
from __future__ import annotations

import copy
import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from ..i18n import message
from ..layers.conv import _conv_params, conv_flops, conv_output_size, pad2d

__all__ = [
    "hand_kernels",
    "apply_kernels",
    "kernel_smoothness",
    "edge_bank",
    "edge_likeness",
    "dot_pairs",
    "channel_by_channel",
    "input_footprint",
    "footprint_span",
    "pixel_reach",
    "counted_macs",
    "CostRow",
    "cost_row",
    "format_cost_rows",
    "SizeRow",
    "size_rows",
    "format_size_rows",
    "padding_border_error",
    "group_isolation",
    "time_call",
    "time_implementations",
    "PADDING_MODES",
    "edge_kernel",
    "ConvView",
    "conv_view",
    "summarize_conv_view",
]


# ----------------------------------------------------------------------------- hand-made kernels

def hand_kernels() -> dict[str, torch.Tensor]:
    """Classic 3x3 image-processing kernels (K, K) float32, by name.

    Box blur and Gaussian blur average neighbours (weights sum to 1); sharpen adds the
    centre's difference from its neighbours back (sums to 1); the Laplacian edge kernel and
    the two Sobel kernels (Sobel 1968) respond to change and sum to 0, so flat regions give 0.
    """
    return {
        "identity": torch.tensor([[0.0, 0, 0], [0, 1, 0], [0, 0, 0]]),
        "box blur": torch.full((3, 3), 1 / 9),
        "gaussian blur": torch.tensor([[1.0, 2, 1], [2, 4, 2], [1, 2, 1]]) / 16,
        "sharpen": torch.tensor([[0.0, -1, 0], [-1, 5, -1], [0, -1, 0]]),
        "edge (Laplacian)": torch.tensor([[-1.0, -1, -1], [-1, 8, -1], [-1, -1, -1]]),
        "Sobel x": torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]),
        "Sobel y": torch.tensor([[-1.0, -2, -1], [0, 0, 0], [1, 2, 1]]),
    }


def apply_kernels(image: torch.Tensor, kernels: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """Feature maps (H, W) of a gray image (1, H, W) under each kernel (K, K).

    All kernels run as ONE ``F.conv2d`` call: they are stacked into a weight of shape
    (num_kernels, 1, K, K), one output channel per kernel. Replicate padding keeps the size
    and avoids a dark frame. Adds ``"Sobel magnitude"`` = sqrt(Sobel x² + Sobel y²) when both
    Sobel kernels are present.
    """
    if image.ndim != 3 or image.shape[0] != 1:
        raise ValueError(f"apply_kernels expects a gray image (1, H, W); got {tuple(image.shape)}")
    names = list(kernels)
    weight = torch.stack([kernels[n].float() for n in names]).unsqueeze(1)  # (num_kernels, 1, K, K)
    k = weight.shape[-1]
    x = pad2d(image.unsqueeze(0), k // 2, mode="replicate")  # (1, 1, H + 2P, W + 2P)
    maps = F.conv2d(x, weight)[0]  # (num_kernels, H, W)
    out = {name: maps[i] for i, name in enumerate(names)}
    if "Sobel x" in out and "Sobel y" in out:
        out["Sobel magnitude"] = torch.hypot(out["Sobel x"], out["Sobel y"])
    return out


def kernel_smoothness(weight: torch.Tensor) -> float:
    """Correlation between horizontally and vertically neighbouring weights of conv kernels.

    weight (C_out, C_in, K, K). Each kernel is centred (its mean removed), then the
    correlation of all (w[i, j], w[i, j+1]) and (w[i, j], w[i+1, j]) pairs is pooled over
    every kernel: about 0 for independent random weights, near 1 for smooth blobs and bands.
    """
    w = weight.detach().float().cpu()
    w = w - w.mean(dim=(-2, -1), keepdim=True)
    a = torch.cat([w[..., :, :-1].flatten(), w[..., :-1, :].flatten()])
    b = torch.cat([w[..., :, 1:].flatten(), w[..., 1:, :].flatten()])
    return float((a * b).sum() / (a.square().sum().sqrt() * b.square().sum().sqrt()).clamp_min(1e-12))


def edge_bank(kernel_size: int, orientations: int = 8) -> torch.Tensor:
    """Oriented edge and stroke detectors (2 * orientations, K, K), each zero-mean with unit norm.

    For each of ``orientations`` angles in [0, pi): the first derivative of a Gaussian across
    that direction (an edge: dark on one side, bright on the other, like Sobel) and the second
    derivative (a bar or stroke: one sign in the middle, the other on both sides). Gaussian
    sigma = K / 4, so the pattern fills the kernel.
    """
    if int(kernel_size) < 2:
        raise ValueError(f"edge_bank needs kernel_size >= 2 (a 1x1 kernel has no edges); got {kernel_size!r}")
    K = int(kernel_size)
    r = torch.arange(K, dtype=torch.float64) - (K - 1) / 2
    yy, xx = torch.meshgrid(r, r, indexing="ij")
    sigma = K / 4
    filters = []
    for t in torch.arange(orientations, dtype=torch.float64) * math.pi / orientations:
        u = xx * torch.cos(t) + yy * torch.sin(t)  # across the edge
        v = -xx * torch.sin(t) + yy * torch.cos(t)  # along it
        g = torch.exp(-(u**2 + v**2) / (2 * sigma**2))
        filters += [u * g, (u**2 / sigma**2 - 1) * g]
    bank = torch.stack(filters)  # (2 * orientations, K, K)
    bank = bank - bank.mean(dim=(1, 2), keepdim=True)
    return (bank / bank.flatten(1).norm(dim=1)[:, None, None]).float()


def edge_likeness(weight: torch.Tensor) -> float:
    """How much conv kernels look like oriented edge or stroke detectors, 0..1 (mean over kernels).

    weight (C_out, C_in, K, K); each kernel (every input-channel slice) is centred and
    normalised, then compared with every filter of :func:`edge_bank` by the absolute cosine
    similarity; a kernel scores its best match. 1 means an exact edge/stroke detector (in
    either polarity); random 5x5 kernels score about 0.35 (a best match out of 16 by chance).
    """
    w = weight.detach().float().cpu()
    if w.ndim != 4 or w.shape[-1] != w.shape[-2]:
        raise ValueError(f"edge_likeness expects square conv kernels (C_out, C_in, K, K); got {tuple(w.shape)}")
    w = w.flatten(0, 1)  # (C_out * C_in, K, K)
    w = w - w.mean(dim=(1, 2), keepdim=True)
    w = w / w.flatten(1).norm(dim=1).clamp_min(1e-12)[:, None, None]
    bank = edge_bank(w.shape[-1])
    return float((w.flatten(1) @ bank.flatten(1).T).abs().max(dim=1).values.mean())


# ----------------------------------------------------------------------------- kernel size: the dot-pair task

def dot_pairs(n: int, gap: int, size: int = 24, pairs: int = 6, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Images of dot pairs whose ORIENTATION is the class, at a chosen scale ``gap``.

    Returns images (n, 1, size, size) in {0, 1} and labels (n,): 0 = every pair is horizontal
    (dots ``gap`` pixels apart along x), 1 = every pair is vertical. Each image holds ``pairs``
    pairs at random positions; positions wrap around the border (mod ``size``) so every pixel
    is equally likely to hold a dot in both classes. A K x K window can hold both dots of a
    pair only when ``gap <= K - 1``: for wider gaps, every patch it sees is drawn from the same
    distribution in both classes, so a one-layer K x K network is at chance.
    """
    if int(gap) < 1 or int(gap) >= int(size):
        raise ValueError(f"dot_pairs: gap must be between 1 and size - 1 = {size - 1}; got {gap!r}")
    if int(n) < 1 or int(pairs) < 1:
        raise ValueError(f"dot_pairs: n and pairs must be >= 1; got n={n!r}, pairs={pairs!r}")
    g = torch.Generator().manual_seed(int(seed))
    labels = torch.randint(0, 2, (n,), generator=g)
    y1 = torch.randint(0, size, (n, pairs), generator=g)
    x1 = torch.randint(0, size, (n, pairs), generator=g)
    horizontal = (labels == 0)[:, None].expand(n, pairs)
    y2 = torch.where(horizontal, y1, (y1 + gap) % size)
    x2 = torch.where(horizontal, (x1 + gap) % size, x1)
    images = torch.zeros(n, 1, size, size)
    rows = torch.arange(n)[:, None].expand(n, pairs)
    images[rows, 0, y1, x1] = 1.0
    images[rows, 0, y2, x2] = 1.0
    return images, labels


# ----------------------------------------------------------------------------- multi-channel by hand

def channel_by_channel(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Each input channel cross-correlated with its own kernel slice, NOT summed yet.

    x (C_in, H, W), weight (C_in, K, K) (one output channel's kernel) ->
    (C_in, H - K + 1, W - K + 1): slice c is channel c of x slid under weight[c]. Written with
    explicit window sums so every number can be followed by hand; summing over the first
    axis and adding the bias gives ``F.conv2d``'s output channel.
    """
    C, H, W = x.shape
    K = weight.shape[-1]
    out = x.new_zeros(C, H - K + 1, W - K + 1)
    for c in range(C):
        for i in range(H - K + 1):
            for j in range(W - K + 1):
                out[c, i, j] = (x[c, i:i + K, j:j + K] * weight[c]).sum()
    return out


def input_footprint(model: nn.Module, in_channels: int, size: int) -> torch.Tensor:
    """Which input pixels one output pixel depends on: a (size, size) bool mask.

    Measured, not computed from a formula: backpropagate from the centre output pixel of a
    float64 copy of ``model`` (the caller's model is not touched) and keep the pixels whose
    gradient is non-zero. Weights are set to positive values so no gradient cancels by chance.
    """
    probe = _positive_copy(model)
    x = torch.rand(1, in_channels, size, size, dtype=torch.float64, requires_grad=True)
    out = probe(x)  # (1, C_out, H', W')
    h, w = out.shape[-2:]
    out[0, :, h // 2, w // 2].sum().backward()
    return x.grad[0].abs().sum(0) > 0


def footprint_span(seen: torch.Tensor) -> int:
    """The receptive field read off a footprint mask (H, W) bool: rows from first to last seen pixel."""
    rows = seen.any(dim=1).nonzero().flatten()
    return int(rows[-1] - rows[0] + 1) if rows.numel() else 0


def pixel_reach(size: int, kernel_size: int, padding: int = 0, stride: int = 1) -> torch.Tensor:
    """How many output pixels each input pixel feeds: a (size, size) int tensor.

    Measured through autograd: with an all-ones K x K kernel, the gradient of the sum of all
    outputs with respect to input pixel (i, j) counts the windows that contain it. Without
    padding a corner pixel is in one window and a centre pixel in K²: the border is used less,
    the "information lost at the border" that padding reduces.
    """
    x = torch.zeros(1, 1, size, size, dtype=torch.float64, requires_grad=True)
    ones = torch.ones(1, 1, kernel_size, kernel_size, dtype=torch.float64)
    F.conv2d(x, ones, stride=stride, padding=padding).sum().backward()
    return x.grad[0, 0].round().long()


def counted_macs(module: nn.Module, x: torch.Tensor) -> int:
    """Multiply-accumulates of one forward pass of ``module`` on ``x``, counted by PyTorch.

    ``torch.utils.flop_counter.FlopCounterMode`` records the FLOPs of every convolution and
    matrix multiply that actually runs (2 per multiply-accumulate); half of its total is
    comparable with :func:`cnncourse.layers.conv_flops`.
    """
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        module(x)
    return counter.get_total_flops() // 2


def _positive_copy(model: nn.Module) -> nn.Module:
    probe = copy.deepcopy(model).double()
    with torch.no_grad():
        for p in probe.parameters():
            p.copy_(torch.rand_like(p) + 0.1)
    return probe


# ----------------------------------------------------------------------------- costs per setting

@dataclass(frozen=True)
class CostRow:
    """One conv layer on one input: its output shape, parameters, MACs and receptive field."""

    name: str
    in_channels: int
    out_channels: int
    kernel_size: int
    stride: int
    padding: int
    dilation: int
    groups: int
    input_size: int
    output_size: int
    params: int
    macs: int  # multiply-accumulates for one sample (layers.conv.conv_flops)
    receptive_field: int  # input pixels one output pixel sees, along one axis


def cost_row(name: str, in_channels: int, out_channels: int, kernel_size: int, input_size: int,
             stride: int = 1, padding: int = 0, dilation: int = 1, groups: int = 1) -> CostRow:
    """Count a conv layer with the package's formulas AND check them on a real ``nn.Conv2d``.

    Raises AssertionError if the formulas and PyTorch disagree (they never should), and
    ValueError for settings PyTorch refuses (e.g. groups that do not divide the channels).
    """
    layer = nn.Conv2d(in_channels, out_channels, kernel_size, stride=stride, padding=padding,
                      dilation=dilation, groups=groups)
    params = _conv_params(in_channels, out_channels, kernel_size, groups=groups)
    assert params == sum(p.numel() for p in layer.parameters()), "_conv_params disagrees with nn.Conv2d"
    out = conv_output_size(input_size, kernel_size, stride, padding, dilation)
    with torch.no_grad():
        shape = layer(torch.zeros(1, in_channels, input_size, input_size)).shape
    assert shape[-1] == out, f"conv_output_size gives {out}, nn.Conv2d gives {shape[-1]}"
    macs = conv_flops(in_channels, out_channels, kernel_size, input_size, stride, padding, dilation, groups)
    return CostRow(name, in_channels, out_channels, kernel_size, stride, padding, dilation, groups,
                   input_size, out, params, macs, dilation * (kernel_size - 1) + 1)


def format_cost_rows(rows: Sequence[CostRow]) -> str:
    """A text table: one row per layer, sizes as C x H x W, MACs in millions."""
    width = max(len(r.name) for r in rows)
    lines = [f"{'layer':<{width}}  K  S  P  D  G  {'input':>10}  {'output':>11}  {'params':>8}  {'MMACs':>8}  RF"]
    for r in rows:
        lines.append(
            f"{r.name:<{width}}  {r.kernel_size}  {r.stride}  {r.padding}  {r.dilation}  {r.groups:<2}"
            f"{f'{r.in_channels}x{r.input_size}x{r.input_size}':>10}  "
            f"{f'{r.out_channels}x{r.output_size}x{r.output_size}':>11}  {r.params:>8,}  {r.macs / 1e6:>8.2f}  "
            f"{r.receptive_field}"
        )
    return "\n".join(lines)


# ----------------------------------------------------------------------------- output sizes

@dataclass(frozen=True)
class SizeRow:
    """The output-size formula next to what PyTorch actually returns, for one setting."""

    size: int
    kernel_size: int
    stride: int
    padding: int | str
    dilation: int
    formula: int | None  # None for padding="same" (PyTorch works the padding out)
    pytorch: int | str  # an int, or the error PyTorch raised


def size_rows(settings: Sequence[dict]) -> list[SizeRow]:
    """For each ``dict(size=, kernel_size=, stride=, padding=, dilation=)``: formula vs ``nn.Conv2d``."""
    rows = []
    for s in settings:
        size, K = s["size"], s["kernel_size"]
        S, P, D = s.get("stride", 1), s.get("padding", 0), s.get("dilation", 1)
        formula = conv_output_size(size, K, S, P, D) if isinstance(P, int) else None
        try:
            layer = nn.Conv2d(1, 1, K, stride=S, padding=P, dilation=D, bias=False)
            with torch.no_grad():
                actual: int | str = layer(torch.zeros(1, 1, size, size)).shape[-1]
        except ValueError as err:
            actual = f"ValueError: {err}"
        rows.append(SizeRow(size, K, S, P, D, formula, actual))
    return rows


def format_size_rows(rows: Sequence[SizeRow]) -> str:
    """A text table of :func:`size_rows`; ``ok`` where the formula equals PyTorch."""
    lines = ["  H  K  S  P      D   formula  nn.Conv2d"]
    for r in rows:
        formula = "-" if r.formula is None else str(r.formula)
        mark = "ok" if r.formula is not None and r.formula == r.pytorch else ""
        lines.append(f"{r.size:>3}  {r.kernel_size}  {r.stride}  {str(r.padding):<6} {r.dilation}  "
                     f"{formula:>7}  {str(r.pytorch):>9}  {mark}".rstrip())
    return "\n".join(lines)


# ----------------------------------------------------------------------------- padding modes

PADDING_MODES = ("zeros", "reflect", "replicate", "circular")


def padding_border_error(image: torch.Tensor, kernel_size: int = 7, border: int | None = None) -> dict[str, float]:
    """How much each padding mode distorts the border of a box-blurred image.

    image (C, H, W) in [0, 1]. Blur with a K x K box filter at 'same' size using each mode;
    return, per mode, the mean absolute difference between the blurred and original image
    over the ``border``-pixel frame (default K // 2: the pixels whose window leaves the image).
    Zero padding averages in black, so its frame comes out darker.
    """
    P = kernel_size // 2
    border = P if border is None else border
    x = image.unsqueeze(0)  # (1, C, H, W)
    C = x.shape[1]
    weight = torch.full((C, 1, kernel_size, kernel_size), 1 / kernel_size**2)  # one box per channel
    frame = torch.ones(x.shape[-2:], dtype=torch.bool)
    frame[border:-border, border:-border] = False
    errors = {}
    for mode in PADDING_MODES:
        blurred = F.conv2d(pad2d(x, P, mode=mode), weight, groups=C)  # (1, C, H, W), depthwise
        errors[mode] = (blurred - x)[..., frame].abs().mean().item()
    return errors


# ----------------------------------------------------------------------------- grouped convolution

def group_isolation(layer: nn.Conv2d, size: int = 8) -> torch.Tensor:
    """Which input channels each output channel depends on: a (C_out, C_in) bool matrix.

    Measured through autograd on a copy with positive weights: entry (o, c) is True when
    output channel o's gradient reaches input channel c. A grouped conv gives a
    block-diagonal matrix: each group's outputs see only that group's inputs.
    """
    probe = _positive_copy(layer)
    C_in, C_out = layer.in_channels, layer.out_channels
    x = torch.rand(1, C_in, size, size, dtype=torch.float64, requires_grad=True)
    out = probe(x)
    rows = []
    for o in range(C_out):
        (grad,) = torch.autograd.grad(out[0, o].sum(), x, retain_graph=True)
        rows.append(grad[0].abs().flatten(1).sum(1) > 0)
    return torch.stack(rows)


# ----------------------------------------------------------------------------- timing

def time_call(fn: Callable[[], object], repeats: int = 3, min_seconds: float = 0.05, threads: int | None = 1) -> float:
    """Best-of-``repeats`` seconds for one call of ``fn`` (each repeat loops for >= ``min_seconds``).

    ``threads=1`` (default) runs on one CPU thread, restored afterwards: the comparison then
    measures the algorithms, not how well torch's thread pool copes with a busy machine
    (with 2 threads on a loaded 2-core CPU a tiny conv can take 100 times longer).
    ``threads=None`` keeps torch's setting.
    """
    before = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        fn()  # warm-up: first calls allocate and pick kernels
        best = float("inf")
        for _ in range(max(1, repeats)):
            calls, start = 0, time.perf_counter()
            while True:
                fn()
                calls += 1
                elapsed = time.perf_counter() - start
                if elapsed >= min_seconds:
                    break
            best = min(best, elapsed / calls)
    finally:
        torch.set_num_threads(before)
    return best


def time_implementations(x: torch.Tensor, weight: torch.Tensor, implementations: dict[str, Callable],
                         repeats: int = 3, threads: int | None = 1, **conv_kwargs) -> dict[str, float]:
    """Seconds per call of each ``fn(x, weight, **conv_kwargs)``, best of ``repeats``, no autograd (see time_call)."""
    times = {}
    with torch.no_grad():
        for name, fn in implementations.items():
            times[name] = time_call(lambda fn=fn: fn(x, weight, **conv_kwargs), repeats, threads=threads)
    return times


# ----------------------------------------------------------------------------- the explorer

@dataclass(frozen=True)
class ConvView:
    """What one conv layer does to the RGB photo, for the explorer.

    ``feature_map`` (H', W') is output channel 0 of a 3 -> 6 conv whose every kernel is the
    same K x K horizontal-edge detector (a derivative of a Gaussian), so the knobs change the
    geometry and not the pattern. ``error`` is set (and the tensors are empty) when PyTorch
    refuses the setting, e.g. groups that do not divide the channels.
    """

    kernel_size: int
    stride: int
    padding: int
    dilation: int
    groups: int
    in_channels: int
    out_channels: int
    input_shape: tuple[int, int, int]
    output_shape: tuple[int, int, int] | None
    params: int | None
    macs: int | None
    receptive_field: int
    image: torch.Tensor  # (3, H, W) the input
    feature_map: torch.Tensor  # (H', W') output channel 0
    channels_seen: int  # input channels output channel 0 reads: C_in / groups
    error: str | None = None


def edge_kernel(kernel_size: int) -> torch.Tensor:
    """A K x K horizontal-edge detector: a Gaussian along x times its derivative along y.

    Sums to zero (flat regions give 0) and has unit L1 norm, so maps of different K compare.
    """
    r = torch.arange(kernel_size, dtype=torch.float32) - (kernel_size - 1) / 2
    sigma = max(kernel_size / 4, 0.5)
    g = torch.exp(-(r**2) / (2 * sigma**2))
    dg = -r * g if kernel_size > 1 else torch.ones(1)
    k = dg[:, None] * g[None, :]  # rows: derivative (y), columns: smoothing (x)
    return k / k.abs().sum().clamp_min(1e-8)


def conv_view(kernel_size: int = 3, stride: int = 1, padding: int = 0, dilation: int = 1, groups: int = 1,
              image: torch.Tensor | None = None, out_channels: int = 6) -> ConvView:
    """Run one ``nn.Conv2d(3, out_channels, K, S, P, D, groups)``-shaped conv on ``image`` (3, H, W).

    Default image: the "china" photo at 96 pixels on the short side. Invalid settings
    (groups not dividing 3 or ``out_channels``, a kernel larger than the padded image) come
    back with ``error`` set rather than raising, so the explorer shows the message.
    """
    if image is None:
        image = _explorer_photo()
    C = image.shape[0]
    rf = dilation * (kernel_size - 1) + 1
    empty = torch.zeros(0, 0)
    common = dict(kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation, groups=groups,
                  in_channels=C, out_channels=out_channels, input_shape=tuple(image.shape), receptive_field=rf,
                  image=image)
    try:
        nn.Conv2d(C, out_channels, kernel_size, stride, padding, dilation, groups)  # PyTorch's own checks
        H_out = conv_output_size(image.shape[1], kernel_size, stride, padding, dilation)
        W_out = conv_output_size(image.shape[2], kernel_size, stride, padding, dilation)
    except ValueError as err:
        return ConvView(output_shape=None, params=None, macs=None, feature_map=empty, channels_seen=0,
                        error=f"ValueError: {err}", **common)
    per_group = C // groups
    weight = edge_kernel(kernel_size).expand(out_channels, per_group, kernel_size, kernel_size) / per_group
    with torch.no_grad():
        out = F.conv2d(image.unsqueeze(0), weight.contiguous(), stride=stride, padding=padding,
                       dilation=dilation, groups=groups)  # (1, C_out, H', W')
    return ConvView(output_shape=(out_channels, H_out, W_out),
                    params=_conv_params(C, out_channels, kernel_size, groups=groups),
                    macs=conv_flops(C, out_channels, kernel_size, tuple(image.shape[1:]), stride, padding,
                                    dilation, groups),
                    feature_map=out[0, 0], channels_seen=per_group, **common)


_PHOTO: dict[int, torch.Tensor] = {}


def _explorer_photo(size: int = 96) -> torch.Tensor:
    if size not in _PHOTO:
        from ..data import sample_photo

        _PHOTO[size] = sample_photo("china", size=size)
    return _PHOTO[size]


def summarize_conv_view(view: ConvView) -> str:
    """One line: the layer, shapes, parameters, MACs, receptive field (or PyTorch's error)."""
    layer = (f"nn.Conv2d({view.in_channels}, {view.out_channels}, {view.kernel_size}, stride={view.stride}, "
             f"padding={view.padding}, dilation={view.dilation}, groups={view.groups})")
    if view.error:
        return f"{layer}: {view.error}"
    c, h, w = view.input_shape
    oc, oh, ow = view.output_shape
    return message("summary.conv_view", layer=layer, input=f"{c}x{h}x{w}", output=f"{oc}x{oh}x{ow}",
                   params=f"{view.params:,}", macs=f"{view.macs / 1e6:.2f}", rf=view.receptive_field,
                   seen=view.channels_seen, channels=c)
