"""Figures of notebooks/10_regularization.ipynb: thin matplotlib layers over its results.

Moved out of the compute module (``cnncourse.lessons.regularization``) so that importing the
course's compute does not load a plotting backend. Every function draws what it is given
(histories, intervals, weight vectors), closes its figure and returns it, so a notebook cell
shows it once, as the cell's value.
"""
from __future__ import annotations

import math

import matplotlib.pyplot as plt
from torch import Tensor

from ..lessons.regularization import DropoutView, tile_maps
from ..stats import Interval
from ..train import History
from ..viz import label

__all__ = ["draw_dropout_view", "draw_overfitting", "draw_gaps", "draw_weight_histograms"]


def draw_dropout_view(v: DropoutView):
    """Three rows: the maps, after element-wise dropout, after spatial dropout."""
    fig, axes = plt.subplots(3, 1, figsize=(9, 3.6), dpi=72)
    fig.subplots_adjust(left=0.02, right=0.98, top=0.92, bottom=0.02, hspace=0.35)
    p = f"{v.p:.2f}"
    rows = [(v.maps, label("figure.regularization.maps", mean=f"{v.mean_in:.3f}")),
            (v.element, label("figure.regularization.element", p=p, mean=f"{v.mean_element:.3f}")),
            (v.channel, label("figure.regularization.channel", p=p, mean=f"{v.mean_channel:.3f}"))]
    for ax, (maps, title) in zip(axes, rows):
        ax.imshow(tile_maps(maps).numpy(), cmap="magma", interpolation="nearest", aspect="equal")
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    plt.close(fig)  # shown once, as the return value
    return fig


def draw_overfitting(h: History, title: str = ""):
    """Two panels of one run: training and validation loss (log scale), training and validation accuracy."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    axes[0].plot(h.epoch, h.train_loss, "o-", ms=3, label=label("figure.regularization.training_loss"))
    axes[0].plot(h.epoch, h.val_loss, "o-", ms=3, label=label("figure.regularization.validation_loss"))
    axes[0].set(xlabel=label("figure.epoch"), ylabel=label("figure.regularization.cross_entropy"),
                title=label("figure.regularization.losses_part_ways"), yscale="log")
    axes[1].plot(h.epoch, h.train_acc, "o-", ms=3, label=label("figure.regularization.training_accuracy"))
    axes[1].plot(h.epoch, h.val_acc, "o-", ms=3, label=label("figure.regularization.validation_accuracy"))
    axes[1].set(xlabel=label("figure.epoch"), ylabel=label("figure.accuracy"), title=title)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.15, wspace=0.3)
    plt.close(fig)  # shown once, as the return value
    return fig


def _errors(intervals: list[Interval]) -> list[list[float]]:
    """Matplotlib's asymmetric error bars from intervals (0 where one value gives no interval)."""
    low = [i.mean - i.low if math.isfinite(i.low) else 0.0 for i in intervals]
    high = [i.high - i.mean if math.isfinite(i.high) else 0.0 for i in intervals]
    return [low, high]


def draw_gaps(panels: dict[str, dict[str, Interval]], baseline: str = "baseline", title: str = ""):
    """One panel per measure (e.g. "acc gap", "loss gap", "val acc"): each setting's mean over the seeds
    as a dot with its 95 % interval as a whisker; the baseline in grey, its mean as a dotted line."""
    rows = max(len(p) for p in panels.values())
    fig, axes = plt.subplots(1, len(panels), figsize=(4.6 * len(panels), 0.42 * rows + 1.4), squeeze=False)
    for ax, (measure, intervals) in zip(axes[0], panels.items()):
        for row, (name, interval) in enumerate(intervals.items()):
            ax.errorbar([interval.mean], [row], xerr=_errors([interval]), fmt="o", capsize=3,
                        color="0.5" if name == baseline else "C0")
        if baseline in intervals:
            ax.axvline(intervals[baseline].mean, color="0.5", ls=":", lw=1)
        ax.set_yticks(range(len(intervals)), list(intervals), fontsize=8)
        ax.set_ylim(len(intervals) - 0.5, -0.5)   # first setting on top
        ax.set_xlabel(measure)
        ax.grid(alpha=0.3, axis="x")
    axes[0][0].set_title(title, fontsize=9, loc="left")
    fig.subplots_adjust(left=0.14, right=0.98, bottom=0.2, top=0.88, wspace=0.8)
    plt.close(fig)  # shown once, as the return value
    return fig


def draw_weight_histograms(weights: dict[str, Tensor], threshold: float = 1e-3, title: str = ""):
    """The distribution of log10 |w| of each weight vector (one step-histogram each), with the threshold dotted."""
    fig, ax = plt.subplots(figsize=(7, 3.2))
    for name, w in weights.items():
        ax.hist(w.abs().clamp_min(1e-8).log10().numpy(), bins=60, range=(-8, 0), histtype="step", density=True,
                label=name)
    ax.axvline(math.log10(threshold), color="k", ls=":", lw=1)
    ax.set(xlabel="log10 |w|", ylabel=label("figure.regularization.density"), title=title)
    ax.legend(fontsize=8)
    fig.subplots_adjust(bottom=0.16)
    plt.close(fig)  # shown once, as the return value
    return fig
