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
    (lambda H, K, S=1, P=0, D=1: (H + 2 * P - D * K + D) // S + 1, "subtract D*(K-1) + 1, not D*(K-1)"),
    (lambda H, K, S=1, P=0, D=1: (H + 2 * P - K) // S + 1, "ignored dilation"),
    (lambda H, K, S=1, P=0, D=1: H + 2 * P - D * (K - 1), "ignored the stride"),
], ids=["no-floor", "ceil", "no-plus-one", "pad-once", "span-minus-one", "no-dilation", "no-stride"])
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


def _averaged_channels(x, w, b=None, stride=1, padding=0):
    out = good_conv2d(x, w, None, stride, padding) * (1 / x.shape[1])
    return out if b is None else out + b.view(1, -1, 1, 1)


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
    (_averaged_channels, "averaged over the input channels"),
    (_not_summed, "did not sum over the input channels"),
    (_pad_once, "only the top and left"),
    (_no_stride, "ignored the stride"),
    (_no_padding, "ignored the padding"),
    (_size_plus_one, "one row or column off"),
], ids=["flipped", "no-bias", "first-channel", "averaged", "not-summed", "pad-once", "no-stride", "no-padding",
        "off-by-one"])
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


# ----------------------------------------------------------------------------- conv2d_backward

def loop_conv2d_backward(grad_out, x, weight, stride=1, padding=0, *, step=None, flip_dw=False, swap_dw=False,
                         crop="inside", db_dims=(0, 2, 3)):
    """conv2d's gradients by the forward loop run backwards; the keywords make the typical mistakes on purpose."""
    step = stride if step is None else step
    N, C, H, W = x.shape
    C_out, _, K_h, K_w = weight.shape
    x_pad = F.pad(x, (padding, padding, padding, padding))
    dx_pad = torch.zeros_like(x_pad)
    dw = torch.zeros_like(weight)
    for i in range(grad_out.shape[2]):
        for j in range(grad_out.shape[3]):
            g = grad_out[:, :, i, j]  # (N, C_out)
            rows, cols = slice(i * step, i * step + K_h), slice(j * step, j * step + K_w)
            dx_pad[:, :, rows, cols] += torch.einsum("no,ochw->nchw", g, weight)
            dw += torch.einsum("no,nchw->ochw", g, x_pad[:, :, rows, cols])
    if flip_dw:
        dw = dw.flip(-2, -1)
    if swap_dw:
        dw = dw.transpose(0, 1)
    if crop == "inside":
        dx = dx_pad[:, :, padding:padding + H, padding:padding + W]
    elif crop == "none":
        dx = dx_pad
    else:  # "first": the first H x W
        dx = dx_pad[:, :, :H, :W]
    return dx, dw, grad_out.sum(dim=db_dims)


def conv_style_conv2d_backward(grad_out, x, weight, stride=1, padding=0, *, flip=True, pad_rest=True):
    """The same gradients written as convolutions (F.conv2d only): dilate grad_out, pad, flipped kernel."""
    N, C, H, W = x.shape
    C_out, _, K_h, K_w = weight.shape
    H_out, W_out = grad_out.shape[-2:]
    dilated = grad_out.new_zeros(N, C_out, (H_out - 1) * stride + 1, (W_out - 1) * stride + 1)
    dilated[:, :, ::stride, ::stride] = grad_out
    rest_h, rest_w = (H + 2 * padding - K_h) - (H_out - 1) * stride, (W + 2 * padding - K_w) - (W_out - 1) * stride
    if pad_rest:
        dilated = F.pad(dilated, (0, rest_w, 0, rest_h))
    kernel = weight.flip(-2, -1) if flip else weight
    full = F.conv2d(F.pad(dilated, (K_w - 1, K_w - 1, K_h - 1, K_h - 1)), kernel.transpose(0, 1))
    dx = full[:, :, padding:full.shape[2] - padding, padding:full.shape[3] - padding]
    dw = F.conv2d(F.pad(x, (padding,) * 4).transpose(0, 1), grad_out.transpose(0, 1), dilation=stride).transpose(0, 1)
    dw = dw[:, :, :K_h, :K_w]
    return dx, dw, grad_out.sum(dim=(0, 2, 3))


def test_conv2d_backward_passes_both_ways_with_the_error_in_the_line():
    for good in (loop_conv2d_backward, conv_style_conv2d_backward):
        result = run_check("conv2d_backward", good)
        assert result.ok, str(result)
        line = str(result)
        assert line.startswith("✓ conv2d_backward: 8/8 cases, max rel. error ") and "vs finite differences" in line, line
        assert float(line.split("max rel. error ")[1].split(" ")[0]) < 1e-10


def _db_over_hw(grad_out, x, weight, stride=1, padding=0):
    return loop_conv2d_backward(grad_out, x, weight, stride, padding, db_dims=(2, 3))


def _db_over_n(grad_out, x, weight, stride=1, padding=0):
    return loop_conv2d_backward(grad_out, x, weight, stride, padding, db_dims=(0,))


def _db_mean(grad_out, x, weight, stride=1, padding=0):
    dx, dw, _ = loop_conv2d_backward(grad_out, x, weight, stride, padding)
    return dx, dw, grad_out.mean(dim=(0, 2, 3))


def _dw_swapped(grad_out, x, weight, stride=1, padding=0):
    return loop_conv2d_backward(grad_out, x, weight, stride, padding, swap_dw=True)


def _db_over_h(grad_out, x, weight, stride=1, padding=0):
    dx, dw, _ = loop_conv2d_backward(grad_out, x, weight, stride, padding)
    return dx, dw, grad_out.sum(dim=2)  # (N, C_out, W'): a shape none of the partial sums has


def _dw_kernel_transposed(grad_out, x, weight, stride=1, padding=0):
    dx, dw, db = loop_conv2d_backward(grad_out, x, weight, stride, padding)
    return dx, dw.permute(0, 1, 3, 2), db


def _dw_flipped(grad_out, x, weight, stride=1, padding=0):
    return loop_conv2d_backward(grad_out, x, weight, stride, padding, flip_dw=True)


def _stride_ignored(grad_out, x, weight, stride=1, padding=0):
    return loop_conv2d_backward(grad_out, x, weight, stride, padding, step=1)


def _dw_stride_ignored(grad_out, x, weight, stride=1, padding=0):
    dx = loop_conv2d_backward(grad_out, x, weight, stride, padding)[0]
    return (dx,) + loop_conv2d_backward(grad_out, x, weight, stride, padding, step=1)[1:]


def _dx_stride_ignored(grad_out, x, weight, stride=1, padding=0):
    dx = loop_conv2d_backward(grad_out, x, weight, stride, padding, step=1)[0]
    return (dx,) + loop_conv2d_backward(grad_out, x, weight, stride, padding)[1:]


def _dx_not_flipped(grad_out, x, weight, stride=1, padding=0):
    return conv_style_conv2d_backward(grad_out, x, weight, stride, padding, flip=False)


def _dx_border_kept(grad_out, x, weight, stride=1, padding=0):
    return loop_conv2d_backward(grad_out, x, weight, stride, padding, crop="none")


def _dx_shifted(grad_out, x, weight, stride=1, padding=0):
    return loop_conv2d_backward(grad_out, x, weight, stride, padding, crop="first")


def _dx_rest_dropped(grad_out, x, weight, stride=1, padding=0):
    return conv_style_conv2d_backward(grad_out, x, weight, stride, padding, pad_rest=False)


@pytest.mark.parametrize(("wrong", "message"), [
    (_db_over_hw, "db is not summed over N, H' and W'"),
    (_db_over_n, "db is not summed over N, H' and W'"),
    (_db_over_h, "db is not summed over N, H' and W'"),
    (_db_mean, "db is averaged"),
    (_dw_kernel_transposed, "kernel rows and columns swapped"),
    (_dw_swapped, "dw has the wrong transpose"),
    (_dw_flipped, "dw is rotated by 180 degrees"),
    (_dw_stride_ignored, "dw ignores the stride"),
    (_stride_ignored, "ignores the stride"),
    (_dx_stride_ignored, "dx ignores the stride"),
    (_dx_not_flipped, "dx without the flipped kernel"),
    (_dx_border_kept, "dx has the padding border"),
    (_dx_shifted, "dx is shifted"),
    (_dx_rest_dropped, "dx has the wrong size"),
], ids=["db-hw", "db-n", "db-h", "db-mean", "dw-kernel-transpose", "dw-transpose", "dw-flip", "dw-stride", "stride", "dx-stride", "dx-no-flip",
        "dx-border", "dx-shift", "dx-size"])
def test_conv2d_backward_mistakes_are_named(wrong, message):
    result = run_check("conv2d_backward", wrong)
    assert not result.ok
    assert message in result.hint, str(result)


def test_conv2d_backward_float32_answer_is_named():
    def float32(grad_out, x, weight, stride=1, padding=0):
        return tuple(t.float() for t in loop_conv2d_backward(grad_out, x, weight, stride, padding))
    result = run_check("conv2d_backward", float32)
    assert not result.ok and "dtype float32 in dx, expected float64" in result.detail, str(result)


def test_conv2d_backward_refuses_autograd_and_torch_gradients():
    def with_autograd(grad_out, x, weight, stride=1, padding=0):
        x, weight = x.clone().requires_grad_(), weight.clone().requires_grad_()
        bias = x.new_zeros(weight.shape[0], requires_grad=True)
        out = F.conv2d(x, weight, bias, stride=stride, padding=padding)
        return torch.autograd.grad(out, (x, weight, bias), grad_out)

    def with_backward(grad_out, x, weight, stride=1, padding=0):
        x = x.clone().requires_grad_()
        F.conv2d(x, weight, stride=stride, padding=padding).backward(grad_out)
        return x.grad, None, None

    def with_torch_grad(grad_out, x, weight, stride=1, padding=0):
        dx = torch.nn.grad.conv2d_input(x.shape, weight, grad_out, stride=stride, padding=padding)
        return dx, None, None

    def with_transpose(grad_out, x, weight, stride=1, padding=0):
        return F.conv_transpose2d(grad_out, weight, stride=stride, padding=padding), None, None

    hidden = getattr(torch.autograd, "gr" + "ad")

    def hidden_autograd(grad_out, x, weight, stride=1, padding=0):
        x = x.clone().requires_grad_()
        return hidden(F.conv2d(x, weight, stride=stride, padding=padding), x, grad_out)[0], None, None

    for fn, call in [(with_autograd, "torch.autograd.grad"), (with_backward, "backward"), (with_torch_grad, "grad"),
                     (with_transpose, "F.conv_transpose2d"), (hidden_autograd, "torch.autograd.grad")]:
        result = run_check("conv2d_backward", fn)
        assert not result.ok and call in result.detail and "write yourself" in result.detail, str(result)
    assert torch.autograd.grad is hidden  # the guard is undone afterwards


def test_conv2d_backward_stub_reports_not_implemented():
    def stub(grad_out, x, weight, stride=1, padding=0):
        raise NotImplementedError
    result = run_check("conv2d_backward", stub)
    assert not result.ok and "not implemented" in result.detail


def test_conv2d_backward_references_agree():
    """autograd and the finite differences give the same gradients (the finite-difference case is the referee)."""
    from cnncourse.checks import ch02
    for case in ch02._conv2d_backward_cases(torch.Generator().manual_seed(0))[-2:]:
        auto = ch02._conv2d_backward_reference(*case.args, **case.kwargs)
        numeric = ch02._conv2d_backward_numerical(*case.args, **case.kwargs)
        for a, n in zip(auto, numeric):
            torch.testing.assert_close(a, n, atol=1e-9, rtol=1e-9)


# ----------------------------------------------------------------------------- Conv2dFunction

class GoodConv2dFunction(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding):
        ctx.save_for_backward(x, weight)
        ctx.stride, ctx.padding, ctx.has_bias = stride, padding, bias is not None
        return good_conv2d(x, weight, bias, stride, padding)

    @staticmethod
    def backward(ctx, grad_out):
        x, weight = ctx.saved_tensors
        dx, dw, db = loop_conv2d_backward(grad_out, x, weight, ctx.stride, ctx.padding)
        return dx, dw, db if ctx.has_bias else None, None, None


def test_conv2d_function_passes_and_trains():
    result = run_check("Conv2dFunction", GoodConv2dFunction)
    assert result.ok, str(result)
    assert str(result).startswith("✓ Conv2dFunction: 5/5 cases, max rel. error "), str(result)


def test_conv2d_function_training_reference_decreases():
    from cnncourse.checks import ch02
    case = ch02._conv2d_function_cases(torch.Generator().manual_seed(0))[-1]
    losses = ch02._conv2d_function_reference(*case.args)["losses"]
    assert losses[-1] < 0.9 * losses[0], losses


class _WrongDbFunction(GoodConv2dFunction):
    @staticmethod
    def backward(ctx, grad_out):
        dx, dw, db, _, _ = GoodConv2dFunction.backward(ctx, grad_out)
        return dx, dw, None, None, None


class _AscentFunction(GoodConv2dFunction):
    """Gradients with the wrong sign: the training run climbs."""
    @staticmethod
    def backward(ctx, grad_out):
        dx, dw, db, _, _ = GoodConv2dFunction.backward(ctx, grad_out)
        return dx, -dw, None if db is None else -db, None, None


class _HalfWeightFunction(GoodConv2dFunction):
    @staticmethod
    def backward(ctx, grad_out):
        dx, dw, db, _, _ = GoodConv2dFunction.backward(ctx, grad_out)
        return dx, dw / 2, db, None, None


class _NoDxFunction(GoodConv2dFunction):
    @staticmethod
    def backward(ctx, grad_out):
        _, dw, db, _, _ = GoodConv2dFunction.backward(ctx, grad_out)
        return None, dw, db, None, None


class _NoDwFunction(GoodConv2dFunction):
    @staticmethod
    def backward(ctx, grad_out):
        dx, _, db, _, _ = GoodConv2dFunction.backward(ctx, grad_out)
        return dx, None, db, None, None


class _NonDifferentiableFunction(GoodConv2dFunction):
    @staticmethod
    def forward(ctx, x, weight, bias, stride, padding):
        out = GoodConv2dFunction.forward(ctx, x, weight, bias, stride, padding)
        ctx.mark_non_differentiable(out)
        return out


def test_conv2d_function_mistakes_are_reported():
    result = run_check("Conv2dFunction", _WrongDbFunction)
    assert not result.ok and "returned None for the bias" in result.hint, str(result)
    result = run_check("Conv2dFunction", _NoDxFunction)
    assert not result.ok and result.mistake == "no_dx" and "returned None for x" in result.hint, str(result)
    result = run_check("Conv2dFunction", _NoDwFunction)
    assert not result.ok and result.mistake == "no_dw" and "returned None for weight" in result.hint, str(result)
    result = run_check("Conv2dFunction", _NonDifferentiableFunction)
    assert not result.ok and result.mistake == "not_connected" and "has no gradient" in result.hint, str(result)
    result = run_check("Conv2dFunction", _HalfWeightFunction)
    assert not result.ok and "max rel. error 0.33 in dw" in result.detail, str(result)


def test_conv2d_function_training_run_must_decrease():
    from cnncourse.checks import ch02
    checker = ch02.conv2d_function
    case = checker.cases(torch.Generator().manual_seed(0))[-1]
    climbing = ch02._conv2d_function_call(_AscentFunction, case.args, case.kwargs)
    problem = checker.compare(climbing, checker.reference(*case.args))
    assert problem and "did not decrease" in problem, problem


def test_conv2d_function_refuses_autograd_inside_backward():
    class Cheat(GoodConv2dFunction):
        @staticmethod
        def backward(ctx, grad_out):
            x, weight = ctx.saved_tensors
            with torch.enable_grad():
                x, weight = x.detach().requires_grad_(), weight.detach().requires_grad_()
                out = F.conv2d(x, weight, stride=ctx.stride, padding=ctx.padding)
                dx, dw = torch.autograd.grad(out, (x, weight), grad_out)
            return dx, dw, grad_out.sum((0, 2, 3)) if ctx.has_bias else None, None, None
    result = run_check("Conv2dFunction", Cheat)
    assert not result.ok and "torch.autograd.grad" in result.detail, str(result)


def test_conv2d_function_stub_reports_not_implemented():
    class Stub(torch.autograd.Function):
        @staticmethod
        def forward(ctx, x, weight, bias, stride, padding):
            raise NotImplementedError

        @staticmethod
        def backward(ctx, grad_out):
            raise NotImplementedError
    result = run_check("Conv2dFunction", Stub)
    assert not result.ok and "not implemented" in result.detail


def test_conv2d_function_must_be_an_autograd_function():
    """A plain differentiable function would get its gradients from autograd: refused, saying what to pass."""
    result = run_check("Conv2dFunction", good_conv2d)
    assert not result.ok and "expected your torch.autograd.Function subclass" in result.detail, str(result)
    assert run_check("Conv2dFunction", GoodConv2dFunction.apply).ok


def test_conv2d_function_wrong_number_of_gradients_is_one_line():
    class TooFew(GoodConv2dFunction):
        @staticmethod
        def backward(ctx, grad_out):
            return GoodConv2dFunction.backward(ctx, grad_out)[:3]
    result = run_check("Conv2dFunction", TooFew)
    assert not result.ok and "incorrect number of gradients" in result.detail and "\n" not in str(result), str(result)
