"""cnncourse.layers.norm against torch.nn.functional / torch.nn normalization layers."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnncourse.layers import NORM_AXES, instance_norm, layer_norm, norm_axes
from cnncourse.layers.norm import _batch_norm as batch_norm, _group_norm as group_norm


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


def _channel_params(C, dtype=torch.float64):
    """gamma, beta, running_mean, running_var (all (C,)), not the defaults so mistakes show."""
    return (
        torch.rand(C, dtype=dtype) + 0.5,
        torch.randn(C, dtype=dtype),
        torch.randn(C, dtype=dtype),
        torch.rand(C, dtype=dtype) + 0.5,
    )


# ---------------------------------------------------------------- batch norm


@pytest.mark.parametrize("shape", [(4, 3, 5, 5), (1, 3, 4, 6), (8, 5), (4, 2, 7)], ids=["NCHW", "batch1", "NC", "NCL"])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_batch_norm_matches_torch(shape, training, affine, dtype):
    x = torch.randn(shape, dtype=dtype) * 2 + 1
    gamma, beta, running_mean, running_var = _channel_params(shape[1], dtype)
    if not affine:
        gamma = beta = None
    originals = [t.clone() for t in (x, running_mean, running_var)]
    y, new_mean, new_var = batch_norm(x, gamma, beta, running_mean, running_var, training, momentum=0.2)
    # F.batch_norm updates its running stats in place: give it copies.
    torch_mean, torch_var = running_mean.clone(), running_var.clone()
    expected = F.batch_norm(x, torch_mean, torch_var, gamma, beta, training, momentum=0.2)
    assert y.dtype == dtype
    torch.testing.assert_close(y, expected)
    torch.testing.assert_close(new_mean, torch_mean)
    torch.testing.assert_close(new_var, torch_var)
    for t, original in zip((x, running_mean, running_var), originals):
        assert torch.equal(t, original)


def test_batch_norm_tracks_nn_batchnorm2d_over_steps():
    layer = nn.BatchNorm2d(3).double()
    with torch.no_grad():
        layer.weight.uniform_(0.5, 1.5)
        layer.bias.normal_()
    running_mean, running_var = torch.zeros(3, dtype=torch.float64), torch.ones(3, dtype=torch.float64)
    for _ in range(3):
        x = torch.randn(4, 3, 5, 5, dtype=torch.float64) * 3 + 2
        y, running_mean, running_var = batch_norm(
            x, layer.weight, layer.bias, running_mean, running_var, training=True
        )
        torch.testing.assert_close(y, layer(x))
    torch.testing.assert_close(running_mean, layer.running_mean)
    torch.testing.assert_close(running_var, layer.running_var)
    layer.eval()
    x = torch.randn(2, 3, 5, 5, dtype=torch.float64)
    y, _, _ = batch_norm(x, layer.weight, layer.bias, running_mean, running_var, training=False)
    torch.testing.assert_close(y, layer(x))


def test_batch_norm_without_running_stats():
    x = torch.randn(4, 3, 2, 2)
    y, new_mean, new_var = batch_norm(x, None, None, None, None, training=True)
    assert new_mean is None and new_var is None
    torch.testing.assert_close(y, F.batch_norm(x, None, None, training=True))


@pytest.mark.parametrize("training", [True, False])
def test_batch_norm_gradcheck(training):
    x = torch.randn(3, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    gamma, beta, running_mean, running_var = _channel_params(2)
    gamma.requires_grad_(True)
    beta.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda x, g, b: batch_norm(x, g, b, running_mean, running_var, training)[0], (x, gamma, beta)
    )


def test_batch_norm_eval_is_per_sample():
    x = torch.randn(3, 2, 4, 4)
    _, _, running_mean, running_var = _channel_params(2, torch.float32)
    batched = batch_norm(x, None, None, running_mean, running_var, training=False)[0]
    per_sample = [batch_norm(x[i : i + 1], None, None, running_mean, running_var, training=False)[0] for i in range(3)]
    torch.testing.assert_close(batched, torch.cat(per_sample))


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(x=torch.randn(1, 3, 1, 1), training=True), ValueError, "more than 1 value per channel"),
        (dict(training=False, running_mean=None, running_var=None), ValueError, "needs running_mean and running_var"),
        (dict(gamma=torch.ones(4)), ValueError, r"gamma must be None or a tensor of shape \(3,\)"),
        (dict(running_var=None), ValueError, "pass both running_mean and running_var, or neither"),
        (dict(momentum=1.5), ValueError, r"momentum must be a number in \[0, 1\]"),
        (dict(training="yes"), TypeError, "training must be True or False"),
        (dict(x=torch.randn(5)), ValueError, r"x must be \(N, C, ...\)"),
    ],
)
def test_batch_norm_errors(kwargs, error, match):
    args = dict(
        x=torch.randn(2, 3, 4, 4),
        gamma=None,
        beta=None,
        running_mean=torch.zeros(3),
        running_var=torch.ones(3),
        training=True,
    )
    args.update(kwargs)
    with pytest.raises(error, match=match):
        batch_norm(**args)


# ---------------------------------------------------------------- layer / instance / group norm


@pytest.mark.parametrize("trailing", [1, 2, 3])
@pytest.mark.parametrize("affine", [True, False])
def test_layer_norm_matches_torch(trailing, affine):
    x = torch.randn(2, 3, 4, 5, dtype=torch.float64) * 2 + 1
    shape = x.shape[-trailing:]
    weight, bias = (torch.randn(shape, dtype=torch.float64), torch.randn(shape, dtype=torch.float64)) if affine else (None, None)
    copy = x.clone()
    torch.testing.assert_close(layer_norm(x, shape, weight, bias), F.layer_norm(x, shape, weight, bias))
    assert torch.equal(x, copy)


def test_layer_norm_int_shape_and_gradcheck():
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, requires_grad=True)
    torch.testing.assert_close(layer_norm(x, 4, w, b), F.layer_norm(x, (4,), w, b))
    assert torch.autograd.gradcheck(lambda x, w, b: layer_norm(x, 4, w, b), (x, w, b))


@pytest.mark.parametrize("shape", [(2, 3, 4, 5), (1, 2, 6)])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_instance_norm_matches_torch(shape, dtype):
    x = torch.randn(shape, dtype=dtype) * 3 + 1
    y = instance_norm(x)
    assert y.dtype == dtype
    torch.testing.assert_close(y, F.instance_norm(x))
    torch.testing.assert_close(y, group_norm(x, num_groups=shape[1]))


def test_instance_norm_gradcheck_and_per_sample():
    x = torch.randn(2, 2, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(instance_norm, (x,))
    x = x.detach()
    torch.testing.assert_close(instance_norm(x), torch.cat([instance_norm(x[i : i + 1]) for i in range(2)]))


@pytest.mark.parametrize("num_groups", [1, 2, 6])
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_group_norm_matches_torch(num_groups, affine, dtype):
    x = torch.randn(3, 6, 4, 5, dtype=dtype) * 2 + 1
    weight, bias = (torch.randn(6, dtype=dtype), torch.randn(6, dtype=dtype)) if affine else (None, None)
    copy = x.clone()
    y = group_norm(x, num_groups, weight, bias)
    assert y.dtype == dtype
    assert torch.equal(x, copy)
    torch.testing.assert_close(y, F.group_norm(x, num_groups, weight, bias))


def test_group_norm_gradcheck_and_special_cases():
    x = torch.randn(2, 4, 3, 3, dtype=torch.float64, requires_grad=True)
    w = torch.randn(4, dtype=torch.float64, requires_grad=True)
    b = torch.randn(4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x, w, b: group_norm(x, 2, w, b), (x, w, b))
    x = x.detach()
    torch.testing.assert_close(group_norm(x, 1), layer_norm(x, x.shape[1:]))  # one group = layer norm over (C, H, W)
    torch.testing.assert_close(group_norm(x, 2), torch.cat([group_norm(x[i : i + 1], 2) for i in range(2)]))


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda x: group_norm(x, 4), "num_groups must be a positive int that divides C=6"),
        (lambda x: group_norm(x, 3, weight=torch.ones(3)), r"weight must be None or a tensor of shape \(6,\)"),
        (lambda x: layer_norm(x, (4,)), r"normalized_shape \(4,\) must equal the last dims of x"),
        (lambda x: instance_norm(x[:, :, :1, :1]), "more than 1 spatial value per channel"),
        (lambda x: instance_norm(x[0, 0]), r"x must be \(N, C, H, W\) or \(N, C, L\)"),
        (lambda x: layer_norm(x, x.shape[1:], eps=-1.0), "eps must be a number >= 0"),
    ],
)
def test_norm_errors(call, match):
    with pytest.raises(ValueError, match=match):
        call(torch.randn(2, 6, 3, 5))


# ---------------------------------------------------------------- axes


def test_norm_axes_table():
    assert NORM_AXES == {"batch": (0, 2, 3), "layer": (1, 2, 3), "instance": (2, 3), "group": (2, 3, 4)}
    assert norm_axes("batch", 2) == (0,)
    assert norm_axes("instance", 3) == (2,)
    with pytest.raises(ValueError, match="kind must be one of"):
        norm_axes("weight")
    with pytest.raises(ValueError, match="needs an input of at least 3 dims"):
        norm_axes("instance", 2)


@pytest.mark.parametrize("kind", ["batch", "layer", "instance", "group"])
def test_each_norm_gives_zero_mean_unit_variance_over_its_axes(kind):
    x = torch.randn(4, 6, 5, 5, dtype=torch.float64) * 3 + 2
    if kind == "batch":
        y = batch_norm(x, None, None, None, None, training=True, eps=0.0)[0]
    elif kind == "layer":
        y = layer_norm(x, x.shape[1:], eps=0.0)
    elif kind == "instance":
        y = instance_norm(x, eps=0.0)
    else:
        y = group_norm(x, 3, eps=0.0).reshape(4, 3, 2, 5, 5)  # the (N, G, C/G, H, W) view
    axes = norm_axes(kind, x.dim())
    mean = y.mean(dim=axes)
    torch.testing.assert_close(mean, torch.zeros_like(mean))
    var = y.var(dim=axes, correction=0)
    torch.testing.assert_close(var, torch.ones_like(var))
