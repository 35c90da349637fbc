"""cnncourse.losses against PyTorch and against the formulas written out directly."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnncourse import losses


def _batch(n=16, k=7, scale=3.0, dtype=torch.float32):
    return scale * torch.randn(n, k, dtype=dtype), torch.randint(0, k, (n,))


@pytest.mark.parametrize("scale", [0.1, 3.0, 1e3, 1e4])
def test_log_softmax_matches_torch(scale):
    z, _ = _batch(scale=scale)
    torch.testing.assert_close(losses.log_softmax(z), F.log_softmax(z, dim=1))


@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5])
@pytest.mark.parametrize("scale", [1.0, 1e3])
def test_cross_entropy_matches_torch(reduction, smoothing, scale):
    z, t = _batch(scale=scale)
    expected = F.cross_entropy(z, t, label_smoothing=smoothing, reduction=reduction)
    torch.testing.assert_close(losses._cross_entropy(z, t, smoothing, reduction), expected)


def test_naive_cross_entropy_right_when_small_overflows_when_large():
    z, t = _batch(scale=1.0)
    torch.testing.assert_close(losses.naive_cross_entropy(z, t), F.cross_entropy(z, t))
    big = torch.tensor([[100.0, 50.0, -100.0]])
    assert not torch.isfinite(losses.naive_cross_entropy(big, torch.tensor([1])))
    assert torch.isfinite(losses._cross_entropy(big, torch.tensor([1])))


def test_smooth_targets_rows_sum_to_one():
    q = losses.smooth_targets(torch.tensor([0, 2]), 4, 0.2)
    torch.testing.assert_close(q.sum(1), torch.ones(2))
    torch.testing.assert_close(q[0], torch.tensor([0.85, 0.05, 0.05, 0.05]))
    with pytest.raises(ValueError, match="smoothing"):
        losses.smooth_targets(torch.tensor([0]), 3, 1.5)


def _focal_direct(z, t, gamma, alpha=None):
    p = torch.softmax(z.double(), 1)[torch.arange(len(t)), t]
    a = torch.ones_like(p) if alpha is None else torch.as_tensor(alpha, dtype=torch.float64)[t]
    return (-a * (1 - p) ** gamma * torch.log(p)).mean()


@pytest.mark.parametrize("gamma", [0.0, 0.5, 2.0, 5.0])
def test_focal_loss_matches_direct_formula(gamma):
    z, t = _batch(scale=2.0)
    torch.testing.assert_close(losses._focal_loss(z, t, gamma).double(), _focal_direct(z, t, gamma))


def test_focal_loss_alpha_and_gamma_zero_is_cross_entropy():
    z, t = _batch()
    torch.testing.assert_close(losses._focal_loss(z, t, 0.0), F.cross_entropy(z, t))
    alpha = torch.rand(7)
    torch.testing.assert_close(losses._focal_loss(z, t, 2.0, alpha).double(), _focal_direct(z, t, 2.0, alpha))
    with pytest.raises(ValueError, match="one weight per class"):
        losses._focal_loss(z, t, 2.0, alpha=[1.0, 2.0])


def test_focal_loss_is_finite_at_large_logits_and_below_ce():
    z, t = _batch(scale=1e3)
    fl = losses._focal_loss(z, t, 2.0, reduction="none")
    assert torch.isfinite(fl).all()
    assert (fl <= F.cross_entropy(z, t, reduction="none") + 1e-6).all()


def test_focal_module_trains_and_keeps_inputs():
    z, t = _batch()
    z0 = z.clone()
    module = losses.FocalLoss(2.0, alpha=torch.ones(7))
    assert "gamma=2.0" in repr(module)
    torch.testing.assert_close(module(z, t), losses._focal_loss(z, t, 2.0))
    assert torch.equal(z, z0)
    with pytest.raises(ValueError):
        losses.FocalLoss(-1.0)


def test_gradients_match_autograd_in_float64():
    z, t = _batch(n=4, k=3, dtype=torch.float64)
    z.requires_grad_(True)
    assert torch.autograd.gradcheck(lambda x: losses._cross_entropy(x, t, 0.1), (z,))
    assert torch.autograd.gradcheck(lambda x: losses._focal_loss(x, t, 2.0), (z,))


def test_bad_inputs_are_named():
    z, t = _batch()
    with pytest.raises(TypeError, match="int64"):
        losses._cross_entropy(z, t.float())
    with pytest.raises(ValueError, match=r"\(N, K\)"):
        losses._cross_entropy(z[0], t)
    with pytest.raises(ValueError, match="reduction"):
        losses._cross_entropy(z, t, reduction="avg")


def test_module_usable_as_fit_loss():
    model = nn.Linear(5, 3)
    loss = losses.FocalLoss(1.0)(model(torch.randn(8, 5)), torch.randint(0, 3, (8,)))
    loss.backward()
    assert model.weight.grad is not None
