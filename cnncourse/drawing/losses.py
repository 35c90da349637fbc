"""Figures of notebooks for ``cnncourse.lessons.losses``: thin matplotlib layers over its results.

Moved out of the compute module so that importing the course's compute does not load a
plotting backend.
"""
from __future__ import annotations

from ..lessons.losses import LossView

__all__ = ['draw_loss_view', 'draw_line_fits', 'draw_examples', 'draw_paired_seeds', 'draw_reliability']


def draw_loss_view(view: LossView):
    """Two panels: loss vs margin and its derivative vs margin, the chosen loss (bold) against
    cross-entropy (dashed), the current point marked. Kept lean so that a redraw is fast."""
    import matplotlib.pyplot as plt

    from ..viz import label

    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.3))
    fig.subplots_adjust(left=0.07, right=0.98, bottom=0.16, top=0.88, wspace=0.25)
    m = view.grid.numpy()
    shown = [view.loss] if view.loss == "cross-entropy" else ["cross-entropy", view.loss]
    for name in shown:
        values, grad = view.curves[name]
        style = dict(lw=2.5, label=name) if name == view.loss else dict(lw=1.2, ls="--", color="grey", label=name)
        ax1.plot(m, values.numpy(), **style)
        ax2.plot(m, grad.numpy(), **style)
    ax1.plot([view.margin], [view.value], "ko")
    ax2.plot([view.margin], [view.gradient], "ko")
    margin = label("figure.losses.margin_axis")
    ax1.set(title=label("figure.losses.view_loss_title", gamma=f"{view.gamma:g}"), xlabel=margin,
            ylabel=label("figure.loss"), ylim=(-0.1, 4))
    ax2.set(title=label("figure.losses.view_gradient_title"), xlabel=margin, ylabel=label("figure.losses.gradient_axis"),
            ylim=(-1.1, 0.3))
    ax1.legend(fontsize=8, loc="upper right")
    plt.close(fig)  # shown once, as the return value
    return fig


def draw_line_fits(x, y, is_outlier, fits: dict, true_slope: float, true_intercept: float, shown=None):
    """The line-fit data (outliers marked), the true line and the fitted line of each loss in ``shown``.

    x, y (n,), is_outlier (n,) bool; fits: {loss name: (slope, intercept)}.
    """
    import matplotlib.pyplot as plt
    import torch

    from ..viz import label

    shown = list(fits) if shown is None else list(shown)
    x, y, is_outlier = (torch.as_tensor(v).detach().cpu() for v in (x, y, is_outlier))
    fig, ax = plt.subplots(figsize=(7, 4))
    ax.scatter(x[~is_outlier].numpy(), y[~is_outlier].numpy(), s=14, label=label("figure.losses.data"))
    ax.scatter(x[is_outlier].numpy(), y[is_outlier].numpy(), s=30, marker="x", color="red", label=label("figure.losses.outliers"))
    xs = torch.linspace(float(x.min()), float(x.max()), 2)
    ax.plot(xs.numpy(), (true_slope * xs + true_intercept).numpy(), "k:", label=label("figure.losses.true_line"))
    for name in shown:
        a, b = fits[name]
        ax.plot(xs.numpy(), (a * xs + b).numpy(), label=label("figure.losses.fit", name=name))
    ax.set(title=label("figure.losses.line_fits_title", n=int(is_outlier.sum())), xlabel="x", ylabel="y")
    ax.legend(fontsize=8)
    plt.close(fig)  # shown once, as the return value
    return fig


def draw_examples(images, titles, ncols: int = 8, title: str = ""):
    """A row (or rows) of gray images (N, 1, H, W), each with its title (one string per image)."""
    import matplotlib.pyplot as plt
    import numpy as np

    images = np.asarray(images.detach().cpu() if hasattr(images, "detach") else images)
    n = len(titles)
    nrows = -(-n // ncols)
    fig, axes = plt.subplots(nrows, ncols, figsize=(1.3 * ncols, 1.5 * nrows + 0.3), squeeze=False)
    for i, ax in enumerate(axes.flat):
        ax.axis("off")
        if i < n:
            ax.imshow(images[i, 0], cmap="gray_r", vmin=0, vmax=1)
            ax.set_title(titles[i], fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    plt.close(fig)  # shown once, as the return value
    return fig


def draw_paired_seeds(values: dict, metrics: dict, title: str = ""):
    """One panel per metric: each setting's value per seed (dots), the same seed joined by a grey line.

    values: {setting: {metric key: [one value per seed]}}; metrics: {metric key: axis label}.
    """
    import matplotlib.pyplot as plt

    from ..viz import label

    names = list(values)
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.4), squeeze=False)
    for ax, (key, metric) in zip(axes[0], metrics.items()):
        table = [values[name][key] for name in names]
        for s in range(len(table[0])):
            ax.plot(range(len(names)), [col[s] for col in table], color="0.8", lw=0.8, zorder=1)
        for i, col in enumerate(table):
            ax.scatter([i] * len(col), col, s=22, zorder=2)
            ax.plot([i - 0.2, i + 0.2], [sum(col) / len(col)] * 2, color="k", lw=2, zorder=3)
        ax.set_xticks(range(len(names)))
        ax.set_xticklabels(names, fontsize=8, rotation=15)
        ax.set(ylabel=metric, title=label("figure.losses.paired_title", metric=metric))
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    plt.close(fig)  # shown once, as the return value
    return fig


def draw_reliability(curves: dict, title: str = ""):
    """Reliability diagram: accuracy against confidence per bin, one line per setting, the diagonal
    (``title`` empty: "Reliability diagram", in the learner's language).

    curves: {setting: (confidence per bin, accuracy per bin, count per bin)} as lists of floats;
    a line below the diagonal is over-confident.
    """
    import matplotlib.pyplot as plt

    from ..viz import label

    fig, ax = plt.subplots(figsize=(4.8, 4.2))
    ax.plot([0, 1], [0, 1], "k:", label=label("figure.losses.calibrated"))
    for name, (conf, acc, count) in curves.items():
        keep = [i for i, c in enumerate(count) if c > 0]
        ax.plot([conf[i] for i in keep], [acc[i] for i in keep], "o-", ms=4, label=name)
    ax.set(xlabel=label("figure.losses.confidence_axis"), ylabel=label("figure.losses.bin_accuracy"),
           title=title or label("figure.losses.reliability_title"), xlim=(0, 1.02), ylim=(0, 1.02))
    ax.legend(fontsize=8, loc="upper left")
    plt.close(fig)  # shown once, as the return value
    return fig
