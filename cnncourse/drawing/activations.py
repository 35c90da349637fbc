"""Chapter 03's figures: thin matplotlib layers over :mod:`cnncourse.lessons.activations` and the
notebook's measured numbers. A figure a function creates is closed before it is returned (a
notebook cell shows it once, as its value); one drawn into a given ``ax`` is left open.

Taught in notebooks/03_activations.ipynb.
"""
from __future__ import annotations

import math
from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from ..lessons.activations import EXPLORER_CHOICES, Curve, activation_curve
from ..viz import label

__all__ = [
    "draw_curve",
    "update_curve",
    "draw_all_curves",
    "draw_gradient_norms",
    "draw_seed_scores",
    "draw_dead_over_training",
]


def draw_curve(c: Curve, ax=None):
    """f (solid) and f' (dashed) with autograd's f' (dots) on one axis.

    On a figure of its own (no ``ax``), :func:`update_curve` (``draw_curve.update``) shows
    another curve in the same figure (the widget does, instead of building a new one per move).
    """
    own = ax is None
    if own:
        fig, ax = plt.subplots(figsize=(6, 3.4))
    else:
        fig = ax.figure
    ax.axhline(0, color="0.6", lw=0.8)
    ax.axvline(0, color="0.6", lw=0.8)
    ax.plot([], [], lw=2, label="f(x)", gid="f")
    ax.plot([], [], "--", lw=2, label=label("figure.activations.closed_form"), gid="df")
    ax.plot([], [], "o", ms=3, color="k", label=label("figure.activations.autograd"), gid="autograd")
    ax.set(xlabel="x", ylabel=label("figure.activations.value"), ylim=(-1.6, 3.2))
    ax.grid(alpha=0.3)
    ax.set_axisbelow(True)  # the grid under the curves
    ax.legend(fontsize=8, loc="upper left")
    _show_curve(ax, c)
    if own:
        fig.subplots_adjust(left=0.11, right=0.975, bottom=0.17, top=0.89)  # tight_layout's, fixed for the updates
        plt.close(fig)
    return fig


def update_curve(fig, c: Curve) -> tuple | None:
    """Show curve ``c`` in a figure from :func:`draw_curve`; returns what changed, for
    :class:`cnncourse.widgets.Explorer` (the curves, title, frame and legend), or None where
    the x range changed too."""
    ax = fig.axes[0]
    xlim = ax.get_xlim()
    _show_curve(ax, c)
    if ax.get_xlim() != xlim:
        return None
    parts = [a for a in ax.get_lines() if a.get_gid() in ("f", "df", "autograd")]
    return (*parts, ax.title, *ax.spines.values(), ax.get_legend())  # the legend and frame lie over the curves


draw_curve.update = update_curve  # what the widget calls at every move


def _show_curve(ax, c: Curve) -> None:
    """Put curve ``c`` into the lines, title and x range of a :func:`draw_curve` axis."""
    x = c.x.numpy()
    lines = {a.get_gid(): a for a in ax.get_lines()}
    lines["f"].set_data(x, c.f.numpy())
    lines["df"].set_data(x, c.df.numpy())
    lines["autograd"].set_data(x[::20], c.df_autograd.numpy()[::20])
    knob = f" ({c.knob} = {c.value:.2f})" if c.knob else ""
    ax.set_title(f"{c.name}{knob}")
    ax.relim()
    ax.autoscale_view(scaley=False)


def draw_all_curves(names: Sequence[str] = EXPLORER_CHOICES, ncols: int = 3):
    """A grid of :func:`draw_curve` panels, one per activation at its default knob."""
    nrows = math.ceil(len(names) / ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(4.2 * ncols, 2.9 * nrows), squeeze=False)
    for ax in axes.flat[len(names):]:
        ax.axis("off")
    for name, ax in zip(names, axes.flat):
        draw_curve(activation_curve(name), ax=ax)
        ax.legend().set_visible(ax is axes.flat[0])
    fig.suptitle(label("figure.activations.all_curves"))
    fig.tight_layout()
    plt.close(fig)
    return fig


def draw_gradient_norms(panels: Mapping[str, Mapping[str, Sequence[float]]], ylabel: str | None = None):
    """One panel per entry of ``panels`` (title -> {activation: value per layer}), log scale, shared y
    (``ylabel`` default: "‖∂loss/∂W‖ (log scale)", in the course's language)."""
    if not panels:
        raise ValueError("draw_gradient_norms: give at least one panel, e.g. {'matched init': {'relu': [...]}}")
    fig, axes = plt.subplots(1, len(panels), figsize=(6 * len(panels), 3.8), sharey=True, squeeze=False)
    for ax, (title, norms) in zip(axes.flat, panels.items()):
        for name, values in norms.items():
            ax.semilogy(range(1, len(values) + 1), values, "o-", ms=3, label=name)
        ax.set(xlabel=label("figure.activations.layer_index"), title=title)
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    axes.flat[0].set_ylabel(label("figure.activations.gradient_norm") if ylabel is None else ylabel)
    fig.tight_layout()
    plt.close(fig)
    return fig


def draw_seed_scores(scores: Mapping[str, Sequence[float]], ylabel: str | None = None, title: str | None = None,
                     chance: float | None = None):
    """One column per setting, one dot per seed; a thin line joins the same seed across settings (the pairing).

    Defaults, in the course's language: ``ylabel`` "validation accuracy", ``title`` "<n> paired seeds per setting".
    """
    if not scores:
        raise ValueError("draw_seed_scores: give at least one setting, e.g. {'relu': [0.9, 0.91]}")
    names = list(scores)
    values = np.array([list(scores[n]) for n in names], dtype=float)  # (settings, seeds)
    fig, ax = plt.subplots(figsize=(max(5.0, 1.1 * len(names) + 1.5), 3.8))
    x = np.arange(len(names))
    for seed in range(values.shape[1]):
        ax.plot(x, values[:, seed], "-", color="0.75", lw=0.8, zorder=1, label=label("figure.activations.same_seed") if seed == 0 else None)
    for i, name in enumerate(names):
        ax.plot(np.full(values.shape[1], x[i]), values[i], "o", ms=6, zorder=2)
        ax.plot([x[i] - 0.25, x[i] + 0.25], [values[i].mean()] * 2, "k-", lw=2, zorder=3,
                label=label("figure.activations.mean") if i == 0 else None)
    if chance is not None:
        ax.axhline(chance, color="tab:red", ls=":", lw=1, label=label("figure.activations.chance", chance=f"{chance:g}"))
    ax.set_xticks(x, names, rotation=20)
    ax.set(ylabel=label("figure.activations.validation_accuracy") if ylabel is None else ylabel,
           xlabel=label("figure.activations.setting"),
           title=title or label("figure.activations.paired_seeds", n=values.shape[1]))
    ax.grid(alpha=0.3, axis="y")
    ax.legend(fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig


def draw_dead_over_training(curves: Mapping[str, Sequence[Sequence[float]]], checkpoints: Sequence[str],
                            title: str | None = None):
    """Dead-unit fraction at each checkpoint: ``curves`` maps a setting to one sequence per seed."""
    if not curves:
        raise ValueError("draw_dead_over_training: give at least one setting, e.g. {'relu': [[0.1, 0.3]]}")
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    x = np.arange(len(checkpoints))
    for i, (name, runs) in enumerate(curves.items()):
        color = f"C{i}"
        for j, run in enumerate(runs):
            if len(run) != len(checkpoints):
                raise ValueError(f"draw_dead_over_training: {name} run {j} has {len(run)} values for "
                                 f"{len(checkpoints)} checkpoints")
            ax.plot(x, run, "o-", color=color, alpha=0.6, lw=1, label=name if j == 0 else None)
    ax.set_xticks(x, checkpoints)
    ax.set(xlabel=label("figure.activations.when_measured"), ylabel=label("figure.activations.dead_fraction"),
           title=title or label("figure.activations.dead_title"))
    ax.set_ylim(bottom=0)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig
