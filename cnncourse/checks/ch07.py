"""Checks for exercises/07_loss_functions.ipynb: cross-entropy from logits, focal loss.

Both are compared with the references (``F.cross_entropy``, :func:`cnncourse.losses._focal_loss`)
on random logits and on large ones (|z| up to 1e3), where exp() overflows in float32.

Taught in notebooks/07_loss_functions.ipynb.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .. import losses
from .core import Case, Checker, Mistake, Symptom, register

__all__ = ["cross_entropy", "focal_loss"]


def _logit_cases(g: torch.Generator, with_gamma: bool) -> list[Case]:
    """Random logits (N, K) and int64 targets (N,), small and large, as Cases."""
    def logits(n, k, scale):
        return scale * torch.randn(n, k, generator=g)

    def targets(n, k):
        return torch.randint(0, k, (n,), generator=g)

    specs = [
        ("8 samples, 5 classes", 8, 5, 1.0, 2.0),
        ("16 samples, 10 classes, logits x3", 16, 10, 3.0, 0.5),
        ("1 sample, 3 classes", 1, 3, 1.0, 1.0),
        ("4 samples, 2 classes", 4, 2, 2.0, 3.0),
        ("8 samples, 10 classes, logits x1e3 (exp overflows)", 8, 10, 1e3, 2.0),
    ]
    cases = []
    for label, n, k, scale, gamma in specs:
        args = (logits(n, k, scale), targets(n, k))
        cases.append(Case(f"{label}, gamma={gamma:g}" if with_gamma else label, args + ((gamma,) if with_gamma else ())))
    if with_gamma:
        z, t = logits(6, 4, 1.0), targets(6, 4)
        cases.append(Case("gamma=0 (plain cross-entropy)", (z, t, 0.0)))
    return cases


def _overflowed(got, case: Case) -> bool:
    """inf or nan in the answer on a case with large logits."""
    return isinstance(got, torch.Tensor) and not bool(torch.isfinite(got).all()) and bool(case.args[0].abs().max() > 100)


def _per_sample(got, case: Case) -> bool:
    return got.shape == case.args[1].shape


cross_entropy = register(Checker(
    name="cross_entropy",
    reference=lambda logits, targets: F.cross_entropy(logits, targets),
    cases=lambda g: _logit_cases(g, with_gamma=False),
    forbids=("torch.nn.functional.cross_entropy", "torch.nn.functional.log_softmax", "torch.logsumexp",
             "torch.log_softmax", "torch.Tensor.log_softmax", "torch.Tensor.logsumexp", "torch.nn.CrossEntropyLoss",
             "torch.nn.functional.nll_loss"),
    diagnoses=[
        Symptom("overflow", _overflowed),
        Symptom("per_sample", _per_sample),
        Mistake("summed", lambda logits, targets: F.cross_entropy(logits, targets, reduction="sum")),
        # softmax applied to the logits before the loss's own log-softmax
        Mistake("softmax_input", lambda logits, targets: F.cross_entropy(logits.softmax(dim=1), targets)),
        Mistake("sign", lambda logits, targets: -F.cross_entropy(logits, targets)),
        # the log-probabilities of every class averaged, not only the true one's
        Mistake("all_classes", lambda logits, targets: -F.log_softmax(logits, 1).mean()),
    ],
))


def _focal_p_gamma(z, t, gamma) -> torch.Tensor:
    """The mistake: (p_t)^gamma instead of (1 - p_t)^gamma."""
    logp = F.log_softmax(z, 1).gather(1, t[:, None]).squeeze(1)
    return (-(logp.exp() ** gamma) * logp).mean()


def _focal_on_logit(z, t, gamma) -> torch.Tensor:
    """The mistake: the modulating factor uses the raw logit or log p instead of the probability."""
    logp = F.log_softmax(z, 1).gather(1, t[:, None]).squeeze(1)
    return (-((1 - logp) ** gamma) * logp).mean()


focal_loss = register(Checker(
    name="focal_loss",
    reference=lambda logits, targets, gamma: losses._focal_loss(logits, targets, gamma),
    cases=lambda g: _logit_cases(g, with_gamma=True),
    diagnoses=[
        Symptom("overflow", _overflowed),
        Symptom("per_sample", _per_sample),
        Mistake("summed", lambda z, t, gamma: losses._focal_loss(z, t, gamma, reduction="sum")),
        Mistake("p_gamma", _focal_p_gamma),
        # plain cross-entropy: the modulating factor left out
        Mistake("no_factor", lambda z, t, gamma: F.cross_entropy(z, t)),
        Mistake("softmax_input", lambda z, t, gamma: losses._focal_loss(z.softmax(1), t, gamma)),
        Mistake("factor_of_log_p", _focal_on_logit),
    ],
))
