"""Figures of notebooks for ``cnncourse.lessons.learning_rate``: thin matplotlib layers over its results.

Moved out of the compute module so that importing the course's compute does not load a
plotting backend.
"""
from __future__ import annotations

import math
import matplotlib.pyplot as plt
import numpy as np
import torch
from torch import Tensor
from ..lessons.learning_rate import LABELS, RangeTest, ScheduleCurve

__all__ = ['draw_schedules', 'draw_explore', 'draw_range_test']


def draw_schedules(curves: dict[str, Tensor], metrics: Tensor | None = None, unit: str = "step"):
    """One small panel per schedule: the lr at every step (and, for ReduceLROnPlateau, its metric)."""
    n = len(curves)
    ncols = min(4, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.4 * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, (kind, lrs) in zip(axes.flat, curves.items()):
        ax.plot(np.arange(len(lrs)), lrs.numpy(), color="C0")
        ax.set_title(LABELS.get(kind, kind), fontsize=9)
        ax.set_xlabel(unit, fontsize=8)
        ax.set_ylabel("learning rate", fontsize=8)
        ax.set_ylim(0, lrs.max().item() * 1.1)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if kind == "plateau" and metrics is not None:
            twin = ax.twinx()
            twin.plot(np.arange(len(metrics)), metrics.numpy(), color="C1", lw=0.8, alpha=0.7)
            twin.set_ylabel("val. loss (synthetic)", fontsize=7, color="C1")
            twin.tick_params(labelsize=6, colors="C1")
    fig.subplots_adjust(left=0.07, right=0.95, bottom=0.12, top=0.92, wspace=0.55, hspace=0.6)
    plt.close(fig)
    return fig


def draw_explore(c: ScheduleCurve):
    fig, ax = plt.subplots(figsize=(9, 3), dpi=72)
    steps = np.arange(len(c.lrs))
    ax.plot(steps, c.lrs.numpy(), color="C0", label="learning rate")
    ax.axhline(c.peak_lr, color="gray", ls=":", lw=0.8, label="peak lr setting")
    ax.axhline(c.mean_lr, color="C2", ls="--", lw=0.8, label="mean lr")
    if c.metrics is not None:
        scaled = c.metrics / c.metrics.max() * c.peak_lr
        ax.plot(steps, scaled.numpy(), color="C1", lw=0.7, alpha=0.6, label="val. loss (synthetic, scaled)")
    ax.set(xlabel="step", ylabel="learning rate", title=f"{LABELS[c.kind]} over {len(c.lrs)} steps",
           ylim=(0, c.peak_lr * 1.15), xlim=(0, len(c.lrs)))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.9)  # tight_layout: several times slower
    plt.close(fig)  # shown once, as the value (savefig still works on a closed figure)
    return fig


def draw_range_test(rt: RangeTest, marked: dict[str, float] | None = None):
    """Loss against lr (log axis) with the suggestion and any ``marked`` lrs as vertical lines."""
    fig, ax = plt.subplots(figsize=(7, 3.4))
    ax.plot(rt.lrs.numpy(), rt.losses.numpy(), color="C0", alpha=0.3, lw=0.8, label="mini-batch loss")
    ax.plot(rt.lrs.numpy(), rt.smoothed.numpy(), color="C0", label="smoothed")
    ax.set_xscale("log")
    ax.axvline(rt.best_lr, color="C3", ls=":", label=f"lowest loss ({rt.best_lr:.2g})")
    ax.axvline(rt.suggested_lr, color="C2", ls="--", label=f"suggestion = lowest / 10 ({rt.suggested_lr:.2g})")
    ax.axvline(rt.steepest_lr, color="C4", ls="-.", label=f"steepest descent ({rt.steepest_lr:.2g})")
    for i, (name, lr) in enumerate((marked or {}).items()):
        ax.axvline(lr, color=f"C{5 + i}", lw=0.8, label=f"{name} ({lr:g})")
    top = min(rt.smoothed[0].item() * 1.6, rt.losses[torch.isfinite(rt.losses)].max().item())
    ax.set(xlabel="learning rate (log scale)", ylabel="training loss", title="LR range test (Smith 2017)",
           ylim=(0, top))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.15, top=0.9)
    plt.close(fig)
    return fig
