"""Chapter 06's figures: thin matplotlib layers over :mod:`cnncourse.lessons.preprocessing`,
:mod:`cnncourse.augment` and the notebook's measured numbers. Every function returns a closed
figure (a notebook cell shows it once, as its value).

Taught in notebooks/06_data_augmentation.ipynb.
"""
from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from ..augment import tile
from ..viz import label

__all__ = [
    "draw_scalings",
    "draw_closest_pairs",
    "draw_transform_rows",
    "draw_gallery",
    "draw_accuracy_by_setting",
    "draw_shifted_accuracy",
    "draw_overfitting",
]


def draw_scalings(versions: Mapping[str, torch.Tensor], title: str | None = None):
    """One histogram of pixel values per version {name: tensor}, with its mean and std in the title
    (the suptitle by default: "the same digits under three scalings", in the learner's language)."""
    title = label("figure.preprocessing.scalings_title") if title is None else title
    fig, axes = plt.subplots(1, len(versions), figsize=(3.3 * len(versions), 2.9))
    for ax, (name, x) in zip(np.atleast_1d(axes), versions.items()):
        v = x.flatten().float()
        ax.hist(v.numpy(), bins=40, color="tab:blue")
        ax.axvline(v.mean().item(), color="tab:red", lw=1)
        ax.set(title=label("figure.preprocessing.mean_std", name=name, mean=f"{v.mean().item():.2f}",
                           std=f"{v.std().item():.2f}"),
               xlabel=label("figure.preprocessing.pixel_value"), ylabel=label("figure.preprocessing.count"),
               yscale="log")
        ax.title.set_fontsize(9)
    fig.suptitle(title)
    fig.tight_layout()
    plt.close(fig)
    return fig


def draw_closest_pairs(images: torch.Tensor, dist: torch.Tensor, nearest: torch.Tensor, order: Sequence[int]):
    """Each image of ``order`` beside its nearest neighbour, titled with both indices and the distance."""
    order = [int(i) for i in order]
    fig, axes = plt.subplots(1, len(order), figsize=(1.9 * len(order), 2.3), squeeze=False)
    for ax, i in zip(axes[0], order):
        pair = torch.stack([images[i], images[int(nearest[i])]])[None]  # (1, 2, C, H, W)
        ax.imshow(tile(pair)[0].numpy(), cmap="gray", vmin=0, vmax=1)
        ax.set_title(label("figure.preprocessing.pair", i=i, j=int(nearest[i]), distance=f"{float(dist[i]):.2f}"),
                     fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    fig.suptitle(label("figure.preprocessing.closest_pairs"))
    fig.tight_layout()
    plt.close(fig)
    return fig


def draw_transform_rows(rows: torch.Tensor, names: Sequence[str]):
    """Rows (R, K, C, H, W) of an original and its transformed copies, one titled row per transform."""
    fig, axes = plt.subplots(len(names), 1, figsize=(12, 2.1 * len(names)), squeeze=False)
    for ax, name, row in zip(axes[:, 0], names, rows):
        picture = tile(row[None], pad=4)
        if picture.shape[0] == 1:
            ax.imshow(picture[0].numpy(), cmap="gray", vmin=0, vmax=1)
        else:
            ax.imshow(picture.permute(1, 2, 0).clamp(0, 1).numpy())
        ax.set_title(label("figure.preprocessing.transform_row", name=name, n=row.shape[0] - 1), fontsize=9)
        ax.axis("off")
    fig.tight_layout()
    plt.close(fig)
    return fig


def draw_gallery(gal: torch.Tensor, title: str | None = None):
    """A gallery (N, K+1, 1, H, W) from :func:`cnncourse.augment.gallery` as one gray picture (titled by
    default "each row: original digit, then augmented copies", in the learner's language)."""
    title = label("figure.preprocessing.gallery_title") if title is None else title
    fig, ax = plt.subplots(figsize=(8, 8 * gal.shape[0] / gal.shape[1] + 0.6))
    ax.imshow(tile(gal)[0].numpy(), cmap="gray", vmin=0, vmax=1)
    ax.set_title(title)
    ax.axis("off")
    plt.close(fig)
    return fig


def draw_accuracy_by_setting(acc: Mapping[str, Sequence[float]], title: str, ylabel: str | None = None):
    """One dot per seed and the mean (a bar) for each setting {name: [accuracy per seed]} (``ylabel`` by
    default "test accuracy", in the learner's language)."""
    ylabel = label("figure.preprocessing.test_accuracy") if ylabel is None else ylabel
    fig, ax = plt.subplots(figsize=(1.8 + 1.6 * len(acc), 3.4))
    for k, (name, values) in enumerate(acc.items()):
        values = np.asarray(values, dtype=float)
        ax.bar(k, values.mean(), color="tab:blue", alpha=0.35)
        ax.plot(np.full(values.size, k), values, "o", color="tab:blue", markersize=4)
    ax.set_xticks(range(len(acc)), list(acc), fontsize=8)
    low = min(min(v) for v in acc.values())
    ax.set(ylim=(max(0.0, low - 0.05), 1.0), xlabel=label("figure.preprocessing.setting_per_seed"), ylabel=ylabel,
           title=title)
    ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    plt.close(fig)
    return fig


def draw_shifted_accuracy(shifts: Sequence[int], curves: Mapping[str, Sequence[Sequence[float]]],
                          title: str | None = None):
    """Mean accuracy over seeds against the shift, one line per setting {name: [[acc per shift] per seed]}
    (titled by default "test digits shifted right and down", in the learner's language)."""
    title = label("figure.preprocessing.shifted_title") if title is None else title
    fig, ax = plt.subplots(figsize=(6.5, 3.6))
    for name, runs in curves.items():
        runs = np.asarray(runs, dtype=float)
        ax.plot(shifts, runs.mean(axis=0), "o-", label=name)
        ax.fill_between(shifts, runs.min(axis=0), runs.max(axis=0), alpha=0.15)
    ax.set(xlabel=label("figure.preprocessing.shift"), ylabel=label("figure.preprocessing.shifted_ylabel"),
           title=title, ylim=(0, 1))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    plt.close(fig)
    return fig


def draw_overfitting(histories: Mapping[str, object], title: str):
    """Training accuracy (on the labels trained on) and validation accuracy per epoch, one colour per run."""
    fig, ax = plt.subplots(figsize=(7, 3.6))
    colors = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    for k, (name, h) in enumerate(histories.items()):
        c = colors[k % len(colors)]
        ax.plot(h.epoch, h.train_acc, "--", color=c, label=label("figure.preprocessing.run_train", name=name))
        ax.plot(h.epoch, h.val_acc, "-", color=c, label=label("figure.preprocessing.run_validation", name=name))
    ax.set(xlabel=label("figure.epoch"), ylabel=label("figure.accuracy"), title=title, ylim=(0, 1.02))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=7, ncol=2)
    fig.tight_layout()
    plt.close(fig)
    return fig
