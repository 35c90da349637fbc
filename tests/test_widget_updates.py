"""The widgets that update their figure in place (``draw.update``) show, pixel for pixel, what a
figure drawn anew would show, for every kind of move: a slider step, a dropdown that changes the
curve, the surface or the norm, and back. ``update_mismatches`` lists the moves where they differ.
"""
import dataclasses

import ipywidgets as widgets
import matplotlib.pyplot as plt
import pytest
import torch

from cnncourse.drawing import activations as act_draw
from cnncourse.drawing import normalization as norm_draw
from cnncourse.drawing import optimizers as opt_draw
from cnncourse.lessons import activations as act_lesson
from cnncourse.lessons import normalization as norm_lesson
from cnncourse.lessons import optimizers as opt_lesson
from cnncourse.widgets import Explorer, update_mismatches


def test_activation_curve_updates_are_faithful():
    results = [act_lesson.activation_curve("swish", 1.0), act_lesson.activation_curve("swish", 2.5),
               act_lesson.activation_curve("leaky_relu", 0.1), act_lesson.activation_curve("relu"),
               act_lesson.activation_curve("swish", 1.0)]
    assert update_mismatches(act_draw.draw_curve, results) == []


@pytest.fixture(scope="module")
def stat_noise_results():
    maps = torch.randn(64, 4, 6, 6, generator=torch.Generator().manual_seed(0)) * 2 + 1
    sizes = [2, 8, 32]
    curve = norm_lesson.noise_curve(maps, sizes, seed=0)
    def one(batch_size, kind):
        return dataclasses.replace(norm_lesson.stat_noise(maps, batch_size, kind, seed=0), curve=curve)
    return [one(2, "batch"), one(8, "batch"), one(32, "batch"), one(8, "layer"), one(2, "instance"),
            one(2, "batch")]


def test_stat_noise_updates_are_faithful(stat_noise_results):
    assert update_mismatches(norm_draw.draw_stat_noise, stat_noise_results) == []


def test_optimizer_explore_updates_are_faithful():
    first = next(iter(opt_lesson.SURFACES))
    other = [s for s in opt_lesson.SURFACES if s != first][0]
    results = [opt_lesson.explore("momentum", first, 0.3), opt_lesson.explore("momentum", first, 0.05),
               opt_lesson.explore("adam", first, 0.1), opt_lesson.explore("sgd", other, 0.01),
               opt_lesson.explore("sgd", other, 3.0),   # diverges: its line stops, the axes stay
               opt_lesson.explore("momentum", first, 0.3)]
    assert update_mismatches(opt_draw.draw_explore, results) == []


def test_an_update_that_forgets_a_part_is_caught():
    """The check itself can fail: an update that leaves the title as it was shows other pixels."""
    def forgetful(fig, c):
        title = fig.axes[0].get_title()
        moving = act_draw.update_curve(fig, c)
        fig.axes[0].set_title(title)   # the old title stays
        return moving

    results = [act_lesson.activation_curve("swish", 1.0), act_lesson.activation_curve("swish", 2.5)]
    assert update_mismatches(act_draw.draw_curve, results, update=forgetful) == [1]


def test_an_update_that_does_not_name_a_changed_part_is_caught():
    """A changed part left out of what the update returns stays as the cached rendering of the rest
    showed it (made at the first update, move 1): caught from the next move on."""
    def partial(fig, c):
        moving = act_draw.update_curve(fig, c)
        return None if moving is None else tuple(m for m in moving if m is not fig.axes[0].title)

    results = [act_lesson.activation_curve("swish", v) for v in (1.0, 2.5, 4.0)]
    assert update_mismatches(act_draw.draw_curve, results, update=partial) == [2]


def test_update_mismatches_needs_two_results_and_an_update():
    curve = act_lesson.activation_curve("relu")
    with pytest.raises(ValueError, match="two or more"):
        update_mismatches(act_draw.draw_curve, [curve])
    with pytest.raises(ValueError, match="has no update"):
        update_mismatches(lambda c: act_draw.draw_curve(c), [curve, curve])


def test_a_failing_update_drops_the_kept_figure_and_the_next_move_draws_anew():
    calls = []

    def update(fig, n):
        calls.append(n)
        if n == 2:
            raise RuntimeError("broken update")
        return None

    def draw(n):
        fig, ax = plt.subplots()
        ax.set_title(str(n))
        plt.close(fig)
        return fig

    explorer = Explorer(lambda n: n, draw, update=update, n=widgets.IntSlider(value=0, min=0, max=5))
    kept = explorer.figure
    assert kept is not None
    explorer.controls["n"].value = 2
    assert explorer.error is not None and explorer.figure is None
    explorer.controls["n"].value = 3
    assert explorer.error is None and explorer.figure is not None and explorer.figure is not kept
    assert calls == [2]   # after the failure, 3 was drawn anew, not updated
