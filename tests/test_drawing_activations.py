"""Tests of cnncourse/drawing/activations.py (chapter 03's figures)."""
from __future__ import annotations

import matplotlib.pyplot as plt
import pytest

from cnncourse.drawing import activations as draw
from cnncourse.lessons import activations as lesson


def test_draw_curve_titles_and_closes_its_own_figure():
    fig = draw.draw_curve(lesson.activation_curve("elu", 0.5))
    assert fig.axes[0].get_title() == "elu (alpha = 0.50)"
    assert fig.number not in plt.get_fignums()  # closed: a notebook shows it once
    assert [line.get_label() for line in fig.axes[0].lines][2:] == ["f(x)", "f'(x), closed form", "f'(x), autograd"]


def test_draw_curve_into_a_given_axis_leaves_it_open():
    fig, ax = plt.subplots()
    assert draw.draw_curve(lesson.activation_curve("relu"), ax=ax) is fig
    assert fig.number in plt.get_fignums()
    plt.close(fig)


def test_draw_all_curves_one_panel_per_activation():
    fig = draw.draw_all_curves(("relu", "tanh"), ncols=3)
    assert len(fig.axes) == 3 and [ax.get_title() for ax in fig.axes[:2]] == ["relu", "tanh"]
    assert not fig.axes[2].axison  # the spare panel is blank


def test_draw_gradient_norms_panels_log_scale():
    fig = draw.draw_gradient_norms({"matched": {"relu": [1.0, 0.5], "sigmoid": [1e-6, 0.5]}, "default": {"relu": [0.1, 0.5]}})
    assert len(fig.axes) == 2 and all(ax.get_yscale() == "log" for ax in fig.axes)
    assert fig.axes[0].get_title() == "matched" and fig.axes[0].get_ylabel().startswith("‖")
    assert fig.number not in plt.get_fignums()
    with pytest.raises(ValueError, match="at least one panel"):
        draw.draw_gradient_norms({})


def test_draw_seed_scores_one_dot_per_seed_and_chance_line():
    fig = draw.draw_seed_scores({"relu": [0.9, 0.8, 0.85], "sigmoid": [0.1, 0.1, 0.1]}, chance=0.1)
    ax = fig.axes[0]
    dots = [line for line in ax.lines if line.get_marker() == "o"]
    assert len(dots) == 2 and all(len(d.get_xdata()) == 3 for d in dots)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["relu", "sigmoid"]
    assert "chance (0.1)" in [t.get_text() for t in ax.get_legend().get_texts()]
    with pytest.raises(ValueError, match="at least one setting"):
        draw.draw_seed_scores({})


def test_draw_dead_over_training_checks_lengths():
    fig = draw.draw_dead_over_training({"relu": [[0.1, 0.3, 0.35], [0.2, 0.4, 0.4]], "leaky_relu": [[0.1, 0.05, 0.04]]},
                                       ["init", "epoch 1", "epoch 2"])
    ax = fig.axes[0]
    assert len(ax.lines) == 3 and [t.get_text() for t in ax.get_xticklabels()] == ["init", "epoch 1", "epoch 2"]
    with pytest.raises(ValueError, match="2 values for 3 checkpoints"):
        draw.draw_dead_over_training({"relu": [[0.1, 0.2]]}, ["init", "epoch 1", "epoch 2"])
