"""Chapter 10's checkers: right answers pass, typical mistakes fail with the mistake named."""
import pytest
import torch
import torch.nn.functional as F

from cnncourse.checks import run_check


def good_dropout(x, p, training, generator):
    if not training:
        return x
    if p == 1:
        return torch.zeros_like(x)
    keep = (torch.rand(x.shape, generator=generator) < 1 - p).to(x.dtype)
    return x * keep / (1 - p)


def bernoulli_dropout(x, p, training, generator):
    """torch.bernoulli with probability 1 − p draws the same mask as u < 1 − p."""
    if not training:
        return x
    if p == 1:
        return torch.zeros_like(x)
    return x * torch.bernoulli(torch.full_like(x, 1 - p), generator=generator) / (1 - p)


def good_l2(params, weight_decay):
    return weight_decay / 2 * sum((w ** 2).sum() for w in params)


@pytest.mark.parametrize("fn", [good_dropout, bernoulli_dropout], ids=["rand", "bernoulli"])
def test_inverted_dropout_passes(fn):
    result = run_check("inverted_dropout", fn)
    assert result.ok, str(result)


def test_l2_penalty_passes():
    result = run_check("l2_penalty", good_l2)
    assert result.ok, str(result)


def test_the_rule_is_f_dropouts():
    # F.dropout keeps some elements, scales them by exactly 1/(1 − p) and zeroes the rest: the rule checked
    x = torch.rand(2000) + 0.5
    for p in (0.2, 0.5, 0.8):
        out = F.dropout(x, p, training=True)
        keep = out != 0
        torch.testing.assert_close(out, x * keep / (1 - p))
        assert abs(keep.float().mean().item() - (1 - p)) < 0.05
    torch.testing.assert_close(F.dropout(x, 0.5, training=False), x)
    assert (F.dropout(x, 1.0, training=True) == 0).all()


def _dropout(scale="right", eval_mode="identity", keep="right", p_one="zeros"):
    def fn(x, p, training, generator):
        if not training and eval_mode == "identity":
            return x
        if not training and eval_mode == "scaled":
            return x / (1 - p)
        if p == 1 and p_one == "zeros":
            return torch.zeros_like(x)
        u = torch.rand(x.shape, generator=generator)
        mask = {"right": u < 1 - p, "keep_p": u < p, "ge": u >= p}[keep].to(x.dtype)
        factor = {"right": 1 / (1 - p) if p < 1 else float("inf"), "none": 1.0, "times": 1 - p}[scale]
        return x * mask * factor
    return fn


@pytest.mark.parametrize(("wrong", "message"), [
    (_dropout(scale="none"), "forgot the scaling"),
    (_dropout(scale="times"), "DIVIDES"),
    (_dropout(eval_mode="scaled"), "identity"),
    (_dropout(eval_mode="dropped"), "nothing is dropped"),
    (_dropout(keep="keep_p"), "probability to DROP"),
    (_dropout(keep="ge"), "u < 1 − p"),
    (_dropout(p_one="nan"), "NaN"),
], ids=["no-scaling", "times", "eval-scaled", "eval-dropped", "keep-p", "other-rule", "nan-at-1"])
def test_dropout_mistakes_are_named(wrong, message):
    result = run_check("inverted_dropout", wrong)
    assert not result.ok
    assert message in result.hint, str(result)


def test_division_by_zero_at_p_one_is_one_line():
    def fn(x, p, training, generator):
        if not training:
            return x
        keep = (torch.rand(x.shape, generator=generator) < 1 - p).to(x.dtype)
        return x * keep * (1 / (1 - p))
    text = str(run_check("inverted_dropout", fn))
    assert "p = 1" in text and "ZeroDivisionError" in text and "\n" not in text


@pytest.mark.parametrize(("wrong", "message"), [
    (lambda params, wd: wd * sum(torch.norm(w, 2) for w in params), "torch.norm(w, 2)"),
    (lambda params, wd: wd / 2 * sum(torch.norm(w, 2) for w in params), "torch.norm(w, 2)"),
    (lambda params, wd: wd * sum((w ** 2).sum() for w in params), "forgot the 1/2"),
    (lambda params, wd: wd / 2 * sum((w ** 2).mean() for w in params), "averaged"),
    (lambda params, wd: wd / 2 * (params[0] ** 2).sum(), "only the first tensor"),
], ids=["article-norm", "half-norm", "no-half", "mean", "first-only"])
def test_l2_mistakes_are_named(wrong, message):
    result = run_check("l2_penalty", wrong)
    assert not result.ok
    assert message in result.hint, str(result)


@pytest.mark.parametrize(("wrong", "message"), [
    (lambda params, wd: torch.tensor(wd / 2 * sum((w ** 2).sum().item() for w in params)), "no gradient"),
    (lambda params, wd: wd / 2 * sum(w.detach() ** 2 for w in params), "shape"),
], ids=["no-grad", "not-summed"])
def test_l2_answers_that_are_not_a_differentiable_number_are_reported(wrong, message):
    result = run_check("l2_penalty", wrong)
    assert not result.ok and message in result.detail, str(result)


def test_l2_float_answer_is_one_line():
    text = str(run_check("l2_penalty", lambda params, wd: good_l2(params, wd).item()))
    assert "expected a 0-d tensor" in text and "\n" not in text


def test_stubs_fail_cleanly():
    def stub(*args):
        raise NotImplementedError
    assert "not implemented" in str(run_check("inverted_dropout", stub))
    assert "not implemented" in str(run_check("l2_penalty", stub))
