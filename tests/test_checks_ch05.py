"""Tests of the chapter 05 checkers: the reference is PyTorch, the diagnoses name each mistake."""
import pytest
import torch
import torch.nn.functional as F

from cnncourse.checks import run_check
from cnncourse.checks import ch05


def good_batch_norm(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5):
    shape = (1, -1, 1, 1)
    if training:
        mean, var = x.mean(dim=(0, 2, 3)), x.var(dim=(0, 2, 3), correction=0)
        new_mean = (1 - momentum) * running_mean + momentum * mean
        new_var = (1 - momentum) * running_var + momentum * x.var(dim=(0, 2, 3), correction=1)
    else:
        mean, var, new_mean, new_var = running_mean, running_var, running_mean, running_var
    y = (x - mean.view(shape)) / torch.sqrt(var.view(shape) + eps)
    return y * gamma.view(shape) + beta.view(shape), new_mean, new_var


def knobbed_batch_norm(x, gamma, beta, running_mean, running_var, training, momentum=0.1, eps=1e-5, *,
                       axes=(0, 2, 3), norm_correction=0, run_correction=1, use_eps=True, eval_uses_batch=False,
                       flip_momentum=False, affine=True):
    """Batch norm written here, independently of the checker (sums and counts); the keywords make the mistakes."""
    def moments(correction, dims):
        n = 1
        for d in dims:
            n *= x.shape[d]
        mean = x.sum(dim=dims, keepdim=True) / n
        return mean, ((x - mean) ** 2).sum(dim=dims, keepdim=True) / (n - correction)

    C = x.shape[1]
    if training or eval_uses_batch:
        mean, var = moments(norm_correction, axes)
    else:
        mean, var = running_mean.reshape(1, C, 1, 1), running_var.reshape(1, C, 1, 1)
    y = (x - mean) / (var + eps).sqrt() if use_eps else (x - mean) / var.sqrt()
    if affine:
        y = gamma.reshape(1, C, 1, 1) * y + beta.reshape(1, C, 1, 1)
    if not training:
        return y, running_mean, running_var
    batch_mean, batch_var = moments(run_correction, (0, 2, 3))
    keep = momentum if flip_momentum else 1 - momentum
    return (y, keep * running_mean + (1 - keep) * batch_mean.flatten(),
            keep * running_var + (1 - keep) * batch_var.flatten())


def bn_variant(**wrong):
    return lambda *args, **kwargs: knobbed_batch_norm(*args, **kwargs, **wrong)


def knobbed_group_norm(x, num_groups, eps=1e-5, *, interleaved=False, with_batch=False, correction=0, use_eps=True):
    """Group norm written here group by group (channel indices listed); the keywords make the mistakes."""
    N, C = x.shape[:2]
    size = C // num_groups
    out = torch.empty_like(x)
    for g in range(num_groups):
        channels = list(range(g, C, num_groups)) if interleaved else list(range(g * size, (g + 1) * size))
        part = x[:, channels]
        dims = (0, 1, 2, 3) if with_batch else (1, 2, 3)
        mean = part.mean(dim=dims, keepdim=True)
        var = part.var(dim=dims, keepdim=True, correction=correction)
        out[:, channels] = (part - mean) / torch.sqrt(var + eps if use_eps else var)
    return out


def test_reference_matches_functional_batch_norm():
    x = torch.randn(4, 3, 5, 5)
    gamma, beta, rm, rv = torch.rand(3) + 0.5, torch.randn(3), torch.randn(3), torch.rand(3) + 0.5
    for training in (True, False):
        rm2, rv2 = rm.clone(), rv.clone()
        y = F.batch_norm(x, rm2, rv2, gamma, beta, training, 0.2, 1e-3)
        ref = ch05._batch_norm_reference(x, gamma, beta, rm, rv, training, 0.2, 1e-3)
        for got, expected in zip(ref, (y, rm2, rv2)):
            torch.testing.assert_close(got, expected)


def test_correct_functions_pass():
    assert run_check("batch_norm", good_batch_norm).ok
    assert run_check("group_norm", lambda x, g, eps=1e-5: F.group_norm(x, g, eps=eps)).ok
    assert run_check("batch_norm", bn_variant()).ok  # the test's variant with no knob turned is right
    assert run_check("batch_norm", lambda *a, **k: ch05._batch_norm_variant(*a, **k)).ok  # and so is the checker's
    assert run_check("group_norm", knobbed_group_norm).ok


@pytest.mark.parametrize("wrong, words", [
    ({"axes": (1, 2, 3)}, "layer norm"),
    ({"axes": (2, 3)}, "instance norm"),
    ({"axes": (0, 1, 2, 3)}, "one mean for the whole tensor"),
    ({"norm_correction": 1}, "unbiased variance (n - 1); the output"),
    ({"run_correction": 0}, "UNBIASED batch variance"),
    ({"use_eps": False}, "eps"),
    ({"eval_uses_batch": True}, "evaluation mode"),
    ({"flip_momentum": True}, "wrong way round"),
    ({"affine": False}, "gamma + beta"),
])
def test_batch_norm_mistakes_are_named(wrong, words):
    result = run_check("batch_norm", bn_variant(**wrong))
    assert not result.ok and words in result.hint, str(result)


def test_batch_norm_eval_must_not_update_stats():
    def updates_in_eval(x, gamma, beta, rm, rv, training, momentum=0.1, eps=1e-5):
        y, m, v = good_batch_norm(x, gamma, beta, rm, rv, training, momentum, eps)
        return (y, m + 1, v) if not training else (y, m, v)
    result = run_check("batch_norm", updates_in_eval)
    assert not result.ok and "unchanged" in result.hint


def test_batch_norm_in_place_update_is_reported():
    def in_place(x, gamma, beta, rm, rv, training, momentum=0.1, eps=1e-5):
        y, m, v = good_batch_norm(x, gamma, beta, rm, rv, training, momentum, eps)
        rm.copy_(m)
        rv.copy_(v)
        return y, rm, rv
    result = run_check("batch_norm", in_place)
    assert not result.ok and "in place" in result.detail


@pytest.mark.parametrize("wrong, words", [
    ({"interleaved": True}, "CONSECUTIVE"),
    ({"with_batch": True}, "batch too"),
    ({"correction": 1}, "unbiased"),
    ({"use_eps": False}, "eps"),
])
def test_group_norm_mistakes_are_named(wrong, words):
    result = run_check("group_norm", lambda x, g, eps=1e-5: knobbed_group_norm(x, g, eps, **wrong))
    assert not result.ok and words in result.hint, str(result)


@pytest.mark.parametrize("groups_of, words", [
    (lambda x, g: x.shape[1], "instance norm"),
    (lambda x, g: 1, "layer norm"),
    (lambda x, g: x.shape[1] // g, "NUMBER of groups"),
])
def test_group_norm_wrong_group_count_is_named(groups_of, words):
    result = run_check("group_norm", lambda x, g, eps=1e-5: F.group_norm(x, groups_of(x, g), eps=eps))
    assert not result.ok and words in result.hint, str(result)


def test_stubs_fail_cleanly():
    def stub(*args, **kwargs):
        raise NotImplementedError
    for name in ("batch_norm", "group_norm"):
        result = run_check(name, stub)
        assert not result.ok and "not implemented" in result.detail


# ----------------------------------------------------------------------------- batch_norm_backward

def staged_batch_norm_backward(grad_out, x, gamma, eps=1e-5, *, mean_path=True, var_path=True, use_gamma=True,
                               divide_by_n=True, dgamma_of_x=False, sum_params=True, stats_axes=(0, 2, 3),
                               correction=0, use_eps=True):
    """Batch norm's gradients backpropagated step by step through the forward graph (cs231n style).

    The keywords make the typical mistakes on purpose.
    """
    axes = stats_axes
    n = 1
    for a in axes:
        n *= x.shape[a]
    mu = x.mean(dim=axes, keepdim=True)
    xmu = x - mu
    var = (xmu ** 2).sum(dim=axes, keepdim=True) / (n - correction)
    std = torch.sqrt(var + (eps if use_eps else 0.0))
    x_hat = xmu / std
    g = gamma.view(1, -1, 1, 1)
    dx_hat = grad_out * g if use_gamma else grad_out
    dxmu = dx_hat / std
    if var_path:
        dvar = (dx_hat * xmu).sum(dim=axes, keepdim=True) * -0.5 * std ** -3
        dxmu = dxmu + dvar * 2 * xmu / ((n - correction) if divide_by_n else 1)
    dx = dxmu
    if mean_path:
        dmu = -dxmu.sum(dim=axes, keepdim=True)
        dx = dx + dmu / (n if divide_by_n else 1)
    params_axes = (0, 2, 3) if sum_params else (0,)
    dgamma = (grad_out * (x if dgamma_of_x else x_hat)).sum(dim=params_axes)
    dbeta = grad_out.sum(dim=params_axes)
    return dx, dgamma, dbeta


def test_batch_norm_backward_passes_with_the_error_in_the_line():
    result = run_check("batch_norm_backward", staged_batch_norm_backward)
    assert result.ok, str(result)
    line = str(result)
    assert line.startswith("✓ batch_norm_backward: 8/8 cases, max rel. error ") and "vs finite differences" in line, line
    closed = run_check("batch_norm_backward", lambda g, x, gamma, eps=1e-5: ch05._bn_backward_variant(g, x, gamma, eps))
    assert closed.ok, str(closed)


def test_batch_norm_backward_references_agree():
    case = ch05._bn_backward_cases(torch.Generator().manual_seed(0))[-1]
    for a, n in zip(ch05._bn_backward_reference(*case.args), ch05._bn_backward_numerical(*case.args)):
        torch.testing.assert_close(a, n, atol=1e-8, rtol=1e-7)


@pytest.mark.parametrize("knobs, words", [
    ({"mean_path": False, "var_path": False}, "neither the mean path nor the variance path"),
    ({"var_path": False}, "not the variance path"),
    ({"mean_path": False}, "not the mean path"),
    ({"divide_by_n": False}, "SUM over (N, H, W)"),
    ({"use_gamma": False}, "factor gamma"),
    ({"dgamma_of_x": True}, "NORMALISED x_hat"),
    ({"sum_params": False}, "summed over N, H and W"),
    ({"stats_axes": (2, 3)}, "instance norm"),
    ({"stats_axes": (1, 2, 3)}, "layer norm"),
    ({"correction": 1}, "unbiased variance"),
    ({"use_eps": False}, "left out eps"),
], ids=["no-paths", "no-var-path", "no-mean-path", "sums", "no-gamma", "dgamma-x", "params-not-summed", "instance",
        "layer", "unbiased", "no-eps"])
def test_batch_norm_backward_mistakes_are_named(knobs, words):
    def wrong(grad_out, x, gamma, eps=1e-5):
        return staged_batch_norm_backward(grad_out, x, gamma, eps, **knobs)
    result = run_check("batch_norm_backward", wrong)
    assert not result.ok and words in result.hint, str(result)


def test_batch_norm_backward_refuses_autograd():
    def with_autograd(grad_out, x, gamma, eps=1e-5):
        x, gamma = x.clone().requires_grad_(), gamma.clone().requires_grad_()
        beta = torch.zeros_like(gamma, requires_grad=True)
        y = F.batch_norm(x, None, None, gamma, beta, True, 0.0, eps)
        return torch.autograd.grad(y, (x, gamma, beta), grad_out)

    def with_kernel(grad_out, x, gamma, eps=1e-5):
        mean, var = x.mean((0, 2, 3)), x.var((0, 2, 3), correction=0)
        return torch.ops.aten.native_batch_norm_backward(grad_out, x, gamma, None, None, mean, 1 / torch.sqrt(var + eps),
                                                          True, eps, [True, True, True])

    for fn, call in [(with_autograd, "torch.autograd.grad"), (with_kernel, "native_batch_norm_backward")]:
        result = run_check("batch_norm_backward", fn)
        assert not result.ok and call in result.detail, str(result)


def test_batch_norm_backward_stub_fails_cleanly():
    def stub(grad_out, x, gamma, eps=1e-5):
        raise NotImplementedError
    result = run_check("batch_norm_backward", stub)
    assert not result.ok and "not implemented" in result.detail
