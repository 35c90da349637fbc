"""Chapter 07's checkers: right answers pass, typical mistakes fail with the mistake named."""
import pytest
import torch
import torch.nn.functional as F

from cnncourse.checks import run_check


def good_ce(logits, targets):
    shifted = logits - logits.amax(1, keepdim=True)
    logp = shifted - shifted.exp().sum(1, keepdim=True).log()
    return -logp.gather(1, targets[:, None]).mean()


def good_focal(logits, targets, gamma):
    logp = F.log_softmax(logits, 1).gather(1, targets[:, None]).squeeze(1)
    return (-((1 - logp.exp()) ** gamma) * logp).mean()


def _logp(z):
    """log-softmax written out (the cross_entropy exercise forbids F.log_softmax and friends)."""
    shifted = z - z.amax(1, keepdim=True)
    return shifted - shifted.exp().sum(1, keepdim=True).log()


def _per_sample(z, t):
    return -_logp(z).gather(1, t[:, None]).squeeze(1)


def test_solutions_pass():
    assert run_check("cross_entropy", good_ce).ok
    assert run_check("focal_loss", good_focal).ok


@pytest.mark.parametrize("call", [
    lambda z, t: F.cross_entropy(z, t),
    lambda z, t: -F.log_softmax(z, 1).gather(1, t[:, None]).mean(),
    lambda z, t: -z.log_softmax(1).gather(1, t[:, None]).mean(),
    lambda z, t: (torch.logsumexp(z, 1) - z.gather(1, t[:, None]).squeeze(1)).mean(),
], ids=["F.cross_entropy", "F.log_softmax", "Tensor.log_softmax", "logsumexp"])
def test_cross_entropy_that_calls_torch_is_refused_naming_the_call(call):
    result = run_check("cross_entropy", call)
    assert not result.ok and "calls" in result.detail and "yourself" in result.detail, str(result)


def _naive_logp(z, t):
    p = z.exp() / z.exp().sum(1, keepdim=True)
    return p.gather(1, t[:, None]).squeeze(1).log()


@pytest.mark.parametrize(("wrong", "message"), [
    (lambda z, t: -_naive_logp(z, t).mean(), "overflows"),
    (lambda z, t: _per_sample(z, t).sum(), "summed"),
    (lambda z, t: _per_sample(z, t), "one loss per sample"),
    (lambda z, t: _per_sample(z.softmax(1), t).mean(), "softmax twice"),
    (lambda z, t: -_per_sample(z, t).mean(), "sign"),
    (lambda z, t: -_logp(z).mean(), "true class"),
], ids=["no-max", "sum", "per-sample", "softmax-input", "sign", "all-classes"])
def test_cross_entropy_mistakes_are_named(wrong, message):
    result = run_check("cross_entropy", wrong)
    assert not result.ok
    assert message in result.hint, str(result)


def _p_gamma(z, t, gamma):
    logp = F.log_softmax(z, 1).gather(1, t[:, None]).squeeze(1)
    return (-(logp.exp() ** gamma) * logp).mean()


def _focal_of_log_p(z, t, gamma):
    logp = torch.log(torch.softmax(z, 1).gather(1, t[:, None]).squeeze(1).clamp(min=1e-30))
    return ((1 - logp) ** gamma * -logp).mean()


def _naive_focal(z, t, gamma):
    logp = _naive_logp(z, t)
    return (-((1 - logp.exp()) ** gamma) * logp).mean()


@pytest.mark.parametrize(("wrong", "message"), [
    (_naive_focal, "stable log-softmax"),
    (lambda z, t, g: good_focal(z, t, g) * z.shape[0], "summed"),
    (_p_gamma, "(1 - p)^gamma, not p^gamma"),
    (lambda z, t, g: F.cross_entropy(z, t), "plain cross-entropy"),
    (lambda z, t, g: good_focal(z.softmax(1), t, g), "softmax twice"),
    (lambda z, t, g: -((1 - F.log_softmax(z, 1).gather(1, t[:, None]).exp()) ** g
                       * F.log_softmax(z, 1).gather(1, t[:, None])).squeeze(1), "one loss per sample"),
    (_focal_of_log_p, "uses log p"),
], ids=["no-max", "sum", "p-gamma", "no-factor", "softmax-input", "per-sample", "factor-of-log-p"])
def test_focal_mistakes_are_named(wrong, message):
    result = run_check("focal_loss", wrong)
    assert not result.ok
    assert message in result.hint, str(result)


def test_stub_fails():
    def stub(*args):
        raise NotImplementedError
    assert "not implemented" in run_check("focal_loss", stub).detail


def test_checks_do_not_crash_on_wrong_types():
    assert not run_check("cross_entropy", lambda z, t: 1.0).ok
    assert not run_check("focal_loss", lambda z, t, g: torch.zeros(3)).ok
