"""Chapter 08's checkers: right answers pass, typical mistakes fail with the mistake named."""
import pytest
import torch

from cnncourse.checks import run_check


def good_sgd(param, grad, buf, lr, momentum):
    new_buf = momentum * buf + grad
    return param - lr * new_buf, new_buf


def good_adam(param, grad, m, v, t, lr, betas, eps):
    b1, b2 = betas
    m = b1 * m + (1 - b1) * grad
    v = b2 * v + (1 - b2) * grad ** 2
    m_hat, v_hat = m / (1 - b1 ** t), v / (1 - b2 ** t)
    return param - lr * m_hat / (v_hat.sqrt() + eps), m, v


def test_sgd_momentum_step_passes():
    result = run_check("sgd_momentum_step", good_sgd)
    assert result.ok, str(result)


def test_adam_step_passes():
    result = run_check("adam_step", good_adam)
    assert result.ok, str(result)


def _sgd_lr_in_buffer(param, grad, buf, lr, momentum):
    v = momentum * buf + lr * grad
    return param - v, v


def _sgd_velocity(param, grad, buf, lr, momentum):
    v = momentum * buf - lr * grad
    return param + v, v


def _sgd_ema(param, grad, buf, lr, momentum):
    b = momentum * buf + (1 - momentum) * grad
    return param - lr * b, b


def _sgd_old_buffer(param, grad, buf, lr, momentum):
    return param - lr * buf, momentum * buf + grad


def _sgd_nesterov(param, grad, buf, lr, momentum):
    b = grad + momentum * buf
    return param - lr * grad - lr * momentum * b, b


def _sgd_plain_step(param, grad, buf, lr, momentum):
    return param - lr * grad, grad + momentum * buf


def _sgd_inplace(param, grad, buf, lr, momentum):
    buf.mul_(momentum).add_(grad)
    return param - lr * buf, buf


@pytest.mark.parametrize(("wrong", "message"), [
    (_sgd_lr_in_buffer, "other momentum convention"),
    (_sgd_velocity, "velocity form"),
    (_sgd_ema, "dampening = momentum"),
    (_sgd_old_buffer, "OLD buffer"),
    (lambda p, g, b, lr, mu: good_sgd(p, g, b, lr, mu)[::-1], "(buf, param)"),
    (lambda p, g, b, lr, mu: (p + lr * (mu * b + g), mu * b + g), "wrong way"),
    (_sgd_nesterov, "Nesterov"),
    (_sgd_plain_step, "−lr·g only"),
], ids=["lr-in-buffer", "velocity", "ema", "old-buffer", "swapped", "sign", "nesterov", "no-momentum"])
def test_sgd_mistakes_are_named(wrong, message):
    result = run_check("sgd_momentum_step", wrong)
    assert not result.ok
    assert message in result.hint, str(result)


def test_sgd_in_place_update_is_reported():
    result = run_check("sgd_momentum_step", _sgd_inplace)
    assert not result.ok and "in place" in result.detail, str(result)


def test_sgd_lr_in_buffer_passes_only_while_lr_is_constant():
    # the other convention agrees with PyTorch on the first step's parameter only; the lr-drop case must fail
    result = run_check("sgd_momentum_step", _sgd_lr_in_buffer)
    assert "lr dropped" in str(result) or "step 1" in str(result)


def _adam(no_correction=False, t_shift=0, eps_inside=False, square=True, return_hat=False, only_m=False, only_v=False,
          guard_zero=False):
    def step(param, grad, m, v, t, lr, betas, eps):
        b1, b2 = betas
        m = b1 * m + (1 - b1) * grad
        v = b2 * v + (1 - b2) * (grad ** 2 if square else grad)
        tt = max(t - t_shift, 1) if guard_zero else t - t_shift
        m_hat = m if (no_correction or only_v) else m / (1 - b1 ** tt)
        v_hat = v if (no_correction or only_m) else v / (1 - b2 ** tt)
        denom = (v_hat + eps).sqrt() if eps_inside else v_hat.sqrt() + eps
        new = param - lr * m_hat / denom
        return (new, m_hat, v_hat) if return_hat else (new, m, v)
    return step


@pytest.mark.parametrize(("wrong", "message"), [
    (_adam(no_correction=True), "no bias correction"),
    (_adam(t_shift=1), "counts t from 0"),
    (_adam(eps_inside=True), "OUTSIDE the square root"),
    (_adam(square=False), "SQUARED gradient"),
    (_adam(return_hat=True), "raw moments"),
    (_adam(only_m=True), "but not v"),
    (_adam(only_v=True), "but not m"),
    (_adam(t_shift=1, guard_zero=True), "counts t from 0"),  # t from 0, with the division by zero avoided on step 1
    (lambda p, g, m, v, t, lr, betas, eps: good_adam(p, g, m, v, t, lr, betas[::-1], eps), "swapped"),
], ids=["no-correction", "t-from-zero", "eps-inside", "not-squared", "returned-hat", "only-m", "only-v",
        "t-from-zero-guarded", "swapped-betas"])
def test_adam_mistakes_are_named(wrong, message):
    with torch.no_grad():
        result = run_check("adam_step", wrong)
    assert not result.ok
    assert message in result.hint, str(result)


def test_stub_fails_cleanly():
    def stub(*args):
        raise NotImplementedError
    assert "not implemented" in str(run_check("adam_step", stub))
