"""Preprocessing and data cleaning: three kinds of scaling, duplicate finders, per-sample losses,
injected label noise, shifted digits and what a crop keeps of a digit.

Taught in notebooks/06_data_augmentation.ipynb.
"""
from __future__ import annotations

import hashlib
from collections import defaultdict

import numpy as np
import torch
from torch import nn
import torch.nn.functional as F

__all__ = [
    "min_max_scale",
    "center",
    "scaling_table",
    "image_hashes",
    "find_duplicates",
    "cross_duplicates",
    "nearest_neighbours",
    "per_sample_losses",
    "normalisation_leak",
    "flip_labels",
    "shift_images",
    "correct_on",
    "crop_boxes",
    "ink_kept",
]


def _per_channel(stat: torch.Tensor | float, like: torch.Tensor) -> torch.Tensor:
    """A (C,) statistic (or a scalar) shaped (1, C, 1, 1) to broadcast over (N, C, H, W)."""
    stat = torch.as_tensor(stat, dtype=like.dtype, device=like.device)
    return stat.view(1, -1, 1, 1) if stat.ndim == 1 else stat


def min_max_scale(x: torch.Tensor, low: torch.Tensor | float | None = None,
                  high: torch.Tensor | float | None = None) -> torch.Tensor:
    """Min-max scaling of (N, C, H, W) to [0, 1] per channel: (x - low) / (high - low).

    ``low``/``high`` default to each channel's minimum and maximum over ``x``; pass the
    training set's values when scaling other data.
    """
    low = x.amin(dim=(0, 2, 3)) if low is None else low
    high = x.amax(dim=(0, 2, 3)) if high is None else high
    low, high = _per_channel(low, x), _per_channel(high, x)
    return (x - low) / (high - low).clamp_min(1e-12)


def _standardize(x: torch.Tensor, mean: torch.Tensor | float, std: torch.Tensor | float) -> torch.Tensor:
    """Standardisation of (N, C, H, W) with (C,) statistics: (x - mean) / std (zero mean, unit variance)."""
    return (x - _per_channel(mean, x)) / _per_channel(std, x)


def center(x: torch.Tensor, mean: torch.Tensor | float) -> torch.Tensor:
    """Centring of (N, C, H, W) with a (C,) mean: x - mean (zero mean, the spread is kept)."""
    return x - _per_channel(mean, x)


def scaling_table(x: torch.Tensor) -> dict[str, dict[str, float]]:
    """min, max, mean and std of x (N, C, H, W) after each scaling (statistics from x itself)."""
    mean, std = x.mean(dim=(0, 2, 3)), x.std(dim=(0, 2, 3))
    versions = {
        "raw": x,
        "min-max [0,1]": min_max_scale(x),
        "centred": center(x, mean),
        "standardised": _standardize(x, mean, std),
    }
    return {name: {"min": v.min().item(), "max": v.max().item(), "mean": v.mean().item(), "std": v.std().item()}
            for name, v in versions.items()}


# ------------------------------------------------------------------ duplicates

def image_hashes(images: torch.Tensor) -> list[str]:
    """SHA-1 of each image's bytes (N, C, H, W) -> N hex strings: equal hash = identical image."""
    arr = np.ascontiguousarray(images.detach().cpu().numpy())
    return [hashlib.sha1(a.tobytes()).hexdigest() for a in arr]


def find_duplicates(images: torch.Tensor) -> list[list[int]]:
    """Groups of indices of byte-identical images (only groups of 2 or more), in index order."""
    groups: dict[str, list[int]] = defaultdict(list)
    for i, h in enumerate(image_hashes(images)):
        groups[h].append(i)
    return sorted((g for g in groups.values() if len(g) > 1), key=lambda g: g[0])


def cross_duplicates(a: torch.Tensor, b: torch.Tensor) -> list[tuple[int, int]]:
    """Pairs (i, j) with a[i] byte-identical to b[j]: e.g. test images that also sit in the training set."""
    where: dict[str, list[int]] = defaultdict(list)
    for i, h in enumerate(image_hashes(a)):
        where[h].append(i)
    return [(i, j) for j, h in enumerate(image_hashes(b)) for i in where.get(h, [])]


def nearest_neighbours(a: torch.Tensor, b: torch.Tensor | None = None, chunk: int = 1024) -> tuple[torch.Tensor, torch.Tensor]:
    """For each image of a (N, C, H, W): the Euclidean distance to, and index of, its nearest image in b.

    ``b=None`` searches a itself (excluding the image itself). Returns two (N,) tensors.
    Near-duplicates (a re-saved or slightly shifted copy) have small but non-zero distances.
    """
    fa = a.flatten(1).float()
    fb = fa if b is None else b.flatten(1).float()
    dists, index = [], []
    for start in range(0, fa.shape[0], chunk):
        d = torch.cdist(fa[start:start + chunk], fb)  # (chunk, M)
        if b is None:
            rows = torch.arange(d.shape[0])
            d[rows, rows + start] = float("inf")
        m, j = d.min(dim=1)
        dists.append(m)
        index.append(j)
    return torch.cat(dists), torch.cat(index)


# ------------------------------------------------------------------ suspicious labels

@torch.no_grad()
def per_sample_losses(model: nn.Module, images: torch.Tensor, labels: torch.Tensor,
                      batch_size: int = 512) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of every sample (N,) and the predicted class (N,) under ``model``.

    The model is put in eval mode for the call and its mode restored; nothing else changes.
    High-loss training samples are where wrong labels and odd images hide.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    losses, preds = [], []
    try:
        for start in range(0, images.shape[0], batch_size):
            x = images[start:start + batch_size].to(device)
            y = labels[start:start + batch_size].to(device)
            out = model(x)
            losses.append(F.cross_entropy(out, y, reduction="none").cpu())
            preds.append(out.argmax(1).cpu())
    finally:
        model.train(was_training)
    return torch.cat(losses), torch.cat(preds)


# ------------------------------------------------------------------ leakage

def normalisation_leak(train: torch.Tensor, held_out: torch.Tensor) -> dict[str, float]:
    """How statistics of the whole data set differ from those of the training set alone.

    Returns the (channel-averaged) mean and std computed on train only and on train + held_out,
    and the mean of the held-out images after each normalisation: with whole-data statistics,
    the held-out set's values have been used to fit the preprocessing, i.e. they leaked.
    """
    whole = torch.cat([train, held_out])
    m_tr, s_tr = train.mean(dim=(0, 2, 3)), train.std(dim=(0, 2, 3))
    m_all, s_all = whole.mean(dim=(0, 2, 3)), whole.std(dim=(0, 2, 3))
    return {
        "train mean": m_tr.mean().item(), "train std": s_tr.mean().item(),
        "whole mean": m_all.mean().item(), "whole std": s_all.mean().item(),
        "held-out mean (train stats)": _standardize(held_out, m_tr, s_tr).mean().item(),
        "held-out mean (whole stats)": _standardize(held_out, m_all, s_all).mean().item(),
    }


# ------------------------------------------------------------------ experiments' plumbing

def flip_labels(labels: torch.Tensor, fraction: float, seed: int = 0, num_classes: int = 10) -> tuple[torch.Tensor, torch.Tensor]:
    """A copy of ``labels`` (N,) with about ``fraction`` of them changed to a *different* random class.

    Returns (noisy labels (N,), flipped (N,) bool mask). Seeded by ``seed`` alone.
    """
    if not 0 <= fraction <= 1:
        raise ValueError(f"flip_labels: fraction must be in [0, 1]; got {fraction}")
    g = torch.Generator().manual_seed(seed)
    flipped = torch.rand(labels.shape[0], generator=g) < fraction
    noisy = labels.clone()
    offset = torch.randint(1, num_classes, (int(flipped.sum()),), generator=g)  # 1..C-1: never the same class
    noisy[flipped] = (labels[flipped] + offset.to(labels.dtype)) % num_classes
    return noisy, flipped


def shift_images(images: torch.Tensor, dx: int, dy: int = 0) -> torch.Tensor:
    """Shift (N, C, H, W) images right by dx and down by dy pixels; the pixels that come in are 0."""
    H, W = images.shape[-2:]
    padded = F.pad(images, (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0)))
    top, left = max(-dy, 0), max(-dx, 0)
    return padded[..., top:top + H, left:left + W]


@torch.no_grad()
def correct_on(model: nn.Module, images: torch.Tensor, labels: torch.Tensor, shift: int = 0,
               batch_size: int = 1024) -> torch.Tensor:
    """Which images (N,) ``model`` classifies right (bool, on the CPU), after shifting them ``shift`` px right and down.

    Runs in eval mode on the model's device and restores the mode.
    """
    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = []
    try:
        for start in range(0, images.shape[0], batch_size):
            x = shift_images(images[start:start + batch_size], shift, shift).to(device)
            out.append(model(x).argmax(1).cpu() == labels[start:start + batch_size].cpu())
    finally:
        model.train(was_training)
    return torch.cat(out)


def crop_boxes(crop, n: int, size: tuple[int, int], seed: int = 0) -> list[tuple[int, int, int, int]]:
    """``n`` random boxes (top, left, height, width) that a ``v2.RandomResizedCrop`` draws on ``size`` images.

    Uses the transform's own ``make_params`` under ``torch.manual_seed(seed)`` (the global RNG is
    saved and restored), so the boxes are exactly what the transform would cut.
    """
    state = torch.random.get_rng_state()
    torch.manual_seed(seed)
    try:
        dummy = torch.zeros(1, *size)
        boxes = []
        for _ in range(n):
            p = crop.make_params([dummy])
            boxes.append((int(p["top"]), int(p["left"]), int(p["height"]), int(p["width"])))
        return boxes
    finally:
        torch.random.set_rng_state(state)


def ink_kept(images: torch.Tensor, boxes) -> torch.Tensor:
    """For each image (N, C, H, W) and its box (top, left, height, width): the share of its ink inside the box (N,)."""
    kept = []
    for img, (top, left, h, w) in zip(images, boxes):
        total = img.sum().clamp_min(1e-12)
        kept.append(img[..., top:top + h, left:left + w].sum() / total)
    return torch.stack(kept)
