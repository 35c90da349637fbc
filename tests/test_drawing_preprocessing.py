"""Chapter 06's figures (cnncourse.drawing.preprocessing): each returns one closed figure with titles and labels."""
import pytest
import torch

from cnncourse import augment
from cnncourse.drawing import preprocessing as draw
from cnncourse.train import History


pytestmark = pytest.mark.usefixtures("no_open_figures")


def test_draw_scalings_one_labelled_histogram_per_version(labelled):
    x = torch.rand(10, 1, 4, 4)
    fig = draw.draw_scalings({"a": x, "b": x * 2})
    assert len(fig.axes) == 2 and all(labelled(ax) for ax in fig.axes)
    assert "mean" in fig.axes[0].get_title()


def test_draw_closest_pairs_one_panel_per_pair():
    x = torch.rand(5, 1, 4, 4)
    fig = draw.draw_closest_pairs(x, torch.rand(5), torch.tensor([1, 0, 3, 2, 0]), [0, 2])
    assert len(fig.axes) == 2 and fig.axes[0].images[0].get_array().shape == (4, 9)
    assert fig.axes[1].get_title().startswith("#2 & #3")


def test_draw_transform_rows_gray_and_colour():
    for c in (1, 3):
        fig = draw.draw_transform_rows(torch.rand(2, 4, c, 6, 6), ["one", "two"])
        assert len(fig.axes) == 2 and fig.axes[1].get_title().startswith("two: original, then 3")


def test_draw_gallery_shows_the_tiled_gallery():
    gal = augment.gallery(torch.rand(3, 1, 8, 8), 4, augment.AugmentStrength(), seed=0)
    fig = draw.draw_gallery(gal)
    assert fig.axes[0].images[0].get_array().shape == tuple(augment.tile(gal)[0].shape)


def test_draw_accuracy_by_setting_and_shifted_accuracy(labelled):
    fig = draw.draw_accuracy_by_setting({"a": [0.9, 0.92], "b": [0.95, 0.96]}, title="t")
    assert labelled(fig.axes[0]) and len(fig.axes[0].patches) == 2
    fig = draw.draw_shifted_accuracy((0, 1, 2), {"a": [[0.9, 0.8, 0.5], [0.91, 0.7, 0.4]], "b": [[0.9, 0.9, 0.9]] * 2})
    assert labelled(fig.axes[0]) and len(fig.axes[0].lines) == 2


def test_draw_overfitting_train_and_validation_per_run(labelled):
    h = History(epoch=[1, 2], train_acc=[0.5, 0.9], val_acc=[0.5, 0.6])
    fig = draw.draw_overfitting({"run": h, "other": h}, title="t")
    assert labelled(fig.axes[0]) and len(fig.axes[0].lines) == 4
