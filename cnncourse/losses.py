"""The course's loss functions, written out so that every step can be read and checked.

* :func:`log_softmax` and :func:`_cross_entropy`: cross-entropy from LOGITS with the
  log-sum-exp trick (subtract the row maximum first), equal to ``F.cross_entropy``,
  label smoothing included.
* :func:`naive_cross_entropy`: softmax, then log — the textbook formula that overflows in
  float32 once logits pass about 88 (``exp(89)`` is ``inf``). Kept for the stability demo.
* :func:`smooth_targets`: the soft targets behind ``label_smoothing=`` (Szegedy et al. 2016).
* :func:`_focal_loss` and :class:`FocalLoss`: Lin et al. 2017, "Focal Loss for Dense Object
  Detection", ``FL = -alpha_t (1 - p_t)^gamma log p_t``, with optional per-class ``alpha``.

Shapes: logits (N, K) for N samples and K classes, targets (N,) int64 class indices.

Taught in notebooks/07_loss_functions.ipynb.
"""
from __future__ import annotations

from typing import Sequence

import torch
from torch import nn

__all__ = [
    "log_softmax",
    "naive_cross_entropy",
    "smooth_targets",
    "FocalLoss",
]

_REDUCTIONS = ("mean", "sum", "none")


def _reduce(per_sample: torch.Tensor, reduction: str) -> torch.Tensor:
    if reduction == "mean":
        return per_sample.mean()
    if reduction == "sum":
        return per_sample.sum()
    if reduction == "none":
        return per_sample
    raise ValueError(f"reduction must be one of {_REDUCTIONS}; got {reduction!r}")


def _check(logits: torch.Tensor, targets: torch.Tensor, where: str) -> None:
    if logits.ndim != 2:
        raise ValueError(f"{where}: logits must be (N, K); got shape {tuple(logits.shape)}")
    if targets.shape != logits.shape[:1]:
        raise ValueError(
            f"{where}: targets must be (N,) = ({logits.shape[0]},) class indices; got shape {tuple(targets.shape)}"
        )
    if targets.dtype != torch.int64:
        raise TypeError(f"{where}: targets must be int64 class indices; got {targets.dtype}")


def log_softmax(logits: torch.Tensor) -> torch.Tensor:
    """Stable log-softmax over the last axis: z - max - log(sum(exp(z - max))). (N, K) -> (N, K).

    Subtracting the row maximum changes nothing mathematically (it cancels) but keeps every
    exponent <= 0, so ``exp`` cannot overflow and the largest term is exactly 1.
    """
    shifted = logits - logits.amax(dim=-1, keepdim=True)  # (N, K), max of each row is 0
    return shifted - shifted.exp().sum(dim=-1, keepdim=True).log()


def smooth_targets(targets: torch.Tensor, num_classes: int, smoothing: float = 0.0) -> torch.Tensor:
    """Soft targets (N, K): ``(1 - smoothing)`` on the true class plus ``smoothing / K`` everywhere.

    This is the target distribution that ``nn.CrossEntropyLoss(label_smoothing=smoothing)`` uses.
    """
    if not 0.0 <= smoothing <= 1.0:
        raise ValueError(f"smoothing must be in [0, 1]; got {smoothing}")
    one_hot = torch.nn.functional.one_hot(targets, num_classes).to(torch.get_default_dtype())
    return one_hot * (1.0 - smoothing) + smoothing / num_classes


def _cross_entropy(logits: torch.Tensor, targets: torch.Tensor, label_smoothing: float = 0.0,
                  reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy from logits (N, K) and int64 targets (N,), like ``F.cross_entropy``.

    ``-sum_k q_k log softmax(z)_k`` with q the (optionally smoothed) one-hot target;
    ``reduction`` "mean" (over the batch), "sum" or "none" (per sample, (N,)).
    """
    _check(logits, targets, "cross_entropy")
    logp = log_softmax(logits)  # (N, K)
    q = smooth_targets(targets, logits.shape[1], label_smoothing).to(logp.dtype)
    return _reduce(-(q * logp).sum(dim=1), reduction)


def naive_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
    """Cross-entropy the textbook way: softmax = exp(z) / sum(exp(z)), then -log of the true class.

    Correct on paper, but in float32 ``exp(z)`` is ``inf`` for z > 88.7 and rounds to 0 for
    z < -103, giving ``nan`` or ``inf`` losses. Use :func:`_cross_entropy`.
    """
    _check(logits, targets, "naive_cross_entropy")
    e = logits.exp()
    p = e / e.sum(dim=1, keepdim=True)  # (N, K)
    return _reduce(-p.gather(1, targets[:, None]).squeeze(1).log(), reduction)


def _focal_loss(logits: torch.Tensor, targets: torch.Tensor, gamma: float = 2.0,
               alpha: torch.Tensor | Sequence[float] | None = None, reduction: str = "mean") -> torch.Tensor:
    """Focal loss (Lin et al. 2017) from logits (N, K) and int64 targets (N,).

    ``FL_i = -alpha[y_i] * (1 - p_i)^gamma * log p_i`` with p_i the softmax probability of the
    true class. ``gamma = 0`` and no ``alpha`` is plain cross-entropy; a larger gamma shrinks
    the loss of samples that are already right with confidence. ``alpha`` (K,) weighs classes.
    ``reduction="mean"`` is the plain mean over the batch.
    """
    _check(logits, targets, "focal_loss")
    if gamma < 0:
        raise ValueError(f"focal_loss: gamma must be >= 0; got {gamma}")
    logp_t = log_softmax(logits).gather(1, targets[:, None]).squeeze(1)  # (N,) stable log p_true
    p_t = logp_t.exp()
    loss = -((1.0 - p_t) ** gamma) * logp_t
    if alpha is not None:
        alpha = torch.as_tensor(alpha, dtype=loss.dtype, device=loss.device)
        if alpha.shape != logits.shape[1:]:
            raise ValueError(f"focal_loss: alpha must have one weight per class ({logits.shape[1]},); got {tuple(alpha.shape)}")
        loss = alpha[targets] * loss
    return _reduce(loss, reduction)


class FocalLoss(nn.Module):
    """:func:`_focal_loss` as a module, for ``cnncourse.train.fit(..., loss_fn=FocalLoss(2.0))``."""

    def __init__(self, gamma: float = 2.0, alpha: torch.Tensor | Sequence[float] | None = None,
                 reduction: str = "mean"):
        super().__init__()
        if gamma < 0:
            raise ValueError(f"FocalLoss: gamma must be >= 0; got {gamma}")
        if reduction not in _REDUCTIONS:
            raise ValueError(f"FocalLoss: reduction must be one of {_REDUCTIONS}; got {reduction!r}")
        self.gamma, self.reduction = float(gamma), reduction
        self.register_buffer("alpha", None if alpha is None else torch.as_tensor(alpha, dtype=torch.float32))

    def forward(self, logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """logits (N, K), targets (N,) int64 -> the loss (a scalar unless reduction="none")."""
        return _focal_loss(logits, targets, self.gamma, self.alpha, self.reduction)

    def extra_repr(self) -> str:
        return f"gamma={self.gamma}, alpha={'None' if self.alpha is None else self.alpha.tolist()}, reduction={self.reduction!r}"
