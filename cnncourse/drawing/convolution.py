"""Chapter 02's figures: thin matplotlib layers over :mod:`cnncourse.lessons.convolution` and the
notebook's measured numbers. Every function returns a closed figure (a notebook cell shows it
once, as its value).

Taught in notebooks/02_convolution.ipynb.
"""
from __future__ import annotations

from typing import Mapping

import matplotlib.pyplot as plt
import torch
from matplotlib.patches import Rectangle

from ..layers.conv import pad2d
from ..lessons.convolution import PADDING_MODES, ConvView
from ..viz import label

__all__ = [
    "draw_kernel_gallery",
    "draw_dot_pairs",
    "draw_padding_modes",
    "draw_timings",
    "draw_conv_view",
]


def draw_kernel_gallery(image: torch.Tensor, maps: dict[str, torch.Tensor], kernels: dict[str, torch.Tensor],
                        title: str | None = None):
    """The photo, then each feature map with its kernel's weights printed in the corner (``title`` default:
    "Hand-made kernels on a real photo", in the course's language)."""
    names = list(maps)
    ncols = 4
    nrows = -(-(len(names) + 1) // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.3 * ncols, 2.6 * nrows))
    axes = axes.flat
    axes[0].imshow(image[0].numpy(), cmap="gray", vmin=0, vmax=1)
    axes[0].set_title(label("figure.convolution.input_photo"))
    for ax, name in zip(axes[1:], names):
        m = maps[name]
        signed = name in ("edge (Laplacian)", "Sobel x", "Sobel y")
        if signed:
            lim = m.abs().quantile(0.995).item() or 1.0
            ax.imshow(m.numpy(), cmap="bwr", vmin=-lim, vmax=lim)
        else:
            ax.imshow(m.numpy(), cmap="gray", vmin=0, vmax=max(1.0, m.quantile(0.995).item()) if name == "Sobel magnitude" else 1)
        ax.set_title(label("figure.convolution.signed_map", name=name) if signed else name, fontsize=9)
        if name in kernels:
            text = "\n".join(" ".join(f"{v:5.2f}" for v in row) for row in kernels[name].tolist())
            ax.text(0.02, 0.02, text, transform=ax.transAxes, fontsize=6, family="monospace",
                    va="bottom", bbox=dict(fc="white", alpha=0.8, lw=0))
    for ax in fig.axes:
        ax.set_xticks([])
        ax.set_yticks([])
    for ax in fig.axes[len(names) + 1:]:  # unused tiles
        ax.set_axis_off()
    fig.suptitle(label("figure.convolution.gallery_title") if title is None else title)
    fig.tight_layout()
    plt.close(fig)  # shown once, as the cell's value
    return fig


def draw_dot_pairs(examples: Mapping[int, tuple[torch.Tensor, torch.Tensor]], per_class: int = 2,
                   title: str | None = None):
    """Example images of :func:`cnncourse.lessons.convolution.dot_pairs`, one row per gap.

    ``examples`` maps gap -> (images (N, 1, H, W), labels (N,)); each row shows ``per_class``
    images of class 0 (horizontal pairs) then of class 1 (vertical pairs). ``title`` default: "The dot-pair
    task: is every pair horizontal (0) or vertical (1)?", in the course's language.
    """
    gaps = list(examples)
    ncols = 2 * per_class
    fig, axes = plt.subplots(len(gaps), ncols, figsize=(1.9 * ncols, 2.0 * len(gaps) + 0.4), squeeze=False)
    for row, gap in zip(axes, gaps):
        images, labels = examples[gap]
        chosen = [i for c in (0, 1) for i in (labels == c).nonzero().flatten()[:per_class].tolist()]
        if len(chosen) < ncols:
            raise ValueError(f"draw_dot_pairs: gap {gap} has fewer than {per_class} images of each class")
        for ax, i in zip(row, chosen):
            ax.imshow(images[i, 0].numpy(), cmap="gray_r", vmin=0, vmax=1)
            kind = label("figure.convolution.horizontal" if int(labels[i]) == 0 else "figure.convolution.vertical")
            ax.set_title(label("figure.convolution.gap_class", gap=gap, c=int(labels[i]), kind=kind), fontsize=8)
            ax.set_xticks([])
            ax.set_yticks([])
        row[0].set_ylabel(label("figure.convolution.dots_apart", gap=gap), fontsize=9)
    fig.suptitle(label("figure.convolution.dot_pairs_title") if title is None else title, fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig


def draw_padding_modes(patch: torch.Tensor, pad: int, title: str | None = None):
    """The corner ``patch`` (C, h, w) padded by ``pad`` in each mode; the original area outlined (``title``
    default: "Padding modes on the photo's corner", in the course's language)."""
    fig, axes = plt.subplots(1, len(PADDING_MODES), figsize=(3.2 * len(PADDING_MODES), 3.4))
    for ax, mode in zip(axes, PADDING_MODES):
        padded = pad2d(patch.unsqueeze(0), pad, mode=mode)[0]
        ax.imshow(padded.permute(1, 2, 0).clamp(0, 1).numpy() if padded.shape[0] == 3 else padded[0].numpy(),
                  cmap="gray", vmin=0, vmax=1)
        h, w = patch.shape[-2:]
        ax.add_patch(Rectangle((pad - 0.5, pad - 0.5), w, h, fill=False, ec="yellow", lw=1.5, ls="--"))
        ax.set_title(label("figure.convolution.default_mode", mode=mode) if mode == "zeros" else mode, fontsize=9)
        ax.set_xlabel(label("figure.convolution.x_pixels"))
    axes[0].set_ylabel(label("figure.convolution.y_pixels"))
    fig.suptitle(label("figure.convolution.padding_title") if title is None else title)
    fig.tight_layout()
    plt.close(fig)  # shown once, as the cell's value
    return fig


def draw_timings(times: Mapping[str, float], title: str | None = None):
    """Horizontal bars of seconds per call (log scale), fastest at the bottom (``title`` default: "one conv
    layer, each implementation", in the course's language)."""
    fig, ax = plt.subplots(figsize=(6, 0.45 * len(times) + 1.0))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    ax.barh(list(times), [1000 * s for s in times.values()], color=colors[:len(times)])
    ax.set(xscale="log", xlabel=label("figure.convolution.ms_per_call"), ylabel=label("figure.convolution.implementation"),
           title=label("figure.convolution.timings_title") if title is None else title)
    ax.invert_yaxis()
    fig.tight_layout()
    plt.close(fig)
    return fig


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
    ax_in.set_title(label("figure.convolution.input_size", h=H, w=W), fontsize=9)
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
        ax_out.set_title(label("figure.convolution.output_size", h=m.shape[0], w=m.shape[1]), fontsize=9)
    for ax in (ax_in, ax_out):
        ax.set_xticks([])
        ax.set_yticks([])
    plt.close(fig)  # the Explorer (or the cell) displays it itself
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
    ax.set_title(label("figure.convolution.receptive_field", span=span), fontsize=8)
