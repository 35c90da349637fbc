"""Chapter 05's figures: thin matplotlib layers over :mod:`cnncourse.lessons.normalization` and
the notebook's measured numbers. Every function returns a closed figure (a notebook cell shows
it once, as its value; the widget renders it to PNG).

Taught in notebooks/05_normalization.ipynb.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import matplotlib.ticker
import numpy as np
import torch

from ..lessons.normalization import KIND_NAMES, RunningTrace, StatNoise, normalized_block
from ..viz import label
from ..viz import part as _part

__all__ = [
    "draw_norm_cubes",
    "draw_running_trace",
    "draw_accuracy_sweep",
    "draw_gradient_profiles",
    "draw_stat_noise",
    "update_stat_noise",
]

_NORM_COLORS = {"none": "C0", "batch": "C3", "group": "C2", "layer": "C4", "instance": "C1"}


def _label(norm: str) -> str:
    return label("figure.normalization.no_norm") if norm == "none" else KIND_NAMES.get(norm, norm)


def draw_norm_cubes(kinds: Sequence[str] = ("batch", "layer", "instance", "group"), num_groups: int = 2):
    """The feature-map cube N x C x (H*W), one per norm, with one normalised set shaded (Wu & He 2018, Fig. 2)."""
    fig = plt.figure(figsize=(3.2 * len(kinds), 3.4))
    N, C, HW = 4, 6, 5
    for i, kind in enumerate(kinds):
        ax = fig.add_subplot(1, len(kinds), i + 1, projection="3d")
        mask = normalized_block(kind, N, C, HW, num_groups)
        # voxel axes: x = N, y = C, z = H*W
        filled = np.ones_like(mask)
        colors = np.where(mask[..., None], np.array([0.15, 0.45, 0.85, 0.9]), np.array([0.9, 0.9, 0.9, 0.15]))
        ax.voxels(filled, facecolors=colors, edgecolors=(0.4, 0.4, 0.4, 0.35), linewidth=0.3)
        ax.set_xlabel(label("figure.normalization.samples_axis"), fontsize=8, labelpad=-8)
        ax.set_ylabel(label("figure.normalization.channels_axis"), fontsize=8, labelpad=-8)
        ax.set_zlabel(label("figure.normalization.pixels_axis"), fontsize=8, labelpad=-8)
        ax.set_xticks([]), ax.set_yticks([]), ax.set_zticks([])
        ax.view_init(elev=22, azim=-55)
        extra = f" (G={num_groups})" if kind == "group" else ""
        ax.set_title(f"{KIND_NAMES[kind]}{extra}", fontsize=10)
    fig.suptitle(label("figure.normalization.cubes_title"), fontsize=10)
    fig.tight_layout()
    plt.close(fig)
    return fig


def draw_running_trace(trace: RunningTrace):
    """Running mean and variance error against the step, one curve per momentum."""
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.4))
    for name in trace.mean_error:
        axes[0].plot(trace.steps, trace.mean_error[name], label=name)
        axes[1].plot(trace.steps, trace.var_error[name], label=name)
    axes[0].set(title=label("figure.normalization.running_mean_title"), xlabel=label("figure.normalization.training_step"),
                ylabel=label("figure.normalization.mean_error_std"), yscale="log")
    axes[1].set(title=label("figure.normalization.running_var_title"), xlabel=label("figure.normalization.training_step"),
                ylabel=label("figure.normalization.mean_error_var"), yscale="log")
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    fig.suptitle(label("figure.normalization.running_title", batch_size=trace.batch_size))
    fig.tight_layout()
    plt.close(fig)
    return fig


def draw_accuracy_sweep(panels: Mapping[str, tuple[Sequence[float], Mapping[str, Mapping[float, Sequence[float]]]]],
                        ylabel: str | None = None, title: str = "", log_x: bool = True, chance: float | None = 0.1):
    """Accuracy against a knob, one dot per seed and a line through the means, one colour per norm.

    ``panels`` maps a panel title to ``(xs, {norm: {x: [accuracy per seed]}})``; e.g. the
    learning rates and ``{"none": {0.01: [...], ...}, "batch": {...}}``. ``ylabel`` defaults to "test accuracy".
    """
    if ylabel is None:
        ylabel = label("figure.normalization.test_accuracy")
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 3.4), squeeze=False)
    for ax, (name, (xs, acc)) in zip(axes[0], panels.items()):
        for norm, by_x in acc.items():
            color = _NORM_COLORS.get(norm, None)
            for x in xs:
                values = list(by_x[x])
                ax.plot([x] * len(values), values, "o", color=color, alpha=0.35, markersize=4)
            ax.plot(list(xs), [float(np.mean(by_x[x])) for x in xs], "-", color=color, lw=2,
                    label=label("figure.normalization.mean_of_seeds", norm=_label(norm), seeds=len(by_x[xs[0]])))
        if chance is not None:
            ax.axhline(chance, color="gray", ls=":", lw=1, label=label("figure.normalization.chance"))
        if log_x:
            ax.set_xscale("log")
        ax.set_xticks(list(xs), [f"{x:g}" for x in xs])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.set(title=name, ylabel=ylabel, ylim=(0, 1))
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    plt.close(fig)
    return fig


def draw_gradient_profiles(profiles: Mapping[tuple[str, float], torch.Tensor], title: str = ""):
    """RMS gradient reaching each layer (log scale), one panel per initialisation gain, one line per norm.

    ``profiles[(norm, gain)]`` is a (L,) tensor from :func:`cnncourse.lessons.normalization.gradient_rms`
    (or its mean over seeds), layer 1 = the first layer after the input.
    """
    gains = sorted({gain for _, gain in profiles})
    norms = list(dict.fromkeys(norm for norm, _ in profiles))
    fig, axes = plt.subplots(1, len(gains), figsize=(4.2 * len(gains), 3.4), sharey=True, squeeze=False)
    for ax, gain in zip(axes[0], gains):
        for norm in norms:
            if (norm, gain) not in profiles:
                continue
            rms = torch.as_tensor(profiles[norm, gain]).float()
            ax.plot(range(1, len(rms) + 1), rms.numpy(), "o-", markersize=3, color=_NORM_COLORS.get(norm),
                    label=_label(norm))
        ax.set(yscale="log", xlabel=label("figure.normalization.layer_axis"),
               title=label("figure.normalization.init_title", gain=f"{gain:g}"))
        ax.grid(alpha=0.3, which="both")
        ax.legend(fontsize=8)
    axes[0, 0].set_ylabel(label("figure.normalization.gradient_rms"))
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    plt.close(fig)
    return fig


def draw_stat_noise(result: StatNoise):
    """Left: the channel-0 mean each sample is normalised with, train vs eval. Right: the mismatch curve.

    :func:`update_stat_noise` (``draw_stat_noise.update``) shows another setting in the same
    figure (the widget does, instead of building a new figure per move); this function is that
    update on a new figure.
    """
    # 72 dpi and a modest size keep a widget update (compute + draw + PNG) fast
    fig, axes = plt.subplots(1, 2 if result.curve else 1, figsize=(9 if result.curve else 4.5, 3.1), dpi=72, squeeze=False)
    ax = axes[0, 0]
    ax.stairs([0.0], [0.0, 1.0], fill=True, alpha=0.6, gid="training")
    ax.axvline(0.0, color="C1", lw=2, gid="evaluation mean")  # batch norm: one running mean for every sample
    ax.stairs([0.0], [0.0, 1.0], lw=2, color="C1", gid="evaluation")  # the others: each sample's own
    ax.set(xlabel=label("figure.normalization.mean_used"), ylabel=label("figure.normalization.samples"))
    ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(5))  # fewer ticks to lay out per redraw:
    ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))  # ticks are most of a redraw's time
    if result.curve:
        ax = axes[0, 1]
        for kind, curve in result.curve.items():
            ax.plot(list(curve), list(curve.values()), label=KIND_NAMES[kind], markersize=4, gid=f"curve {kind}")
        ax.plot([], [], "r*", markersize=14, label=label("figure.normalization.this_setting"), gid="setting", zorder=6)  # over the legend too
        sizes = sorted({b for curve in result.curve.values() for b in curve})
        ax.set(xscale="log", xlabel=label("figure.normalization.batch_size"), ylabel=label("figure.normalization.mismatch_axis"),
               title=label("figure.normalization.mismatch_title"))
        # fixed ticks, no minor ticks: a log axis's tick search was half of each redraw
        ax.set_xticks(sizes, [str(b) for b in sizes])
        ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
        ax.yaxis.set_major_locator(matplotlib.ticker.MaxNLocator(4))
        ax.title.set_fontsize(9)
        ax.grid(alpha=0.3)
        ax.set_axisbelow(True)  # grid under the lines and the star
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.16, top=0.9, wspace=0.25)
    update_stat_noise(fig, result)
    plt.close(fig)
    return fig


def update_stat_noise(fig, result: StatNoise) -> tuple | None:
    """Show ``result`` in a figure from :func:`draw_stat_noise` (made for a result with the same
    curves); returns what changed, for :class:`cnncourse.widgets.Explorer`: the histogram panel,
    the star and the frame around it, or None where the norm changed (the curves' styles)."""
    ax = fig.axes[0]
    ev = result.eval_mean
    both = torch.cat([result.train_mean, ev])
    spread = max(float(both.abs().max()), 0.05) * 1.05
    bins = np.linspace(-spread, spread, 41)
    training = _part(ax, "training")
    training.set_data(np.histogram(result.train_mean.numpy(), bins=bins)[0], bins)
    training.set_label(label("figure.normalization.training_hist"))
    one_mean = bool(torch.allclose(ev, ev[0].expand_as(ev)))
    evaluation = _part(ax, "evaluation mean") if one_mean else _part(ax, "evaluation")
    _part(ax, "evaluation mean").set_visible(one_mean)
    _part(ax, "evaluation").set_visible(not one_mean)
    if one_mean:
        evaluation.set_xdata([ev[0].item()] * 2)
        evaluation.set_label(label("figure.normalization.evaluation_running"))
    else:
        evaluation.set_data(np.histogram(ev.numpy(), bins=bins)[0], bins)
        evaluation.set_label(label("figure.normalization.evaluation"))
    ax.relim(visible_only=True)
    ax.autoscale_view()
    ax.set_title(label("figure.normalization.stat_title", kind=KIND_NAMES[result.kind], batch_size=result.batch_size),
                 fontsize=9)
    ax.legend(handles=[training, evaluation], fontsize=8, loc="upper left")
    if len(fig.axes) == 1:
        return (ax,)
    ax = fig.axes[1]
    same = True
    for kind in result.curve:
        line = _part(ax, f"curve {kind}")
        style = ("o", "-") if kind == result.kind else (".", "--")
        same = same and (line.get_marker(), line.get_linestyle()) == style
        line.set_marker(style[0])
        line.set_linestyle(style[1])
    star = _part(ax, "setting")
    star.set_data([result.batch_size], [result.mismatch])
    if not same or ax.get_legend() is None:
        ax.legend(fontsize=8, loc="upper right")  # its keys copy the curves' styles
        return None
    return (fig.axes[0], star, *ax.spines.values())


draw_stat_noise.update = update_stat_noise  # what the widget calls at every move
