"""Chapter 04's checkers: right answers pass, typical mistakes fail with the mistake named."""
import pytest
import torch.nn.functional as F

from cnncourse.checks import run_check


def loop_max_pool2d(x, kernel_size, stride=None):
    stride = kernel_size if stride is None else stride
    N, C, H, W = x.shape
    H_out, W_out = (H - kernel_size) // stride + 1, (W - kernel_size) // stride + 1
    out = x.new_empty(N, C, H_out, W_out)
    for i in range(H_out):
        for j in range(W_out):
            window = x[:, :, i * stride:i * stride + kernel_size, j * stride:j * stride + kernel_size]
            out[:, :, i, j] = window.amax(dim=(-2, -1))
    return out


def unfold_max_pool2d(x, kernel_size, stride=None):
    stride = kernel_size if stride is None else stride
    N, C, H, W = x.shape
    H_out, W_out = (H - kernel_size) // stride + 1, (W - kernel_size) // stride + 1
    cols = F.unfold(x, kernel_size, stride=stride)  # (N, C*K*K, H'*W')
    return cols.view(N, C, kernel_size * kernel_size, H_out, W_out).amax(dim=2)


def test_max_pool2d_passes_loops_and_unfold():
    assert run_check("max_pool2d", loop_max_pool2d).ok
    assert run_check("max_pool2d", unfold_max_pool2d).ok


def _windows(x, kernel_size, stride, ceil=False):
    """(N, C, K*K, H', W') windows written independently of the checker (F.unfold; -inf padding for ceil)."""
    N, C, H, W = x.shape
    if ceil:
        H_out, W_out = -(-(H - kernel_size) // stride) + 1, -(-(W - kernel_size) // stride) + 1
        pad_h, pad_w = (H_out - 1) * stride + kernel_size - H, (W_out - 1) * stride + kernel_size - W
        x = F.pad(x, (0, pad_w, 0, pad_h), value=float("-inf"))
    else:
        H_out, W_out = (H - kernel_size) // stride + 1, (W - kernel_size) // stride + 1
    cols = F.unfold(x, kernel_size, stride=stride)
    return cols.view(N, C, kernel_size * kernel_size, H_out, W_out)


def _stride_one(x, kernel_size, stride=None):
    return _windows(x, kernel_size, 1 if stride is None else stride).amax(2)


def _abs_max(x, kernel_size, stride=None):
    return _windows(x.abs(), kernel_size, kernel_size if stride is None else stride).amax(2)


def _signed_abs_max(x, kernel_size, stride=None):
    w = _windows(x, kernel_size, kernel_size if stride is None else stride)
    return w.gather(2, w.abs().argmax(2, keepdim=True)).squeeze(2)


def _average(x, kernel_size, stride=None):
    return _windows(x, kernel_size, kernel_size if stride is None else stride).mean(2)


def _zero_start(x, kernel_size, stride=None):
    return unfold_max_pool2d(x, kernel_size, stride).clamp(min=0)


def _over_channels(x, kernel_size, stride=None):
    return unfold_max_pool2d(x, kernel_size, stride).amax(1, keepdim=True)


def _over_channels_broadcast(x, kernel_size, stride=None):
    out = unfold_max_pool2d(x, kernel_size, stride)
    return out.max(dim=1, keepdim=True).values.repeat(1, out.shape[1], 1, 1)


def _columns_first(x, kernel_size, stride=None):
    out = unfold_max_pool2d(x, kernel_size, stride)
    return out.transpose(-2, -1).reshape(out.shape)  # the (W', H') values read into an (H', W') tensor


def _ceil(x, kernel_size, stride=None):
    return _windows(x, kernel_size, kernel_size if stride is None else stride, ceil=True).amax(2)


@pytest.mark.parametrize(("wrong", "message"), [
    (_stride_one, "stride defaults to 1"),
    (_abs_max, "max of |x|"),
    (_signed_abs_max, "largest magnitude"),
    (_average, "averaged each window"),
    (_zero_start, "starts at 0"),
    (_over_channels, "over the channels"),
    (_over_channels_broadcast, "over the channels"),
    (_ceil, "extra row or column"),
    (_columns_first, "wrong order"),
], ids=["stride-1", "abs", "signed-abs", "average", "zero-start", "channels", "channels-broadcast", "ceil", "order"])
def test_max_pool2d_mistakes_are_named(wrong, message):
    result = run_check("max_pool2d", wrong)
    assert not result.ok
    assert message in result.hint, str(result)


def test_max_pool2d_that_calls_torch_is_refused_naming_the_call():
    result = run_check("max_pool2d", lambda x, kernel_size, stride=None: F.max_pool2d(x, kernel_size, stride))
    assert not result.ok and "F.max_pool2d" in result.detail, str(result)


def test_max_pool2d_stub_reports_not_implemented():
    def stub(x, kernel_size, stride=None):
        raise NotImplementedError
    result = run_check("max_pool2d", stub)
    assert not result.ok and "not implemented" in result.detail


def test_max_pool2d_in_place_change_is_reported():
    def mutating(x, kernel_size, stride=None):
        out = loop_max_pool2d(x, kernel_size, stride)
        x.zero_()
        return out
    result = run_check("max_pool2d", mutating)
    assert not result.ok and "in place" in result.detail


def test_global_avg_pool2d_passes():
    assert run_check("global_avg_pool2d", lambda x: x.mean(dim=(2, 3))).ok
    assert run_check("global_avg_pool2d", lambda x: F.adaptive_avg_pool2d(x, 1).flatten(1)).ok


@pytest.mark.parametrize(("wrong", "message"), [
    (lambda x: F.adaptive_avg_pool2d(x, 1), "(N, C, 1, 1)"),
    (lambda x: F.adaptive_avg_pool2d(x, 1).squeeze(), "squeeze"),
    (lambda x: x.sum(dim=(2, 3)), "summed"),
    (lambda x: x.amax(dim=(2, 3)), "global MAX"),
    (lambda x: x.mean(dim=(1, 2, 3)), "over the channels"),
    (lambda x: x.mean(dim=(0, 2, 3)), "over the batch"),
    (lambda x: x.mean(dim=3), "over W only"),
    (lambda x: x.sum(dim=2) / x.shape[2], "over H only"),
    (lambda x: x.mean(), "one number"),
], ids=["keepdim", "squeeze", "sum", "max", "channels", "batch", "W-only", "H-only", "scalar"])
def test_global_avg_pool2d_mistakes_are_named(wrong, message):
    result = run_check("global_avg_pool2d", wrong)
    assert not result.ok
    assert message in result.hint, str(result)


def test_checks_are_deterministic():
    assert str(run_check("max_pool2d", _average)) == str(run_check("max_pool2d", _average))


# ----------------------------------------------------------------------------- max_pool2d_backward

import torch  # noqa: E402


def loop_max_pool2d_backward(grad_out, x, kernel_size, stride=None, *, ties="first", route="max", add=True,
                             default_stride=None):
    """Max pooling's gradient, window by window; the keywords make the typical mistakes on purpose."""
    K = kernel_size
    S = (kernel_size if default_stride is None else default_stride) if stride is None else stride
    dx = torch.zeros_like(x)
    for i in range(grad_out.shape[2]):
        for j in range(grad_out.shape[3]):
            window = x[:, :, i * S:i * S + K, j * S:j * S + K]
            flat = window.reshape(*window.shape[:2], -1)  # (N, C, K*K)
            g = grad_out[:, :, i, j, None]                 # (N, C, 1)
            if route == "spread":
                part = g.expand_as(flat) / (K * K)
            elif route == "copy":
                part = g.expand_as(flat)
            else:
                is_max = flat == flat.max(dim=2, keepdim=True).values
                if ties == "all":
                    part = is_max * g
                elif ties == "split":
                    part = is_max * g / is_max.sum(dim=2, keepdim=True)
                else:
                    positions = torch.arange(K * K).expand_as(flat)
                    pick = torch.where(is_max, positions, K * K if ties == "first" else -1)
                    chosen = pick.amin(dim=2, keepdim=True) if ties == "first" else pick.amax(dim=2, keepdim=True)
                    part = (positions == chosen) * g
            part = part.reshape(window.shape)
            target = dx[:, :, i * S:i * S + K, j * S:j * S + K]
            if add:
                target += part
            else:
                target.copy_(torch.where(part != 0, part, target))
    return dx


def test_max_pool2d_backward_passes_with_the_error_in_the_line():
    result = run_check("max_pool2d_backward", loop_max_pool2d_backward)
    assert result.ok, str(result)
    assert str(result).startswith("✓ max_pool2d_backward: 10/10 cases, max rel. error "), str(result)
    assert "vs finite differences" in str(result)


def test_the_reference_sends_a_tied_window_s_gradient_to_its_first_maximum():
    """PyTorch's rule, which the exercise states: one position per window, the first in reading order."""
    from cnncourse.checks import ch04
    x = torch.tensor([[0.0, 2, 2], [2, 0, 2], [1, 1, 0]], dtype=torch.float64).view(1, 1, 3, 3)
    dx = ch04._max_pool_backward_reference(torch.ones(1, 1, 1, 1, dtype=torch.float64), x, 3)
    assert dx.flatten().tolist() == [0, 1, 0, 0, 0, 0, 0, 0, 0]


def _mistake(**knobs):
    def fn(grad_out, x, kernel_size, stride=None):
        return loop_max_pool2d_backward(grad_out, x, kernel_size, stride, **knobs)
    return fn


@pytest.mark.parametrize(("knobs", "message"), [
    ({"route": "spread"}, "spread the gradient over the whole window"),
    ({"route": "copy"}, "to every pixel of the window"),
    ({"ties": "all"}, "EVERY tied maximum"),
    ({"ties": "split"}, "split the gradient between the tied maxima"),
    ({"ties": "last"}, "the LAST maximum"),
    ({"add": False}, "instead of adding"),
    ({"default_stride": 1}, "stride defaults to 1"),
], ids=["spread", "copy", "all-ties", "split-ties", "last-tie", "overwrite", "stride-1"])
def test_max_pool2d_backward_mistakes_are_named(knobs, message):
    result = run_check("max_pool2d_backward", _mistake(**knobs))
    assert not result.ok
    assert message in result.hint, str(result)


def test_max_pool2d_backward_grad_shaped_answer_is_named():
    result = run_check("max_pool2d_backward", lambda grad_out, x, kernel_size, stride=None: grad_out.clone())
    assert not result.ok and "INPUT's shape" in result.hint, str(result)


def test_max_pool2d_backward_refuses_autograd_and_torch_indices():
    def with_autograd(grad_out, x, kernel_size, stride=None):
        x = x.clone().requires_grad_()
        return torch.autograd.grad(unfold_max_pool2d(x, kernel_size, stride), x, grad_out)[0]

    def with_indices(grad_out, x, kernel_size, stride=None):
        _, idx = F.max_pool2d(x, kernel_size, stride, return_indices=True)
        return F.max_unpool2d(grad_out, idx, kernel_size, stride, output_size=x.shape[-2:])

    for fn, call in [(with_autograd, "torch.autograd.grad"), (with_indices, "F.max_pool2d")]:
        result = run_check("max_pool2d_backward", fn)
        assert not result.ok and call in result.detail, str(result)


def test_max_pool2d_backward_stub_reports_not_implemented():
    def stub(grad_out, x, kernel_size, stride=None):
        raise NotImplementedError
    result = run_check("max_pool2d_backward", stub)
    assert not result.ok and "not implemented" in result.detail
