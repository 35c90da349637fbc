"""Chapter 04's figures: thin matplotlib layers over :mod:`cnncourse.lessons.pooling` and the
notebook's measured numbers. Every function returns a closed figure (a notebook cell shows it
once, as its value).

Taught in notebooks/04_pooling.ipynb.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..lessons.pooling import PoolView, _max_pool2d, avg_pool2d, sobel_magnitude
from ..viz import label

__all__ = [
    "draw_max_vs_avg",
    "draw_photo_losses",
    "draw_accuracy_intervals",
    "draw_shifted_accuracy",
    "draw_shift_change",
    "draw_pool_view",
]


def draw_max_vs_avg(gray: torch.Tensor, kernel_size: int = 4, crop: tuple[slice, slice] | None = None):
    """Photo (1, H, W) and its edge map, each max-pooled and average-pooled side by side (a crop zooms in)."""
    edges = sobel_magnitude(gray)
    crop = crop or (slice(None), slice(None))
    panels = [(label("figure.pooling.photo"), gray), (label("figure.pooling.edge_map"), edges)]
    fig, axes = plt.subplots(2, 3, figsize=(12, 6.4))
    k = kernel_size
    small_crop = tuple(slice(None if s.start is None else s.start // k, None if s.stop is None else s.stop // k) for s in crop)
    for row, (name, img) in enumerate(panels):
        full = img[0]
        mx = _max_pool2d(img.unsqueeze(0), k)[0, 0]
        av = avg_pool2d(img.unsqueeze(0), k)[0, 0]
        vmax = 1.0 if row == 0 else full.quantile(0.995).item()
        for ax, (title, im, c) in zip(axes[row], [
                (label("figure.pooling.full", name=name, shape=tuple(full.shape)), full, crop),
                (label("figure.pooling.max_pool", k=k, shape=tuple(mx.shape)), mx, small_crop),
                (label("figure.pooling.average_pool", k=k, shape=tuple(av.shape)), av, small_crop)]):
            ax.imshow(im[c].numpy(), cmap="gray", vmin=0, vmax=vmax, interpolation="nearest")
            ax.set_title(title, fontsize=9)
            ax.set_xlabel(label("figure.pooling.x_pixels"))
            ax.set_ylabel(label("figure.pooling.y_pixels"))
    fig.suptitle(label("figure.pooling.max_vs_avg_title", k=k))
    fig.tight_layout()
    plt.close(fig)
    return fig


def draw_photo_losses(names: Sequence[str], lost: Mapping[str, Sequence[float]], kept: Mapping[str, Sequence[float]]):
    """Per photo: the fraction each pooling cannot give back (left) and the strong edges it keeps (right).

    ``lost`` and ``kept`` map a method name to one value per photo (in the order of ``names``).
    """
    fig, (ax_lost, ax_kept) = plt.subplots(1, 2, figsize=(13, 4.6), sharey=True)
    y = np.arange(len(names))
    for ax, values, xlabel, title in [
        (ax_lost, lost, label("figure.pooling.lost_xlabel"), label("figure.pooling.lost_title")),
        (ax_kept, kept, label("figure.pooling.kept_xlabel"), label("figure.pooling.kept_title")),
    ]:
        height = 0.8 / max(1, len(values))
        for i, (method, vals) in enumerate(values.items()):
            ax.barh(y + (i - (len(values) - 1) / 2) * height, list(vals), height=height, label=method)
        ax.set_xlabel(xlabel)
        ax.set_title(title)
        ax.grid(axis="x", alpha=0.3)
        ax.legend(fontsize=8)
    ax_lost.set_xscale("log")
    ax_kept.set_xlim(0, 1.05)
    ax_lost.set_yticks(y, list(names), fontsize=8)
    ax_lost.set_ylabel(label("figure.pooling.photo"))
    ax_lost.invert_yaxis()
    fig.suptitle(label("figure.pooling.photo_losses_title"))
    fig.tight_layout()
    plt.close(fig)
    return fig


def draw_accuracy_intervals(results: Mapping[str, Sequence[float]], intervals: Mapping[str, tuple[float, float]],
                            title: str, ylabel: str | None = None, xlabel: str | None = None):
    """One dot per seed and the mean with its 95 % interval, for each setting.

    ``ylabel`` and ``xlabel`` default to "test accuracy" and "setting" (in the learner's language).

    ``results``: setting -> one value per seed; ``intervals``: setting -> (low, high) from
    :func:`cnncourse.stats.mean_ci`.
    """
    ylabel = label("figure.pooling.test_accuracy") if ylabel is None else ylabel
    xlabel = label("figure.pooling.setting") if xlabel is None else xlabel
    fig, ax = plt.subplots(figsize=(7.5, 3.8))
    for i, (name, values) in enumerate(results.items()):
        values = list(values)
        low, high = intervals[name]
        mean = sum(values) / len(values)
        ax.scatter([i] * len(values), values, color="tab:gray", s=14, zorder=2,
                   label=label("figure.pooling.one_seed") if i == 0 else None)
        ax.errorbar([i], [mean], yerr=[[mean - low], [high - mean]], fmt="o", color="tab:blue", capsize=6, zorder=3,
                    label=label("figure.pooling.mean_interval") if i == 0 else None)
    ax.set_xticks(range(len(results)), list(results), fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig


def draw_shifted_accuracy(shifts: Sequence[int], curves: Mapping[str, Sequence[Sequence[float]]]):
    """Accuracy against the shift of the test digits: one line per model (the mean over its seeds), seeds faint."""
    fig, ax = plt.subplots(figsize=(7, 4))
    for i, (name, per_seed) in enumerate(curves.items()):
        arr = np.asarray(per_seed, dtype=float)  # (seeds, shifts)
        color = f"C{i}"
        for run in arr:
            ax.plot(list(shifts), run, color=color, alpha=0.2, linewidth=1)
        ax.plot(list(shifts), arr.mean(axis=0), color=color, marker="o", linewidth=2,
                label=label("figure.pooling.mean_of", name=name, n=len(arr)))
    ax.set_xticks(list(shifts))
    ax.set_xlabel(label("figure.pooling.diagonal_shift"))
    ax.set_ylabel(label("figure.pooling.test_accuracy"))
    ax.set_ylim(0, 1)
    ax.set_title(label("figure.pooling.shifted_accuracy_title"))
    ax.legend(fontsize=8)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    plt.close(fig)
    return fig


def draw_shift_change(changes: Mapping[str, Mapping[str, Sequence[float]]], shifts: Sequence[int]):
    """One panel per input kind (e.g. raw digits, feature maps): relative change vs shift, one line per pool."""
    fig, axes = plt.subplots(1, len(changes), figsize=(6 * len(changes), 4.2), squeeze=False)
    for ax, (title, per_pool) in zip(axes[0], changes.items()):
        for name, values in per_pool.items():
            ax.plot(list(shifts), list(values), marker="o", label=name,
                    linestyle="--" if name == "no pooling" else "-", linewidth=2.5 if name == "no pooling" else 1.5)
        ax.set_xticks(list(shifts))
        ax.set_xlabel(label("figure.pooling.shift_right"))
        ax.set_ylabel(label("figure.pooling.relative_change"))
        ax.set_title(title)
        ax.set_ylim(bottom=0)
        ax.grid(alpha=0.3)
    axes[0][0].legend(fontsize=8)
    fig.suptitle(label("figure.pooling.shift_change_title"))
    fig.tight_layout()
    plt.close(fig)
    return fig


_KIND_KEYS = {"max": "figure.pooling.kind_max", "avg": "figure.pooling.kind_avg"}  # PoolView.kind -> its display name


def draw_pool_view(view: PoolView):
    """The image and its pooled version side by side, the pooled one shown at its own pixel grid.

    Kept lean (fixed layout, no ticks, 72 dpi) so a widget update stays well under 150 ms.
    """
    def hwc(t):
        return (t[0] if t.shape[0] == 1 else t.permute(1, 2, 0)).clamp(0, 1).numpy()

    fig, axes = plt.subplots(1, 2, figsize=(7.5, 2.8), dpi=72)
    fig.subplots_adjust(left=0.01, right=0.99, bottom=0.02, top=0.88, wspace=0.05)
    axes[0].imshow(hwc(view.image), cmap="gray", interpolation="nearest")
    axes[0].set_title(label("figure.pooling.input", shape=view.in_shape), fontsize=9)
    axes[1].imshow(hwc(view.pooled), cmap="gray", interpolation="nearest")
    kind = label(_KIND_KEYS[view.kind]) if view.kind in _KIND_KEYS else view.kind
    axes[1].set_title(label("figure.pooling.pooled", kind=kind, k=view.kernel_size, s=view.stride, shape=view.out_shape),
                      fontsize=9)
    for ax in axes:
        ax.set_axis_off()  # each image is drawn at its own pixel grid; the titles give the sizes
    plt.close(fig)  # the Explorer displays it itself
    return fig
