"""Tests of cnncourse.lessons.normalization (chapter 05's compute functions)."""
import dataclasses

import pytest
import torch
from torch import nn

from cnncourse import models
from cnncourse.lessons import normalization as L


def _maps(n=64, C=4, H=6, W=6):
    return torch.randn(n, C, H, W) * torch.linspace(0.5, 2, C).view(1, C, 1, 1) + torch.arange(C).view(1, C, 1, 1)


@pytest.mark.parametrize("kind, shaded", [("batch", 4 * 5), ("layer", 6 * 5), ("instance", 5), ("group", 3 * 5)])
def test_normalized_block_sizes(kind, shaded):
    assert L.normalized_block(kind, N=4, C=6, HW=5, num_groups=2).sum() == shaded


def test_normalized_block_rejects_bad_input():
    with pytest.raises(ValueError, match="unknown kind"):
        L.normalized_block("weight")
    with pytest.raises(ValueError, match="groups"):
        L.normalized_block("group", C=5, num_groups=2)


def test_running_stats_trace_converges_and_matches_torch():
    maps = _maps(128)
    before = maps.clone()
    trace = L.running_stats_trace(maps, batch_size=32, momenta=(0.1, None), steps=60)
    assert torch.equal(maps, before)
    fast = trace.mean_error["momentum=0.1"]
    assert fast.shape == (60,) and fast[-1] < fast[0] / 5
    cumulative = trace.mean_error["None (cumulative average)"]
    assert cumulative[-1] < 0.1


def test_running_stats_trace_rejects_bad_batch():
    with pytest.raises(ValueError, match="batch_size"):
        L.running_stats_trace(_maps(8), batch_size=9)


def test_stat_noise_batch_norm_shrinks_with_batch_size_and_others_are_zero():
    maps = _maps(256)
    small = L.stat_noise(maps, 2, "batch")
    large = L.stat_noise(maps, 128, "batch")
    assert small.mismatch > 2 * large.mismatch > 0
    assert small.mean_error > large.mean_error
    for kind in ("layer", "instance", "group"):
        r = L.stat_noise(maps, 2, kind)
        assert r.mismatch == 0.0 and r.mean_error == 0.0 and r.std_error == 0.0
        assert torch.equal(r.train_mean, r.eval_mean)


def test_stat_noise_per_sample_means_are_the_group_means():
    maps = _maps(8, C=4)
    r = L.stat_noise(maps, 8, "instance")
    order = torch.randperm(8, generator=torch.Generator().manual_seed(0))
    pop_mean, pop_std = maps.mean(dim=(0, 2, 3)), maps.var(dim=(0, 2, 3), correction=0).add(1e-5).sqrt()
    expected = (maps[order, 0].mean(dim=(1, 2)) - pop_mean[0]) / pop_std[0]
    torch.testing.assert_close(r.train_mean, expected)


def test_stat_noise_validates():
    with pytest.raises(ValueError, match="unknown kind"):
        L.stat_noise(_maps(8), 2, "weight")
    with pytest.raises(ValueError, match="batch_size"):
        L.stat_noise(_maps(8), 9, "batch")


def test_noise_curve_and_summary():
    maps = _maps(64)
    curve = L.noise_curve(maps, [2, 8, 32])
    assert set(curve) == set(L.KIND_NAMES) and list(curve["batch"]) == [2, 8, 32]
    assert curve["group"] == {2: 0.0, 8: 0.0, 32: 0.0}
    r = dataclasses.replace(L.stat_noise(maps, 8, "batch"), curve=curve,
                            accuracy={"batch": {8: 0.9, "eval": 0.95}})
    text = L.summarize_stat_noise(r)
    assert "BatchNorm at batch size 8" in text and "0.900" in text and "0.950" in text


def test_predictions_do_not_change_the_model_and_group_norm_ignores_the_batch():
    torch.manual_seed(0)
    images = torch.rand(20, 1, 28, 28)
    bn = models.LeNet5(norm="batch").train()
    state = {k: v.clone() for k, v in bn.state_dict().items()}
    eval_pred = L.predictions(bn, images)
    batch_pred = L.predictions(bn, images, batch_size=2)
    assert eval_pred.shape == batch_pred.shape == (20,)
    assert bn.training
    assert all(torch.equal(state[k], v) for k, v in bn.state_dict().items())
    gn = models.LeNet5(norm="group")
    torch.testing.assert_close(L.predictions(gn, images), L.predictions(gn, images, batch_size=3))


def test_predictions_batch_of_odd_size_covers_every_image():
    bn = models.LeNet5(norm="batch")
    images = torch.rand(7, 1, 28, 28)
    pred = L.predictions(bn, images, batch_size=2)
    assert pred.shape == (7,) and (pred >= 0).all()


def test_with_batch_stats_only_touches_batchnorm():
    model = nn.Sequential(nn.Conv2d(1, 2, 3), nn.BatchNorm2d(2), nn.Dropout(0.5))
    clone = L._with_batch_stats(model)
    assert clone[1].training and not clone[2].training and clone[1].momentum == 0.0
    assert model[1].momentum == 0.1


def test_compute_module_does_not_import_matplotlib():
    import subprocess
    import sys

    code = "import sys, cnncourse.lessons.normalization; print('matplotlib' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "False"


def _deep(norm, gain=1.0, depth=6, width=4):
    torch.manual_seed(0)
    layers = []
    for i in range(depth):
        layers += [nn.Conv2d(1 if i == 0 else width, width, 3, padding=1), models.make_norm(norm, width), nn.ReLU()]
    net = nn.Sequential(*layers, nn.Flatten(), nn.Linear(width * 8 * 8, 10))
    for m in net.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, nonlinearity="relu")
            with torch.no_grad():
                m.weight.mul_(gain)
            nn.init.zeros_(m.bias)
    return net


def _batch(n=16):
    g = torch.Generator().manual_seed(1)
    return torch.rand(n, 1, 8, 8, generator=g), torch.randint(0, 10, (n,), generator=g)


def test_gradient_rms_matches_retain_grad_by_hand():
    net = _deep("none")
    x, y = _batch()
    got = L.gradient_rms(net, x, y)
    outs = []
    h = x
    for module in net:
        h = module(h)
        if isinstance(module, nn.ReLU):
            h.retain_grad()
            outs.append(h)
    nn.functional.cross_entropy(h, y).backward()
    expected = torch.stack([o.grad.pow(2).mean().sqrt() for o in outs])
    assert got.shape == (6,)
    torch.testing.assert_close(got, expected)


def test_gradient_rms_leaves_the_model_alone():
    net = _deep("batch").train()
    x, y = _batch()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    L.gradient_rms(net, x, y)
    assert net.training
    assert all(p.grad is None for p in net.parameters())
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # running stats too


def test_gradient_rms_vanishes_without_norm_and_batch_norm_removes_the_scale():
    x, y = _batch()
    small = L.gradient_rms(_deep("none", gain=0.5), x, y)
    # about halved (doubled) at each of the 5 layers the gradient crosses back to layer 1
    assert small[0] / small[-1] < 0.5 ** 3
    large = L.gradient_rms(_deep("none", gain=2.0), x, y)
    assert large[0] / large[-1] > 2.0 ** 3
    # batch norm divides the weight scale away: the same gradients whatever the gain
    torch.testing.assert_close(L.gradient_rms(_deep("batch", gain=0.5), x, y),
                               L.gradient_rms(_deep("batch", gain=2.0), x, y), rtol=1e-3, atol=1e-7)


def test_gradient_rms_needs_a_layer_to_measure():
    with pytest.raises(ValueError, match="no Tanh layer"):
        L.gradient_rms(_deep("none"), *_batch(), layer_type=nn.Tanh)
