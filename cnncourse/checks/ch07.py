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
        Symptom("overflow", _overflowed,
                "inf/nan on large logits: exp(1000) overflows float32. Subtract each row's maximum before exp "
                "(log-sum-exp trick); it cancels out mathematically."),
        Symptom("per_sample", _per_sample, "you returned one loss per sample (N,); the loss is their MEAN over the batch (a scalar)."),
        Mistake("summed", lambda logits, targets: F.cross_entropy(logits, targets, reduction="sum"),
                "you summed over the batch; nn.CrossEntropyLoss averages: divide by N (use .mean())."),
        Mistake("softmax_input", lambda logits, targets: F.cross_entropy(logits.softmax(dim=1), targets),
                "you applied softmax twice: the inputs are LOGITS. Take log-softmax of the logits directly, "
                "not of softmax probabilities."),
        Mistake("sign", lambda logits, targets: -F.cross_entropy(logits, targets),
                "the sign is flipped: the loss is MINUS the log-probability of the true class."),
        Mistake("all_classes", lambda logits, targets: -F.log_softmax(logits, 1).mean(),
                "you averaged log-probabilities over ALL classes; pick only the true class's entry (gather)."),
    ],
    hints=[
        "loss = mean over samples of -log softmax(z)[true class], and log softmax(z) = z - log(sum(exp(z))).",
        "Stability: with m = the row maximum, log(sum(exp(z))) = m + log(sum(exp(z - m))); every exponent is then <= 0.",
        "Three steps: subtract each row's maximum (keepdim=True so it broadcasts); log-softmax is the shifted logits "
        "minus the log of each row's sum of exponentials; pick each row's true-class entry (gather, or indexing with "
        "torch.arange(N)), negate, average.",
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
        Symptom("overflow", _overflowed,
                "inf/nan on large logits: compute log p with a stable log-softmax (subtract the row maximum), "
                "then p = exp(log p)."),
        Symptom("per_sample", _per_sample, "you returned one loss per sample (N,); return their MEAN over the batch (a scalar)."),
        Mistake("summed", lambda z, t, gamma: losses._focal_loss(z, t, gamma, reduction="sum"),
                "you summed over the batch; take the mean (divide by N)."),
        Mistake("p_gamma", _focal_p_gamma,
                "the modulating factor is (1 - p)^gamma, not p^gamma: it must SHRINK the loss of confident, "
                "correct samples (p near 1)."),
        Mistake("no_factor", lambda z, t, gamma: F.cross_entropy(z, t),
                "this is plain cross-entropy: you left out the factor (1 - p_true)^gamma."),
        Mistake("softmax_input", lambda z, t, gamma: losses._focal_loss(z.softmax(1), t, gamma),
                "you applied softmax twice: the inputs are LOGITS; take log-softmax of them directly."),
        Mistake("factor_of_log_p", _focal_on_logit, "the factor uses log p; it must use the probability p = exp(log p)."),
    ],
    hints=[
        "Focal loss is cross-entropy with each sample's term multiplied by (1 - p_true)^gamma.",
        "Get log p_true stably (log-softmax, then gather the true class), p_true = exp(log p_true), "
        "then loss_i = -(1 - p_true)^gamma * log p_true; return the mean.",
        "Get one log p_true per sample (shape (N,)) the stable way, turn it into p_true with exp, weight each "
        "-log p_true by (1 - p_true) to the power gamma, then average over the batch.",
    ],
))
