"""Tests of cnncourse.drawing.regularization (chapter 10's figures): each draws what it is given and closes its figure."""
import matplotlib.pyplot as plt
import pytest
import torch

from cnncourse import stats
from cnncourse.drawing import regularization as D
from cnncourse.lessons import regularization as L
from cnncourse.train import History

pytestmark = pytest.mark.usefixtures("no_open_figures")


def _closed(fig):
    return fig.number not in plt.get_fignums()


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_draw_dropout_view_three_rows(p):
    v = L.dropout_view(torch.rand(6, 10, 10), p, seed=3, draws=20)
    fig = D.draw_dropout_view(v)
    assert _closed(fig) and len(fig.axes) == 3


def test_draw_overfitting_two_panels():
    h = History()
    for e in range(1, 4):
        h.epoch.append(e)
        h.train_loss.append(1.0 / e)
        h.val_loss.append(0.5 + 0.1 * e)
        h.train_acc.append(0.5 + 0.1 * e)
        h.val_acc.append(0.6)
    fig = D.draw_overfitting(h, title="toy")
    assert _closed(fig) and len(fig.axes) == 2
    assert len(fig.axes[0].lines) == 2


def test_draw_gaps_one_panel_per_measure_and_one_dot_per_setting():
    gaps = {"baseline": stats.mean_ci([0.10, 0.12, 0.11]), "L2": stats.mean_ci([0.05, 0.06, 0.04]),
            "one seed": stats.mean_ci([0.2])}   # an interval from one value is drawn without error bar
    acc = {k: stats.mean_ci([0.9, 0.91]) for k in gaps}
    fig = D.draw_gaps({"gap": gaps, "validation accuracy": acc}, title="toy")
    assert _closed(fig) and len(fig.axes) == 2
    assert len(fig.axes[0].containers) == 3   # one dot with its whisker per setting


def test_draw_weight_histograms_one_curve_per_vector():
    g = torch.Generator().manual_seed(0)
    fig = D.draw_weight_histograms({"a": torch.randn(500, generator=g), "b": torch.zeros(10)}, threshold=1e-3)
    assert _closed(fig) and len(fig.axes[0].patches) == 2
