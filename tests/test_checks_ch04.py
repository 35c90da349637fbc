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


def _ceil(x, kernel_size, stride=None):
    return _windows(x, kernel_size, kernel_size if stride is None else stride, ceil=True).amax(2)


@pytest.mark.parametrize(("wrong", "message"), [
    (_stride_one, "stride defaults to 1"),
    (_abs_max, "max of |x|"),
    (_signed_abs_max, "largest magnitude"),
    (_average, "averaged each window"),
    (_zero_start, "starts at 0"),
    (_over_channels, "over the channels"),
    (_ceil, "extra row or column"),
], ids=["stride-1", "abs", "signed-abs", "average", "zero-start", "channels", "ceil"])
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
    (lambda x: x.mean(), "one number"),
], ids=["keepdim", "squeeze", "sum", "max", "channels", "batch", "W-only", "scalar"])
def test_global_avg_pool2d_mistakes_are_named(wrong, message):
    result = run_check("global_avg_pool2d", wrong)
    assert not result.ok
    assert message in result.hint, str(result)


def test_checks_are_deterministic():
    assert str(run_check("max_pool2d", _average)) == str(run_check("max_pool2d", _average))
