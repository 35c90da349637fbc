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

from .. import viz
from ..viz import label
from ..lessons.learning_rate import LABELS, RangeTest, ScheduleCurve

__all__ = ["draw_schedules", "draw_explore", "draw_range_test", "draw_lr_curves", "draw_runs"]

# The figure label of each schedule's display name in LABELS (ReduceLROnPlateau, a PyTorch name, stays as it is).
_KIND_KEYS = {
    "constant": "figure.learning_rate.kind_constant", "step": "figure.learning_rate.kind_step",
    "cosine": "figure.learning_rate.kind_cosine", "warmup": "figure.learning_rate.kind_warmup",
    "warmup_cosine": "figure.learning_rate.kind_warmup_cosine", "onecycle": "figure.learning_rate.kind_onecycle",
}


def _kind_name(kind: str) -> str:
    """The display name of schedule ``kind`` (LABELS), in the learner's language."""
    key = _KIND_KEYS.get(kind)
    return label(key) if key is not None else LABELS.get(kind, kind)


def draw_schedules(curves: dict[str, Tensor], metrics: Tensor | None = None, unit: str | None = None):
    """One small panel per schedule: the lr at every step (and, for ReduceLROnPlateau, its metric).

    ``unit``: the x-axis label (None: "step", in the learner's language)."""
    unit = label("figure.learning_rate.step") if unit is None else unit
    n = len(curves)
    ncols = min(4, n)
    nrows = math.ceil(n / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(3.2 * ncols, 2.4 * nrows), squeeze=False)
    for ax in axes.flat[n:]:
        ax.axis("off")
    for ax, (kind, lrs) in zip(axes.flat, curves.items()):
        ax.plot(np.arange(len(lrs)), lrs.numpy(), color="C0")
        ax.set_title(_kind_name(kind), fontsize=9)
        ax.set_xlabel(unit, fontsize=8)
        ax.set_ylabel(label("figure.learning_rate.learning_rate"), fontsize=8)
        ax.set_ylim(0, lrs.max().item() * 1.1)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        if kind == "plateau" and metrics is not None:
            twin = ax.twinx()
            twin.plot(np.arange(len(metrics)), metrics.numpy(), color="C1", lw=0.8, alpha=0.7)
            twin.set_ylabel(label("figure.learning_rate.synthetic_val_loss"), fontsize=7, color="C1")
            twin.tick_params(labelsize=6, colors="C1")
    fig.subplots_adjust(left=0.07, right=0.95, bottom=0.12, top=0.92, wspace=0.55, hspace=0.6)
    plt.close(fig)
    return fig


def draw_explore(c: ScheduleCurve):
    """The widget's figure: the lr at every step, the peak setting (dotted) and the mean lr (dashed).

    No legend (it would be a third of the redraw time): the title names the lines, and the
    widget's summary line prints their values.
    """
    fig, ax = plt.subplots(figsize=(9, 3), dpi=72)
    steps = np.arange(len(c.lrs))
    ax.plot(steps, c.lrs.numpy(), color="C0")
    ax.axhline(c.peak_lr, color="gray", ls=":", lw=0.8)
    ax.axhline(c.mean_lr, color="C2", ls="--", lw=0.8)
    key = "figure.learning_rate.explore_title"
    if c.metrics is not None:
        scaled = c.metrics / c.metrics.max() * c.peak_lr
        ax.plot(steps, scaled.numpy(), color="C1", lw=0.7, alpha=0.6)
        key = "figure.learning_rate.explore_title_metric"
    ax.set(xlabel=label("figure.learning_rate.step"), ylabel=label("figure.learning_rate.learning_rate"),
           title=label(key, schedule=_kind_name(c.kind), steps=len(c.lrs)),
           ylim=(0, c.peak_lr * 1.15), xlim=(0, len(c.lrs)))
    ax.grid(alpha=0.3)
    fig.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.9)  # tight_layout: several times slower
    plt.close(fig)  # shown once, as the value (savefig still works on a closed figure)
    return fig


def draw_range_test(rt: RangeTest, marked: dict[str, float] | None = None):
    """Loss against lr (log axis) with the suggestion and any ``marked`` lrs as vertical lines."""
    fig, ax = plt.subplots(figsize=(7, 3.4))
    ax.plot(rt.lrs.numpy(), rt.losses.numpy(), color="C0", alpha=0.3, lw=0.8, label=label("figure.learning_rate.minibatch_loss"))
    ax.plot(rt.lrs.numpy(), rt.smoothed.numpy(), color="C0", label=label("figure.learning_rate.smoothed"))
    ax.set_xscale("log")
    ax.axvline(rt.best_lr, color="C3", ls=":", label=label("figure.learning_rate.lowest_loss", lr=f"{rt.best_lr:.2g}"))
    ax.axvline(rt.suggested_lr, color="C2", ls="--", label=label("figure.learning_rate.suggestion", lr=f"{rt.suggested_lr:.2g}"))
    ax.axvline(rt.steepest_lr, color="C4", ls="-.", label=label("figure.learning_rate.steepest", lr=f"{rt.steepest_lr:.2g}"))
    for i, (name, lr) in enumerate((marked or {}).items()):
        ax.axvline(lr, color=f"C{5 + i}", lw=0.8, label=f"{name} ({lr:g})")
    top = min(rt.smoothed[0].item() * 1.6, rt.losses[torch.isfinite(rt.losses)].max().item())
    ax.set(xlabel=label("figure.learning_rate.learning_rate_log"), ylabel=label("figure.learning_rate.training_loss"),
           title=label("figure.learning_rate.range_test_title"),
           ylim=(0, top))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="lower left")
    fig.subplots_adjust(left=0.1, right=0.97, bottom=0.15, top=0.9)
    plt.close(fig)
    return fig


def draw_lr_curves(curves: dict[str, Tensor], title: str, marks: dict[str, float] | None = None,
                   unit: str | None = None):
    """Several lr curves (label -> (steps,)) on one axis, with vertical lines at the ``marks`` (label -> step).

    ``unit``: the x-axis label (None: "scheduler step", in the learner's language)."""
    unit = label("figure.learning_rate.scheduler_step") if unit is None else unit
    fig, ax = plt.subplots(figsize=(9, 3.2))
    for name, lrs in curves.items():
        ax.plot(np.arange(len(lrs)), lrs.numpy(), label=name)
    for i, (name, step) in enumerate((marks or {}).items()):
        ax.axvline(step, color=f"C{len(curves) + i}", ls=":", lw=1, label=name)
    ax.set(xlabel=unit, ylabel=label("figure.learning_rate.learning_rate"), title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, loc="upper right")
    fig.subplots_adjust(left=0.09, right=0.98, bottom=0.16, top=0.9)
    plt.close(fig)
    return fig


def draw_runs(histories: dict, lrs: dict[str, Tensor], batches_per_epoch: int, accuracy: dict[str, list[float]],
              title: str = ""):
    """Four panels: training loss and validation accuracy per epoch (one run per setting), the lr of
    every mini-batch (log scale), and the test accuracy of every seed per setting (dots, mean bar)."""
    fig, axes = plt.subplots(1, 4, figsize=(16, 3.8))
    viz.plot_histories(histories, metric="train_loss", title=label("figure.learning_rate.runs_train_loss"), ax=axes[0])
    axes[0].set_yscale("log")
    viz.plot_histories(histories, metric="val_acc", title=label("figure.learning_rate.runs_val_acc"), ax=axes[1])
    for name, curve in lrs.items():
        axes[2].plot(np.arange(len(curve)) / batches_per_epoch, curve.numpy(), label=name)
    axes[2].set(xlabel=label("figure.epoch"), ylabel=label("figure.learning_rate.learning_rate"),
                title=label("figure.learning_rate.runs_lr"), yscale="log")
    axes[2].grid(alpha=0.3)
    labels = list(accuracy)
    for i, name in enumerate(labels):
        values = np.asarray(accuracy[name], dtype=float)
        axes[3].scatter(np.full(len(values), i), values, s=14, color=f"C{i % 10}", alpha=0.7)
        axes[3].hlines(values.mean(), i - 0.3, i + 0.3, color="black", lw=1.5)
    axes[3].set_xticks(range(len(labels)), labels, rotation=60, ha="right", fontsize=7)
    axes[3].set(ylabel=label("figure.learning_rate.test_accuracy"), title=label("figure.learning_rate.runs_test_acc"))
    axes[3].grid(alpha=0.3, axis="y")
    for ax in axes[:3]:
        legend = ax.get_legend()
        if legend is not None:
            legend.remove()
    handles, names = axes[2].get_legend_handles_labels()
    fig.legend(handles, names, loc="lower center", ncol=min(len(names), 6), fontsize=7, frameon=False)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.subplots_adjust(left=0.05, right=0.99, bottom=0.36, top=0.86, wspace=0.3)
    plt.close(fig)
    return fig
