"""Figures the chapters draw: image grids, kernels, feature maps, curves, confusion matrices.

Every function takes tensors (never a model to move around), draws on a new figure (or
the ``ax`` given) and returns the figure, so notebooks show it and tests can inspect it.
A figure the function created is closed before it is returned: the notebook shows the
returned figure once, instead of once more from the inline backend's list of open figures.

The words these functions draw ("epoch", "loss", "predicted", ...) come from the message
catalogue through :func:`label`: in Chinese (``CNNCOURSE_LANG=zh``) where matplotlib finds a CJK
font (:func:`cjk_font`; Debian: ``apt-get install fonts-noto-cjk``), which is then added to the font
fallback, and in English where it finds none, so a label never draws as boxes.
"""
from __future__ import annotations

import math
import re
from functools import lru_cache
from pathlib import Path
from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
import torch

from . import i18n

__all__ = [
    "CJK_FONTS",
    "cjk_font",
    "label",
    "language_fonts",
    "part",
    "show_images",
    "show_kernels",
    "show_feature_maps",
    "plot_history",
    "plot_histories",
    "confusion_matrix",
    "plot_confusion_matrix",
    "LivePlot",
]


# Fonts with Chinese glyphs matplotlib may find, best first. Debian's fonts-noto-cjk is one .ttc file
# whose first face, the one matplotlib reads, is "Noto Sans CJK JP" (it has every Chinese character).
CJK_FONTS = ("Noto Sans CJK SC", "Noto Sans SC", "Source Han Sans SC", "Source Han Sans CN", "Noto Sans CJK JP",
             "Noto Sans CJK TC", "Noto Sans CJK KR", "Noto Serif CJK JP", "Noto Serif CJK SC", "WenQuanYi Zen Hei",
             "WenQuanYi Micro Hei", "Microsoft YaHei", "SimHei", "PingFang SC", "Heiti SC", "Hiragino Sans GB",
             "Arial Unicode MS")
_CJK_FILE = re.compile(r"cjk|sourcehan|wqy|notosanssc|msyh|simhei|pingfang|hiragino", re.IGNORECASE)


@lru_cache(maxsize=None)
def cjk_font() -> str | None:
    """The family name of an installed font with Chinese glyphs (see :data:`CJK_FONTS`), or None."""
    from matplotlib import font_manager

    def known():
        names = {entry.name for entry in font_manager.fontManager.ttflist}
        return next((name for name in CJK_FONTS if name in names), None)

    found = known()
    if found is None:  # installed after matplotlib cached its font list: read the system's font files once
        for path in font_manager.findSystemFonts():
            if _CJK_FILE.search(Path(path).name):
                try:
                    font_manager.fontManager.addfont(path)
                except (OSError, RuntimeError, ValueError):
                    continue
        found = known()
    return found


def language_fonts() -> bool:
    """Whether figures can draw the active language's words. For Chinese, with a CJK font installed, adds
    it to matplotlib's font fallback (``font.family``, after the default font, which keeps drawing Latin
    text); a figure created after this draws Chinese. Runs when this module is imported."""
    if i18n.language() != "zh":
        return True
    font = cjk_font()
    if font is None:
        return False
    families = list(plt.rcParams["font.family"])
    if font not in families:
        plt.rcParams["font.family"] = families + [font]
    return True


def label(key: str, **fields) -> str:
    """The catalogue's words for figure label ``key`` ("figure.epoch", "figure.pooling.kept", its placeholders
    filled from ``fields``): in the active language where :func:`language_fonts` says it can be drawn, else
    in English (never boxes)."""
    return i18n.message(key, lang=i18n.language() if language_fonts() else i18n.DEFAULT, **fields)


language_fonts()  # the Chinese notebooks set CNNCOURSE_LANG in their first cell, before importing this


def part(ax, gid: str):
    """The artist of ``ax`` drawn with ``gid=...``: how a widget's ``draw.update`` finds what it changes."""
    return next(a for a in ax.get_children() if a.get_gid() == gid)


def _to_hwc(img: torch.Tensor) -> np.ndarray:
    """(C, H, W) tensor -> (H, W) or (H, W, 3) array for imshow."""
    img = img.detach().float().cpu()
    if img.ndim == 3 and img.shape[0] == 1:
        img = img[0]
    elif img.ndim == 3:
        img = img.permute(1, 2, 0)
    return img.numpy()


def _shown(fig):
    """Close a figure this module created (so it is displayed once, as the return value) and return it."""
    plt.close(fig)
    return fig


def _grid(n: int, ncols: int | None, cell: float = 1.4, title: str | None = None):
    ncols = min(n, ncols or math.ceil(math.sqrt(n))) or 1
    nrows = max(1, math.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols, figsize=(cell * ncols, cell * nrows + (0.4 if title else 0)), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    return fig, axes.flat


def show_images(
    images: torch.Tensor,
    labels: Sequence | torch.Tensor | None = None,
    predictions: Sequence | torch.Tensor | None = None,
    classes: Sequence[str] | None = None,
    ncols: int | None = None,
    title: str | None = None,
    cmap: str = "gray",
):
    """A grid of images (N, C, H, W) in [0, 1], titled with labels and (red if wrong) predictions."""
    if images.ndim != 4:
        raise ValueError(f"show_images expects (N, C, H, W); got shape {tuple(images.shape)}")
    n = images.shape[0]
    fig, axes = _grid(n, ncols, title=title)

    def name(i):
        return classes[int(i)] if classes is not None else str(int(i))

    for i, ax in zip(range(n), axes):
        ax.imshow(_to_hwc(images[i]).clip(0, 1), cmap=cmap, vmin=0, vmax=1)
        parts, color = [], "black"
        if labels is not None:
            parts.append(name(labels[i]))
        if predictions is not None:
            parts.append(f"→ {name(predictions[i])}")
            if labels is not None and int(predictions[i]) != int(labels[i]):
                color = "red"
        if parts:
            ax.set_title(" ".join(parts), fontsize=8, color=color)
    fig.tight_layout()
    return _shown(fig)


def show_kernels(weight: torch.Tensor, ncols: int | None = None, title: str | None = "kernels"):
    """Convolution kernels (C_out, C_in, K, K): one tile per output channel (the default title in the learner's language).

    One input channel: a diverging map (blue negative, red positive, white zero).
    Three input channels: shown as colour images, each rescaled to [0, 1].
    """
    w = weight.detach().float().cpu()
    if w.ndim != 4:
        raise ValueError(f"show_kernels expects a conv weight (C_out, C_in, K, K); got {tuple(w.shape)}")
    fig, axes = _grid(w.shape[0], ncols, cell=1.0, title=label("figure.kernels") if title == "kernels" else title)
    limit = w.abs().max().item() or 1.0
    for k, ax in zip(w, axes):
        if k.shape[0] == 3:
            lo, hi = k.min(), k.max()
            ax.imshow(_to_hwc((k - lo) / (hi - lo + 1e-8)))
        else:
            ax.imshow(k[0].numpy(), cmap="bwr", vmin=-limit, vmax=limit)
    fig.tight_layout()
    return _shown(fig)


def show_feature_maps(maps: torch.Tensor, ncols: int | None = 8, title: str | None = None, max_maps: int = 32):
    """Feature maps of one image: (C, H, W) (or (1, C, H, W)), one tile per channel."""
    m = maps.detach().float().cpu()
    if m.ndim == 4:
        m = m[0]
    if m.ndim != 3:
        raise ValueError(f"show_feature_maps expects (C, H, W); got {tuple(maps.shape)}")
    m = m[:max_maps]
    fig, axes = _grid(m.shape[0], ncols, cell=1.1, title=title)
    for i, (fmap, ax) in enumerate(zip(m, axes)):
        ax.imshow(fmap.numpy(), cmap="viridis")
        ax.set_title(str(i), fontsize=7)
    fig.tight_layout()
    return _shown(fig)


def plot_history(history, title: str | None = None, axes=None):
    """Loss and accuracy per epoch (train and, if present, validation) of a fit() History."""
    owned = axes is None
    if owned:
        fig, axes = plt.subplots(1, 2, figsize=(9, 3.2))
    else:
        fig = axes[0].figure
    ax_loss, ax_acc = axes
    for ax in axes:
        ax.clear()
    train, epoch, loss, accuracy = (label(f"figure.{k}") for k in ("train", "epoch", "loss", "accuracy"))
    ax_loss.plot(history.epoch, history.train_loss, "o-", label=train)
    ax_acc.plot(history.epoch, history.train_acc, "o-", label=train)
    if history.val_loss:
        ax_loss.plot(history.epoch, history.val_loss, "s-", label=label("figure.validation"))
        ax_acc.plot(history.epoch, history.val_acc, "s-", label=label("figure.validation"))
    ax_loss.set(xlabel=epoch, ylabel=loss, title=loss)
    ax_acc.set(xlabel=epoch, ylabel=accuracy, title=accuracy)
    for ax in axes:
        ax.grid(alpha=0.3)
        ax.legend()
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _shown(fig) if owned else fig


def plot_histories(histories: dict, metric: str = "val_acc", title: str | None = None, ax=None):
    """One curve per run: ``{"label": History}`` -> metric against epoch, for side-by-side comparisons."""
    owned = ax is None
    if owned:
        fig, ax = plt.subplots(figsize=(6, 3.5))
    else:
        fig = ax.figure
    for name, h in histories.items():
        ax.plot(h.epoch, getattr(h, metric), "o-", label=str(name), markersize=3)
    metric_key = f"figure.metric.{metric}"  # a History field's words; any other name is drawn as it is
    ylabel = label(metric_key) if i18n.has(metric_key) else metric.replace("_", " ")
    ax.set(xlabel=label("figure.epoch"), ylabel=ylabel, title=title or metric)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    return _shown(fig) if owned else fig


def confusion_matrix(labels: torch.Tensor, predictions: torch.Tensor, num_classes: int) -> torch.Tensor:
    """Counts (num_classes, num_classes): row = true class, column = predicted class."""
    labels = torch.as_tensor(labels).long().cpu()
    predictions = torch.as_tensor(predictions).long().cpu()
    if labels.shape != predictions.shape:
        raise ValueError(f"confusion_matrix: labels {tuple(labels.shape)} and predictions {tuple(predictions.shape)} differ")
    flat = labels * num_classes + predictions
    return torch.bincount(flat, minlength=num_classes * num_classes).reshape(num_classes, num_classes)


def plot_confusion_matrix(cm: torch.Tensor, classes: Sequence[str] | None = None, title: str | None = None, ax=None):
    """Draw a confusion matrix with counts in the cells (``title`` None: "confusion matrix", in the learner's language)."""
    cm = torch.as_tensor(cm).cpu()
    k = cm.shape[0]
    classes = list(classes) if classes is not None else [str(i) for i in range(k)]
    owned = ax is None
    if owned:
        fig, ax = plt.subplots(figsize=(0.45 * k + 2, 0.45 * k + 1.5))
    else:
        fig = ax.figure
    ax.imshow(cm.numpy(), cmap="Blues")
    threshold = cm.max().item() / 2
    for i in range(k):
        for j in range(k):
            value = int(cm[i, j])
            ax.text(j, i, str(value), ha="center", va="center", fontsize=7,
                    color="white" if value > threshold else "black")
    ax.set_xticks(range(k), classes, rotation=45 if max(map(len, classes)) > 2 else 0)
    ax.set_yticks(range(k), classes)
    ax.set(xlabel=label("figure.predicted"), ylabel=label("figure.true"),
           title=label("figure.confusion_matrix") if title is None else title)
    fig.tight_layout()
    return _shown(fig) if owned else fig


class LivePlot:
    """Loss/accuracy curves that redraw in place in a notebook after every epoch.

    Used by :func:`cnncourse.train.fit`; the final figure stays in the cell's output,
    so a static export of the notebook shows the finished curves.
    """

    def __init__(self):
        from IPython.display import display

        self.fig, self.axes = plt.subplots(1, 2, figsize=(9, 3.2))
        self.handle = display(self.fig, display_id=True)

    def update(self, history) -> None:
        plot_history(history, axes=self.axes)
        self.handle.update(self.fig)

    def close(self) -> None:
        plt.close(self.fig)  # the displayed image stays; no second copy at the end of the cell
