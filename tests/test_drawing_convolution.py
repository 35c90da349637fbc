"""Chapter 02's figures (cnncourse.drawing.convolution): each returns one closed figure with titles."""
import ipywidgets
import matplotlib.pyplot as plt
import pytest
import torch

from cnncourse.drawing import convolution as figures
from cnncourse.lessons import convolution as lesson


@pytest.fixture(autouse=True)
def _no_open_figures():
    plt.close("all")
    yield
    assert plt.get_fignums() == [], "a drawing function left its figure open (it would show twice in a notebook)"


def test_draw_kernel_gallery_has_titles():
    image = torch.rand(1, 10, 14)
    kernels = lesson.hand_kernels()
    fig = figures.draw_kernel_gallery(image, lesson.apply_kernels(image, kernels), kernels)
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert "input (gray photo)" in titles and len(titles) == 9


def test_draw_dot_pairs_one_row_per_gap():
    examples = {gap: lesson.dot_pairs(30, gap, seed=0) for gap in (1, 4)}
    fig = figures.draw_dot_pairs(examples, per_class=2)
    assert len(fig.axes) == 8
    titles = [ax.get_title() for ax in fig.axes]
    assert titles[0].startswith("gap 1: class 0") and titles[-1].startswith("gap 4: class 1")
    assert fig.axes[0].get_ylabel() == "dots 1 px apart"
    with pytest.raises(ValueError, match="fewer than"):
        figures.draw_dot_pairs({2: (torch.zeros(2, 1, 8, 8), torch.tensor([0, 0]))}, per_class=1)
    plt.close("all")  # the refused figure


def test_draw_padding_modes():
    fig = figures.draw_padding_modes(torch.rand(3, 8, 8), 3)
    assert [ax.get_title().split()[0] for ax in fig.axes] == list(lesson.PADDING_MODES)


def test_draw_timings_one_bar_each():
    fig = figures.draw_timings({"a": 0.01, "b": 0.001}, title="t")
    (ax,) = fig.axes
    assert len(ax.patches) == 2 and ax.get_title() == "t" and ax.get_xscale() == "log"


def test_draw_conv_view_with_and_without_error():
    ok = lesson.conv_view(kernel_size=3, stride=2, image=torch.rand(3, 12, 12))
    bad = lesson.conv_view(groups=2, image=torch.rand(3, 10, 10))
    for view in (ok, bad):
        fig = figures.draw_conv_view(view)
        assert len(fig.axes) == 3 and "receptive field" in fig.axes[0].get_title()
    assert figures.draw_conv_view(bad).axes[2].texts  # the error is written where the output would be


def test_draw_conv_view_and_explorer():
    from cnncourse.widgets import Explorer

    explorer = Explorer(lesson.conv_view, figures.draw_conv_view, summary=lesson.summarize_conv_view,
                        kernel_size=ipywidgets.IntSlider(3, 1, 9), groups=ipywidgets.IntSlider(1, 1, 3))
    explorer.controls["kernel_size"].value = 5
    assert explorer.result.output_shape[1:] == (92, 139)
    explorer.controls["groups"].value = 3
    assert explorer.result.channels_seen == 1
    plt.close("all")
