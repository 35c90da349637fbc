"""Chapter 02's checkers: right answers pass, typical mistakes fail with the mistake named."""
import math

import pytest
import torch
import torch.nn.functional as F

from cnncourse.checks import run_check


def good_output_size(size, kernel_size, stride=1, padding=0, dilation=1):
    return (size + 2 * padding - dilation * (kernel_size - 1) - 1) // stride + 1


def good_conv2d(x, weight, bias=None, stride=1, padding=0):
    N, C, H, W = x.shape
    C_out, _, K_h, K_w = weight.shape
    x = F.pad(x, (padding, padding, padding, padding))
    H_out, W_out = (H + 2 * padding - K_h) // stride + 1, (W + 2 * padding - K_w) // stride + 1
    out = x.new_zeros(N, C_out, H_out, W_out)
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride:i * stride + K_h, j * stride:j * stride + K_w]
            out[:, :, i, j] = torch.einsum("nchw,ochw->no", window, weight)
    return out if bias is None else out + bias.view(1, -1, 1, 1)


def test_output_size_passes():
    assert run_check("output_size", good_output_size).ok


@pytest.mark.parametrize(("wrong", "message"), [
    (lambda H, K, S=1, P=0, D=1: (H + 2 * P - D * (K - 1) - 1) / S + 1, "floor division"),
    (lambda H, K, S=1, P=0, D=1: math.ceil((H + 2 * P - D * (K - 1) - 1) / S) + 1, "rounded UP"),
    (lambda H, K, S=1, P=0, D=1: (H + 2 * P - D * (K - 1) - 1) // S, "forgot the + 1"),
    (lambda H, K, S=1, P=0, D=1: (H + P - D * (K - 1) - 1) // S + 1, "BOTH sides"),
    (lambda H, K, S=1, P=0, D=1: (H + 2 * P - K) // S + 1, "ignored dilation"),
    (lambda H, K, S=1, P=0, D=1: H + 2 * P - D * (K - 1), "ignored the stride"),
], ids=["no-floor", "ceil", "no-plus-one", "pad-once", "no-dilation", "no-stride"])
def test_output_size_mistakes_are_named(wrong, message):
    def fn(size, kernel_size, stride=1, padding=0, dilation=1):
        return wrong(size, kernel_size, stride, padding, dilation)
    result = run_check("output_size", fn)
    assert not result.ok
    assert message in result.hint, str(result)


def test_conv2d_passes():
    assert run_check("conv2d", good_conv2d).ok


def test_conv2d_im2col_passes_too():
    def im2col(x, weight, bias=None, stride=1, padding=0):
        N, C, H, W = x.shape
        C_out, _, K_h, K_w = weight.shape
        cols = F.unfold(x, (K_h, K_w), padding=padding, stride=stride)
        out = (weight.reshape(C_out, -1) @ cols).reshape(N, C_out, (H + 2 * padding - K_h) // stride + 1, -1)
        return out if bias is None else out + bias.view(1, -1, 1, 1)
    assert run_check("conv2d", im2col).ok


def _flipped(x, w, b=None, stride=1, padding=0):
    return good_conv2d(x, w.flip(-2, -1), b, stride, padding)


def _no_bias(x, w, b=None, stride=1, padding=0):
    return good_conv2d(x, w, None, stride, padding)


def _first_channel(x, w, b=None, stride=1, padding=0):
    return good_conv2d(x[:, :1], w[:, :1], b, stride, padding)


def _not_summed(x, w, b=None, stride=1, padding=0):
    per_channel = torch.stack([good_conv2d(x[:, c:c + 1], w[:, c:c + 1], None, stride, padding)
                               for c in range(x.shape[1])], 2)  # (N, C_out, C_in, H', W')
    return per_channel


def _pad_once(x, w, b=None, stride=1, padding=0):
    x = F.pad(x, (padding, 0, padding, 0))
    return good_conv2d(x, w, b, stride, 0)


def _no_stride(x, w, b=None, stride=1, padding=0):
    return good_conv2d(x, w, b, 1, padding)


def _no_padding(x, w, b=None, stride=1, padding=0):
    return good_conv2d(x, w, b, stride, 0)


def _size_plus_one(x, w, b=None, stride=1, padding=0):
    out = good_conv2d(F.pad(x, (0, stride, 0, stride)), w, b, stride, padding)
    return out


@pytest.mark.parametrize(("wrong", "message"), [
    (_flipped, "flipped the kernel"),
    (_no_bias, "forgot the bias"),
    (_first_channel, "only the first input channel"),
    (_not_summed, "did not sum over the input channels"),
    (_pad_once, "only the top and left"),
    (_no_stride, "ignored the stride"),
    (_no_padding, "ignored the padding"),
    (_size_plus_one, "one row or column off"),
], ids=["flipped", "no-bias", "first-channel", "not-summed", "pad-once", "no-stride", "no-padding", "off-by-one"])
def test_conv2d_mistakes_are_named(wrong, message):
    result = run_check("conv2d", wrong)
    assert not result.ok
    assert message in result.hint, str(result)


def test_conv2d_stub_reports_not_implemented():
    def stub(x, weight, bias=None, stride=1, padding=0):
        raise NotImplementedError
    result = run_check("conv2d", stub)
    assert not result.ok and "not implemented" in str(result)


def test_inputs_are_not_changed_by_the_reference():
    x = torch.randn(1, 2, 5, 5)
    before = x.clone()
    run_check("conv2d", good_conv2d)
    assert torch.equal(x, before)
