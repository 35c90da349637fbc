"""Loss functions: the pure compute behind chapter 07's experiments and widget.

Regression with outliers (MSE vs Smooth L1 / Huber), numerical stability tables (softmax
then log, sigmoid then BCE), the softmax-first mistake, multi-label targets from digits,
an imbalanced subset with per-class metrics, and loss / gradient curves against the margin
for the widget.

Taught in notebooks/07_loss_functions.ipynb.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
import torch.nn.functional as F

from .. import losses
from ..i18n import message

__all__ = [
    "outlier_line_data",
    "REGRESSION_LOSSES",
    "fit_line",
    "regression_curves",
    "stability_rows",
    "bce_rows",
    "softmax_first_rows",
    "MULTILABEL_NAMES",
    "multilabel_targets",
    "per_label_accuracy",
    "imbalanced_indices",
    "per_class_metrics",
    "mean_max_probability",
    "MARGIN_LOSSES",
    "margin_loss",
    "LossView",
    "loss_view",
    "summarize_loss_view",
    "rotate_digits",
    "corrupt_targets",
    "compose_digits",
    "per_label_f1",
    "best_threshold",
    "average_precision",
    "reliability_bins",
    "expected_calibration_error",
    "oversample_indices",
]


# ---------------------------------------------------------------- regression with outliers

def outlier_line_data(n: int = 60, outliers: int = 6, slope: float = 2.0, intercept: float = 1.0,
                      noise: float = 0.3, offset: float = -15.0, seed: int = 0):
    """Points on y = slope * x + intercept (+ Gaussian noise), x in [0, 5], with ``outliers`` corrupted.

    The outliers are the points with the largest x, moved by ``offset`` (a broken sensor
    reading at the end of a range). Returns x (n,), y (n,), is_outlier (n,) bool.
    """
    g = torch.Generator().manual_seed(seed)
    x = torch.linspace(0, 5, n)
    y = slope * x + intercept + noise * torch.randn(n, generator=g)
    is_outlier = torch.zeros(n, dtype=torch.bool)
    if outliers:
        is_outlier[-outliers:] = True
    y = torch.where(is_outlier, y + offset, y)
    return x, y, is_outlier


# name -> factory(reduction) of the loss module
REGRESSION_LOSSES = {
    "MSE": lambda reduction="mean": nn.MSELoss(reduction=reduction),
    "Smooth L1 (beta=1)": lambda reduction="mean": nn.SmoothL1Loss(reduction=reduction, beta=1.0),
    "L1": lambda reduction="mean": nn.L1Loss(reduction=reduction),
}


def fit_line(x: torch.Tensor, y: torch.Tensor, loss: nn.Module, steps: int = 800, lr: float = 0.1) -> tuple[float, float]:
    """Fit y ≈ a * x + b by full-batch Adam on ``loss``; returns (a, b). x, y: (n,). Inputs are not changed.

    Full-batch Adam with a fixed step count is deterministic and, unlike LBFGS, copes with the
    kinks of L1 and Smooth L1.
    """
    params = torch.zeros(2, requires_grad=True)  # (slope, intercept)
    opt = torch.optim.Adam([params], lr=lr)
    for step in range(steps):
        if step == steps // 2:
            for group in opt.param_groups:
                group["lr"] = lr / 10  # settle into the minimum
        opt.zero_grad()
        loss(params[0] * x + params[1], y).backward()
        opt.step()
    return float(params[0].detach()), float(params[1].detach())


def regression_curves(residual: torch.Tensor) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """Each regression loss and its derivative against the residual r = prediction - target.

    residual (M,) -> {name: (loss (M,), d loss / d r (M,))}, per sample (no mean).
    """
    out = {}
    for name, make in REGRESSION_LOSSES.items():
        r = residual.detach().clone().requires_grad_(True)
        per_sample = make("none")(r, torch.zeros_like(r))
        (grad,) = torch.autograd.grad(per_sample.sum(), r)
        out[name] = (per_sample.detach(), grad)
    return out


# ---------------------------------------------------------------- numerical stability

def stability_rows(scales, pattern=(1.0, 0.5, -1.0), target: int = 1, dtype=torch.float32) -> list[dict]:
    """Naive softmax-then-log vs log-sum-exp cross-entropy for logits ``scale * pattern``.

    One row per scale: {"scale", "naive", "stable", "torch", "exact"} where "exact" is
    the stable formula in float64 (the true value).
    """
    rows = []
    for scale in scales:
        z = (scale * torch.tensor(pattern, dtype=torch.float64))[None]  # (1, K)
        t = torch.tensor([target])
        rows.append({
            "scale": float(scale),
            "naive": float(losses.naive_cross_entropy(z.to(dtype), t)),
            "stable": float(losses._cross_entropy(z.to(dtype), t)),
            "torch": float(F.cross_entropy(z.to(dtype), t)),
            "exact": float(losses._cross_entropy(z, t)),
        })
    return rows


def bce_rows(xs, target: float, dtype=torch.float32) -> list[dict]:
    """``nn.BCELoss()(sigmoid(x), t)`` vs ``nn.BCEWithLogitsLoss()(x, t)``, values and d loss / dx.

    One row per logit x: {"x", "sigmoid", "bce", "bce_with_logits", "exact", "grad_bce",
    "grad_with_logits", "grad_exact"}; "exact" is softplus in float64:
    -[t log s + (1-t) log(1-s)] = softplus(x) - t * x, with gradient sigmoid(x) - t.
    """
    rows = []
    for x0 in xs:
        x1 = torch.tensor([float(x0)], dtype=dtype, requires_grad=True)
        t = torch.tensor([float(target)], dtype=dtype)
        s = torch.sigmoid(x1)
        bce = nn.BCELoss()(s, t)
        (g1,) = torch.autograd.grad(bce, x1)
        x2 = torch.tensor([float(x0)], dtype=dtype, requires_grad=True)
        bwl = nn.BCEWithLogitsLoss()(x2, t)
        (g2,) = torch.autograd.grad(bwl, x2)
        x64 = torch.tensor(float(x0), dtype=torch.float64)
        rows.append({
            "x": float(x0), "sigmoid": float(s.detach()), "bce": float(bce.detach()),
            "bce_with_logits": float(bwl.detach()),
            "exact": float(F.softplus(x64) - target * x64),
            "grad_bce": float(g1), "grad_with_logits": float(g2),
            "grad_exact": float(torch.sigmoid(x64) - target),
        })
    return rows


def softmax_first_rows(logits: torch.Tensor, targets: torch.Tensor) -> list[dict]:
    """``nn.CrossEntropyLoss`` on logits (right) vs on ``softmax(logits)`` (the common mistake).

    logits (N, K), targets (N,). One row per sample: the true-class probability, both losses,
    and the norm of d loss / d logits for both (per sample, reduction="none").
    """
    rows = []
    for i in range(logits.shape[0]):
        z1 = logits[i:i + 1].detach().clone().requires_grad_(True)
        right = F.cross_entropy(z1, targets[i:i + 1])
        (g1,) = torch.autograd.grad(right, z1)
        z2 = logits[i:i + 1].detach().clone().requires_grad_(True)
        wrong = F.cross_entropy(z2.softmax(dim=1), targets[i:i + 1])
        (g2,) = torch.autograd.grad(wrong, z2)
        rows.append({
            "p_true": float(logits[i].softmax(0)[targets[i]]),
            "loss": float(right.detach()), "loss_softmax_first": float(wrong.detach()),
            "grad_norm": float(g1.norm()), "grad_norm_softmax_first": float(g2.norm()),
        })
    return rows


# ---------------------------------------------------------------- multi-label and imbalance

MULTILABEL_NAMES = ("even", "greater than 4", "prime")
_PRIMES = (2, 3, 5, 7)


def multilabel_targets(labels: torch.Tensor) -> torch.Tensor:
    """Digit labels (N,) int64 -> three yes/no labels (N, 3) float32: even, > 4, prime.

    A digit can be several at once (2 is even and prime; 7 is > 4 and prime): multi-label.
    """
    even = labels % 2 == 0
    big = labels > 4
    prime = torch.isin(labels, torch.tensor(_PRIMES, device=labels.device))
    return torch.stack([even, big, prime], dim=1).float()


def per_label_accuracy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Fraction right per label: logits (N, L) thresholded at 0 (probability 0.5) vs targets (N, L) -> (L,)."""
    return ((logits > 0).float() == targets).float().mean(dim=0)


def imbalanced_indices(labels: torch.Tensor, rare_class: int, keep: int, seed: int = 0) -> torch.Tensor:
    """Indices (sorted) of every sample, except that only ``keep`` random samples of ``rare_class`` stay."""
    g = torch.Generator().manual_seed(seed)
    rare = torch.nonzero(labels == rare_class).squeeze(1)
    kept = rare[torch.randperm(rare.numel(), generator=g)[:keep]]
    others = torch.nonzero(labels != rare_class).squeeze(1)
    return torch.cat([others, kept]).sort().values


def per_class_metrics(labels: torch.Tensor, predictions: torch.Tensor, num_classes: int) -> dict[str, torch.Tensor]:
    """Per-class precision, recall and F1 (each (K,)), and overall accuracy, from (N,) labels and predictions.

    A class never predicted has precision 0 (and F1 0), as in scikit-learn's ``zero_division=0``.
    """
    k = num_classes
    cm = torch.bincount(labels * k + predictions, minlength=k * k).reshape(k, k).double()  # rows: true
    tp = cm.diag()
    precision = torch.where(cm.sum(0) > 0, tp / cm.sum(0).clamp_min(1), torch.zeros_like(tp))
    recall = torch.where(cm.sum(1) > 0, tp / cm.sum(1).clamp_min(1), torch.zeros_like(tp))
    denom = precision + recall
    f1 = torch.where(denom > 0, 2 * precision * recall / denom.clamp_min(1e-12), torch.zeros_like(tp))
    return {"precision": precision, "recall": recall, "f1": f1, "accuracy": tp.sum() / cm.sum()}


def mean_max_probability(probabilities: torch.Tensor) -> float:
    """Mean over samples of the largest class probability (the model's average confidence). (N, K) -> float."""
    return float(probabilities.max(dim=1).values.mean())


# ---------------------------------------------------------------- the widget: loss vs margin

def _ce(m, gamma, smoothing):
    return F.softplus(-m)


def _focal(m, gamma, smoothing):
    return (1 - torch.sigmoid(m)) ** gamma * F.softplus(-m)


def _smoothed(m, gamma, smoothing):
    q_other = smoothing / 2  # two classes: the smoothed target is (1 - eps/2, eps/2)
    return (1 - q_other) * F.softplus(-m) + q_other * F.softplus(m)


def _brier(m, gamma, smoothing):
    return (1 - torch.sigmoid(m)) ** 2  # MSE between (p, 1 - p) and (1, 0), mean over the 2 entries


def _hinge(m, gamma, smoothing):
    return F.relu(1 - m)


def _softmax_first(m, gamma, smoothing):
    p = torch.sigmoid(m)  # CrossEntropyLoss fed (p, 1 - p) as if they were logits: margin 2p - 1
    return F.softplus(-(2 * p - 1))


MARGIN_LOSSES = {
    "cross-entropy": _ce,
    "focal": _focal,
    "label-smoothed CE": _smoothed,
    "MSE on probabilities": _brier,
    "hinge (SVM)": _hinge,
    "CE after softmax (mistake)": _softmax_first,
}


def margin_loss(name: str, margin: torch.Tensor, gamma: float = 2.0, smoothing: float = 0.1) -> torch.Tensor:
    """A two-class loss as a function of the margin m = z_true - z_other (so p_true = sigmoid(m))."""
    try:
        fn = MARGIN_LOSSES[name]
    except KeyError:
        raise ValueError(f"unknown loss {name!r}; choose one of {list(MARGIN_LOSSES)}") from None
    return fn(margin, gamma, smoothing)


@dataclass(frozen=True)
class LossView:
    """Loss and gradient curves of every margin loss, and the chosen one at the chosen margin."""

    grid: torch.Tensor  # (M,) margins
    curves: dict  # name -> (loss (M,), d loss / d margin (M,))
    loss: str
    margin: float
    p_true: float
    value: float
    gradient: float
    gamma: float


def loss_view(loss: str = "cross-entropy", margin: float = 1.0, gamma: float = 2.0, smoothing: float = 0.1,
              grid: torch.Tensor | None = None) -> LossView:
    """Compute every margin loss and its derivative on ``grid`` (default: 301 margins in [-6, 6])."""
    grid = torch.linspace(-6, 6, 301, dtype=torch.float64) if grid is None else grid.to(torch.float64)
    curves = {}
    for name in MARGIN_LOSSES:
        m = grid.clone().requires_grad_(True)
        values = margin_loss(name, m, gamma, smoothing)
        (grad,) = torch.autograd.grad(values.sum(), m)
        curves[name] = (values.detach(), grad)
    m0 = torch.tensor(float(margin), dtype=torch.float64, requires_grad=True)
    v0 = margin_loss(loss, m0, gamma, smoothing)
    (g0,) = torch.autograd.grad(v0, m0)
    return LossView(grid, curves, loss, float(margin), float(torch.sigmoid(m0.detach())), float(v0.detach()), float(g0), float(gamma))


def summarize_loss_view(view: LossView) -> str:
    return message("summary.loss_view", loss=view.loss, margin=f"{view.margin:+.2f}", p_true=f"{view.p_true:.3f}",
                   value=f"{view.value:.4f}", gradient=f"{view.gradient:+.4f}")




# ---------------------------------------------------------------- evidence plumbing (chapter 07's experiments)

def rotate_digits(images: torch.Tensor, max_degrees: float = 45.0, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Each image (N, C, H, W) turned by its own random angle, uniform in [-max_degrees, max_degrees].

    Returns (rotated images (N, C, H, W), angles (N,) in degrees; a positive angle turns the image
    clockwise as it is shown, row 0 at the top).
    Bilinear sampling, zeros (background) outside the image. Inputs are not changed.
    """
    g = torch.Generator().manual_seed(seed)
    n = images.shape[0]
    angles = (torch.rand(n, generator=g) * 2 - 1) * max_degrees
    rad = angles * (torch.pi / 180)
    cos, sin = rad.cos(), rad.sin()
    theta = torch.stack([torch.stack([cos, sin, torch.zeros(n)], 1),
                         torch.stack([-sin, cos, torch.zeros(n)], 1)], 1)  # (N, 2, 3)
    grid = F.affine_grid(theta, list(images.shape), align_corners=False)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False), angles


def corrupt_targets(targets: torch.Tensor, fraction: float, offset: float, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """A copy of ``targets`` (N, ...) with a random ``fraction`` of the rows moved by ``offset``.

    Returns (corrupted targets, is_outlier (N,) bool): broken readings, all on one side.
    """
    g = torch.Generator().manual_seed(seed)
    n = targets.shape[0]
    is_outlier = torch.zeros(n, dtype=torch.bool)
    is_outlier[torch.randperm(n, generator=g)[:round(fraction * n)]] = True
    shape = (n,) + (1,) * (targets.ndim - 1)
    return torch.where(is_outlier.view(shape), targets + offset, targets), is_outlier


def compose_digits(images: torch.Tensor, labels: torch.Tensor, n: int, max_digits: int = 3, num_classes: int = 10,
                   seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """``n`` images (n, 1, H, W), each holding 1 to ``max_digits`` digits of different classes.

    The canvas has the size of one digit and four quadrants; each chosen digit is shrunk to a
    quadrant (2x2 average pooling) and put in a random free quadrant. images (M, 1, H, W) and
    labels (M,) are the digits to draw from. Returns (images (n, 1, H, W), targets (n, num_classes)
    float32 multi-hot: 1 for every class present).
    """
    if not 1 <= max_digits <= 4:
        raise ValueError(f"compose_digits: max_digits must be 1..4 (four quadrants); got {max_digits}")
    g = torch.Generator().manual_seed(seed)
    _, c, h, w = images.shape
    small = F.avg_pool2d(images, 2)  # (M, 1, H/2, W/2)
    hh, ww = small.shape[2:]
    by_class = [torch.nonzero(labels == k).squeeze(1) for k in range(num_classes)]
    present = [k for k in range(num_classes) if by_class[k].numel()]
    out = torch.zeros(n, c, h, w)
    targets = torch.zeros(n, num_classes)
    counts = torch.randint(1, max_digits + 1, (n,), generator=g)
    for i in range(n):
        k = int(counts[i])
        classes = torch.tensor(present)[torch.randperm(len(present), generator=g)[:k]]
        quadrants = torch.randperm(4, generator=g)[:k]
        for cls, q in zip(classes.tolist(), quadrants.tolist()):
            pool = by_class[cls]
            j = pool[int(torch.randint(pool.numel(), (1,), generator=g))]
            r0, c0 = (q // 2) * hh, (q % 2) * ww
            out[i, :, r0:r0 + hh, c0:c0 + ww] = small[j]
            targets[i, cls] = 1.0
    return out, targets


def per_label_f1(scores: torch.Tensor, targets: torch.Tensor, threshold: float) -> torch.Tensor:
    """F1 of each label when every score above ``threshold`` counts as "present". (N, L), (N, L) -> (L,).

    A label never predicted and never present has F1 1; predicted or present but never both, 0.
    """
    pred = scores > threshold
    truth = targets > 0.5
    tp = (pred & truth).sum(0).double()
    denom = pred.sum(0).double() + truth.sum(0).double()
    return torch.where(denom > 0, 2 * tp / denom.clamp_min(1), torch.ones_like(tp))


def best_threshold(scores: torch.Tensor, targets: torch.Tensor, grid=None) -> float:
    """The threshold of ``grid`` (default 0.05, 0.10, ..., 0.95) with the highest macro F1 (the mean of per_label_f1)."""
    grid = [i / 20 for i in range(1, 20)] if grid is None else list(grid)
    return max(grid, key=lambda t: float(per_label_f1(scores, targets, t).mean()))


def average_precision(scores: torch.Tensor, targets: torch.Tensor) -> float:
    """Area under the precision-recall curve as scikit-learn's ``average_precision_score`` computes it.

    scores (N,) (higher = more likely positive), targets (N,) 0/1. The mean, over the positives,
    of the precision among all samples scored at least as high as that positive (ties counted
    together). 0 positives: nan.
    """
    s = scores.detach().double().flatten()
    t = (targets.flatten() > 0.5).double()
    if t.sum() == 0:
        return float("nan")
    order = torch.argsort(s, descending=True, stable=True)
    s, t = s[order], t[order]
    tp, seen = torch.cumsum(t, 0), torch.arange(1, s.numel() + 1, dtype=torch.float64)
    last = torch.ones_like(s, dtype=torch.bool)  # the last sample of each run of tied scores
    last[:-1] = s[1:] != s[:-1]
    tp, seen = tp[last], seen[last]
    precision = tp / seen
    recall_step = torch.diff(tp, prepend=torch.zeros(1, dtype=torch.float64)) / t.sum()
    return float((precision * recall_step).sum())


def reliability_bins(probabilities: torch.Tensor, labels: torch.Tensor, bins: int = 15) -> tuple[list, list, list]:
    """Per confidence bin ((b/B, (b+1)/B], b = 0..B-1): mean confidence, accuracy and count.

    probabilities (N, K), labels (N,) int64 -> three lists of ``bins`` floats (nan where a bin is empty).
    The confidence of a sample is its largest probability; accuracy is whether that class is right.
    """
    confidence, predicted = probabilities.max(dim=1)
    correct = (predicted == labels).double()
    confidence = confidence.double()
    which = torch.clamp((confidence * bins).ceil().long() - 1, 0, bins - 1)
    conf, acc, count = [], [], []
    for b in range(bins):
        inside = which == b
        k = int(inside.sum())
        count.append(k)
        conf.append(float(confidence[inside].mean()) if k else float("nan"))
        acc.append(float(correct[inside].mean()) if k else float("nan"))
    return conf, acc, count


def expected_calibration_error(probabilities: torch.Tensor, labels: torch.Tensor, bins: int = 15) -> float:
    """ECE (Guo et al. 2017): bin the samples by confidence (the largest probability) into ``bins``
    equal-width bins; the mean over samples of |accuracy − mean confidence| of its bin.

    probabilities (N, K), labels (N,) int64 -> float in [0, 1]. 0 is perfectly calibrated.
    """
    conf, acc, count = reliability_bins(probabilities, labels, bins)
    total = sum(k * abs(a - c) for c, a, k in zip(conf, acc, count) if k)
    return float(total / labels.numel())


def oversample_indices(targets: torch.Tensor, seed: int = 0) -> torch.Tensor:
    """Indices into binary ``targets`` (N,) 0/1 where each positive repeats until the classes balance.

    Every negative once, every positive ``round(negatives / positives)`` times, shuffled.
    """
    pos = torch.nonzero(targets == 1).squeeze(1)
    neg = torch.nonzero(targets == 0).squeeze(1)
    if pos.numel() == 0:
        raise ValueError("oversample_indices: there is no positive sample to repeat")
    times = max(1, round(neg.numel() / pos.numel()))
    idx = torch.cat([neg, pos.repeat(times)])
    g = torch.Generator().manual_seed(seed)
    return idx[torch.randperm(idx.numel(), generator=g)]
