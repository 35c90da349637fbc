"""Figures of notebooks for ``cnncourse.lessons.regularization``: thin matplotlib layers over its results.

Moved out of the compute module so that importing the course's compute does not load a
plotting backend.
"""
from __future__ import annotations

import matplotlib.pyplot as plt
from ..lessons.regularization import DropoutView, tile_maps

__all__ = ['draw_dropout_view']


def draw_dropout_view(v: DropoutView):
    """Three rows: the maps, after element-wise dropout, after spatial dropout."""
    fig, axes = plt.subplots(3, 1, figsize=(9, 3.6), dpi=72)
    fig.subplots_adjust(left=0.02, right=0.98, top=0.92, bottom=0.02, hspace=0.35)
    rows = [(v.maps, f"feature maps (mean {v.mean_in:.3f})"),
            (v.element, f"nn.Dropout(p={v.p:.2f}): random elements zeroed, the rest ×1/(1−p) (mean {v.mean_element:.3f})"),
            (v.channel, f"nn.Dropout2d(p={v.p:.2f}): whole channels zeroed, the rest ×1/(1−p) (mean {v.mean_channel:.3f})")]
    for ax, (maps, title) in zip(axes, rows):
        ax.imshow(tile_maps(maps).numpy(), cmap="magma", interpolation="nearest", aspect="equal")
        ax.set_title(title, fontsize=8)
        ax.set_xticks([])
        ax.set_yticks([])
    plt.close(fig)  # shown once, as the return value
    return fig
