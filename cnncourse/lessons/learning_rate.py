"""Chapter 09's compute functions: learning-rate schedules as LR curves, the LR range test, and
the scheduler of one training run (:class:`RunSpec`).

Every schedule here is a real ``torch.optim.lr_scheduler`` object (StepLR, CosineAnnealingLR,
ReduceLROnPlateau, LinearLR + SequentialLR, OneCycleLR); :func:`schedule_lrs` steps one on a
dummy optimiser and records the learning rate, so the curves in the chapter and its widget are
exactly what training would use. Nothing here changes its inputs (the range test trains a copy
of the model). The training runs and their comparisons (:mod:`cnncourse.stats`) are in the
notebook's cells; its figures are in ``cnncourse.drawing.learning_rate``.

Taught in notebooks/09_learning_rate.ipynb.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Callable, Iterable, Sequence

import torch
from torch import Tensor, nn
from torch.optim import lr_scheduler

from ..i18n import message
from ..schedules import SCHEDULES, make_scheduler

__all__ = [
    "SCHEDULES",
    "LABELS",
    "make_scheduler",
    "plateau_losses",
    "record_lrs",
    "schedule_lrs",
    "format_schedule_table",
    "ScheduleCurve",
    "explore",
    "summarize_explore",
    "RangeTest",
    "lr_range_test",
    "format_range_test",
    "RunSpec",
]

LABELS = {
    "constant": "fixed LR", "step": "step decay", "cosine": "cosine annealing", "plateau": "ReduceLROnPlateau",
    "warmup": "linear warm-up", "warmup_cosine": "warm-up + cosine", "onecycle": "one-cycle",
}


# ----------------------------------------------------------------------------- schedules

def plateau_losses(total_steps: int, seed: int = 0, noise: float = 0.03) -> Tensor:
    """A synthetic validation-loss curve (total_steps,): fast progress, then a noisy plateau.

    0.3 + 2·exp(−8·t/total_steps) + noise·N(0, 1), from a seeded generator: what a real
    validation loss looks like, to feed ReduceLROnPlateau when there is no training run.
    """
    t = torch.arange(total_steps, dtype=torch.float64)
    g = torch.Generator().manual_seed(seed)
    return 0.3 + 2.0 * torch.exp(-8.0 * t / total_steps) + noise * torch.randn(total_steps, generator=g, dtype=torch.float64)


def record_lrs(make: Callable[[torch.optim.Optimizer], object], steps: int, base_lr: float = 0.1,
               metrics: Sequence[float] | Tensor | None = None, scheduler_first: bool = False,
               optimizer: str = "sgd") -> Tensor:
    """The lr used at each of ``steps`` steps by the scheduler ``make(optimizer)`` -> (steps,) float64.

    A dummy optimiser (``"sgd"`` or ``"adam"``) on one weight at ``base_lr``; each step reads the
    lr, calls ``optimizer.step()`` and then ``scheduler.step()`` (``scheduler.step(metrics[t])``
    when ``metrics`` are given, for ReduceLROnPlateau). ``scheduler_first=True`` calls
    ``scheduler.step()`` *before* ``optimizer.step()`` instead (the pre-1.1 order; PyTorch warns,
    and this function lets the warning through). ``make`` may return None (a fixed lr).
    """
    weight = torch.zeros(1, requires_grad=True)
    opt_class = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam}[optimizer]
    opt = opt_class([weight], lr=base_lr)
    scheduler = make(opt)
    if metrics is not None and len(metrics) < steps:
        raise ValueError(f"one metric per step is needed: {len(metrics)} metrics for {steps} steps")

    def advance(t):
        if scheduler is None:
            return
        if metrics is not None:
            scheduler.step(float(metrics[t]))
        else:
            scheduler.step()

    lrs = []
    for t in range(steps):
        if scheduler_first:
            advance(t)
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()  # no gradient: the weight does not move, but the scheduler sees a step was taken
        if not scheduler_first:
            advance(t)
    return torch.tensor(lrs, dtype=torch.float64)


def schedule_lrs(kind: str, total_steps: int, base_lr: float = 0.1, metrics: Sequence[float] | Tensor | None = None,
                 **params) -> Tensor:
    """The learning rate used at each of ``total_steps`` steps under a schedule -> (total_steps,) float64.

    Steps a real scheduler (:func:`make_scheduler`, same ``params``) on a dummy SGD optimiser in
    the right order — read the lr, ``optimizer.step()``, then ``scheduler.step()`` — so entry t is
    the lr that step t trains with (:func:`record_lrs`). ReduceLROnPlateau is stepped with
    ``metrics[t]`` (default :func:`plateau_losses`).
    """
    if kind == "plateau":
        metrics = plateau_losses(total_steps) if metrics is None else torch.as_tensor(metrics, dtype=torch.float64)
    else:
        metrics = None
    return record_lrs(lambda opt: make_scheduler(kind, opt, total_steps, **params), total_steps, base_lr, metrics)


def format_schedule_table(curves: dict[str, Tensor], at: Sequence[int]) -> str:
    """The learning rate of each schedule at the given steps, one row per schedule."""
    head = f"{'schedule':<18}" + "".join(f"{'step ' + str(t):>11}" for t in at)
    lines = [head]
    for kind, lrs in curves.items():
        lines.append(f"{LABELS.get(kind, kind):<18}" + "".join(f"{lrs[t].item():>11.5f}" for t in at))
    return "\n".join(lines)


# ----------------------------------------------------------------------------- the widget

@dataclass(frozen=True)
class ScheduleCurve:
    """One schedule's lr per step, with the settings that produced it."""

    kind: str
    lrs: Tensor  # (total_steps,)
    peak_lr: float
    warmup_steps: int
    step_size: int
    gamma: float
    metrics: Tensor | None = None

    @property
    def mean_lr(self) -> float:
        return float(self.lrs.mean())


_EXPLORE_STEPS = 200
_EXPLORE_METRICS = plateau_losses(_EXPLORE_STEPS)


def explore(schedule: str = "warmup_cosine", peak_lr: float = 0.1, warmup_fraction: float = 0.1,
            step_fraction: float = 0.3, gamma: float = 0.1, total_steps: int = _EXPLORE_STEPS) -> ScheduleCurve:
    """The lr curve of one schedule over ``total_steps`` steps (the widget's compute function).

    ``peak_lr`` is the base lr (one-cycle's ``max_lr``); ``warmup_fraction`` of the steps warm up
    (warm-up schedules; one-cycle's ``pct_start``); ``step_fraction`` of the run is StepLR's
    ``step_size``; ``gamma`` is StepLR's decay factor and ReduceLROnPlateau's ``factor``.
    """
    warmup = int(round(warmup_fraction * total_steps))
    warmup = min(max(warmup, 0), total_steps - 1)
    step_size = max(1, int(round(step_fraction * total_steps)))
    params: dict = {}
    metrics = None
    if schedule in ("warmup", "warmup_cosine"):
        params["warmup_steps"] = warmup
    elif schedule == "step":
        params.update(step_size=step_size, gamma=gamma)
    elif schedule == "plateau":
        metrics = _EXPLORE_METRICS if total_steps == _EXPLORE_STEPS else plateau_losses(total_steps)
        params.update(factor=min(max(gamma, 0.01), 0.99), patience=10, metrics=metrics)
    elif schedule == "onecycle":
        params["pct_start"] = min(max(warmup_fraction, 0.01), 0.99)
    lrs = schedule_lrs(schedule, total_steps, base_lr=peak_lr, **params)
    return ScheduleCurve(schedule, lrs, peak_lr, warmup, step_size, gamma, metrics)


def summarize_explore(c: ScheduleCurve) -> str:
    return message("summary.schedule", label=LABELS[c.kind], max=f"{c.lrs.max().item():.3g}",
                   last=f"{c.lrs[-1].item():.3g}", mean=f"{c.mean_lr:.3g}", share=f"{c.mean_lr / c.peak_lr:.0%}")


# ----------------------------------------------------------------------------- LR range test

@dataclass(frozen=True)
class RangeTest:
    """An LR range test: the lr and loss of every step, smoothed, and the lr it suggests."""

    lrs: Tensor       # (steps,) the lr of each step, exponentially increasing
    losses: Tensor    # (steps,) the raw mini-batch losses
    smoothed: Tensor  # (steps,) bias-corrected exponential moving average of the losses
    best_lr: float    # lr at the lowest smoothed loss
    steepest_lr: float  # lr where the smoothed loss falls fastest (per unit of log lr)
    stopped_early: bool

    @property
    def suggested_lr(self) -> float:
        """The usual pick (Smith 2017; fastai): a tenth of the lr at the lowest smoothed loss."""
        return self.best_lr / 10


def lr_range_test(model: nn.Module, loader: Iterable, make_optimizer: Callable | None = None,
                  start_lr: float = 1e-5, end_lr: float = 10.0, steps: int = 200, beta: float = 0.98,
                  diverge_factor: float = 4.0, loss_fn: Callable | None = None) -> RangeTest:
    """Smith's LR range test (Smith 2017, "Cyclical learning rates", section 3.3).

    Train a *copy* of ``model`` for up to ``steps`` mini-batches (cycling through ``loader``),
    raising the lr exponentially from ``start_lr`` to ``end_lr`` with ``ExponentialLR``; record
    each batch's loss. Stop once the smoothed loss exceeds ``diverge_factor`` times its minimum
    (or is not finite). ``make_optimizer(params, lr)`` defaults to SGD with momentum 0.9.
    The caller's model is not changed.
    """
    if not 0 < start_lr < end_lr:
        raise ValueError(f"need 0 < start_lr < end_lr; got {start_lr}, {end_lr}")
    if steps < 10:
        raise ValueError(f"the range test needs at least 10 steps; got {steps}")
    net = copy.deepcopy(model)
    net.train()
    make_optimizer = make_optimizer or (lambda params, lr: torch.optim.SGD(params, lr=lr, momentum=0.9))
    loss_fn = loss_fn or nn.CrossEntropyLoss()
    optimizer = make_optimizer(net.parameters(), start_lr)
    for group in optimizer.param_groups:
        group["lr"] = start_lr
    gamma = (end_lr / start_lr) ** (1 / (steps - 1))
    scheduler = lr_scheduler.ExponentialLR(optimizer, gamma=gamma)  # lr_t = start_lr · gamma^t
    lrs, losses, smoothed = [], [], []
    avg, best = 0.0, math.inf
    stopped = False
    batches = iter(loader)
    while len(lrs) < steps:
        try:
            x, y = next(batches)
        except StopIteration:
            batches = iter(loader)
            continue
        lr = optimizer.param_groups[0]["lr"]
        loss = loss_fn(net(x), y)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
        value = loss.item()
        avg = beta * avg + (1 - beta) * value
        smooth = avg / (1 - beta ** (len(lrs) + 1))
        lrs.append(lr)
        losses.append(value)
        smoothed.append(smooth)
        if not math.isfinite(smooth) or smooth > diverge_factor * best:
            stopped = True
            break
        best = min(best, smooth)
    lrs_t = torch.tensor(lrs, dtype=torch.float64)
    sm = torch.tensor(smoothed, dtype=torch.float64)
    finite = torch.isfinite(sm)
    best_i = int(torch.where(finite, sm, torch.full_like(sm, math.inf)).argmin())
    # steepest descent of the smoothed loss per unit of log10(lr), ignoring the noisy first tenth
    skip = max(1, len(lrs) // 10)
    slope = torch.diff(sm) / torch.diff(lrs_t.log10())
    window = slope[skip:best_i] if best_i > skip else slope[:max(best_i, 1)]
    offset = skip if best_i > skip else 0
    steep_i = offset + int(torch.nan_to_num(window, nan=math.inf).argmin()) if len(window) else best_i
    return RangeTest(lrs_t, torch.tensor(losses, dtype=torch.float64), sm, float(lrs_t[best_i]),
                     float(lrs_t[steep_i]), stopped)


def format_range_test(rt: RangeTest) -> str:
    """The range test as a short table: the smoothed loss at every power of ten of the lr it passed,
    at the lowest point and at its last step (where it stopped, if the loss blew up)."""
    lrs, sm = rt.lrs, rt.smoothed
    rows = []
    for decade in range(math.ceil(math.log10(lrs[0].item()) - 1e-9), math.floor(math.log10(lrs[-1].item())) + 1):
        i = int((lrs.log10() - decade).abs().argmin())
        rows.append((f"lr ≈ 1e{decade:+d}", i))
    rows.append(("lowest loss", int(torch.where(torch.isfinite(sm), sm, torch.full_like(sm, math.inf)).argmin())))
    rows.append(("stopped (blew up)" if rt.stopped_early else "last step", len(lrs) - 1))
    lines = [f"{'':<18} {'step':>5} {'lr':>9} {'smoothed loss':>14}"]
    for name, i in rows:
        lines.append(f"{name:<18} {i:>5} {lrs[i].item():>9.3g} {sm[i].item():>14.3f}")
    return "\n".join(lines)


# ----------------------------------------------------------------------------- training runs

@dataclass(frozen=True)
class RunSpec:
    """One learning-rate setting to train with: SGD (momentum 0.9) at ``lr`` under a schedule.

    ``per_batch`` steps the scheduler after every batch (the run then has epochs × batches
    scheduler steps), otherwise once per epoch. ``params`` go to :func:`make_scheduler`, with
    ``warmup_fraction`` converted to ``warmup_steps``.
    """

    label: str
    lr: float
    schedule: str = "constant"
    per_batch: bool = False
    params: dict = field(default_factory=dict)

    def scheduler_for(self, optimizer: torch.optim.Optimizer, epochs: int, batches_per_epoch: int):
        total = epochs * batches_per_epoch if self.per_batch else epochs
        params = dict(self.params)
        if "warmup_fraction" in params:
            params["warmup_steps"] = int(round(params.pop("warmup_fraction") * total))
        if "step_fraction" in params:
            params["step_size"] = max(1, int(round(params.pop("step_fraction") * total)))
        return make_scheduler(self.schedule, optimizer, total, **params)

    def lrs(self, epochs: int, batches_per_epoch: int) -> Tensor:
        """The lr of every mini-batch of the run, (epochs · batches_per_epoch,) float64.

        (``History.lr`` keeps one value per epoch, read after the epoch's last scheduler step.)
        ReduceLROnPlateau has no fixed curve: it depends on the validation losses of the run.
        """
        if self.schedule == "plateau":
            raise ValueError("ReduceLROnPlateau has no curve before training: it follows the validation loss")
        per_step = schedule = record_lrs(lambda opt: self.scheduler_for(opt, epochs, batches_per_epoch),
                                         epochs if not self.per_batch else epochs * batches_per_epoch, self.lr)
        if not self.per_batch:
            per_step = schedule.repeat_interleave(batches_per_epoch)
        return per_step
