"""Chapter 04's figures (cnncourse.drawing.pooling): each returns one closed figure with titles and labels."""
import pytest
import torch

from cnncourse.drawing import pooling as draw
from cnncourse.lessons import pooling as lesson


pytestmark = pytest.mark.usefixtures("no_open_figures")


def test_draw_max_vs_avg_shows_photo_and_edges_pooled_both_ways(labelled):
    fig = draw.draw_max_vs_avg(torch.rand(1, 32, 32), kernel_size=2, crop=(slice(4, 20), slice(0, 16)))
    assert len(fig.axes) == 6 and all(labelled(ax) for ax in fig.axes)
    assert fig.axes[1].get_title().startswith("max pool 2x2 -> (16, 16)")
    assert fig.axes[1].images[0].get_array().shape == (8, 8)  # the crop, halved


def test_draw_photo_losses_one_bar_per_photo_and_method():
    names = ["a", "b", "c"]
    fig = draw.draw_photo_losses(names, {"max": [0.2, 0.3, 0.4], "avg": [0.1, 0.1, 0.2]}, {"max": [1, 1, 1], "avg": [0.3, 0.5, 0.2]})
    lost, kept = fig.axes
    assert len(lost.patches) == 6 and len(kept.patches) == 6
    assert lost.get_xscale() == "log" and [t.get_text() for t in lost.get_yticklabels()] == names
    assert lost.get_legend() is not None and kept.get_title()


def test_draw_accuracy_intervals_marks_every_seed_and_the_interval(labelled):
    results = {"max": [0.9, 0.92, 0.91], "strided": [0.88, 0.9, 0.89]}
    fig = draw.draw_accuracy_intervals(results, {"max": (0.89, 0.93), "strided": (0.87, 0.91)}, title="t")
    (ax,) = fig.axes
    assert ax.get_title() == "t" and labelled(ax)
    assert sum(len(c.get_offsets()) for c in ax.collections if hasattr(c, "get_offsets")) >= 6
    assert [t.get_text() for t in ax.get_xticklabels()] == ["max", "strided"]


def test_draw_shifted_accuracy_plots_the_mean_of_the_seeds(labelled):
    fig = draw.draw_shifted_accuracy((0, 1, 2), {"m": [[0.9, 0.8, 0.5], [0.7, 0.6, 0.3]]})
    (ax,) = fig.axes
    mean_line = [line for line in ax.lines if line.get_label().startswith("m (mean of 2)")]
    assert len(mean_line) == 1 and list(mean_line[0].get_ydata()) == pytest.approx([0.8, 0.7, 0.4])
    assert labelled(ax)


def test_draw_shift_change_one_panel_per_input(labelled):
    fig = draw.draw_shift_change({"a": {"no pooling": [0.1, 0.2]}, "b": {"no pooling": [0.1, 0.3]}}, (1, 2))
    assert len(fig.axes) == 2 and all(labelled(ax) for ax in fig.axes)


def test_draw_pool_view_titles_give_the_sizes():
    fig = draw.draw_pool_view(lesson.pool_view(torch.rand(1, 8, 8), "max", 2, 2))
    assert len(fig.axes) == 2 and fig.axes[1].get_title().startswith("max pool")
    assert "(1, 4, 4)" in fig.axes[1].get_title()
