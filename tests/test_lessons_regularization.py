"""Chapter 10's compute functions (cnncourse/lessons/regularization.py), checked against PyTorch."""
import copy

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnncourse.lessons import regularization as L
from cnncourse.models import LeNet5


def _params():
    g = torch.Generator().manual_seed(0)
    return [torch.randn(4, 3, generator=g, dtype=torch.float64, requires_grad=True),
            torch.randn(5, generator=g, dtype=torch.float64, requires_grad=True)]


def test_l2_penalty_gradient_is_weight_decay():
    params = _params()
    value = L._l2_penalty(params, 0.3)
    grads = torch.autograd.grad(value, params)
    for p, g in zip(params, grads):
        torch.testing.assert_close(g, 0.3 * p.detach())
    assert value.item() == pytest.approx(0.15 * sum((p.detach() ** 2).sum().item() for p in params))


def test_l1_penalty_gradient_is_sign():
    params = _params()
    value = L.l1_penalty(params, 0.2)
    grads = torch.autograd.grad(value, params)
    for p, g in zip(params, grads):
        torch.testing.assert_close(g, 0.2 * p.detach().sign())


def test_article_penalty_is_unsquared_norm():
    params = _params()
    value = L.article_penalty(params, 0.0, 0.5)
    assert value.item() == pytest.approx(0.5 * sum(p.detach().norm().item() for p in params))
    grads = torch.autograd.grad(value, params)
    for g in grads:  # gradient length λ whatever the weights
        assert g.norm().item() == pytest.approx(0.5)


def test_penalty_rows_on_3_4():
    rows = {r.name: r for r in L.penalty_rows(torch.tensor([3.0, 4.0]), 0.1)}
    assert rows["λ/2·‖w‖²"].value == pytest.approx(1.25)
    assert rows["λ·‖w‖₂ (article)"].value == pytest.approx(0.5)
    torch.testing.assert_close(rows["λ/2·‖w‖²"].grad, rows["weight decay λ·w"].grad)
    torch.testing.assert_close(rows["λ·‖w‖₂ (article)"].grad, torch.tensor([0.06, 0.08], dtype=torch.float64))


def _sgd_step(model, x, y, penalty, weight_decay):
    net = copy.deepcopy(model)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, weight_decay=weight_decay)
    loss = F.cross_entropy(net(x), y) + penalty(list(net.parameters()))
    opt.zero_grad()
    loss.backward()
    opt.step()
    return [p.detach() for p in net.parameters()]


def test_sgd_weight_decay_equals_l2_penalty_step_not_article_penalty():
    torch.manual_seed(0)
    model = LeNet5()
    x, y = torch.rand(8, 1, 28, 28), torch.randint(0, 10, (8,))
    ref = _sgd_step(model, x, y, lambda ps: torch.zeros(()), 0.01)   # PyTorch's weight decay
    ours = _sgd_step(model, x, y, lambda ps: L._l2_penalty(ps, 0.01), 0.0)
    article = _sgd_step(model, x, y, lambda ps: L.article_penalty(ps, 0.0, 0.01), 0.0)
    assert max((a - b).abs().max().item() for a, b in zip(ours, ref)) < 1e-6
    assert max((a - b).abs().max().item() for a, b in zip(article, ref)) > 1e-5


def test_decay_ratios_adamw_is_nominal_adam_is_not():
    torch.manual_seed(0)
    model = LeNet5()
    batches = [(torch.rand(16, 1, 28, 28), torch.randint(0, 10, (16,))) for _ in range(4)]
    ratios = L.decay_ratios(model, batches, lr=1e-3, weight_decay=0.01)
    for r in ratios["AdamW"].values():
        assert (r - 1).abs().max().item() < 1e-6
    spread = torch.cat(list(ratios["Adam"].values()))
    assert spread.max().item() > 10 * spread.min().abs().item() or spread.median().item() > 2


@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 1.0])
def test_inverted_dropout_follows_f_dropout(p):
    x = torch.rand(3, 4, 5) + 0.1
    out = L._inverted_dropout(x, p, True, torch.Generator().manual_seed(0))
    keep = out != 0
    ref = F.dropout(x, p, training=True)
    if p < 1:
        torch.testing.assert_close(out, x * keep / (1 - p))  # F.dropout's rule, as test_checks_ch10 shows
        torch.testing.assert_close(ref, x * (ref != 0) / (1 - p))
    else:
        assert torch.equal(out, ref) and not torch.isnan(out).any()
    torch.testing.assert_close(L._inverted_dropout(x, p, False), x)


def test_dropout_mask_is_bernoulli():
    g1, g2 = torch.Generator().manual_seed(4), torch.Generator().manual_seed(4)
    mask = L.dropout_mask((50, 40), 0.3, g1)
    ref = torch.bernoulli(torch.full((50, 40), 0.7), generator=g2).bool()
    assert torch.equal(mask, ref)


def test_spatial_dropout_zeroes_whole_channels_like_dropout2d():
    x = torch.rand(6, 16, 5, 5) + 0.1
    out = L.spatial_dropout(x, 0.4, True, torch.Generator().manual_seed(1))
    per_channel = (out != 0).flatten(2)
    assert (per_channel.all(2) | ~per_channel.any(2)).all()  # all kept or all dropped
    kept = per_channel.all(2)
    torch.testing.assert_close(out, x * kept[..., None, None] / 0.6)
    ref = nn.Dropout2d(0.4).train()(x)  # the same structure in PyTorch's module
    ref_channels = (ref != 0).flatten(2)
    assert (ref_channels.all(2) | ~ref_channels.any(2)).all()
    torch.testing.assert_close(ref, x * ref_channels.all(2)[..., None, None] / 0.6)
    torch.testing.assert_close(L.spatial_dropout(x, 0.4, False), x)
    with pytest.raises(ValueError, match="spatial_dropout"):
        L.spatial_dropout(torch.rand(4, 5), 0.1)


def test_dropout_means_preserved_only_with_scaling():
    x = torch.rand(3, 8, 8)
    m = L.dropout_means(x, 0.5, draws=2000)
    assert m["inverted dropout (train)"] == pytest.approx(m["input"], rel=0.02)
    assert m["spatial dropout (train)"] == pytest.approx(m["input"], rel=0.05)
    assert m["no 1/(1 − p) scaling"] == pytest.approx(0.5 * m["input"], rel=0.02)
    assert m["eval mode"] == pytest.approx(m["input"])


@pytest.mark.parametrize("p", [0.0, 0.5, 1.0])
def test_dropout_view_is_pure_and_consistent(p):
    maps = torch.rand(6, 10, 10)
    before = maps.clone()
    v = L.dropout_view(maps, p, seed=3, draws=50)
    assert torch.equal(maps, before)
    torch.testing.assert_close(v.element, maps * v.element_mask / (1 - p) if p < 1 else torch.zeros_like(maps))
    assert v.channel_mask.shape == (6,)
    if p < 1:
        torch.testing.assert_close(v.channel, maps * v.channel_mask[:, None, None] / (1 - p))
    assert not torch.isnan(v.element).any() and not torch.isnan(v.channel).any()
    assert "channels" in L.summarize_dropout_view(v)


def test_tile_maps_shape():
    canvas = L.tile_maps(torch.rand(4, 5, 6), pad=1)
    assert canvas.shape == (5, 4 * 7 - 1)
    assert torch.isnan(canvas[:, 6]).all()


def test_regularised_lenet_inserts_dropout2d():
    model = L.regularised_lenet(dropout=0.5, spatial_dropout=0.2, norm="batch")
    names = [n for n, _ in model.features.named_children()]
    assert names.index("sdrop1") == names.index("pool1") + 1 and "sdrop2" in names
    assert isinstance(model.features.norm1, nn.BatchNorm2d)
    assert model(torch.rand(2, 1, 28, 28)).shape == (2, 10)


def test_near_zero_fraction():
    assert L.near_zero_fraction(torch.tensor([0.0, 1e-4, 0.5, -2.0])) == pytest.approx(0.5)
    assert L.weight_vector(LeNet5()).numel() == sum(
        m.weight.numel() for m in LeNet5().modules() if isinstance(m, (nn.Conv2d, nn.Linear)))


def test_weight_tensors_are_the_live_conv_and_linear_weights():
    model = L.regularised_lenet(norm="batch")
    ws = L.weight_tensors(model)
    assert len(ws) == 5 and all(w.requires_grad for w in ws)   # conv1, conv2, fc1, fc2, fc3; not the BatchNorm scales
    assert ws[0] is model.features.conv1.weight
    penalty = L.l1_penalty(ws, 0.1)
    penalty.backward()
    torch.testing.assert_close(model.features.conv1.weight.grad, 0.1 * model.features.conv1.weight.detach().sign())
    assert model.features.conv1.bias.grad is None
