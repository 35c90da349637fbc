"""Learning-rate schedules by name, built from ``torch.optim.lr_scheduler`` (pure torch, no plotting).

Chapter 09 teaches and plots them (:mod:`cnncourse.lessons.learning_rate`); the capstone
(:mod:`cnncourse.capstone`) trains with its warm-up + cosine.
"""
from __future__ import annotations

import torch
from torch.optim import lr_scheduler

__all__ = ["SCHEDULES", "make_scheduler"]

SCHEDULES = ("constant", "step", "cosine", "plateau", "warmup", "warmup_cosine", "onecycle")


def make_scheduler(kind: str, optimizer: torch.optim.Optimizer, total_steps: int, *, warmup_steps: int = 0,
                   step_size: int | None = None, gamma: float = 0.1, min_lr: float = 0.0,
                   warmup_start_factor: float | None = None, patience: int = 3, factor: float = 0.5,
                   max_lr: float | None = None, pct_start: float = 0.3):
    """A ``torch.optim.lr_scheduler`` of the given ``kind`` for a run of ``total_steps`` scheduler steps.

    ``kind`` is one of :data:`SCHEDULES`; ``"constant"`` returns None (no scheduler). The base
    learning rate is the optimiser's ``lr`` (for one-cycle: ``max_lr``, default that ``lr``).

    - ``step``: StepLR, multiply by ``gamma`` every ``step_size`` steps (default a third of the run);
    - ``cosine``: CosineAnnealingLR with ``T_max = total_steps`` down to ``min_lr``;
    - ``plateau``: ReduceLROnPlateau(``factor``, ``patience``), stepped with a validation loss;
    - ``warmup``: LinearLR from ``warmup_start_factor`` (default 1/(warmup_steps + 1)) up to the
      base lr over ``warmup_steps`` steps, then constant;
    - ``warmup_cosine``: SequentialLR(LinearLR as above, CosineAnnealingLR(T_max = total_steps −
      warmup_steps, eta_min = min_lr)), switching at ``warmup_steps``;
    - ``onecycle``: OneCycleLR(max_lr, total_steps, pct_start) (its own warm-up, cosine shapes).
    """
    if kind not in SCHEDULES:
        raise ValueError(f"unknown schedule {kind!r}; choose one of {', '.join(SCHEDULES)}")
    if total_steps < 1:
        raise ValueError(f"total_steps must be >= 1; got {total_steps}")
    warmup_steps = int(warmup_steps)
    if kind in ("warmup", "warmup_cosine") and not 0 <= warmup_steps < total_steps:
        raise ValueError(f"warmup_steps must be in [0, total_steps); got {warmup_steps} of {total_steps}")
    start = warmup_start_factor if warmup_start_factor is not None else 1.0 / (warmup_steps + 1)
    if kind == "constant":
        return None
    if kind == "step":
        return lr_scheduler.StepLR(optimizer, step_size=step_size or max(1, total_steps // 3), gamma=gamma)
    if kind == "cosine":
        return lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps, eta_min=min_lr)
    if kind == "plateau":
        return lr_scheduler.ReduceLROnPlateau(optimizer, mode="min", factor=factor, patience=patience)
    if kind == "warmup":
        return lr_scheduler.LinearLR(optimizer, start_factor=start, end_factor=1.0, total_iters=warmup_steps)
    if kind == "warmup_cosine":
        cosine = lr_scheduler.CosineAnnealingLR(optimizer, T_max=total_steps - warmup_steps, eta_min=min_lr)
        if warmup_steps == 0:
            return cosine
        warmup = lr_scheduler.LinearLR(optimizer, start_factor=start, end_factor=1.0, total_iters=warmup_steps)
        return lr_scheduler.SequentialLR(optimizer, [warmup, cosine], milestones=[warmup_steps])
    # onecycle
    peak = max_lr if max_lr is not None else optimizer.param_groups[0]["lr"]
    return lr_scheduler.OneCycleLR(optimizer, max_lr=peak, total_steps=total_steps, pct_start=pct_start)
