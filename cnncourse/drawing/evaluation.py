"""Figures of notebooks/11_evaluation_tuning.ipynb: thin matplotlib layers over the numbers its cells measure.

Kept apart from ``cnncourse.lessons.evaluation`` so that importing the course's compute does not
load a plotting backend. Every function closes its figure and returns it (shown once, as a cell's value).
"""
from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from ..viz import label

__all__ = ["draw_search_table", "draw_early_stopping", "draw_ensembles"]


def draw_search_table(lrs: Sequence[float], others: Sequence, val_mean: np.ndarray, grid_lrs: Sequence[Sequence[float]],
                      other_name: str | None = None, title: str | None = None):
    """Mean validation accuracy over seeds against the learning rate, one line per value of the other
    hyper-parameter (``val_mean`` has shape (len(lrs), len(others))); the learning rates of each grid
    placement as ticks under the curves. ``other_name`` None: "weight decay"; ``title`` None: "the table
    every search is drawn from" (both in the learner's language)."""
    other_name = label("figure.evaluation.weight_decay") if other_name is None else other_name
    title = label("figure.evaluation.search_title") if title is None else title
    val_mean = np.asarray(val_mean, dtype=float)
    if val_mean.shape != (len(lrs), len(others)):
        raise ValueError(f"draw_search_table: val_mean must have shape {(len(lrs), len(others))}, got {val_mean.shape}")
    fig, ax = plt.subplots(figsize=(7.5, 3.4), dpi=72)
    for j, value in enumerate(others):
        ax.plot(lrs, val_mean[:, j], "o-", ms=4, label=f"{other_name} {value:g}")
    low = float(np.nanmin(val_mean))
    for k, placement in enumerate(grid_lrs):
        y = low - 0.04 * (k + 1)
        ax.plot(placement, [y] * len(placement), "|", ms=10, mew=2, color="k" if k == 0 else "gray")
    ax.text(lrs[0], low - 0.04 * (len(grid_lrs) + 1.2), label("figure.evaluation.grid_ticks"), fontsize=8)
    ax.set_xscale("log")
    ax.set(xlabel=label("figure.evaluation.learning_rate"), ylabel=label("figure.evaluation.val_acc_mean"), title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.15, top=0.9)
    plt.close(fig)  # shown once, as the return value
    return fig


def draw_early_stopping(epochs: Sequence[int], train_loss: Sequence[float], val_loss: Sequence[float],
                        best_epoch: int, stop_epoch: int, seed: int, title: str | None = None):
    """Training and (clean) validation loss of the fixed-epoch run, with early stopping's restored
    (best) epoch and the epoch it stopped after marked (``title`` None: "training on noisy labels", in the
    learner's language; the seed is added to it)."""
    title = label("figure.evaluation.early_stopping_title") if title is None else title
    fig, ax = plt.subplots(figsize=(7, 3.2), dpi=72)
    ax.plot(epochs, train_loss, "o-", ms=3, label=label("figure.evaluation.train_loss_noisy"))
    ax.plot(epochs, val_loss, "o-", ms=3, label=label("figure.evaluation.val_loss_clean"))
    ax.axvline(best_epoch, color="g", ls="--", label=label("figure.evaluation.best_epoch", epoch=best_epoch))
    ax.axvline(stop_epoch, color="r", ls=":", label=label("figure.evaluation.stopped_after", epoch=stop_epoch))
    ax.set(xlabel=label("figure.epoch"), ylabel=label("figure.evaluation.cross_entropy"),
           title=label("figure.evaluation.with_seed", title=title, seed=seed))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.16, top=0.88)
    plt.close(fig)  # shown once, as the return value
    return fig


def draw_ensembles(results: dict[str, Sequence[float]], reference: str, title: str | None = None):
    """One column per method, one dot per seed, seeds joined by thin lines (paired); ``reference``
    (a key of ``results``) is drawn first (``title`` None: "test accuracy per seed", in the learner's language)."""
    title = label("figure.evaluation.ensembles_title") if title is None else title
    names = [reference] + [n for n in results if n != reference]
    values = np.array([results[n] for n in names], dtype=float)  # (methods, seeds)
    fig, ax = plt.subplots(figsize=(7.5, 3.4), dpi=72)
    x = np.arange(len(names))
    for s in range(values.shape[1]):
        ax.plot(x, values[:, s], "-", color="gray", alpha=0.35, lw=0.8)
    for i in x:
        ax.scatter([i] * values.shape[1], values[i], s=18, zorder=3)
        ax.scatter([i], [values[i].mean()], marker="_", s=400, color="k", zorder=4)
    ax.set_xticks(x, names, fontsize=8)
    ax.set(ylabel=label("figure.evaluation.test_accuracy"), title=title)
    ax.grid(alpha=0.3, axis="y")
    fig.subplots_adjust(left=0.1, right=0.98, bottom=0.15, top=0.9)
    plt.close(fig)  # shown once, as the return value
    return fig
