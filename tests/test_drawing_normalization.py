"""Tests of cnncourse.drawing.normalization (chapter 05's figures)."""
import dataclasses

import matplotlib.pyplot as plt
import pytest
import torch

from cnncourse.drawing import normalization as D
from cnncourse.lessons import normalization as L


def _closed(fig):
    return fig.number not in plt.get_fignums()


def _maps(n=64, C=4):
    torch.manual_seed(0)
    return torch.randn(n, C, 6, 6) + torch.arange(C).view(1, C, 1, 1)


def test_norm_cubes_one_panel_per_kind():
    fig = D.draw_norm_cubes()
    assert _closed(fig)
    assert [ax.get_title() for ax in fig.axes] == ["BatchNorm", "LayerNorm", "InstanceNorm", "GroupNorm (G=2)"]


def test_running_trace_two_log_panels():
    trace = L.running_stats_trace(_maps(64), batch_size=16, momenta=(0.1, None), steps=20)
    fig = D.draw_running_trace(trace)
    assert _closed(fig) and len(fig.axes) == 2
    assert all(ax.get_yscale() == "log" for ax in fig.axes)
    assert len(fig.axes[0].get_lines()) == 2


def test_accuracy_sweep_dots_means_and_chance():
    acc = {"none": {0.01: [0.5, 0.6], 0.03: [0.1, 0.2]}, "batch": {0.01: [0.7, 0.8], 0.03: [0.8, 0.9]}}
    fig = D.draw_accuracy_sweep({"lr sweep": ((0.01, 0.03), acc)}, title="t")
    assert _closed(fig) and len(fig.axes) == 1
    ax = fig.axes[0]
    assert ax.get_title() == "lr sweep" and ax.get_xscale() == "log" and ax.get_ylabel() == "test accuracy"
    means = [line for line in ax.get_lines() if line.get_linestyle() == "-"]
    assert len(means) == 2
    for line, expected in zip(means, ([0.55, 0.15], [0.75, 0.85])):
        assert list(line.get_ydata()) == pytest.approx(expected)
    assert any("chance" in t.get_text() for t in ax.get_legend().get_texts())


def test_gradient_profiles_one_panel_per_gain():
    profiles = {(norm, g): torch.rand(5) + 0.1 for norm in ("none", "batch") for g in (0.5, 1.0, 2.0)}
    fig = D.draw_gradient_profiles(profiles, title="g")
    assert _closed(fig) and len(fig.axes) == 3
    assert [ax.get_title() for ax in fig.axes] == ["init: 0.5 × He", "init: 1 × He", "init: 2 × He"]
    assert all(ax.get_yscale() == "log" and len(ax.get_lines()) == 2 for ax in fig.axes)


def test_stat_noise_with_and_without_curve():
    maps = _maps(64)
    curve = L.noise_curve(maps, [2, 8, 32])
    r = dataclasses.replace(L.stat_noise(maps, 8, "batch"), curve=curve)
    fig = D.draw_stat_noise(r)
    assert _closed(fig) and len(fig.axes) == 2
    assert len(D.draw_stat_noise(L.stat_noise(maps, 8, "group")).axes) == 1
