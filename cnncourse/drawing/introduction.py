"""Chapter 01's figures: thin matplotlib layers over :mod:`cnncourse.lessons.introduction` and the
notebook's measured numbers. Every function returns a closed figure (a notebook cell shows it
once, as its value).

Taught in notebooks/01_introduction.ipynb.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np

from ..lessons.introduction import MILESTONES, DigitView, InvarianceProfile, Milestone, tile_maps
from ..viz import label

__all__ = [
    "draw_timeline",
    "draw_seed_comparison",
    "draw_invariance_profile",
    "draw_digit_view",
]


_KIND_COLORS = {"neuroscience": "tab:green", "model": "tab:blue", "data & compute": "tab:orange"}
_KIND_KEYS = {"neuroscience": "figure.introduction.kind_neuroscience", "model": "figure.introduction.kind_model",
              "data & compute": "figure.introduction.kind_data_compute"}  # the legend's words for each kind


def draw_timeline(milestones: Sequence[Milestone] = MILESTONES, title: str | None = None):
    """A horizontal timeline: one stem per milestone, labels alternating above and below (``title`` default:
    "From the visual cortex to ConvNeXt", in the course's language)."""
    fig, ax = plt.subplots(figsize=(12, 3.8))
    years = [m.year for m in milestones]
    ax.axhline(0, color="black", lw=1, zorder=1)
    levels = [1.0, -1.0, 0.55, -0.55]
    for i, m in enumerate(milestones):
        level = levels[i % len(levels)]
        color = _KIND_COLORS.get(m.kind, "tab:gray")
        ax.vlines(m.year, 0, level, color=color, lw=1)
        ax.plot(m.year, 0, "o", color=color, zorder=2)
        ax.annotate(f"{m.year}\n{m.name}", (m.year, level), xytext=(0, 4 if level > 0 else -4),
                    textcoords="offset points", ha="center", va="bottom" if level > 0 else "top", fontsize=8,
                    bbox=dict(boxstyle="round,pad=0.2", fc="white", ec=color, lw=0.8))
    for kind, color in _KIND_COLORS.items():
        ax.plot([], [], "o", color=color, label=label(_KIND_KEYS[kind]))
    ax.set(xlim=(min(years) - 4, max(years) + 4), ylim=(-1.6, 1.6), xlabel=label("figure.introduction.year"),
           title=label("figure.introduction.timeline_title") if title is None else title)
    ax.get_yaxis().set_visible(False)
    for side in ("left", "right", "top"):
        ax.spines[side].set_visible(False)
    # the top-left corner (1964-1978) is empty: no label overlaps the legend there
    ax.legend(loc="upper left", bbox_to_anchor=(0.13, 1.0), fontsize=8, frameon=False)
    fig.tight_layout()
    plt.close(fig)  # shown once, as the cell's value (an open figure would be shown again at the cell's end)
    return fig


def draw_seed_comparison(results: Mapping[str, Sequence[float]], seeds: Sequence[int],
                         ylabel: str | None = None, title: str | None = None):
    """Per-seed values of several methods (``results[name][i]`` measured with ``seeds[i]``), one column each.

    A thin grey line joins the values of one seed across methods, so a paired difference reads
    as the slope of the lines; the black bar is each method's mean. Defaults, in the course's language:
    ``ylabel`` "test accuracy", ``title`` "one dot per seed, the same seeds for every method".
    """
    names = list(results)
    if not names:
        raise ValueError("draw_seed_comparison needs at least one method in results")
    values = np.array([[float(v) for v in results[n]] for n in names])  # (methods, seeds)
    if values.shape[1] != len(seeds):
        raise ValueError(f"draw_seed_comparison: {values.shape[1]} values per method but {len(seeds)} seeds")
    fig, ax = plt.subplots(figsize=(1.9 * len(names) + 2.2, 3.4))
    x = np.arange(len(names))
    for j, seed in enumerate(seeds):
        ax.plot(x, values[:, j], "-", color="0.75", lw=0.8, zorder=1)
        ax.scatter(x, values[:, j], s=22, zorder=2, label=label("figure.introduction.seed", seed=seed))
    ax.hlines(values.mean(1), x - 0.2, x + 0.2, color="black", lw=2, zorder=3, label=label("figure.introduction.mean"))
    ax.set_xticks(x, names, fontsize=8)
    ax.set(xlim=(-0.5, len(names) - 0.5), xlabel=label("figure.introduction.method"),
           ylabel=label("figure.introduction.test_accuracy") if ylabel is None else ylabel,
           title=label("figure.introduction.seeds_title") if title is None else title)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=7, loc="center left", bbox_to_anchor=(1.0, 0.5), frameon=False)
    fig.tight_layout()
    plt.close(fig)  # shown once, as the cell's value
    return fig


def draw_invariance_profile(profile: InvarianceProfile, title: str | None = None):
    """Left: relative change of each stage's output against the shift. Right: same class / accuracy (``title``
    default: "Shift the digit: what changes, stage by stage", in the course's language)."""
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 3.4))
    for name, values in profile.change.items():
        ax1.plot(profile.shifts, values, "o-", label=name)
    ax1.set(xlabel=label("figure.introduction.shift"), ylabel="||f(shifted) - f(x)|| / ||f(x)||",
            title=label("figure.introduction.relative_change"))
    ax1.legend(fontsize=8)
    ax2.plot(profile.shifts, profile.agreement, "o-", label=label("figure.introduction.prediction_unchanged"))
    ax2.plot(profile.shifts, profile.accuracy, "s-", label=label("figure.introduction.test_accuracy"))
    ax2.set(xlabel=label("figure.introduction.shift"), ylabel=label("figure.introduction.fraction"), ylim=(0, 1.02),
            title=label("figure.introduction.classifier_output"))
    ax2.legend(fontsize=8)
    for ax in (ax1, ax2):
        ax.grid(alpha=0.3)
    fig.suptitle(label("figure.introduction.invariance_title") if title is None else title)
    fig.tight_layout()
    plt.close(fig)  # shown once, as the cell's value
    return fig


def draw_digit_view(view: DigitView):
    """Image | one mosaic per stage | bar chart of the probabilities (true class green, a wrong guess red).

    Drawn for speed, because the explorer redraws it on every slider move: the image and the
    mosaics share ONE axes (an ``imshow`` each, placed side by side), labels are plain text, and
    the layout is fixed (no ``tight_layout``). The figure is closed before it is returned, so a
    notebook shows it once, as the cell's value.
    """
    img = view.image[0] if view.image.shape[0] == 1 else view.image.permute(1, 2, 0)
    panels = [(img.numpy(), "gray", label("figure.introduction.test_image", index=view.index,
                                          cls=view.classes[view.label]))]
    for name, maps in view.maps.items():
        panels.append((tile_maps(maps).numpy(), "viridis", label("figure.introduction.stage_maps", name=name,
                                                                 n=maps.shape[0], h=maps.shape[1], w=maps.shape[2])))
    fig = plt.figure(figsize=(2.7 * len(panels) + 3.0, 2.8))
    ax = fig.add_axes((0.005, 0.02, 0.7, 0.82))
    left = 0.0
    for array, cmap, title in panels:  # each panel fits a 1 x 1 box, 0.25 apart, aspect kept
        h, w = array.shape[:2]
        scale = 1.0 / max(h, w)
        x0, y0 = left + (1 - w * scale) / 2, (1 - h * scale) / 2
        ax.imshow(array, cmap=cmap, interpolation="nearest", extent=(x0, x0 + w * scale, y0, y0 + h * scale),
                  vmin=0 if cmap == "gray" else None, vmax=1 if cmap == "gray" else None)
        ax.text(left + 0.5, 1.04, title, ha="center", va="bottom", fontsize=8)
        left += 1.25
    ax.set(xlim=(-0.02, left - 0.23), ylim=(-0.02, 1.2), aspect="equal")
    ax.set_axis_off()
    bar = fig.add_axes((0.75, 0.17, 0.24, 0.66))
    colors = ["tab:gray"] * len(view.classes)
    colors[view.prediction] = "tab:red"
    colors[view.label] = "tab:green"
    bar.bar(range(len(view.classes)), view.probabilities.numpy(), color=colors)
    bar.set_xticks(range(len(view.classes)), view.classes, fontsize=8)
    bar.set_yticks([0, 0.5, 1], ["0", "0.5", "1"], fontsize=8)
    bar.set_ylim(0, 1)
    bar.set_xlabel(label("figure.introduction.class"), fontsize=8)
    bar.text(0.5, 1.04, label("figure.introduction.probabilities", predicted=view.classes[view.prediction],
                              p=f"{view.probabilities.max():.2f}"),
             transform=bar.transAxes, ha="center", va="bottom", fontsize=8)
    plt.close(fig)
    return fig
