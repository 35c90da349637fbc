"""Tests of cnncourse/lessons/activations.py (chapter 03's compute functions)."""
from __future__ import annotations

import time

import pytest
import torch
from torch import nn

from cnncourse import layers, models
from cnncourse.drawing import activations as draw
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


def test_widget_updates_on_each_control():
    from cnncourse.widgets import Explorer
    import ipywidgets

    explorer = Explorer(lesson.activation_curve, draw.draw_curve, summary=lesson.summarize_curve,
                        name=ipywidgets.Dropdown(options=lesson.EXPLORER_CHOICES, value="swish"),
                        value=ipywidgets.FloatSlider(value=1.0, min=0.0, max=5.0))
    explorer.controls["value"].value = 2.0
    assert explorer.result.value == 2.0
    explorer.controls["name"].value = "mish"
    assert explorer.result.name == "mish"
    assert explorer.seconds > 0  # timed; the 150 ms target is measured by benchmarks/widget_update.py


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


def test_dead_units_masks_match_fractions_and_share():
    net = models.LeNet5(activation="relu")
    with torch.no_grad():
        for module in (net.features.conv1, net.features.conv2, net.classifier.fc1, net.classifier.fc2):
            module.weight.zero_()  # every unit's pre-activation is then its bias
            module.bias.fill_(1.0)
        net.classifier.fc2.bias[:21] = -1.0  # 21 of 84 fc2 units never fire
    masks = lesson.dead_units(net, _digits())
    assert masks["classifier.act4"].dtype == torch.bool and masks["classifier.act4"].shape == (84,)
    assert int(masks["classifier.act4"].sum()) == 21 and not masks["classifier.act3"].any()
    assert masks["features.act1"].shape == (6,)  # one entry per channel
    assert lesson.dead_fraction(net, _digits())["classifier.act4"] == 0.25
    assert lesson.dead_share(masks) == 21 / (6 + 16 + 120 + 84)
    with pytest.raises(ValueError, match="no units"):
        lesson.dead_share({})


def test_a_unit_that_fires_on_one_image_is_not_dead():
    net = nn.Sequential(nn.Linear(1, 3), nn.ReLU())
    with torch.no_grad():
        net[0].weight.copy_(torch.tensor([[1.0], [-1.0], [1.0]]))
        net[0].bias.copy_(torch.tensor([0.0, 0.0, -5.0]))
    x = torch.tensor([[-1.0], [1.0]])  # unit 0 fires on the 2nd image, unit 1 on the 1st, unit 2 on neither
    assert lesson.dead_units(net, x)["1"].tolist() == [False, False, True]


def test_revived_fraction_counts_units_that_came_back():
    then = {"a": torch.tensor([True, True, False, False]), "b": torch.tensor([True, False])}
    now = {"a": torch.tensor([False, True, True, False]), "b": torch.tensor([False, False])}
    assert lesson.revived_fraction(then, now) == 2 / 3  # a[0] and b[0] revived, a[1] still dead
    assert lesson.revived_fraction(then, then) == 0.0
    with pytest.raises(ValueError, match="nothing to revive"):
        lesson.revived_fraction({"a": torch.zeros(3, dtype=torch.bool)}, {"a": torch.ones(3, dtype=torch.bool)})
    with pytest.raises(ValueError, match="different layers"):
        lesson.revived_fraction(then, {"a": now["a"]})


def test_a_dead_relu_unit_gets_no_gradient_and_revives_only_through_its_inputs():
    # The mechanism behind the chapter's revival count, checked with autograd.
    torch.manual_seed(0)
    net = nn.Sequential(nn.Linear(4, 3), nn.ReLU(), nn.Linear(3, 2), nn.ReLU(), nn.Linear(2, 1))
    with torch.no_grad():
        net[0].weight.uniform_(0.0, 0.1)
        net[0].bias.zero_()
        net[2].weight[0].fill_(1.0)  # unit 0 of the second layer sums its inputs (each < 0.4)...
        net[2].bias[0] = -5.0  # ...minus 5: off for every input in [0, 1)
        net[2].bias[1] = 5.0
    x = torch.rand(16, 4)
    before = lesson.dead_units(net, x)
    assert before["3"].tolist() == [True, False]
    net(x).sum().backward()
    assert torch.count_nonzero(net[2].weight.grad[0]) == 0 and net[2].bias.grad[0] == 0  # it cannot move itself
    own = (net[2].weight[0].clone(), net[2].bias[0].clone())
    with torch.no_grad():
        net[0].bias.fill_(2.0)  # only the layer below changes: its inputs grow past 5
    after = lesson.dead_units(net, x)
    assert torch.equal(net[2].weight[0], own[0]) and net[2].bias[0] == own[1]
    assert lesson.revived_fraction(before, after) == 1.0  # and it fires again


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


def test_signal_spread_matches_a_hand_computation_and_collapses_with_sigmoid():
    x = _digits(64)
    torch.manual_seed(0)
    net = lesson.deep_mlp("relu", depth=3, width=16)
    spread = lesson.signal_spread(net, x)
    assert len(spread) == 3
    first = net[1](x.flatten(1))  # Linear 1's output = the first activation's input, (64, 16)
    assert spread[0] == pytest.approx(first.std(dim=0).mean().item(), rel=1e-6)
    torch.manual_seed(0)
    sig = lesson.signal_spread(lesson.deep_mlp("sigmoid", depth=8), x)
    torch.manual_seed(0)
    relu = lesson.signal_spread(lesson.deep_mlp("relu", depth=8), x)
    assert sig[-1] / sig[0] < 1e-3 < relu[-1] / relu[0]


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
