"""Chapter 08's compute functions: 2-D test surfaces (an ill-conditioned bowl, the same bowl
rotated, Rosenbrock), optimiser trajectories with or without gradient noise, Adam's first steps,
per-parameter step sizes and weight decay in Adam vs AdamW.

Every compute function takes numbers or tensors and returns numbers, tensors or a small
dataclass; nothing here changes its inputs. Its figures are in ``cnncourse.drawing.optimizers``. The optimisers themselves live in :mod:`cnncourse.optim`.

Taught in notebooks/08_optimizers.ipynb.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Sequence

import numpy as np
import torch
from torch import Tensor, nn

from ..i18n import message
from ..optim import OPTIMIZERS, adam_update, make_optimizer, rmsprop_update

__all__ = [
    "Surface",
    "SURFACES",
    "quadratic",
    "rotated_quadratic",
    "rosenbrock",
    "ADAPTIVE",
    "LABELS",
    "Trajectory",
    "trajectory",
    "trajectories",
    "steps_to_tolerance",
    "jitter_and_floor",
    "sweep",
    "pick_best",
    "best_trajectories",
    "format_sweep",
    "format_trajectory_table",
    "EXPLORE_STEPS",
    "explore",
    "summarize_explore",
    "AdamRow",
    "adam_first_steps",
    "format_adam_rows",
    "adam_vs_rmsprop_ratio",
    "effective_learning_rates",
    "step_size_table",
    "weight_decay_pull",
    "rate_spread",
    "format_accuracy_grid",
]

LABELS = {
    "sgd": "SGD", "momentum": "SGD + momentum", "nesterov": "Nesterov", "adagrad": "Adagrad",
    "rmsprop": "RMSprop", "adam": "Adam", "adamw": "AdamW",
}
ADAPTIVE = ("adagrad", "rmsprop", "adam", "adamw")  # the optimisers with a per-parameter (diagonal) rate


# ----------------------------------------------------------------------------- 2-D test surfaces

def quadratic(xy: Tensor) -> Tensor:
    """An ill-conditioned bowl f(x, y) = 0.005·x² + 5·y² for points (..., 2) -> (...).

    Its Hessian is diag(0.01, 10): curvature 1000 times larger along y than along x
    (condition number 1000), the shape that makes plain gradient descent zig-zag across the
    valley while it crawls along it. Its axes of curvature are the coordinate axes.
    """
    return 0.005 * xy[..., 0] ** 2 + 5 * xy[..., 1] ** 2


_C45 = math.cos(math.pi / 4)


def rotated_quadratic(xy: Tensor) -> Tensor:
    """:func:`quadratic` turned by 45°: the same bowl, with its valley along the diagonal (..., 2) -> (...).

    f(p) = quadratic(R⁻¹·p) with R the rotation by +45°: the same eigenvalues (0.01 and 10),
    eigenvectors (1, 1)/√2 and (−1, 1)/√2, so no single coordinate is "the steep one".
    """
    x, y = xy[..., 0], xy[..., 1]
    u, v = _C45 * (x + y), _C45 * (y - x)          # R⁻¹·p
    return quadratic(torch.stack([u, v], -1))


def rosenbrock(xy: Tensor) -> Tensor:
    """Rosenbrock's banana valley (1960) f(x, y) = (1 − x)² + 100·(y − x²)², minimum 0 at (1, 1)."""
    x, y = xy[..., 0], xy[..., 1]
    return (1 - x) ** 2 + 100 * (y - x ** 2) ** 2


@dataclass(frozen=True)
class Surface:
    """A 2-D loss surface: its function, minimum, the usual start, plot limits and a tolerance."""

    name: str
    fn: Callable[[Tensor], Tensor]
    minimum: tuple[float, float]
    start: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    tol: float  # "reached" means f(p) - f(minimum) < tol
    f_min: float = 0.0


_ROTATED_START = (_C45 * (-4.0 - 1.0), _C45 * (-4.0 + 1.0))   # R·(−4, 1): the bowl's start, turned with it
SURFACES = {
    "quadratic": Surface("quadratic", quadratic, (0.0, 0.0), (-4.0, 1.0), (-4.5, 4.5), (-1.5, 1.5), tol=1e-3),
    "rotated": Surface("rotated", rotated_quadratic, (0.0, 0.0), _ROTATED_START, (-4.5, 4.5), (-4.5, 4.5), tol=1e-3),
    "rosenbrock": Surface("rosenbrock", rosenbrock, (1.0, 1.0), (-1.2, 1.0), (-2.0, 2.0), (-1.0, 3.0), tol=1e-2),
}


def _surface(surface: str | Surface) -> Surface:
    if isinstance(surface, Surface):
        return surface
    try:
        return SURFACES[surface]
    except KeyError:
        raise ValueError(f"unknown surface {surface!r}; choose one of {sorted(SURFACES)}") from None


@dataclass(frozen=True)
class Trajectory:
    """The path of one optimiser on a surface: points (steps + 1, 2) and losses (steps + 1,)."""

    optimizer: str
    surface: str
    lr: float
    path: Tensor
    losses: Tensor
    diverged: bool

    @property
    def final_loss(self) -> float:
        return float(self.losses[-1])


def trajectory(optimizer_name: str, lr: float, momentum: float = 0.9, betas: tuple[float, float] = (0.9, 0.999),
               steps: int = 150, start: tuple[float, float] | None = None, surface: str | Surface = "quadratic",
               alpha: float = 0.99, impl: str = "ours", noise: float = 0.0, seed: int = 0) -> Trajectory:
    """Run an optimiser (:func:`cnncourse.optim.make_optimizer` name) for ``steps`` steps on a surface.

    ``start`` defaults to the surface's start. The loss is float64 autograd on one point; a
    run that leaves the finite numbers stops there and is flagged ``diverged`` (the rest of
    the path repeats the last finite point, the rest of the losses are inf). ``noise`` > 0 adds
    Gaussian noise of that standard deviation to every gradient coordinate (a stand-in for
    mini-batch noise), drawn from a generator seeded with ``seed``: the same seed gives every
    optimiser the same noise.
    """
    return trajectories(optimizer_name, [lr], momentum, betas, steps, start, surface, alpha, impl, noise, seed)[0]


def trajectories(optimizer_name: str, lrs: Sequence[float], momentum: float = 0.9,
                 betas: tuple[float, float] = (0.9, 0.999), steps: int = 150, start: tuple[float, float] | None = None,
                 surface: str | Surface = "quadratic", alpha: float = 0.99, impl: str = "ours",
                 noise: float = 0.0, seed: int = 0) -> list[Trajectory]:
    """:func:`trajectory` for several learning rates at once, one :class:`Trajectory` each.

    With our optimisers the K runs share one (K, 2) tensor and a (K, 1) learning-rate tensor
    (every rule is element-wise, so the rows never mix); ``torch.optim`` takes one lr at a time.
    With ``noise``, row k gets the same noise sequence in every call with the same ``seed``.
    """
    surf = _surface(surface)
    if impl == "torch" and len(lrs) > 1:
        return [t for lr in lrs for t in trajectories(optimizer_name, [lr], momentum, betas, steps, start, surf, alpha, impl,
                                                      noise, seed)]
    k = len(lrs)
    first = torch.tensor(start if start is not None else surf.start, dtype=torch.float64)
    points = first.repeat(k, 1).requires_grad_(True)                             # (K, 2)
    lr = float(lrs[0]) if impl == "torch" else torch.tensor(lrs, dtype=torch.float64).unsqueeze(1)  # (K, 1)
    opt = make_optimizer(optimizer_name, [points], lr=lr, momentum=momentum, betas=betas, alpha=alpha, impl=impl)
    seen = torch.empty(steps + 1, k, 2, dtype=torch.float64)                     # every step's points and losses,
    seen_losses = torch.empty(steps + 1, k, dtype=torch.float64)                 # divergence sorted out after the loop
    generator = torch.Generator().manual_seed(int(seed)) if noise else None
    for step in range(steps + 1):
        loss = surf.fn(points)                                                   # (K,)
        with torch.no_grad():
            seen[step] = points
            seen_losses[step] = loss
        if step == steps or (step % 10 == 0 and not _finite(seen_losses[step]).any()):
            break                                                                # every run left the finite numbers
        opt.zero_grad()
        loss.sum().backward()                                                    # row k's gradient is ∇f(row k)
        if noise:
            with torch.no_grad():
                points.grad.add_(noise * torch.randn(points.shape, generator=generator, dtype=torch.float64))
        opt.step()
    ran = step + 1
    # a run is alive up to its first non-finite (or huge) loss; from there on its path stays at
    # its last point before it (the start if none) and its losses are inf
    alive_steps = _finite(seen_losses[:ran]).long().cumprod(dim=0).sum(dim=0)   # (K,)
    t = torch.arange(steps + 1).unsqueeze(1)                                     # (steps + 1, 1)
    shown = torch.minimum(t, (alive_steps - 1).clamp(min=0))                     # (steps + 1, K): the step shown
    path = seen.gather(0, shown.unsqueeze(-1).expand(-1, -1, 2))
    losses = torch.where(t < alive_steps, seen_losses.gather(0, shown), math.inf)
    return [Trajectory(optimizer_name, surf.name, float(lrs[i]), path[:, i].clone(), losses[:, i].clone(),
                       bool(alive_steps[i] < ran)) for i in range(k)]


def _finite(loss: Tensor) -> Tensor:
    """Which losses count as a run still going: finite and below 1e12."""
    return torch.isfinite(loss) & (loss < 1e12)


def steps_to_tolerance(traj: Trajectory, tol: float | None = None) -> int | None:
    """The first step from which the loss stays within ``tol`` of the minimum (default: the
    surface's tolerance) until the end of the run, or None if it does not end there."""
    surf = _surface(traj.surface)
    tol = surf.tol if tol is None else tol
    outside = torch.nonzero(~(traj.losses - surf.f_min < tol))
    if not outside.numel():
        return 0
    last_outside = int(outside[-1])
    return last_outside + 1 if last_outside + 1 < len(traj.losses) else None


def jitter_and_floor(traj: Trajectory, start: int | None = None) -> tuple[float, float]:
    """Two summaries of a (noisy) run from step ``start`` (default: the second half) to the end:

    * jitter: the mean |f(p_{t+1}) − f(p_t)|, how much the loss jumps from one step to the next;
    * floor: the mean f(p_t) − f(minimum), how far above the minimum the run hovers.
    """
    start = len(traj.losses) // 2 if start is None else int(start)
    f = traj.losses[start:] - _surface(traj.surface).f_min
    return float((f[1:] - f[:-1]).abs().mean()), float(f.mean())


def sweep(surface: str, lrs: Sequence[float], steps: int = 300, names: Sequence[str] = OPTIMIZERS,
          **kwargs) -> dict[str, list[Trajectory]]:
    """Every optimiser in ``names`` at every learning rate in ``lrs`` on one surface."""
    return {name: trajectories(name, lrs, steps=steps, surface=surface, **kwargs) for name in names}


def pick_best(runs: dict[str, list[Trajectory]]) -> dict[str, Trajectory]:
    """Each optimiser's best run: fewest steps to tolerance, then lowest final loss."""
    def score(t: Trajectory):
        reached = steps_to_tolerance(t)
        return (reached if reached is not None else math.inf, t.final_loss)

    return {name: min(ts, key=score) for name, ts in runs.items()}


def best_trajectories(surface: str, lrs: Sequence[float], steps: int = 300,
                      names: Sequence[str] = OPTIMIZERS, **kwargs) -> dict[str, Trajectory]:
    """Each optimiser at its best learning rate from ``lrs`` (:func:`sweep`, then :func:`pick_best`)."""
    return pick_best(sweep(surface, lrs, steps, names, **kwargs))


def format_sweep(runs: dict[str, list[Trajectory]]) -> str:
    """Steps to tolerance per optimiser (rows) and learning rate (columns); '—' not reached, 'div' diverged."""
    lrs = [t.lr for t in next(iter(runs.values()))]
    head = f"{'optimiser':<15}" + "".join(f"{lr:>8g}" for lr in lrs) + "   reached"
    lines = [head]
    for name, ts in runs.items():
        cells = []
        for t in ts:
            reached = steps_to_tolerance(t)
            cells.append("div" if t.diverged else "—" if reached is None else str(reached))
        ok = sum(c not in ("div", "—") for c in cells)
        lines.append(f"{LABELS.get(name, name):<15}" + "".join(f"{c:>8}" for c in cells) + f"   {ok}/{len(ts)}")
    return "\n".join(lines)


def format_trajectory_table(best: dict[str, dict[str, Trajectory]]) -> str:
    """Rows: optimiser; per surface: best lr, steps to tolerance (or '—'), final loss."""
    surfaces = list(best)
    head = f"{'optimiser':<15}" + "".join(f"| {s:<10} lr  steps  final loss " for s in surfaces)
    rows = [head, "-" * len(head)]
    for name in best[surfaces[0]]:
        row = f"{LABELS.get(name, name):<15}"
        for s in surfaces:
            t = best[s][name]
            reached = steps_to_tolerance(t)
            row += f"| {t.lr:<13.0e} {reached if reached is not None else '—':>5}  {t.final_loss:10.2e} "
        rows.append(row)
    return "\n".join(rows)


@lru_cache(maxsize=8)
def _contour_grid(surface: str, n: int = 100):
    surf = SURFACES[surface]
    xs = torch.linspace(*surf.xlim, n, dtype=torch.float64)
    ys = torch.linspace(*surf.ylim, n, dtype=torch.float64)
    gx, gy = torch.meshgrid(xs, ys, indexing="xy")
    z = surf.fn(torch.stack([gx, gy], -1)) - surf.f_min
    return gx.numpy(), gy.numpy(), np.log10(z.numpy() + 1e-3)




# ----------------------------------------------------------------------------- the widget

EXPLORE_STEPS = 150  # the widget's trajectory length


def explore(optimizer: str = "momentum", surface: str = "quadratic", lr: float = 0.1, momentum: float = 0.9,
            beta1: float = 0.9, beta2: float = 0.999, steps: int = EXPLORE_STEPS) -> Trajectory:
    """The widget's compute: one trajectory; β2 doubles as RMSprop's α (both average g²)."""
    return trajectory(optimizer, lr, momentum=momentum, betas=(beta1, beta2), alpha=beta2,
                      steps=steps, surface=surface)


def summarize_explore(t: Trajectory) -> str:
    reached = steps_to_tolerance(t)
    if t.diverged:
        return message("summary.optimizer_diverged")
    where = message("summary.optimizer_reached", step=reached) if reached is not None \
        else message("summary.optimizer_not_reached")
    return message("summary.optimizer", loss=f"{t.final_loss:.2e}", where=where,
                   x=f"{t.path[-1, 0]:.3f}", y=f"{t.path[-1, 1]:.3f}")


# ----------------------------------------------------------------------------- Adam, made precise

@dataclass(frozen=True)
class AdamRow:
    """One Adam step on a scalar: its moments, corrected moments and steps with and without correction."""

    t: int
    grad: float
    m: float
    v: float
    m_hat: float
    v_hat: float
    step: float            # |Δp| with bias correction (what Adam does)
    step_uncorrected: float  # |Δp| if m and v were used as they are


def adam_first_steps(grads: Sequence[float], lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                     eps: float = 1e-8) -> list[AdamRow]:
    """Adam's state on a scalar parameter fed the gradients ``grads``, one row per step (float64)."""
    beta1, beta2 = betas
    p = torch.zeros((), dtype=torch.float64)
    m, v = torch.zeros_like(p), torch.zeros_like(p)
    rows = []
    for t, g in enumerate(grads, start=1):
        g_t = torch.tensor(float(g), dtype=torch.float64)
        new_p, m, v = adam_update(p, g_t, m, v, t, lr=lr, betas=betas, eps=eps)
        m_hat, v_hat = m / (1 - beta1 ** t), v / (1 - beta2 ** t)
        rows.append(AdamRow(t, float(g), m.item(), v.item(), m_hat.item(), v_hat.item(),
                            abs((new_p - p).item()), abs(lr * m.item() / (math.sqrt(v.item()) + eps))))
        p = new_p
    return rows


def format_adam_rows(rows: Sequence[AdamRow], lr: float) -> str:
    head = f"{'t':>3} {'g':>6} {'m':>8} {'v':>9} {'m_hat':>7} {'v_hat':>7} {'step/lr':>8} {'uncorrected step/lr':>20}"
    lines = [head]
    for r in rows:
        lines.append(f"{r.t:>3} {r.grad:>6.2f} {r.m:>8.4f} {r.v:>9.6f} {r.m_hat:>7.4f} {r.v_hat:>7.4f} "
                     f"{r.step / lr:>8.4f} {r.step_uncorrected / lr:>20.4f}")
    return "\n".join(lines)


def adam_vs_rmsprop_ratio(grads: Tensor, alpha: float = 0.99, lr: float = 1e-3, at: Sequence[int] = (1, 10, 100, 1000)) -> dict[int, float]:
    """Adam with β1 = 0 and β2 = α against RMSprop(α) on the same gradients: |Adam step| / |RMSprop step|.

    Without momentum, Adam is RMSprop plus bias correction, so the ratio is √(1 − α^t) (up to
    eps): RMSprop's un-corrected E[g²] starts near 0, so its first steps are up to 1/√(1 − α)
    times too large; the ratio reaches 1 once α^t is negligible. ``grads``: (T,) gradients of one scalar.
    """
    p_a = p_r = torch.zeros((), dtype=torch.float64)
    m = v = sq = torch.zeros((), dtype=torch.float64)
    ratios = {}
    for t, g in enumerate(grads.double(), start=1):
        new_a, m, v = adam_update(p_a, g, m, v, t, lr=lr, betas=(0.0, alpha))
        new_r, sq, _, _ = rmsprop_update(p_r, g, sq, lr=lr, alpha=alpha)
        if t in at:
            ratios[t] = abs((new_a - p_a).item()) / abs((new_r - p_r).item())
        p_a, p_r = new_a, new_r
    return ratios


# ----------------------------------------------------------------------------- per-parameter steps

def effective_learning_rates(model: nn.Module, optimizer: torch.optim.Optimizer) -> dict[str, Tensor]:
    """For each parameter tensor of ``model``, the per-element factor that multiplies the gradient
    direction (same shape as the parameter):

    * Adam/AdamW: lr / (√v̂ + eps) (multiplies m̂); RMSprop: lr / (√E[g²] + eps);
      Adagrad: lr / (√Σg² + eps); SGD: lr for every element.

    Works with ``torch.optim`` and :mod:`cnncourse.optim` (same state names).
    """
    out = {}
    for name, p in model.named_parameters():
        group = next(g for g in optimizer.param_groups if any(q is p for q in g["params"]))
        state, lr = optimizer.state.get(p, {}), group["lr"]
        if "exp_avg_sq" in state:
            t = float(state["step"])
            v_hat = state["exp_avg_sq"] / (1 - group["betas"][1] ** t)
            out[name] = lr / (v_hat.sqrt() + group["eps"])
        elif "square_avg" in state:
            out[name] = lr / (state["square_avg"].sqrt() + group["eps"])
        elif "sum" in state:
            clr = lr / (1 + (float(state["step"]) - 1) * group["lr_decay"])
            out[name] = clr / (state["sum"].sqrt() + group["eps"])
        else:
            out[name] = torch.full_like(p, lr)
        out[name] = out[name].detach().cpu()
    return out


def step_size_table(grads: dict[str, Tensor], rates: dict[str, Tensor], steps: dict[str, Tensor]) -> str:
    """Per layer: median |grad|, median and 5-95 % range of the effective lr, median |Δp| of one step."""
    head = f"{'parameter':<26} {'median |g|':>10} {'eff. lr median':>14} {'eff. lr 5%..95%':>20} {'median |Δp|':>12}"
    lines = [head]
    for name in rates:
        r = rates[name].flatten().double()
        lo, hi = torch.quantile(r, torch.tensor([0.05, 0.95], dtype=torch.float64)).tolist()
        lines.append(f"{name:<26} {grads[name].abs().median().item():>10.1e} {r.median().item():>14.1e} "
                     f"{lo:>9.1e}..{hi:<9.1e} {steps[name].abs().median().item():>12.1e}")
    return "\n".join(lines)


def weight_decay_pull(grad_scales: Sequence[float], lr: float = 1e-3, weight_decay: float = 0.1,
                      steps: int = 100) -> dict[str, list[float]]:
    """How far weight decay alone moves weights that start at 1, under Adam (L2) and AdamW.

    Each coordinate i gets a loss gradient alternating ±``grad_scales[i]`` (a noisy direction that
    cancels out), so without decay it would stay near 1. Returns, per optimiser, the drift
    (value with decay − value without decay) after ``steps`` steps for each coordinate.
    """
    scales = torch.tensor(grad_scales, dtype=torch.float64)
    result = {}
    for name in ("adam", "adamw"):
        finals = []
        for wd in (weight_decay, 0.0):
            p = torch.ones_like(scales)
            m = v = torch.zeros_like(scales)
            for t in range(1, steps + 1):
                g = scales * (1 if t % 2 else -1)
                p, m, v = adam_update(p, g, m, v, t, lr=lr, weight_decay=wd, decoupled=name == "adamw")
            finals.append(p)
        result[name] = (finals[0] - finals[1]).tolist()
    return result


# ----------------------------------------------------------------------------- per-parameter rates, tuned rates

def rate_spread(rates: Tensor) -> float:
    """How different one tensor's per-element rates are: the 95th over the 5th percentile of ``rates``."""
    r = rates.flatten().double()
    lo, hi = torch.quantile(r, torch.tensor([0.05, 0.95], dtype=torch.float64)).tolist()
    return hi / lo


def format_accuracy_grid(acc: dict[tuple[str, float], list[float]], grids: dict[str, Sequence[float]],
                         best: dict[str, float] | None = None) -> str:
    """One row per optimiser: mean accuracy at each of its learning rates (``acc[name, lr]``: one value
    per seed run), the best marked with '*'; ``grids``: name -> its learning rates, in order."""
    width = max(len(g) for g in grids.values())
    lines = [f"{'optimiser':<15}" + "".join(f" {'lr':>8} {'acc':>6} " for _ in range(width))]
    for name, lrs in grids.items():
        cells = []
        for lr in lrs:
            mark = "*" if best and best.get(name) == lr else " "
            cells.append(f" {lr:>8.0e} {float(np.mean(acc[name, lr])):>6.3f}{mark}")
        lines.append(f"{LABELS.get(name, name):<15}" + "".join(cells))
    return "\n".join(lines)
