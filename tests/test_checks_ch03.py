"""Tests of cnncourse/checks/ch03.py: right answers pass, typical mistakes fail with their diagnosis."""
from __future__ import annotations

import torch

from cnncourse.checks import run_check


def swish_ok(x, beta=1.0):
    return x * torch.sigmoid(beta * x)


def swish_grad_ok(x, beta=1.0):
    s = torch.sigmoid(beta * x)
    return s + beta * x * s * (1 - s)


def leaky_ok(x, negative_slope=0.01):
    return torch.where(x > 0, x, negative_slope * x)


def test_correct_answers_pass():
    assert run_check("swish", swish_ok).ok
    assert run_check("swish_grad", swish_grad_ok).ok
    assert run_check("leaky_relu", leaky_ok).ok


def test_library_versions_pass():
    from cnncourse.layers.activations import _leaky_relu as leaky_relu, _swish as swish, _swish_grad as swish_grad

    assert run_check("swish", swish).ok
    assert run_check("swish_grad", swish_grad).ok
    assert run_check("leaky_relu", leaky_relu).ok


def test_swish_ignoring_beta_is_named():
    result = run_check("swish", lambda x, beta=1.0: x * torch.sigmoid(x))
    assert not result.ok and "beta is ignored" in result.hint


def test_swish_beta_outside_is_named():
    result = run_check("swish", lambda x, beta=1.0: beta * x * torch.sigmoid(beta * x))
    assert not result.ok and "INSIDE" in result.hint


def test_swish_overflow_is_named():
    result = run_check("swish", lambda x, beta=1.0: x * torch.exp(beta * x) / (1 + torch.exp(beta * x)))
    assert not result.ok and "nan at very large |x|" in result.hint


def test_swish_grad_missing_product_term_is_named():
    result = run_check("swish_grad", lambda x, beta=1.0: torch.sigmoid(beta * x))
    assert not result.ok and "product rule" in result.hint


def test_swish_grad_missing_beta_is_named():
    def no_chain(x, beta=1.0):
        s = torch.sigmoid(beta * x)
        return s + x * s * (1 - s)

    result = run_check("swish_grad", no_chain)
    assert not result.ok and "chain rule" in result.hint


def test_swish_grad_naive_exp_overflow_is_named():
    def naive(x, beta=1.0):
        e = torch.exp(-beta * x)
        return 1 / (1 + e) + beta * x * e / (1 + e) ** 2

    result = run_check("swish_grad", naive)
    assert not result.ok and "nan at very large |x|" in result.hint


def test_swish_grad_returning_value_is_named():
    result = run_check("swish_grad", swish_ok)
    assert not result.ok and "not its derivative" in result.hint


def test_leaky_slope_on_positive_side_is_named():
    result = run_check("leaky_relu", lambda x, negative_slope=0.01: torch.where(x > 0, negative_slope * x, x))
    assert not result.ok and "wrong side" in result.hint


def test_leaky_relu_as_relu_is_named():
    result = run_check("leaky_relu", lambda x, negative_slope=0.01: x.clamp(min=0))
    assert not result.ok and "that is ReLU" in result.hint


def test_leaky_max_trick_is_named():
    result = run_check("leaky_relu", lambda x, negative_slope=0.01: torch.maximum(x, negative_slope * x))
    assert not result.ok and "slope <= 1" in result.hint


def test_leaky_in_place_is_reported():
    def in_place(x, negative_slope=0.01):
        x[x < 0] *= negative_slope
        return x

    result = run_check("leaky_relu", in_place)
    assert not result.ok and "in place" in result.detail


def test_stub_fails():
    def stub(x, beta=1.0):
        raise NotImplementedError("Write this part")

    result = run_check("swish", stub)
    assert not result.ok and "not implemented" in result.detail


def test_swish_gate_alone_is_named():
    result = run_check("swish", lambda x, beta=1.0: 1 / (1 + torch.exp(-beta * x.clamp(-50, 50))))
    assert not result.ok and result.mistake == "gate_alone" and "gate sigmoid(beta * x) alone" in result.hint, str(result)


def test_swish_grad_sigmoid_without_beta_is_named():
    def sigmoid_of_x(x, beta=1.0):
        s = torch.sigmoid(x)
        return s + beta * x * s * (1 - s)

    result = run_check("swish_grad", sigmoid_of_x)
    assert not result.ok and result.mistake == "beta_ignored" and "not sigmoid(x)" in result.hint, str(result)


def test_swish_grad_only_the_second_term_is_named():
    def second_term(x, beta=1.0):
        s = torch.sigmoid(beta * x)
        return beta * x * s * (1 - s)

    result = run_check("swish_grad", second_term)
    assert not result.ok and result.mistake == "only_second_term" and "TWO terms" in result.hint, str(result)


def test_leaky_default_slope_is_named():
    result = run_check("leaky_relu", lambda x, negative_slope=0.01: torch.where(x > 0, x, x / 100))
    assert not result.ok and result.mistake == "default_slope" and "instead of the negative_slope" in result.hint, str(result)


def test_leaky_absolute_negative_side_is_named():
    result = run_check("leaky_relu", lambda x, negative_slope=0.01: torch.where(x > 0, x, -negative_slope * x))
    assert not result.ok and result.mistake == "abs_negative" and "must stay negative" in result.hint, str(result)
