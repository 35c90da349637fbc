"""Chapter 05's compute functions: which axes each norm averages over, running statistics,
gradients layer by layer, batch statistics at small batch sizes, and the batch-size explorer.

Every function takes tensors or a model and returns numbers, tensors or a small dataclass;
it never changes the model or tensors it is given (a model that must run with batch
statistics, or whose BatchNorm would update its running statistics, is deep-copied first).
The figures are in :mod:`cnncourse.drawing.normalization`; this module draws nothing.

Taught in notebooks/05_normalization.ipynb.
"""
from __future__ import annotations

import copy
import weakref
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import torch
from torch import nn

from ..i18n import message
from ..layers.norm import _batch_norm

__all__ = [
    "KIND_NAMES",
    "normalized_block",
    "RunningTrace",
    "running_stats_trace",
    "gradient_rms",
    "predictions",
    "StatNoise",
    "stat_noise",
    "noise_curve",
    "summarize_stat_noise",
]

KIND_NAMES = {
    "batch": "BatchNorm",
    "layer": "LayerNorm",
    "instance": "InstanceNorm",
    "group": "GroupNorm",
}


# ----------------------------------------------------------------------------- the N x C x (H*W) cube

def normalized_block(kind: str, N: int = 4, C: int = 6, HW: int = 5, num_groups: int = 2) -> np.ndarray:
    """Boolean (N, C, HW) mask: the values that share ONE mean and variance, for sample 0 / channel 0.

    ``"batch"``: channel 0 of every sample; ``"layer"``: every channel of sample 0;
    ``"instance"``: channel 0 of sample 0; ``"group"``: the first C/G channels of sample 0.
    """
    mask = np.zeros((N, C, HW), dtype=bool)
    if kind == "batch":
        mask[:, 0, :] = True
    elif kind == "layer":
        mask[0, :, :] = True
    elif kind == "instance":
        mask[0, 0, :] = True
    elif kind == "group":
        if C % num_groups:
            raise ValueError(f"normalized_block: {C} channels do not split into {num_groups} groups")
        mask[0, : C // num_groups, :] = True
    else:
        raise ValueError(f"normalized_block: unknown kind {kind!r}; choose one of {sorted(KIND_NAMES)}")
    return mask


# ----------------------------------------------------------------------------- running statistics

@dataclass(frozen=True)
class RunningTrace:
    """How far BatchNorm's running mean/var are from the population statistics, step by step.

    ``mean_error[m]`` and ``var_error[m]`` are (steps,) tensors for each momentum label ``m``:
    the mean over channels of |running - population| / population std (for the var,
    |running_var - var| / var).
    """

    steps: torch.Tensor
    mean_error: dict[str, torch.Tensor]
    var_error: dict[str, torch.Tensor]
    batch_size: int


def running_stats_trace(
    maps: torch.Tensor,
    batch_size: int = 32,
    momenta: Sequence[float | None] = (0.1, 0.01, None),
    steps: int = 200,
    seed: int = 0,
) -> RunningTrace:
    """Feed random batches of ``maps`` (N, C, H, W) through ``nn.BatchNorm2d`` in training mode.

    Returns the running statistics' error against the statistics of all of ``maps``
    after every step, for each momentum (``None`` = PyTorch's cumulative average). Along the
    way it asserts that :func:`cnncourse.layers.norm._batch_norm` keeps the same running
    statistics as ``nn.BatchNorm2d``.
    """
    n, C = maps.shape[:2]
    if batch_size < 1 or batch_size > n:
        raise ValueError(f"running_stats_trace: batch_size must be in 1..{n}, got {batch_size}")
    pop_mean = maps.mean(dim=(0, 2, 3))
    pop_var = maps.var(dim=(0, 2, 3), correction=0)
    g = torch.Generator().manual_seed(seed)
    batches = [torch.randperm(n, generator=g)[:batch_size] for _ in range(steps)]
    mean_error, var_error = {}, {}
    for momentum in momenta:
        bn = nn.BatchNorm2d(C, momentum=momentum).train()
        r_mean, r_var = torch.zeros(C), torch.ones(C)
        m_err, v_err = [], []
        with torch.no_grad():
            for step, idx in enumerate(batches, start=1):
                x = maps[idx]
                bn(x)
                # momentum=None: cumulative average, i.e. momentum 1/step at step `step`
                _, r_mean, r_var = _batch_norm(x, None, None, r_mean, r_var, True,
                                              momentum=1 / step if momentum is None else momentum)
                if not (torch.allclose(r_mean, bn.running_mean, atol=1e-5) and torch.allclose(r_var, bn.running_var, atol=1e-5, rtol=1e-4)):
                    raise AssertionError("layers.norm._batch_norm and nn.BatchNorm2d disagree on the running statistics")
                m_err.append(((bn.running_mean - pop_mean).abs() / pop_var.sqrt()).mean())
                v_err.append(((bn.running_var - pop_var).abs() / pop_var).mean())
        label = "None (cumulative average)" if momentum is None else f"momentum={momentum}"
        mean_error[label], var_error[label] = torch.stack(m_err), torch.stack(v_err)
    return RunningTrace(torch.arange(1, steps + 1), mean_error, var_error, batch_size)


def gradient_rms(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                 layer_type: type[nn.Module] = nn.ReLU) -> torch.Tensor:
    """RMS of d(loss)/d(output) of every ``layer_type`` module, in forward order: a (L,) tensor.

    One forward and backward pass of cross-entropy on ``images`` (N, C, H, W) and ``labels``
    (N,) through a copy of ``model`` (kept in its train/eval mode): the size of the gradient
    that reaches each layer's output, per value. A gradient that shrinks from the last layer
    back to the first vanishes; one that grows explodes. The model (its ``.grad`` and
    BatchNorm running statistics included) is not changed.
    """
    clone = copy.deepcopy(model)
    param = next(clone.parameters())
    outputs: list[torch.Tensor] = []
    hooks = [m.register_forward_hook(lambda mod, inp, out: outputs.append(out))
             for m in clone.modules() if isinstance(m, layer_type)]
    if not hooks:
        raise ValueError(f"gradient_rms: the model has no {layer_type.__name__} layer to measure")
    try:
        logits = clone(images.to(param.device))
    finally:
        for h in hooks:
            h.remove()
    loss = nn.functional.cross_entropy(logits, labels.to(param.device))
    grads = torch.autograd.grad(loss, outputs)
    return torch.stack([g.detach().pow(2).mean().sqrt() for g in grads]).cpu()


# ----------------------------------------------------------------------------- batch statistics at test time

def _with_batch_stats(model: nn.Module) -> nn.Module:
    """A copy of ``model`` in eval mode except its BatchNorm layers, which use batch statistics.

    ``momentum = 0`` keeps the copy's running statistics unchanged, so it can be reused.
    """
    clone = copy.deepcopy(model).eval()
    for module in clone.modules():
        if isinstance(module, nn.modules.batchnorm._BatchNorm):
            module.train()
            module.momentum = 0.0
    return clone


@torch.no_grad()
def predictions(model: nn.Module, images: torch.Tensor, batch_size: int | None = None, seed: int = 0) -> torch.Tensor:
    """Predicted classes (N,) of ``images`` (N, C, H, W), in the order given.

    ``batch_size=None``: eval mode (BatchNorm uses its running statistics). A number: BatchNorm
    normalises with the statistics of random batches of that size (as in training), so each
    image's prediction depends on which images share its batch. The model is not changed.
    """
    param = next(model.parameters())
    images = images.to(param.device)
    if batch_size is None:
        clone = copy.deepcopy(model).eval()
        return clone(images).argmax(1).cpu()
    clone = _with_batch_stats(model)
    order = torch.randperm(images.shape[0], generator=torch.Generator().manual_seed(seed))
    out = torch.empty(images.shape[0], dtype=torch.long)
    for start in range(0, images.shape[0], batch_size):
        idx = order[start:start + batch_size]
        if len(idx) == 1 and batch_size > 1:  # a last batch of 1: join it to the one before
            idx = order[start - 1:start + 1]
        out[idx] = clone(images[idx.to(images.device)]).argmax(1).cpu()
    return out


# ----------------------------------------------------------------------------- the explorer

@dataclass(frozen=True)
class StatNoise:
    """The statistics one norm uses at training time vs evaluation time, on real feature maps.

    ``train_mean`` (S,) : the mean of channel 0 that each of S samples is normalised with in
    training (BatchNorm: its batch's mean; the others: its own statistics), in population
    std units around the population mean. ``eval_mean`` (S,): the same at evaluation
    (BatchNorm: the population, i.e. running, mean; the others: unchanged).
    ``mean_error`` / ``std_error``: RMS over samples and channels of (train - eval) mean
    (in population std) and of the std ratio - 1. ``mismatch``: RMS of y_train - y_eval, the
    normalised outputs, over all values.
    """

    kind: str
    batch_size: int
    train_mean: torch.Tensor
    eval_mean: torch.Tensor
    mean_error: float
    std_error: float
    mismatch: float
    curve: dict[str, dict[int, float]] | None = None
    accuracy: dict[str, dict] | None = None  # {kind: {batch_size: acc, "eval": acc}}


def stat_noise(
    maps: torch.Tensor,
    batch_size: int,
    kind: str = "batch",
    num_groups: int = 2,
    seed: int = 0,
    eps: float = 1e-5,
) -> StatNoise:
    """Train-time vs eval-time statistics of norm ``kind`` on ``maps`` (S, C, H, W), batches of ``batch_size``.

    The maps are shuffled (seeded) and cut into batches of ``batch_size`` (the remainder is
    dropped). BatchNorm's eval statistics are the population statistics of all of ``maps``
    (what its running statistics converge to); LayerNorm, InstanceNorm and GroupNorm use each
    sample's own statistics in both modes, so their error is zero at every batch size.
    """
    if kind not in KIND_NAMES:
        raise ValueError(f"stat_noise: unknown kind {kind!r}; choose one of {sorted(KIND_NAMES)}")
    S, C = maps.shape[:2]
    if not 1 <= batch_size <= S:
        raise ValueError(f"stat_noise: batch_size must be in 1..{S}, got {batch_size}")
    nb = S // batch_size
    order = torch.randperm(S, generator=torch.Generator().manual_seed(seed))[: nb * batch_size]
    # Everything follows from each sample's per-channel first and second moments over H*W
    # (float64), so one pass over the maps suffices: the widget stays fast.
    all_m1, all_m2 = _sample_moments(maps)
    m1, m2 = all_m1[order], all_m2[order]  # (S', C) each
    pop_mean = all_m1.mean(dim=0)  # (C,) over ALL maps (every sample has H*W values)
    pop_std = (all_m2.mean(dim=0) - pop_mean.pow(2)).clamp(min=0).add(eps).sqrt()
    if kind == "batch":
        b1 = m1.reshape(nb, batch_size, C).mean(dim=1, keepdim=True)  # (nb, 1, C)
        b2 = m2.reshape(nb, batch_size, C).mean(dim=1, keepdim=True)
        train_mean = b1.expand(nb, batch_size, C).reshape(-1, C)  # (S', C)
        train_std = (b2 - b1.pow(2)).clamp(min=0).add(eps).sqrt().expand(nb, batch_size, C).reshape(-1, C)
        eval_mean, eval_std = pop_mean.expand_as(train_mean), pop_std.expand_as(train_std)
        # y_train - y_eval = a * x + d per (sample, channel), so its mean square is a^2 m2 + 2 a d m1 + d^2
        a = 1 / train_std - 1 / eval_std
        d = eval_mean / eval_std - train_mean / train_std
        mismatch = (a.pow(2) * m2 + 2 * a * d * m1 + d.pow(2)).clamp(min=0).mean().sqrt().item()
    else:
        groups = {"layer": 1, "instance": C, "group": num_groups}[kind]
        g1 = m1.reshape(-1, groups, C // groups).mean(dim=-1, keepdim=True)  # (S', G, 1)
        g2 = m2.reshape(-1, groups, C // groups).mean(dim=-1, keepdim=True)
        train_mean = g1.expand(-1, groups, C // groups).reshape(-1, C)
        train_std = (g2 - g1.pow(2)).clamp(min=0).add(eps).sqrt().expand(-1, groups, C // groups).reshape(-1, C)
        eval_mean, eval_std = train_mean, train_std
        mismatch = 0.0
    mean_error = ((train_mean - eval_mean) / pop_std).pow(2).mean().sqrt().item()
    std_error = (train_std / eval_std - 1).pow(2).mean().sqrt().item()
    return StatNoise(
        kind, batch_size,
        train_mean=((train_mean[:, 0] - pop_mean[0]) / pop_std[0]).float(),
        eval_mean=((eval_mean[:, 0] - pop_mean[0]) / pop_std[0]).float(),
        mean_error=mean_error, std_error=std_error, mismatch=mismatch,
    )


_MOMENTS: dict[int, tuple] = {}


def _sample_moments(maps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Each sample's per-channel mean and mean square over H*W (float64), (S, C) each.

    Cached for the last tensor seen (checked by identity and in-place version), so a widget
    moving through batch sizes on the same maps pays for the pass over them once.
    """
    key = id(maps)
    hit = _MOMENTS.get(key)
    if hit is not None and hit[0]() is maps and hit[1] == maps._version:
        return hit[2]
    flat = maps.reshape(maps.shape[0], maps.shape[1], -1).double()
    moments = (flat.mean(dim=-1), flat.pow(2).mean(dim=-1))
    _MOMENTS.clear()
    _MOMENTS[key] = (weakref.ref(maps), maps._version, moments)
    return moments


def noise_curve(maps: torch.Tensor, batch_sizes: Sequence[int], kinds: Sequence[str] = tuple(KIND_NAMES),
                num_groups: int = 2, seed: int = 0) -> dict[str, dict[int, float]]:
    """``{kind: {batch_size: mismatch}}``: :func:`stat_noise`'s output mismatch for every setting."""
    return {kind: {b: stat_noise(maps, b, kind, num_groups, seed).mismatch for b in batch_sizes} for kind in kinds}


def summarize_stat_noise(result: StatNoise) -> str:
    """One line: the errors, and the precomputed accuracies if present."""
    text = message("summary.stat_noise", kind=KIND_NAMES[result.kind], batch=result.batch_size,
                   mean_error=f"{result.mean_error:.3f}", std_error=f"{result.std_error:.1%}",
                   mismatch=f"{result.mismatch:.3f}")
    if result.accuracy and result.kind in result.accuracy:
        acc = result.accuracy[result.kind]
        if result.batch_size in acc:
            text += message("summary.stat_noise_accuracy", batch_stats=f"{acc[result.batch_size]:.3f}",
                            eval=f"{acc['eval']:.3f}")
    return text
