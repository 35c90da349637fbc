"""cnncourse.drawing.introduction: chapter 01's figures draw what their inputs say, once, closed."""
import matplotlib.figure
import matplotlib.pyplot as plt
import numpy as np
import pytest
import torch

from cnncourse import models
from cnncourse.drawing import introduction as draw
from cnncourse.lessons import introduction as intro


@pytest.fixture(scope="module")
def digits():
    from cnncourse import data

    ds = data.load_dataset("mnist-offline")
    return ds.images[:40], ds.labels[:40]


def _closed(fig) -> bool:
    return fig.number not in plt.get_fignums()


def test_timeline_labels_every_milestone():
    fig = draw.draw_timeline()
    assert isinstance(fig, matplotlib.figure.Figure) and fig.axes[0].get_title() and _closed(fig)
    assert len(fig.axes[0].texts) == len(intro.MILESTONES)
    assert fig.axes[0].get_xlabel() == "year" and fig.axes[0].get_legend() is not None


def test_seed_comparison_draws_one_dot_per_seed_and_the_means():
    results = {"A": [0.9, 0.92, 0.91], "B": [0.8, 0.85, 0.83]}
    fig = draw.draw_seed_comparison(results, seeds=[0, 1, 2])
    ax = fig.axes[0]
    assert _closed(fig) and ax.get_ylabel() == "test accuracy" and ax.get_xlabel() == "method" and ax.get_title()
    assert [t.get_text() for t in ax.get_xticklabels()] == ["A", "B"]
    dots = [c for c in ax.collections if c.get_offsets().shape == (2, 2)]
    assert len(dots) == 3  # one scatter (two methods) per seed
    np.testing.assert_allclose(dots[1].get_offsets()[:, 1], [0.92, 0.85])
    means = [c for c in ax.collections if type(c).__name__ == "LineCollection"][0]
    np.testing.assert_allclose([seg[0][1] for seg in means.get_segments()], [0.91, 0.8266666], rtol=1e-5)
    with pytest.raises(ValueError, match="values per method but 2 seeds"):
        draw.draw_seed_comparison(results, seeds=[0, 1])
    with pytest.raises(ValueError, match="at least one method"):
        draw.draw_seed_comparison({}, seeds=[])


def test_invariance_profile_figure(digits):
    images, labels = digits
    torch.manual_seed(0)
    profile = intro.invariance_profile(models.LeNet5(), images, labels, shifts=(0, 1, 3))
    fig = draw.draw_invariance_profile(profile)
    assert isinstance(fig, matplotlib.figure.Figure) and _closed(fig)
    left, right = fig.axes
    assert len(left.lines) == len(profile.change) and left.get_xlabel().startswith("shift")
    np.testing.assert_allclose(right.lines[0].get_ydata(), profile.agreement)
    np.testing.assert_allclose(right.lines[1].get_ydata(), profile.accuracy)


def test_digit_view_figure(digits):
    images, labels = digits
    view = intro.digit_view(models.LeNet5(), images, labels, 3)
    fig = draw.draw_digit_view(view)
    assert len(fig.axes) == 2 and len(fig.axes[0].images) == 3 and _closed(fig)  # image + 2 mosaics, then the bars
    bars = fig.axes[1].patches
    np.testing.assert_allclose([b.get_height() for b in bars], view.probabilities.numpy(), rtol=1e-6)


def test_explorer_drives_the_digit_view(digits):
    import ipywidgets

    from cnncourse.widgets import Explorer

    images, labels = digits
    model = models.LeNet5()
    explorer = Explorer(lambda index: intro.digit_view(model, images, labels, index), draw.draw_digit_view,
                        summary=intro.summarize_digit_view, index=ipywidgets.IntSlider(0, 0, len(images) - 1))
    explorer.controls["index"].value = 7
    assert explorer.result.index == 7 and explorer.seconds > 0
