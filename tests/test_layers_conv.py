"""cnncourse.layers.conv against torch.nn.functional.conv2d / F.pad / nn.Conv2d."""
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from cnncourse.layers.conv import _conv_params as conv_params
from cnncourse.layers import (
    conv2d_im2col,
    conv2d_loops,
    conv_flops,
    conv_output_size,
    depthwise_separable_params,
    pad2d,
    receptive_field,
)

CONVS = [conv2d_loops, conv2d_im2col]


@pytest.fixture(autouse=True)
def _seed():
    torch.manual_seed(0)


# (N, C_in, H, W, C_out, kernel, stride, padding, dilation, groups, bias)
CASES = [
    pytest.param(2, 3, 8, 8, 4, 3, 1, 0, 1, 1, True, id="plain"),
    pytest.param(2, 3, 8, 8, 4, 3, 1, 1, 1, 1, False, id="same-padding-no-bias"),
    pytest.param(1, 3, 7, 9, 2, 3, 2, 1, 1, 1, True, id="batch1-stride2-nonsquare-input"),
    pytest.param(2, 2, 9, 7, 3, (3, 5), (2, 1), (1, 2), 1, 1, True, id="nonsquare-kernel-stride-padding"),
    pytest.param(2, 3, 10, 10, 2, 3, 1, 2, 2, 1, True, id="dilation2"),
    pytest.param(1, 2, 10, 9, 2, 3, (1, 2), 0, (2, 1), 1, True, id="nonsquare-dilation"),
    pytest.param(2, 4, 6, 6, 6, 3, 1, 1, 1, 2, True, id="groups2"),
    pytest.param(2, 4, 6, 6, 4, 3, 1, 1, 1, 4, True, id="depthwise"),
    pytest.param(2, 4, 6, 6, 8, 3, 2, 1, 1, 4, False, id="depthwise-multiplier2"),
    pytest.param(2, 5, 5, 5, 3, 1, 1, 0, 1, 1, True, id="pointwise-1x1"),
    pytest.param(1, 1, 4, 4, 1, 4, 1, 0, 1, 1, True, id="kernel-equals-input"),
]


def _inputs(N, C_in, H, W, C_out, kernel, groups, bias, dtype=torch.float64):
    K_h, K_w = (kernel, kernel) if isinstance(kernel, int) else kernel
    x = torch.randn(N, C_in, H, W, dtype=dtype)
    w = torch.randn(C_out, C_in // groups, K_h, K_w, dtype=dtype)
    b = torch.randn(C_out, dtype=dtype) if bias else None
    return x, w, b


@pytest.mark.parametrize("conv", CONVS)
@pytest.mark.parametrize("N, C_in, H, W, C_out, kernel, stride, padding, dilation, groups, bias", CASES)
def test_conv_matches_torch(conv, N, C_in, H, W, C_out, kernel, stride, padding, dilation, groups, bias):
    x, w, b = _inputs(N, C_in, H, W, C_out, kernel, groups, bias)
    args = dict(stride=stride, padding=padding, dilation=dilation, groups=groups)
    torch.testing.assert_close(conv(x, w, b, **args), F.conv2d(x, w, b, **args))


@pytest.mark.parametrize("conv", CONVS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_conv_keeps_dtype_and_does_not_modify_inputs(conv, dtype):
    x, w, b = _inputs(2, 4, 6, 5, 4, 3, 2, True, dtype)
    copies = [t.clone() for t in (x, w, b)]
    y = conv(x, w, b, stride=2, padding=1, groups=2)
    assert y.dtype == dtype and y.device == x.device
    for t, copy in zip((x, w, b), copies):
        assert torch.equal(t, copy)
    torch.testing.assert_close(y, F.conv2d(x, w, b, stride=2, padding=1, groups=2))


@pytest.mark.parametrize("conv", CONVS)
def test_conv_batched_equals_per_sample(conv):
    x, w, b = _inputs(3, 2, 6, 6, 3, 3, 1, True)
    batched = conv(x, w, b, padding=1)
    per_sample = torch.cat([conv(x[i : i + 1], w, b, padding=1) for i in range(3)])
    torch.testing.assert_close(batched, per_sample)


@pytest.mark.parametrize("groups, stride, dilation", [(1, 1, 1), (2, 2, 1), (4, 1, 2)])
def test_conv2d_im2col_gradcheck(groups, stride, dilation):
    x, w, b = _inputs(2, 4, 5, 5, 4, 3, groups, True)
    for t in (x, w, b):
        t.requires_grad_(True)
    assert torch.autograd.gradcheck(
        lambda x, w, b: conv2d_im2col(x, w, b, stride=stride, padding=1, dilation=dilation, groups=groups),
        (x, w, b),
    )


def test_conv2d_im2col_float32_on_benchmark_shape():
    x = torch.randn(4, 16, 32, 32)
    w = torch.randn(32, 16, 3, 3)
    torch.testing.assert_close(conv2d_im2col(x, w, padding=1), F.conv2d(x, w, padding=1), rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("conv", CONVS)
@pytest.mark.parametrize(
    "x_shape, w_shape, kwargs, match",
    [
        ((1, 4, 5, 5), (2, 3, 3, 3), {}, "weight has 3 input channels per group but x has 4 channels"),
        ((4, 5, 5), (2, 4, 3, 3), {}, r"unsqueeze\(0\)"),
        ((1, 4, 5, 5), (2, 4, 3), {}, r"weight must be \(C_out, C_in/groups, K_h, K_w\)"),
        ((1, 4, 5, 5), (3, 2, 3, 3), {"groups": 2}, "groups=2 must divide both"),
        ((1, 4, 2, 5), (2, 4, 3, 3), {}, "along H, a kernel spanning 3 pixels"),
        ((1, 4, 5, 5), (2, 4, 3, 3), {"dilation": 3}, "spanning 7 pixels"),
        ((1, 4, 5, 5), (2, 4, 3, 3), {"stride": 0}, "stride must be >= 1"),
        ((1, 4, 5, 5), (2, 4, 3, 3), {"padding": -1}, "padding must be >= 0"),
        ((1, 4, 5, 5), (2, 4, 3, 3), {"stride": (1, 1, 1)}, r"stride must be an int or an \(h, w\) pair"),
    ],
)
def test_conv_errors(conv, x_shape, w_shape, kwargs, match):
    with pytest.raises(ValueError, match=match):
        conv(torch.randn(x_shape), torch.randn(w_shape), **kwargs)


def test_conv_bias_and_dtype_errors():
    x, w = torch.randn(1, 2, 5, 5), torch.randn(3, 2, 3, 3)
    with pytest.raises(ValueError, match=r"bias must be None or a tensor of shape \(C_out,\) = \(3,\)"):
        conv2d_im2col(x, w, torch.randn(2))
    with pytest.raises(TypeError, match="floating-point"):
        conv2d_im2col(x.long(), w)
    with pytest.raises(TypeError, match="stride must be an int"):
        conv2d_im2col(x, w, stride=1.5)


# ---------------------------------------------------------------- sizes


@pytest.mark.parametrize(
    "size, K, S, P, D", [(32, 3, 1, 1, 1), (32, 3, 2, 1, 1), (7, 3, 2, 0, 1), (10, 3, 1, 2, 2), (5, 5, 1, 0, 1), (6, 1, 3, 0, 1)]
)
def test_conv_output_size_matches_torch(size, K, S, P, D):
    y = F.conv2d(torch.zeros(1, 1, size, size), torch.zeros(1, 1, K, K), stride=S, padding=P, dilation=D)
    assert conv_output_size(size, K, S, P, D) == y.shape[-1]


@pytest.mark.parametrize(
    "kwargs, error, match",
    [
        (dict(size=4, kernel_size=5), ValueError, "does not fit in size 4"),
        (dict(size=8, kernel_size=3, stride=0), ValueError, "stride must be >= 1"),
        (dict(size=8, kernel_size=3, padding=-1), ValueError, "padding must be >= 0"),
        (dict(size=8, kernel_size=0), ValueError, "kernel_size must be >= 1"),
        (dict(size=8, kernel_size=3, dilation=0), ValueError, "dilation must be >= 1"),
        (dict(size=8.0, kernel_size=3), TypeError, "size must be an int"),
    ],
)
def test_conv_output_size_errors(kwargs, error, match):
    with pytest.raises(error, match=match):
        conv_output_size(**kwargs)


# ---------------------------------------------------------------- padding


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [1, (2, 1), (1, 2, 0, 3), 0])
@pytest.mark.parametrize("shape", [(2, 3, 5, 6), (3, 4, 5)])
def test_pad2d_matches_f_pad(mode, padding, shape):
    x = torch.randn(shape)
    if isinstance(padding, int):
        torch_padding = (padding,) * 4
    elif len(padding) == 2:
        torch_padding = (padding[1], padding[1], padding[0], padding[0])
    else:
        torch_padding = padding
    torch_mode = "constant" if mode == "zeros" else mode
    expected = F.pad(x, torch_padding, mode=torch_mode)
    copy = x.clone()
    torch.testing.assert_close(pad2d(x, padding, mode), expected)
    assert torch.equal(x, copy)


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
def test_pad2d_gradcheck(mode):
    x = torch.randn(1, 2, 4, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lambda x: pad2d(x, (1, 2, 2, 1), mode), (x,))


@pytest.mark.parametrize(
    "padding, mode, match",
    [
        (3, "reflect", "reflect padding must be smaller than the input size"),
        (4, "circular", "circular padding must be at most the input size"),
        (1, "mirror", "mode must be one of"),
        (-1, "zeros", "padding must be >= 0"),
        ((1, 1, 1), "zeros", r"padding must be an int or an \(h, w\) pair"),
    ],
)
def test_pad2d_errors(padding, mode, match):
    with pytest.raises(ValueError, match=match):
        pad2d(torch.randn(1, 1, 3, 3), padding, mode)


# ---------------------------------------------------------------- counts


@pytest.mark.parametrize(
    "c_in, c_out, kernel, groups, bias",
    [(3, 64, 3, 1, True), (3, 64, 3, 1, False), (16, 32, (3, 5), 1, True), (8, 8, 3, 8, True), (8, 16, 1, 4, False)],
)
def test_conv_params_matches_nn_conv2d(c_in, c_out, kernel, groups, bias):
    layer = nn.Conv2d(c_in, c_out, kernel, groups=groups, bias=bias)
    assert conv_params(c_in, c_out, kernel, groups, bias) == sum(p.numel() for p in layer.parameters())


@pytest.mark.parametrize("bias", [True, False])
def test_depthwise_separable_params_matches_modules(bias):
    block = nn.Sequential(nn.Conv2d(32, 32, 3, groups=32, bias=bias), nn.Conv2d(32, 64, 1, bias=bias))
    assert depthwise_separable_params(32, 64, 3, bias) == sum(p.numel() for p in block.parameters())
    assert depthwise_separable_params(32, 64, 3, bias) < conv_params(32, 64, 3, bias=bias)


@pytest.mark.parametrize(
    "c_in, c_out, kernel, size, kwargs",
    [(3, 64, 3, 32, dict(padding=1)), (16, 32, (3, 5), (20, 24), dict(stride=2)), (8, 8, 3, 9, dict(groups=8, dilation=2))],
)
def test_conv_flops_is_one_mac_per_weight_per_output_position(c_in, c_out, kernel, size, kwargs):
    H, W = (size, size) if isinstance(size, int) else size
    groups = kwargs.get("groups", 1)
    layer = nn.Conv2d(c_in, c_out, kernel, bias=False, **kwargs)
    y = layer(torch.zeros(1, c_in, H, W))
    assert conv_flops(c_in, c_out, kernel, size, **kwargs) == layer.weight.numel() * y.shape[2] * y.shape[3]
    assert layer.weight.numel() == conv_params(c_in, c_out, kernel, groups, bias=False)


def test_conv_flops_worked_example():
    assert conv_flops(3, 64, 3, input_size=32, padding=1) == 64 * 32 * 32 * 3 * 3 * 3


@pytest.mark.parametrize(
    "layers, expected",
    [
        ([], 1),
        ([(3, 1, 1)], 3),
        ([(3, 1, 1), (3, 1, 1)], 5),
        ([(3, 1, 1)] * 3, 7),
        ([(3, 2, 1), (3, 1, 1)], 7),
        ([(2, 2, 1), (3, 1, 1)], 6),  # a 2x2 stride-2 pool, then a 3x3 conv
        ([(3, 1, 1), (3, 1, 2), (3, 1, 4)], 15),  # dilations 1, 2, 4 double the field each time
        ([(7, 2, 1), (3, 2, 1), (3, 1, 1)], 19),
    ],
)
def test_receptive_field(layers, expected):
    assert receptive_field(layers) == expected


@pytest.mark.parametrize("layers", [[(3, 1, 1), (3, 1, 1)], [(3, 2, 1), (3, 1, 1)], [(3, 1, 1), (3, 1, 2)], [(5, 2, 1), (3, 2, 1)]])
def test_receptive_field_matches_gradient_footprint(layers):
    # The receptive field is exactly the set of inputs with a nonzero gradient on one output.
    convs = [nn.Conv2d(1, 1, k, stride=s, dilation=d, bias=False) for k, s, d in layers]
    for conv in convs:
        nn.init.constant_(conv.weight, 1.0)
    x = torch.ones(1, 1, 40, 40, requires_grad=True)
    y = nn.Sequential(*convs)(x)
    (grad,) = torch.autograd.grad(y[0, 0, 0, 0], x)
    rows = grad[0, 0].ne(0).any(dim=1).nonzero()
    assert rows.max().item() - rows.min().item() + 1 == receptive_field(layers)


def test_receptive_field_and_counts_errors():
    with pytest.raises(ValueError, match=r"each layer must be a \(kernel_size, stride, dilation\) tuple"):
        receptive_field([(3, 1)])
    with pytest.raises(ValueError, match="stride must be >= 1"):
        receptive_field([(3, 0, 1)])
    with pytest.raises(ValueError, match="groups=3 must divide both"):
        conv_params(4, 6, 3, groups=3)
