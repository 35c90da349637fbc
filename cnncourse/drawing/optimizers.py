"""Figures of notebooks for ``cnncourse.lessons.optimizers``: thin matplotlib layers over its results.

Moved out of the compute module so that importing the course's compute does not load a
plotting backend.
"""
from __future__ import annotations

import math
from functools import lru_cache

import contourpy
import matplotlib.ticker
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.collections import LineCollection

from ..lessons.optimizers import LABELS, SURFACES, Trajectory, _contour_grid
from ..viz import label
from ..viz import part as _part

__all__ = ['draw_trajectories', 'draw_explore', 'update_explore', 'draw_noisy', 'draw_rate_sweep']


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
            run_label = f"{LABELS.get(name, name)} (lr {t.lr:g})"
            p = t.path.numpy()
            ax.plot(p[:, 0], p[:, 1], "-", color=colors[i], lw=1.3, label=run_label)
            ax_loss.semilogy(np.maximum(t.losses.numpy() - SURFACES[s].f_min, 1e-12), color=colors[i], label=run_label)
        ax.set_title(label("figure.optimizers.best_rate_title", surface=s), fontsize=10)
        ax.legend(fontsize=7, loc="lower right")
        ax_loss.axhline(SURFACES[s].tol, color="k", ls=":", lw=1, label=label("figure.optimizers.tolerance"))
        ax_loss.set(xlabel=label("figure.optimizers.step"), ylabel=label("figure.optimizers.gap_axis"),
                    title=label("figure.optimizers.surface_loss_title", surface=s), ylim=(1e-10, None))
        ax_loss.grid(alpha=0.3)
    fig.tight_layout()
    plt.close(fig)  # shown once, as the return value
    return fig


def draw_explore(t: Trajectory):
    """The widget's figure: the path on its surface (left) and f − f_min per step (right, log scale).

    :func:`update_explore` (``draw_explore.update``) shows another trajectory in the same
    figure (the widget does, instead of building a new figure per move); this function is that
    update on a new figure.
    """
    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(10, 3.8), gridspec_kw={"width_ratios": [1.5, 1]})
    _draw_surface(ax, t.surface)
    ax.plot([], [], "o-", color="C3", lw=1.2, markersize=2, gid="path")
    ax_loss.semilogy([], [], color="C3", gid="loss")
    ax_loss.axhline(1.0, color="k", ls=":", lw=1, gid="tolerance")
    ax_loss.set(xlabel=label("figure.optimizers.step"), ylabel=label("figure.optimizers.gap_axis"),
                title=label("figure.optimizers.loss_title"))
    ax_loss.grid(alpha=0.3)
    ax_loss.set_axisbelow(True)  # grid and ticks under the lines
    # a few major ticks, no minor ones, labels without mathtext: a log axis's tick search and
    # parsing "$10^{-3}$" anew at every redraw were most of an update
    ax_loss.yaxis.set_major_locator(matplotlib.ticker.LogLocator(numticks=5))
    ax_loss.yaxis.set_major_formatter(matplotlib.ticker.FuncFormatter(_power_of_ten))
    ax_loss.yaxis.set_minor_locator(matplotlib.ticker.NullLocator())
    fig.subplots_adjust(left=0.065, right=0.98, bottom=0.14, top=0.9, wspace=0.28)  # tight_layout: 5x slower
    update_explore(fig, t)
    plt.close(fig)  # shown once, as the return value
    return fig


def update_explore(fig, t: Trajectory) -> tuple | None:
    """Show trajectory ``t`` in a figure from :func:`draw_explore`; returns what changed, for
    :class:`cnncourse.widgets.Explorer`, or None where more changed (the surface, the steps).

    The step axis spans all of the run's steps even when it diverged early (its line stops
    there), so every move is read on the same axis and only the loss axis moves.
    """
    ax, ax_loss = fig.axes
    same = not _set_surface(ax, t.surface)
    path, loss, tolerance = _part(ax, "path"), _part(ax_loss, "loss"), _part(ax_loss, "tolerance")
    p = t.path.numpy()
    path.set_data(p[:, 0], p[:, 1])
    ax.set_title(label("figure.optimizers.explore_title", optimizer=LABELS.get(t.optimizer, t.optimizer),
                       surface=t.surface, lr=f"{t.lr:.3g}"))
    losses = np.maximum(t.losses.numpy() - SURFACES[t.surface].f_min, 1e-12)
    loss.set_data(np.arange(len(losses)), losses)
    tolerance.set_ydata([SURFACES[t.surface].tol] * 2)
    steps = len(losses) - 1
    xlim = (-0.05 * steps, 1.05 * steps)  # matplotlib's default margins
    same = same and ax_loss.get_xlim() == xlim
    ax_loss.set_xlim(xlim)
    ax_loss.relim()
    ax_loss.autoscale_view(scalex=False)
    if not same:
        return None
    # the spines too: drawn over the lines that reach them (and the grid under the lines)
    return (path, *ax.spines.values(), ax.title, loss, tolerance, ax_loss.yaxis, *ax_loss.spines.values())


draw_explore.update = update_explore  # what the widget calls at every move


_SUPERSCRIPT = str.maketrans("-0123456789", "⁻⁰¹²³⁴⁵⁶⁷⁸⁹")


def _power_of_ten(value: float, _position=None) -> str:
    """A log axis's tick label: "10⁻³" for 0.001 (plain text; the default "$10^{-3}$" is mathtext, slow to redraw)."""
    exponent = math.log10(value) if value > 0 else math.nan
    if not math.isfinite(exponent) or abs(exponent - round(exponent)) > 1e-9:
        return f"{value:g}"
    return "10" + str(int(round(exponent))).translate(_SUPERSCRIPT)


def draw_noisy(runs: dict[str, Trajectory], window: int | None = None):
    """Noisy runs on one surface: the paths (left) and f − f_min per step (right, log scale).

    ``runs``: label -> Trajectory (all on the same surface); ``window`` shades the steps from
    which the summaries are taken (e.g. the second half).
    """
    first = next(iter(runs.values()))
    surf = SURFACES[first.surface]
    fig, (ax, ax_loss) = plt.subplots(1, 2, figsize=(11, 3.8), gridspec_kw={"width_ratios": [1.3, 1]})
    _draw_surface(ax, first.surface)
    for i, (name, t) in enumerate(runs.items()):
        p = t.path.numpy()
        ax.plot(p[:, 0], p[:, 1], "-", color=f"C{i}", lw=0.7, alpha=0.8, label=name)
        ax_loss.semilogy(np.maximum(t.losses.numpy() - surf.f_min, 1e-12), color=f"C{i}", lw=0.7, alpha=0.8, label=name)
    if window is not None:
        ax_loss.axvspan(window, len(first.losses) - 1, color="0.9", zorder=0, label=label("figure.optimizers.measured"))
    ax.set_title(label("figure.optimizers.noisy_title", surface=first.surface), fontsize=10)
    ax.legend(fontsize=7, loc="lower right")
    ax_loss.set(xlabel=label("figure.optimizers.step"), ylabel=label("figure.optimizers.gap_axis"),
                title=label("figure.optimizers.loss_title"))
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
    for i, (name, (lrs, accs)) in enumerate(sweeps.items()):
        means = [float(np.mean(a)) for a in accs]
        ax.plot(lrs, means, "o-", color=f"C{i}", lw=1.3, markersize=4, label=name)
        for lr, a in zip(lrs, accs):
            if len(a) > 1:
                ax.plot([lr] * len(a), a, ".", color=f"C{i}", alpha=0.35, markersize=4)
    ax.set_xscale("log")
    ax.set(xlabel=label("figure.optimizers.learning_rate"), ylabel=label("figure.optimizers.validation_accuracy"), title=title)
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
    """The surface ``surface`` on ``ax``: a shaded image of log10(f − f_min), level lines, minimum and start."""
    # an image plus cached level lines: much faster to redraw than contourf
    ax.imshow(np.zeros((2, 2)), origin="lower", cmap="Greys", alpha=0.45, aspect="auto", gid="surface")
    ax.add_collection(LineCollection([], colors="grey", linewidths=0.4, gid="levels"))
    ax.plot([], [], "k*", markersize=12, label=label("figure.optimizers.minimum"), gid="minimum")
    ax.plot([], [], "ko", markersize=5, gid="start")
    ax.set(xlabel="x", ylabel="y")
    _set_surface(ax, surface)


def _set_surface(ax, surface: str) -> bool:
    """Point the artists of :func:`_draw_surface` on ``ax`` at surface ``surface``; False if they already were."""
    image = _part(ax, "surface")
    if image.get_label() == surface:  # the image's label records the surface it shows
        return False
    surf = SURFACES[surface]
    _, _, logz = _contour_grid(surface)
    image.set_label(surface)
    image.set_data(logz)
    image.set_extent((*surf.xlim, *surf.ylim))
    image.autoscale()  # the colour range of this surface's values
    _part(ax, "levels").set_segments(_level_lines(surface))
    _part(ax, "minimum").set_data([surf.minimum[0]], [surf.minimum[1]])
    _part(ax, "start").set_data([surf.start[0]], [surf.start[1]])
    ax.set(xlim=surf.xlim, ylim=surf.ylim)
    return True
