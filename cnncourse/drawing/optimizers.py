"""Figures of notebooks for ``cnncourse.lessons.optimizers``: thin matplotlib layers over its results.

Moved out of the compute module so that importing the course's compute does not load a
plotting backend.
"""
from __future__ import annotations

from functools import lru_cache

import contourpy
import matplotlib.ticker
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection

from ..lessons.optimizers import LABELS, SURFACES, Trajectory, _contour_grid

__all__ = ['draw_trajectories', 'draw_explore', 'draw_noisy', 'draw_rate_sweep']


def draw_trajectories(best: dict[str, dict[str, Trajectory]]):
    """One panel per surface with every optimiser's path, plus loss-vs-step panels below."""
    surfaces = list(best)
    fig, axes = plt.subplots(2, len(surfaces), figsize=(5.2 * len(surfaces), 8.0),
                             gridspec_kw={"height_ratios": [1.4, 1]}, squeeze=False)
    colors = plt.get_cmap("tab10").colors
    for j, s in enumerate(surfaces):
        ax, ax_loss = axes[0, j], axes[1, j]
        _draw_surface(ax, s)
        for i, (name, t) in enumerate(best[s].items()):
            label = f"{LABELS.get(name, name)} (lr {t.lr:g})"
            p = t.path.numpy()
            ax.plot(p[:, 0], p[:, 1], "-", color=colors[i], lw=1.3, label=label)
            ax_loss.semilogy(np.maximum(t.losses.numpy() - SURFACES[s].f_min, 1e-12), color=colors[i], label=label)
        ax.set_title(f"{s}: each at its best learning rate", fontsize=10)
        ax.legend(fontsize=7, loc="lower right")
        ax_loss.axhline(SURFACES[s].tol, color="k", ls=":", lw=1, label="tolerance")
        ax_loss.set(xlabel="step", ylabel="f(p) − f(minimum)", title=f"{s}: loss per step", ylim=(1e-10, None))
        ax_loss.grid(alpha=0.3)
    fig.tight_layout()
    plt.close(fig)  # shown once, as the return value
    return fig


def draw_explore(t: Trajectory):
    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [1.5, 1]})
    _draw_surface(ax, t.surface)
    p = t.path.numpy()
    ax.plot(p[:, 0], p[:, 1], "o-", color="C3", lw=1.2, markersize=2)
    ax.set_title(f"{LABELS.get(t.optimizer, t.optimizer)} on {t.surface}, lr {t.lr:.3g}")
    ax_loss.semilogy(np.maximum(t.losses.numpy() - SURFACES[t.surface].f_min, 1e-12), color="C3")
    ax_loss.axhline(SURFACES[t.surface].tol, color="k", ls=":", lw=1)
    ax_loss.set(xlabel="step", ylabel="f(p) − f(minimum)", title="loss per step")
    ax_loss.grid(alpha=0.3)
    # a few major ticks and no minor ones: a log axis's tick search is a large share of each redraw
    ax_loss.yaxis.set_major_locator(matplotlib.ticker.LogLocator(numticks=5))
    ax_loss.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    fig.subplots_adjust(left=0.06, right=0.98, bottom=0.14, top=0.9, wspace=0.28)  # tight_layout: 5x slower
    plt.close(fig)  # shown once, as the return value
    return fig


def draw_noisy(runs: dict[str, Trajectory], window: int | None = None):
    """Noisy runs on one surface: the paths (left) and f − f_min per step (right, log scale).

    ``runs``: label -> Trajectory (all on the same surface); ``window`` shades the steps from
    which the summaries are taken (e.g. the second half).
    """
    first = next(iter(runs.values()))
    surf = SURFACES[first.surface]
    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1.3, 1]})
    _draw_surface(ax, first.surface)
    for i, (label, t) in enumerate(runs.items()):
        p = t.path.numpy()
        ax.plot(p[:, 0], p[:, 1], "-", color=f"C{i}", lw=0.7, alpha=0.8, label=label)
        ax_loss.semilogy(np.maximum(t.losses.numpy() - surf.f_min, 1e-12), color=f"C{i}", lw=0.7, alpha=0.8, label=label)
    if window is not None:
        ax_loss.axvspan(window, len(first.losses) - 1, color="0.9", zorder=0, label="measured")
    ax.set_title(f"noisy gradients on the {first.surface} bowl: the paths", fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    ax_loss.set(xlabel="step", ylabel="f(p) − f(minimum)", title="loss per step")
    ax_loss.legend(fontsize=7)
    ax_loss.grid(alpha=0.3)
    fig.tight_layout()
    plt.close(fig)  # shown once, as the return value
    return fig


def draw_rate_sweep(sweeps: dict[str, tuple], title: str = ""):
    """Accuracy against the learning rate, one line per optimiser (mean) and one dot per run.

    ``sweeps``: label -> (learning rates, one list of accuracies per rate).
    """
    fig, ax = plt.subplots(figsize=(8, 4))
    for i, (label, (lrs, accs)) in enumerate(sweeps.items()):
        means = [float(np.mean(a)) for a in accs]
        ax.plot(lrs, means, "o-", color=f"C{i}", lw=1.3, markersize=4, label=label)
        for lr, a in zip(lrs, accs):
            if len(a) > 1:
                ax.plot([lr] * len(a), a, ".", color=f"C{i}", alpha=0.35, markersize=4)
    ax.set_xscale("log")
    ax.set(xlabel="learning rate", ylabel="validation accuracy", title=title)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    plt.close(fig)  # shown once, as the return value
    return fig


@lru_cache(maxsize=8)
def _level_lines(surface: str, levels: int = 12) -> tuple:
    """The surface's level lines of log10(f − f_min), computed once per surface (a widget redraws them often)."""
    gx, gy, logz = _contour_grid(surface)
    values = np.linspace(logz.min(), logz.max(), levels + 2)[1:-1]
    generator = contourpy.contour_generator(gx, gy, logz)
    return tuple(line for v in values for line in generator.lines(v) if len(line) > 1)


def _draw_surface(ax, surface: str) -> None:
    surf = SURFACES[surface]
    _, _, logz = _contour_grid(surface)
    # a shaded image of log10(f − f_min) plus cached level lines: much faster to redraw than contourf
    ax.imshow(logz, extent=(*surf.xlim, *surf.ylim), origin="lower", cmap="Greys", alpha=0.45, aspect="auto")
    ax.add_collection(LineCollection(_level_lines(surface), colors="grey", linewidths=0.4))
    ax.plot(*surf.minimum, "k*", markersize=12, label="minimum")
    ax.plot(*surf.start, "ko", markersize=5)
    ax.set(xlim=surf.xlim, ylim=surf.ylim, xlabel="x", ylabel="y")
