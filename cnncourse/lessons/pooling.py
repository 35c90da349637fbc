"""Chapter 04's compute functions: pooled sizes, what max keeps and average blurs, shift
robustness, the pooling alternatives' shapes, GAP vs flatten heads, and the pooling explorer.

Every function takes tensors or numbers and returns numbers, tensors or a small dataclass;
nothing here changes its inputs or moves a model. The ``draw_*`` functions are thin
matplotlib layers over those results. The pooling itself (max, average, global average,
output size) lives in :mod:`cnncourse.layers.pooling`.

Taught in notebooks/04_pooling.ipynb.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import matplotlib.pyplot as plt
import torch
import torch.nn.functional as F
from torch import nn

from ..layers.conv import receptive_field
from ..layers.pooling import global_avg_pool2d, pool_output_size

# The experiments and the explorer pool with PyTorch's native kernels (no (N, C, K*K, H', W')
# window tensor in memory, so several times faster); notebooks/04_pooling.ipynb asserts that
# cnncourse.layers.max_pool2d / avg_pool2d give the same values.
max_pool2d = F.max_pool2d
avg_pool2d = F.avg_pool2d
from .convolution import apply_kernels, hand_kernels

__all__ = [
    "SizeRow",
    "size_rows",
    "format_size_rows",
    "sobel_magnitude",
    "subsample",
    "high_frequency_fraction",
    "strong_edge_survival",
    "DetailRow",
    "detail_rows",
    "format_detail_rows",
    "draw_max_vs_avg",
    "AlternativeRow",
    "alternative_rows",
    "format_alternative_rows",
    "measured_receptive_field",
    "window_counts",
    "RunSummary",
    "summarize_runs",
    "format_run_summaries",
    "shift_images",
    "SHIFT_POOLS",
    "shift_change",
    "shifted_accuracy",
    "draw_shift_change",
    "HeadNet",
    "PoolView",
    "pool_view",
    "draw_pool_view",
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


def high_frequency_fraction(image: torch.Tensor, cutoff: float = 0.25) -> float:
    """Share of an image's (mean-removed) spectral energy above ``cutoff`` cycles per pixel.

    ``image`` is (..., H, W); 0.5 cycles/pixel is the finest pattern a grid can hold (Nyquist),
    so the default counts the upper half of the frequency range: fine detail, edges, noise.
    A scale-free statistic, so images of different sizes compare.
    """
    img = image.double().reshape(-1, *image.shape[-2:])
    img = img - img.mean(dim=(-2, -1), keepdim=True)
    power = torch.fft.fft2(img).abs() ** 2  # (C, H, W)
    fy = torch.fft.fftfreq(img.shape[-2], dtype=torch.float64).view(-1, 1)
    fx = torch.fft.fftfreq(img.shape[-1], dtype=torch.float64).view(1, -1)
    high = (fy ** 2 + fx ** 2).sqrt() > cutoff  # (H, W)
    total = power.sum().item()
    return power[..., high].sum().item() / total if total > 0 else 0.0


def strong_edge_survival(edges: torch.Tensor, pooled: torch.Tensor, kernel_size: int, quantile: float = 0.95) -> float:
    """Of the K x K windows that hold a strong edge (above the ``quantile`` of ``edges``),
    the fraction whose pooled value is still above that threshold.

    ``edges`` is (1, H, W), ``pooled`` its non-overlapping K x K pooling (1, H/K, W/K).
    Max pooling keeps every one of them by construction; average pooling dilutes a thin
    edge with the flat pixels beside it.
    """
    threshold = torch.quantile(edges.flatten(), quantile)
    holds_edge = max_pool2d((edges > threshold).float().unsqueeze(0), kernel_size)[0] > 0  # (1, H', W')
    survived = pooled > threshold
    return (survived & holds_edge).sum().item() / max(1, holds_edge.sum().item())


@dataclass(frozen=True)
class DetailRow:
    """What one down-sampling keeps of a photo and of its edge map."""

    method: str
    kernel_size: int
    shape: tuple[int, ...]
    high_frequency: float  # of the down-sampled photo
    edge_mean_ratio: float  # mean of the down-sampled edge map / mean of the full one
    edge_survival: float  # strong-edge windows that stay strong


_DOWNSAMPLERS: dict[str, Callable[[torch.Tensor, int], torch.Tensor]] = {
    "max pool": max_pool2d,
    "average pool": avg_pool2d,
    "subsample (no pool)": subsample,
}


def detail_rows(gray: torch.Tensor, kernel_sizes: Sequence[int] = (2, 4)) -> tuple[list[DetailRow], float]:
    """Max pool vs average pool vs plain subsampling of a gray photo (1, H, W), per window K.

    Returns the rows and the full-resolution photo's high-frequency fraction (the baseline).
    """
    edges = sobel_magnitude(gray)  # (1, H, W)
    rows = []
    for k in kernel_sizes:
        for method, down in _DOWNSAMPLERS.items():
            photo_small = down(gray.unsqueeze(0), k)[0]  # (1, H', W')
            edges_small = down(edges.unsqueeze(0), k)[0]
            rows.append(DetailRow(
                method, k, tuple(photo_small.shape), high_frequency_fraction(photo_small),
                (edges_small.mean() / edges.mean()).item(), strong_edge_survival(edges, edges_small, k),
            ))
    return rows, high_frequency_fraction(gray)


def format_detail_rows(rows: Sequence[DetailRow], baseline: float) -> str:
    """The rows as a text table, with the full photo's high-frequency share on top."""
    lines = [f"full-resolution photo: high-frequency energy share {baseline:.4f}",
             f"{'method':<20} {'K':>2}  {'shape':<15} {'high-freq share':>15}  {'edge mean / full':>16}  {'strong edges kept':>17}"]
    for r in rows:
        lines.append(f"{r.method:<20} {r.kernel_size:>2}  {str(r.shape):<15} {r.high_frequency:>15.4f}  "
                     f"{r.edge_mean_ratio:>16.3f}  {r.edge_survival:>17.3f}")
    return "\n".join(lines)


def draw_max_vs_avg(gray: torch.Tensor, kernel_size: int = 4, crop: tuple[slice, slice] | None = None):
    """Photo and its edge map, each max-pooled and average-pooled side by side (an optional crop zooms in)."""
    edges = sobel_magnitude(gray)
    crop = crop or (slice(None), slice(None))
    panels = [("photo", gray), ("edge map (Sobel magnitude)", edges)]
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.4))
    for row, (name, img) in enumerate(panels):
        full = img[0]
        mx = max_pool2d(img.unsqueeze(0), kernel_size)[0, 0]
        av = avg_pool2d(img.unsqueeze(0), kernel_size)[0, 0]
        vmax = 1.0 if row == 0 else full.quantile(0.995).item()
        k = kernel_size
        small_crop = tuple(slice(None if s.start is None else s.start // k, None if s.stop is None else s.stop // k) for s in crop)
        for ax, (title, im, c) in zip(axes[row], [(f"{name}, full {tuple(full.shape)}", full, crop),
                                                  (f"max pool {k}x{k} -> {tuple(mx.shape)}", mx, small_crop),
                                                  (f"average pool {k}x{k} -> {tuple(av.shape)}", av, small_crop)]):
            ax.imshow(im[c].numpy(), cmap="gray", vmin=0, vmax=vmax, interpolation="nearest")
            ax.set_title(title, fontsize=9)
            ax.set_xlabel("x (pixels)")
            ax.set_ylabel("y (pixels)")
    fig.suptitle(f"What {kernel_size}x{kernel_size} max pooling keeps and average pooling blurs")
    fig.tight_layout()
    plt.close(fig)  # shown once, as the cell's value
    return fig


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


# ----------------------------------------------------------------------------- training comparisons

@dataclass(frozen=True)
class RunSummary:
    """One model variant trained with several seeds: mean and spread of test accuracy and time."""

    name: str
    params: int
    accuracies: tuple[float, ...]
    seconds: tuple[float, ...]

    @property
    def mean_accuracy(self) -> float:
        return sum(self.accuracies) / len(self.accuracies)

    @property
    def spread(self) -> float:
        """Half the range of the seeds' accuracies (0 with one seed)."""
        return (max(self.accuracies) - min(self.accuracies)) / 2

    @property
    def mean_seconds(self) -> float:
        return sum(self.seconds) / len(self.seconds)


def summarize_runs(runs: dict[str, list[tuple[int, float, float]]]) -> list[RunSummary]:
    """``{name: [(params, test_accuracy, seconds), ...one per seed]}`` -> one summary per name."""
    out = []
    for name, results in runs.items():
        if not results:
            raise ValueError(f"summarize_runs: no runs for {name!r}")
        out.append(RunSummary(name, results[0][0], tuple(r[1] for r in results), tuple(r[2] for r in results)))
    return out


def format_run_summaries(rows: Sequence[RunSummary]) -> str:
    """A table: parameters, test accuracy (mean ± half-range over seeds), training seconds."""
    lines = [f"{'variant':<30} {'params':>8}  {'test accuracy':>16}  {'seeds':>5}  {'train s/run':>11}"]
    for r in rows:
        lines.append(f"{r.name:<30} {r.params:>8}  {r.mean_accuracy:>9.4f} ± {r.spread:.4f}  {len(r.accuracies):>5}  "
                     f"{r.mean_seconds:>11.1f}")
    return "\n".join(lines)


class HeadNet(nn.Module):
    """A small CNN for (N, 1, 28, 28) digits with a swappable classifier head.

    features: conv 3x3 (1->8) -> ReLU -> max pool 2 -> conv 3x3 (8->16) -> ReLU -> max pool 2
    -> conv 3x3 (16->32) -> ReLU, a (N, 32, 7, 7) map (small, so it trains in seconds on a CPU).
    ``head="fc"``: flatten and one linear layer from all 32*7*7 values (LeNet/VGG style);
    ``head="gap"``: global average pooling to (N, 32), then a linear layer (Network in Network,
    ResNet style).
    """

    def __init__(self, head: str = "gap", num_classes: int = 10, image_size: int = 28, channels=(8, 16, 32)):
        super().__init__()
        c1, c2, c3 = channels
        self.features = nn.Sequential(
            nn.Conv2d(1, c1, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c1, c2, 3, padding=1), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(c2, c3, 3, padding=1), nn.ReLU(),
        )
        if head == "gap":
            self.head = nn.Sequential(nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(c3, num_classes))
        elif head == "fc":
            side = image_size // 4
            self.head = nn.Sequential(nn.Flatten(), nn.Linear(c3 * side * side, num_classes))
        else:
            raise ValueError(f"HeadNet: unknown head {head!r}; choose 'gap' or 'fc'")
        self.head_kind = head

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """x (N, 1, H, W) -> logits (N, num_classes)."""
        return self.head(self.features(x))


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
    "max pool 2x2": lambda m: max_pool2d(m, 2),
    "max pool 3x3/2 (overlapping)": lambda m: max_pool2d(m, 3, 2, 1),
    "max pool 4x4": lambda m: max_pool2d(m, 4),
    "global average pool": global_avg_pool2d,
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


def draw_shift_change(changes: dict[str, dict[str, list[float]]], shifts: Sequence[int]):
    """One panel per input kind (e.g. raw digits, feature maps): relative change vs shift, one line per pool."""
    fig, axes = plt.subplots(1, len(changes), figsize=(6 * len(changes), 4.2), squeeze=False)
    for ax, (title, per_pool) in zip(axes[0], changes.items()):
        for name, values in per_pool.items():
            ax.plot(list(shifts), values, marker="o", label=name,
                    linestyle="--" if name == "no pooling" else "-", linewidth=2.5 if name == "no pooling" else 1.5)
        ax.set_xticks(list(shifts))
        ax.set_xlabel("shift to the right (pixels)")
        ax.set_ylabel("relative change ||p(f(x')) - p(f(x))|| / ||p(f(x))||")
        ax.set_title(title)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle("How much a small shift of the input changes the pooled representation")
    fig.tight_layout()
    plt.close(fig)  # shown once, as the cell's value
    return fig


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
    pool = max_pool2d if kind == "max" else avg_pool2d
    pooled = pool(image.unsqueeze(0), kernel_size, stride)[0]  # (C, H', W')
    return PoolView(image, pooled, kind, kernel_size, stride)


def summarize_pool_view(view: PoolView) -> str:
    """One line: shapes, and how many input pixels each output pixel covers / skips."""
    k, s = view.kernel_size, view.stride
    overlap = "windows overlap" if s < k else ("windows tile the image" if s == k else f"{s - k} pixel(s) skipped between windows")
    kept = math.prod(view.out_shape[1:]) / math.prod(view.in_shape[1:])
    return f"{view.in_shape} -> {view.out_shape} ({kept:.1%} of the positions kept; {overlap})"


def draw_pool_view(view: PoolView):
    """The image and its pooled version side by side, the pooled one shown at its own pixel grid.

    Kept lean (fixed layout, no ticks, 72 dpi) so a widget update stays well under 150 ms.
    """
    def hwc(t):
        return (t[0] if t.shape[0] == 1 else t.permute(1, 2, 0)).clamp(0, 1).numpy()

    fig, axes = plt.subplots(1, 2, figsize=(7.5, 2.8), dpi=72)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.88, wspace=0.05)
    axes[0].imshow(hwc(view.image), cmap="gray", interpolation="nearest")
    axes[0].set_title(f"input {view.in_shape}", fontsize=9)
    axes[1].imshow(hwc(view.pooled), cmap="gray", interpolation="nearest")
    axes[1].set_title(f"{view.kind} pool K={view.kernel_size}, S={view.stride} -> {view.out_shape}", fontsize=9)
    for ax in axes:
        ax.set_axis_off()  # each image is drawn at its own pixel grid; the titles give the sizes
    plt.close(fig)  # shown once, as the cell's value (the Explorer displays it itself)
    return fig
