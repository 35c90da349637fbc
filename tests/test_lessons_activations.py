"""Tests of cnncourse/lessons/activations.py (chapter 03's compute functions)."""
from __future__ import annotations

import time

import pytest
import torch
from torch import nn

from cnncourse import layers, models
from cnncourse.lessons import activations as lesson


def test_naive_softmax_overflows_and_layers_softmax_does_not():
    logits = torch.tensor([1000.0, 999.0])
    assert torch.isnan(lesson.naive_softmax(logits)).all()
    assert torch.allclose(layers.softmax(logits), torch.softmax(logits, dim=-1))


def test_autograd_table_passes_for_every_registry_activation():
    x = torch.cat([torch.linspace(-20, 20, 401, dtype=torch.float64), torch.tensor([-100.0, 100.0], dtype=torch.float64)])
    rows = lesson.autograd_table(x)
    assert {r.name for r in rows} == set(layers.ACTIVATIONS)
    assert all(r.value_error < 1e-6 and r.grad_error < 1e-6 and r.nan_free for r in rows)
    text = lesson.format_autograd_table(rows)
    assert "False" not in text and text.splitlines()[1].startswith("relu")


@pytest.mark.parametrize("name", lesson.EXPLORER_CHOICES)
def test_activation_curve_matches_autograd(name):
    c = lesson.activation_curve(name, points=101)
    assert c.x.shape == c.f.shape == c.df.shape == c.df_autograd.shape == (101,)
    assert c.grad_error < 1e-9
    assert name in lesson.summarize_curve(c)


def test_activation_curve_knob():
    c = lesson.activation_curve("leaky_relu", 0.2)
    assert c.knob == "negative_slope" and c.value == 0.2
    assert torch.allclose(c.df[c.x < 0], torch.full_like(c.df[c.x < 0], 0.2))
    default = lesson.activation_curve("leaky_relu")
    assert default.value == 0.01
    swish0 = lesson.activation_curve("swish", 0.0)
    assert torch.allclose(swish0.f, swish0.x / 2)  # beta -> 0: the line x/2
    relu = lesson.activation_curve("relu", 3.0)  # knob ignored
    assert relu.knob is None and relu.value is None and torch.equal(relu.f, relu.x.clamp(min=0))
    with pytest.raises(ValueError, match="unknown activation"):
        lesson.activation_curve("softsign")


def test_draw_functions_return_figures():
    fig = lesson.draw_curve(lesson.activation_curve("elu", 0.5))
    assert fig.axes[0].get_title() == "elu (alpha = 0.50)"
    assert len(lesson.draw_all_curves(("relu", "tanh")).axes) == 3
    fig = lesson.draw_gradient_norms({"relu": [1.0, 0.5], "sigmoid": [1e-6, 0.5]})
    assert fig.axes[0].get_yscale() == "log"


def test_widget_update_is_fast():
    from cnncourse.widgets import Explorer
    import ipywidgets

    explorer = Explorer(lesson.activation_curve, lesson.draw_curve, summary=lesson.summarize_curve,
                        name=ipywidgets.Dropdown(options=lesson.EXPLORER_CHOICES, value="swish"),
                        value=ipywidgets.FloatSlider(value=1.0, min=0.0, max=5.0))
    explorer.controls["value"].value = 2.0
    assert explorer.result.value == 2.0
    explorer.controls["name"].value = "mish"
    assert explorer.result.name == "mish"
    assert explorer.seconds < 1.0  # 150 ms on an idle laptop; generous for a busy CI machine


def _digits(n=64):
    return torch.rand(n, 1, 28, 28, generator=torch.Generator().manual_seed(0))


def test_dead_and_zero_fractions_on_a_constructed_dead_net():
    net = models.LeNet5(activation="relu")
    with torch.no_grad():
        net.classifier.fc1.bias.fill_(-1e3)  # every fc1 unit negative for every input
    dead = lesson.dead_fraction(net, _digits())
    assert dead["classifier.act3"] == 1.0
    assert set(dead) == {"features.act1", "features.act2", "classifier.act3", "classifier.act4"}
    zeros = lesson.zero_fraction(net, _digits())
    assert zeros["classifier.act3"] == 1.0
    leaky = models.LeNet5(activation="leaky_relu")
    assert lesson.zero_fraction(leaky, _digits())["classifier.act3"] == 0.0


def test_dead_fraction_counts_conv_channels():
    net = models.LeNet5(activation="relu")
    with torch.no_grad():
        net.features.conv1.bias[:3] = -1e3  # 3 of 6 channels never fire
        net.features.conv1.bias[3:] = 1e3
    assert lesson.dead_fraction(net, _digits(), ["features.act1"]) == {"features.act1": 0.5}


def test_unit_activity_leaves_model_unchanged():
    net = models.LeNet5(activation="gelu").train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    acts = lesson.unit_activity(net, _digits(8))
    assert net.training
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    pre, post = acts["features.act1"]
    assert pre.shape == post.shape == (8, 6, 28, 28)
    with pytest.raises(KeyError, match="no activation layer"):
        lesson.unit_activity(net, _digits(2), ["features.conv1"])


def test_deep_mlp_shapes_and_init():
    net = lesson.deep_mlp("sigmoid", depth=4, width=16)
    linears = [m for m in net if isinstance(m, nn.Linear)]
    assert len(linears) == 5 and linears[0].in_features == 784 and linears[-1].out_features == 10
    assert all(torch.count_nonzero(m.bias) == 0 for m in linears[:-1])
    assert net(_digits(3)).shape == (3, 10)
    with pytest.raises(ValueError):
        lesson.deep_mlp("relu", depth=0)
    with pytest.raises(ValueError):
        lesson.deep_mlp("relu", init="orthogonal")


def test_sigmoid_gradient_vanishes_relu_does_not():
    x, y = _digits(32), torch.arange(32) % 10
    torch.manual_seed(0)
    sig = lesson.layer_gradient_norms(lesson.deep_mlp("sigmoid", depth=10), x, y)
    torch.manual_seed(0)
    relu = lesson.layer_gradient_norms(lesson.deep_mlp("relu", depth=10), x, y)
    assert len(sig) == len(relu) == 11
    assert sig[-2] / sig[0] > 1e4
    assert relu[-2] / relu[0] < 1e2


def test_layer_gradient_norms_does_not_touch_the_model():
    net = lesson.deep_mlp("relu", depth=2).eval()
    lesson.layer_gradient_norms(net, _digits(4), torch.arange(4))
    assert not net.training and all(p.grad is None for p in net.parameters())


def test_swish_betas():
    net = models.LeNet5(activation=lambda: layers.Swish(beta=1.5, learnable=True))
    betas = lesson.swish_betas(net)
    assert list(betas.values()) == [1.5] * 4
    assert lesson.swish_betas(models.LeNet5()) == {}


def test_format_table():
    text = lesson.format_table([{"a": "relu", "b": 0.5}], [("a", "act", ""), ("b", "value", ".2f")])
    assert text.splitlines() == [" act  value", "relu   0.50"]
