"""Chapter 08's figures (cnncourse/drawing/optimizers.py): each returns a closed figure with titles."""
import matplotlib
import pytest

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from cnncourse.drawing import optimizers as figures  # noqa: E402
from cnncourse.lessons import optimizers as L  # noqa: E402


def _closed(fig):
    return not plt.fignum_exists(fig.number)


def test_draw_trajectories_one_column_per_surface():
    best = {s: L.best_trajectories(s, [0.01, 0.1], steps=30, names=("sgd", "adam")) for s in ("quadratic", "rotated")}
    fig = figures.draw_trajectories(best)
    assert len(fig.axes) == 4 and all(ax.get_title() for ax in fig.axes)
    assert _closed(fig)


@pytest.mark.parametrize("surface", sorted(L.SURFACES))
def test_draw_explore(surface):
    fig = figures.draw_explore(L.explore("momentum", surface, lr=0.01, steps=20))
    assert len(fig.axes) == 2 and fig.axes[0].get_title()
    assert _closed(fig)


def test_draw_noisy():
    runs = {"SGD": L.trajectory("sgd", 0.03, steps=40, noise=1.0, seed=0),
            "momentum": L.trajectory("momentum", 0.003, steps=40, noise=1.0, seed=0)}
    fig = figures.draw_noisy(runs, window=20)
    assert len(fig.axes) == 2 and fig.axes[1].get_legend() is not None
    assert _closed(fig)


def test_draw_rate_sweep():
    fig = figures.draw_rate_sweep({"Adam": ([1e-3, 1e-2], [[0.8, 0.85], [0.9]]), "SGD": ([0.1, 1.0], [[0.7], [0.2]])},
                                  title="sweep")
    ax = fig.axes[0]
    assert ax.get_xscale() == "log" and ax.get_title() == "sweep"
    assert _closed(fig)
