"""cnncourse.viz: every figure draws from tensors, labels what it shows, and rejects wrong shapes clearly."""
import matplotlib.pyplot as plt
import pytest
import torch

from cnncourse import data, train, viz


def test_show_images_marks_wrong_predictions_in_red():
    images = data.load_dataset("mnist-offline").images[:6]
    fig = viz.show_images(images, labels=[0, 1, 2, 3, 4, 5], predictions=[0, 1, 2, 3, 4, 9], title="digits")
    titles = [ax.get_title() for ax in fig.axes if ax.get_title()]
    assert titles[-1] == "5 → 9"
    red = [ax for ax in fig.axes if ax.get_title() and ax.title.get_color() == "red"]
    assert len(red) == 1
    with pytest.raises(ValueError, match=r"\(N, C, H, W\)"):
        viz.show_images(images[0])


def test_kernels_and_feature_maps():
    fig = viz.show_kernels(torch.randn(6, 1, 5, 5))
    assert sum(1 for ax in fig.axes if ax.images) == 6
    fig = viz.show_kernels(torch.randn(4, 3, 3, 3))
    assert fig.axes[0].images[0].get_array().shape == (3, 3, 3)
    fig = viz.show_feature_maps(torch.rand(1, 40, 7, 7), max_maps=16)
    assert sum(1 for ax in fig.axes if ax.images) == 16
    with pytest.raises(ValueError):
        viz.show_kernels(torch.randn(3, 3))


def test_history_plots():
    h = train.History(epoch=[1, 2], train_loss=[1.0, 0.5], train_acc=[0.5, 0.8], val_loss=[1.1, 0.7],
                      val_acc=[0.4, 0.7], lr=[0.1, 0.1], seconds=[1, 1])
    fig = viz.plot_history(h)
    assert [len(ax.lines) for ax in fig.axes] == [2, 2]
    fig = viz.plot_histories({"a": h, "b": h}, metric="val_loss")
    assert len(fig.axes[0].lines) == 2 and fig.axes[0].get_ylabel() == "val loss"


def test_confusion_matrix_counts_and_plot():
    cm = viz.confusion_matrix(torch.tensor([0, 0, 1, 2, 2]), torch.tensor([0, 1, 1, 2, 0]), 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 1]]
    fig = viz.plot_confusion_matrix(cm, ["a", "b", "c"])
    assert len(fig.axes[0].texts) == 9
    with pytest.raises(ValueError, match="differ"):
        viz.confusion_matrix(torch.tensor([0, 1]), torch.tensor([0]), 2)


def test_live_plot_updates_one_display(monkeypatch):
    shown = []

    class Handle:
        def update(self, fig):
            shown.append(fig)

    monkeypatch.setattr("IPython.display.display", lambda *a, **k: Handle())
    live = viz.LivePlot()
    h = train.History(epoch=[1], train_loss=[1.0], train_acc=[0.5], lr=[0.1], seconds=[1])
    live.update(h)
    live.close()
    assert shown == [live.fig] and not plt.fignum_exists(live.fig.number)


def test_figures_are_returned_closed_so_notebooks_show_them_once():
    fig = viz.show_images(torch.rand(2, 1, 4, 4))
    assert not plt.fignum_exists(fig.number)
    _, ax = plt.subplots()
    h = train.History(epoch=[1], train_loss=[1.0], train_acc=[0.5], lr=[0.1], seconds=[1])
    viz.plot_histories({"a": h}, metric="train_loss", ax=ax)
    assert plt.fignum_exists(ax.figure.number)  # the caller's figure stays open
