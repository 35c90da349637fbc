"""Tests of cnncourse.drawing.learning_rate (chapter 09's figures) and of its widget's speed."""
import ipywidgets
import matplotlib.pyplot as plt
import torch
from torch import nn

from cnncourse.drawing import learning_rate as D
from cnncourse.lessons import learning_rate as L
from cnncourse.train import History
from cnncourse.widgets import Explorer


def _closed(fig):
    return fig.number not in plt.get_fignums()


def _toy_range_test():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(256, 10, generator=g)
    y = (x @ torch.randn(10, 3, generator=g)).argmax(1)
    batches = [(x[i:i + 32], y[i:i + 32]) for i in range(0, 256, 32)]
    return L.lr_range_test(nn.Linear(10, 3), batches, steps=40)


def test_draw_schedules_one_panel_per_schedule():
    curves = {k: L.schedule_lrs(k, 30) for k in L.SCHEDULES}
    fig = D.draw_schedules(curves, metrics=L.plateau_losses(30))
    assert _closed(fig) and len(fig.axes) >= len(L.SCHEDULES)


def test_draw_range_test_log_axis_and_marks():
    fig = D.draw_range_test(_toy_range_test(), marked={"fixed": 0.05, "peak": 0.2})
    ax = fig.axes[0]
    assert _closed(fig) and ax.get_xscale() == "log"
    assert any("peak (0.2)" in t.get_text() for t in ax.get_legend().get_texts())


def test_draw_explore_has_no_legend_and_names_its_lines_in_the_title():
    fig = D.draw_explore(L.explore("plateau"))
    ax = fig.axes[0]
    assert _closed(fig) and ax.get_legend() is None
    assert "dashed: mean lr" in ax.get_title() and "orange" in ax.get_title()
    assert len(ax.get_lines()) == 4   # lr, peak, mean, the synthetic loss


def test_draw_lr_curves_lines_and_marks():
    curves = {"a": L.schedule_lrs("cosine", 20), "b": L.schedule_lrs("constant", 20)}
    fig = D.draw_lr_curves(curves, title="t", marks={"T_max": 10})
    ax = fig.axes[0]
    assert _closed(fig) and ax.get_title() == "t" and len(ax.get_lines()) == 3


def _history(values):
    h = History()
    for epoch, v in enumerate(values, 1):
        h.epoch.append(epoch)
        h.train_loss.append(1.0 / epoch)
        h.val_acc.append(v)
    return h


def test_draw_runs_four_panels_one_dot_per_seed():
    histories = {"fixed": _history([0.5, 0.6]), "cosine": _history([0.6, 0.7])}
    lrs = {"fixed": torch.full((6,), 0.1, dtype=torch.float64), "cosine": L.schedule_lrs("cosine", 6)}
    accuracy = {"fixed": [0.8, 0.82, 0.81], "cosine": [0.85, 0.86, 0.84]}
    fig = D.draw_runs(histories, lrs, 3, accuracy, title="t")
    assert _closed(fig) and len(fig.axes) == 4
    dots = fig.axes[3].collections
    assert sum(len(c.get_offsets()) for c in dots if hasattr(c, "get_offsets") and len(c.get_offsets()) == 3) == 6
    assert [t.get_text() for t in fig.axes[3].get_xticklabels()] == ["fixed", "cosine"]


def test_explorer_widget_updates_for_every_schedule():
    explorer = Explorer(L.explore, D.draw_explore, summary=L.summarize_explore,
                        schedule=ipywidgets.Dropdown(options=list(L.SCHEDULES), value="cosine"),
                        peak_lr=ipywidgets.FloatLogSlider(value=0.1, base=10, min=-4, max=0, step=0.1))
    seconds = []
    for kind in L.SCHEDULES:
        explorer.controls["schedule"].value = kind
        assert explorer.result.kind == kind
        seconds.append(explorer.seconds)
    assert all(s > 0 for s in seconds)  # timed; the 150 ms target is measured by benchmarks/widget_update.py
