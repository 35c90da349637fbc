"""Figures of notebooks for ``cnncourse.lessons.losses``: thin matplotlib layers over its results.

Moved out of the compute module so that importing the course's compute does not load a
plotting backend.
"""
from __future__ import annotations

from ..lessons.losses import LossView

__all__ = ['draw_loss_view']


def draw_loss_view(view: LossView):
    """Two panels: loss vs margin and its derivative vs margin, the chosen loss (bold) against
    cross-entropy (dashed), the current point marked. Kept lean so that a redraw is fast."""
    import matplotlib.pyplot as plt

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
    ax1.set(title=f"loss vs margin (gamma={view.gamma:g} for focal)", xlabel="margin z_true - z_other",
            ylabel="loss", ylim=(-0.1, 4))
    ax2.set(title="gradient d loss / d margin", xlabel="margin z_true - z_other", ylabel="d loss / d margin",
            ylim=(-1.1, 0.3))
    ax1.legend(fontsize=8, loc="upper right")
    plt.close(fig)  # shown once, as the return value
    return fig
