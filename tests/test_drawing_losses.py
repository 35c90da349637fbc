"""Tests of cnncourse.drawing.losses (chapter 07's figures): each returns a closed figure with its panels."""
import matplotlib.pyplot as plt
import torch

from cnncourse.drawing import losses as D
from cnncourse.lessons import losses as L


def _closed(fig):
    return fig.number not in plt.get_fignums()


def test_loss_view_two_panels():
    fig = D.draw_loss_view(L.loss_view("focal", margin=0.5))
    assert _closed(fig) and len(fig.axes) == 2


def test_line_fits_draws_each_shown_fit():
    x, y, out = L.outlier_line_data(n=20, outliers=2)
    fig = D.draw_line_fits(x, y, out, {"MSE": (1.0, 0.0), "L1": (2.0, 1.0)}, 2.0, 1.0, shown=["MSE"])
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert _closed(fig) and "MSE fit" in labels and "L1 fit" not in labels


def test_examples_one_title_per_image():
    fig = D.draw_examples(torch.rand(5, 1, 28, 28), list("abcde"), ncols=4, title="t")
    assert _closed(fig) and len(fig.axes) == 8
    assert [ax.get_title() for ax in fig.axes[:5]] == list("abcde")


def test_paired_seeds_one_panel_per_metric():
    values = {"A": {"r": [0.1, 0.2], "p": [0.3, 0.4]}, "B": {"r": [0.5, 0.6], "p": [0.7, 0.8]}}
    fig = D.draw_paired_seeds(values, {"r": "recall", "p": "PR-AUC"})
    assert _closed(fig) and len(fig.axes) == 2
    assert [t.get_text() for t in fig.axes[0].get_xticklabels()] == ["A", "B"]


def test_reliability_skips_empty_bins():
    probs = torch.tensor([[0.9, 0.1], [0.7, 0.3], [0.75, 0.25]])
    curves = {"plain": L.reliability_bins(probs, torch.tensor([0, 1, 0]), bins=5)}
    fig = D.draw_reliability(curves)
    line = [l for l in fig.axes[0].get_lines() if l.get_label() == "plain"][0]
    assert _closed(fig) and len(line.get_xdata()) == 2  # two non-empty bins
