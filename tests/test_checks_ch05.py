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


def bn_variant(**wrong):
    return lambda *args, **kwargs: ch05._batch_norm_variant(*args, **kwargs, **wrong)


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
    assert run_check("batch_norm", bn_variant()).ok  # the variant with no knob turned is right


@pytest.mark.parametrize("wrong, words", [
    ({"axes": (1, 2, 3)}, "layer norm"),
    ({"axes": (2, 3)}, "instance norm"),
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
    result = run_check("group_norm", lambda x, g, eps=1e-5: ch05._group_norm_variant(x, g, eps, **wrong))
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
