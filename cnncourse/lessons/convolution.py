"""Chapter 02's compute functions: hand-made kernels, multi-channel convolution by hand,
receptive fields, padding modes, per-setting costs, timings and the convolution explorer.

Every function takes tensors or numbers and returns numbers, tensors or a small dataclass;
nothing here changes its inputs. The ``draw_*`` functions are thin matplotlib layers over
those results. The convolution itself (loops, im2col, sizes, costs) lives in
:mod:`cnncourse.layers.conv`.

Taught in notebooks/02_convolution.ipynb.
"""
from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from matplotlib.patches import Rectangle
from matplotlib.ticker import MaxNLocator
from torch import nn

from ..layers.conv import conv_flops, conv_output_size, conv_params, pad2d

__all__ = [
    "hand_kernels",
    "apply_kernels",
    "draw_kernel_gallery",
    "kernel_smoothness",
    "channel_by_channel",
    "input_footprint",
    "CostRow",
    "cost_row",
    "format_cost_rows",
    "SizeRow",
    "size_rows",
    "format_size_rows",
    "padding_border_error",
    "draw_padding_modes",
    "group_isolation",
    "time_call",
    "time_implementations",
    "PADDING_MODES",
    "edge_kernel",
    "ConvView",
    "conv_view",
    "draw_conv_view",
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


def draw_kernel_gallery(image: torch.Tensor, maps: dict[str, torch.Tensor], kernels: dict[str, torch.Tensor],
                        title: str = "Hand-made kernels on a real photo"):
    """The photo, then each feature map with its kernel's weights printed in the corner."""
    names = list(maps)
    ncols = 4
    nrows = -(-(len(names) + 1) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 2.6 * nrows))
    axes = axes.flat
    axes[0].imshow(image[0].numpy(), cmap="gray", vmin=0, vmax=1)
    axes[0].set_title("input (gray photo)")
    for ax, name in zip(axes[1:], names):
        m = maps[name]
        signed = name in ("edge (Laplacian)", "Sobel x", "Sobel y")
        if signed:
            lim = m.abs().quantile(0.995).item() or 1.0
            ax.imshow(m.numpy(), cmap="bwr", vmin=-lim, vmax=lim)
        else:
            ax.imshow(m.numpy(), cmap="gray", vmin=0, vmax=max(1.0, m.quantile(0.995).item()) if name == "Sobel magnitude" else 1)
        ax.set_title(name + (" (blue < 0 < red)" if signed else ""), fontsize=9)
        if name in kernels:
            text = "\n".join(" ".join(f"{v:5.2f}" for v in row) for row in kernels[name].tolist())
            ax.text(0.02, 0.02, text, transform=ax.transAxes, fontsize=6, family="monospace",
                    va="bottom", bbox=dict(fc="white", alpha=0.8, lw=0))
    for ax in fig.axes:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in fig.axes[len(names) + 1:]:  # unused tiles
        ax.set_axis_off()
    fig.suptitle(title)
    fig.tight_layout()
    return fig


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


def _positive_copy(model: nn.Module) -> nn.Module:
    import copy

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
    params = conv_params(in_channels, out_channels, kernel_size, groups=groups)
    assert params == sum(p.numel() for p in layer.parameters()), "conv_params disagrees with nn.Conv2d"
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


def draw_padding_modes(patch: torch.Tensor, pad: int, title: str = "Padding modes on the photo's corner"):
    """The corner ``patch`` (C, h, w) padded by ``pad`` in each mode; the original area outlined."""
    fig, axes = plt.subplots(1, len(PADDING_MODES), figsize=(3.2 * len(PADDING_MODES), 3.4))
    for ax, mode in zip(axes, PADDING_MODES):
        padded = pad2d(patch.unsqueeze(0), pad, mode=mode)[0]
        ax.imshow(padded.permute(1, 2, 0).clamp(0, 1).numpy() if padded.shape[0] == 3 else padded[0].numpy(),
                  cmap="gray", vmin=0, vmax=1)
        h, w = patch.shape[-2:]
        ax.add_patch(Rectangle((pad - 0.5, pad - 0.5), w, h, fill=False, ec="yellow", lw=1.5, ls="--"))
        ax.set_title(f"{mode}" + (" (= 'zeros', the default)" if mode == "zeros" else ""), fontsize=9)
        ax.set_xlabel("x (pixels)")
    axes[0].set_ylabel("y (pixels)")
    fig.suptitle(title)
    fig.tight_layout()
    return fig


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
                    params=conv_params(C, out_channels, kernel_size, groups=groups),
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
    return (f"{layer}: {c}x{h}x{w} -> {oc}x{oh}x{ow}, {view.params:,} parameters, "
            f"{view.macs / 1e6:.2f} M MACs, receptive field {view.receptive_field}x{view.receptive_field}, "
            f"output 0 reads {view.channels_seen} of {c} input channels")


def draw_conv_view(view: ConvView):
    """Left: the kernel's taps on the input grid for two neighbouring outputs. Middle: the
    input photo. Right: output channel 0 at its true size relative to the input.

    Kept lean for the explorer (< 150 ms per update): fixed layout, no tick labels (sizes are
    in the titles), a small low-dpi figure; rendering text and PNG is most of the cost.
    """
    fig, (ax_rf, ax_in, ax_out) = plt.subplots(1, 3, figsize=(9, 2.7), dpi=72,
                                             gridspec_kw=dict(width_ratios=[1, 1.4, 1.4]))
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.04, top=0.78, wspace=0.08)  # fixed: tight_layout is slow
    _draw_taps(ax_rf, view)
    H, W = view.input_shape[1:]
    ax_in.imshow(view.image.permute(1, 2, 0).numpy())
    ax_in.set_title(f"input {H}x{W} (x: width, y: height)", fontsize=9)
    if view.error:
        ax_out.text(0.5, 0.5, view.error.replace(": ", ":\n", 1), ha="center", va="center", wrap=True,
                    fontsize=8, color="red", transform=ax_out.transAxes)
    else:
        m = view.feature_map
        lim = m.abs().max().item() or 1.0
        # extent in input pixels: each output pixel covers `stride` input pixels
        ax_out.imshow(m.numpy(), cmap="bwr", vmin=-lim, vmax=lim,
                      extent=(0, m.shape[1] * view.stride, m.shape[0] * view.stride, 0))
        ax_out.set(xlim=(0, W), ylim=(H, 0))
        ax_out.set_title(f"output channel 0: {m.shape[0]}x{m.shape[1]} (drawn at input scale)", fontsize=9)
    for ax in (ax_in, ax_out):
        ax.set_xticks([])
        ax.set_yticks([])
    return fig


def _draw_taps(ax, view: ConvView) -> None:
    """Grid of input cells: padding grey, taps of output (0, 0) blue, of output (0, 1) orange dots.

    Drawn as one small RGB image plus one scatter (not a patch per cell) to stay fast.
    """
    K, S, P, D = view.kernel_size, view.stride, view.padding, view.dilation
    span = D * (K - 1) + 1
    rows, cols = span + 1, span + S + 1
    grid = torch.ones(rows, cols, 3)  # white input pixels
    grid[:P, :] = 0.82  # padding rows and columns (top, left)
    grid[:, :P] = 0.82
    taps = torch.arange(K) * D
    blue = torch.tensor([0.45, 0.62, 0.85])
    grid[taps[:, None], taps[None, :]] = blue
    ax.imshow(grid.numpy(), extent=(-0.5, cols - 0.5, rows - 0.5, -0.5), interpolation="nearest")
    # cell borders as two line collections (minor ticks + grid cost ~10x more to render)
    ax.vlines(torch.arange(cols + 1).numpy() - 0.5, -0.5, rows - 0.5, color="0.6", lw=0.5)
    ax.hlines(torch.arange(rows + 1).numpy() - 0.5, -0.5, cols - 0.5, color="0.6", lw=0.5)
    ax.set_xticks([])
    ax.set_yticks([])
    if not view.error:
        yy, xx = torch.meshgrid(taps, taps + S, indexing="ij")
        ax.scatter(xx.flatten().numpy(), yy.flatten().numpy(), s=12, color="tab:orange", zorder=3)
    ax.add_patch(Rectangle((-0.5, -0.5), span, span, fill=False, ec="tab:blue", lw=2))
    ax.set_title(f"receptive field {span}x{span}\nblue: output (0,0), dots: (0,1)\ngrey: padding", fontsize=8)
