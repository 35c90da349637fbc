"""Data augmentation: a noise transform in the style of ``torchvision.transforms.v2``, the
standard per-image pipeline, and a fast per-sample augmentation of whole batches on the device.

Two ways to augment, for two jobs:

* :func:`build_pipeline` returns a ``torchvision.transforms.v2.Compose`` that augments one
  image (C, H, W) at a time (or a batch with ONE random draw shared by all its images, which
  is what v2 does with a batched tensor). Use it with a ``Dataset``/``DataLoader``.
* :class:`BatchAugment` draws *different* random parameters for every sample of an (N, C, H, W)
  batch and applies them in one ``F.affine_grid`` / ``F.grid_sample`` call, on whatever device
  the batch lives on. Use it as ``TensorLoader(..., transform=BatchAugment(...))``.

Both follow v2's split: the randomness is drawn first (``make_params`` /
:func:`draw_affine_params`), then a pure function does the work (``transform`` /
:func:`apply_affine`), so tests can call the pure part with fixed parameters.

Taught in notebooks/06_data_augmentation.ipynb.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torchvision import tv_tensors
from torchvision.transforms import v2

__all__ = [
    "build_pipeline",
    "AugmentStrength",
    "draw_affine_params",
    "apply_affine",
    "adjust_brightness_contrast",
    "BatchAugment",
    "gallery",
    "tile",
]


class _AddGaussianNoise(v2.Transform):
    """Add Gaussian noise N(0, std²) to images in [0, 1], then (``clip=True``) clamp to [0, 1].

    A ``torchvision.transforms.v2`` transform: ``make_params`` draws the noise (from torch's
    global RNG, like every v2 transform), ``transform`` adds it. Plain tensors, ``tv_tensors.Image``
    and ``tv_tensors.Video`` are noised; boxes, masks and labels pass through unchanged.

    >>> _AddGaussianNoise(0.1)(torch.zeros(1, 4, 4)).shape
    torch.Size([1, 4, 4])
    """

    def __init__(self, std: float = 0.05, clip: bool = True):
        super().__init__()
        if std < 0:
            raise ValueError(f"AddGaussianNoise: std must be >= 0; got {std}")
        self.std, self.clip = float(std), bool(clip)

    def make_params(self, flat_inputs: list[Any]) -> dict[str, Any]:
        """One noise tensor of the first image's shape (all images of one call share it)."""
        first = next(x for x in flat_inputs if isinstance(x, torch.Tensor) and self._is_image(x))
        return {"noise": torch.randn(first.shape, dtype=first.dtype if first.is_floating_point() else torch.float32,
                                     device=first.device)}

    @staticmethod
    def _is_image(x) -> bool:
        if isinstance(x, (tv_tensors.Image, tv_tensors.Video)):
            return True
        return type(x) is torch.Tensor  # a plain tensor is an image in v2's convention

    def transform(self, inpt: Any, params: dict[str, Any]) -> Any:
        if not (isinstance(inpt, torch.Tensor) and self._is_image(inpt)):
            return inpt
        if not inpt.is_floating_point():
            raise TypeError(f"AddGaussianNoise expects float images in [0, 1]; got {inpt.dtype} "
                            "(add v2.ToDtype(torch.float32, scale=True) before it)")
        out = inpt + params["noise"] * self.std
        if self.clip:
            out = out.clamp(0.0, 1.0)
        return tv_tensors.wrap(out, like=inpt) if isinstance(inpt, tv_tensors.TVTensor) else out

    def extra_repr(self) -> str:
        return f"std={self.std}, clip={self.clip}"


def build_pipeline(
    size: int,
    rotation: float = 10.0,
    scale: tuple[float, float] = (0.9, 1.1),
    crop_scale: tuple[float, float] = (0.8, 1.0),
    brightness: float = 0.0,
    contrast: float = 0.0,
    saturation: float = 0.0,
    hue: float = 0.0,
    noise_std: float = 0.0,
) -> v2.Compose:
    """The standard augmentation pipeline for (C, H, W) float images in [0, 1], output ``size``×``size``.

    rotation: ±degrees; scale: zoom range of ``RandomAffine``; crop_scale: area fraction range of
    ``RandomResizedCrop`` (resized back to ``size``: pick ``size`` = the data's own size);
    brightness/contrast/saturation/hue: ``ColorJitter`` strengths (saturation and hue only act
    on RGB images); noise_std: :class:`_AddGaussianNoise`. A zero strength leaves its step out.
    """
    steps: list[v2.Transform] = []
    if rotation or tuple(scale) != (1.0, 1.0):
        steps.append(v2.RandomAffine(degrees=rotation, scale=tuple(scale), interpolation=v2.InterpolationMode.BILINEAR))
    if tuple(crop_scale) != (1.0, 1.0):
        steps.append(v2.RandomResizedCrop(size, scale=tuple(crop_scale), antialias=True))
    else:
        steps.append(v2.Resize((size, size), antialias=True))
    if brightness or contrast or saturation or hue:
        steps.append(v2.ColorJitter(brightness=brightness, contrast=contrast, saturation=saturation, hue=hue))
    if noise_std:
        steps.append(_AddGaussianNoise(noise_std))
    return v2.Compose(steps)


# ------------------------------------------------------------- per-sample augmentation of a batch

@dataclass(frozen=True)
class AugmentStrength:
    """How strong each random transform of :class:`BatchAugment` is (0 switches it off).

    rotation: ±degrees; scale: max relative zoom (0.1 -> zoom in [0.9, 1.1]); translate: max
    shift as a fraction of the image side; crop: smallest kept area fraction of a random square
    crop that is resized back (RandomResizedCrop-like; 0 = no crop); noise_std: Gaussian noise;
    brightness / contrast: ``ColorJitter``-like strengths (factor drawn in [1 - b, 1 + b]).
    """

    rotation: float = 15.0
    scale: float = 0.1
    translate: float = 0.1
    crop: float = 0.0
    noise_std: float = 0.0
    brightness: float = 0.0
    contrast: float = 0.0


def draw_affine_params(n: int, strength: AugmentStrength, generator: torch.Generator | None = None) -> torch.Tensor:
    """Random affine matrices theta (n, 2, 3) for ``F.affine_grid`` (one per sample, on the CPU).

    theta maps output coordinates to input coordinates in [-1, 1]: input = A @ output + t, with
    A = c · R(angle) / zoom (c = side of the crop) and t = crop offset + shift.
    """
    def uniform(low: float, high: float) -> torch.Tensor:
        return low + (high - low) * torch.rand(n, generator=generator)

    angle = torch.deg2rad(uniform(-strength.rotation, strength.rotation))
    zoom = uniform(1 - strength.scale, 1 + strength.scale)
    side = uniform(strength.crop, 1.0).sqrt() if strength.crop > 0 else torch.ones(n)  # crop side, area = side²
    offset = torch.stack([uniform(-1.0, 1.0), uniform(-1.0, 1.0)], 1) * (1 - side)[:, None]  # crop stays inside
    shift = torch.stack([uniform(-1.0, 1.0), uniform(-1.0, 1.0)], 1) * 2 * strength.translate
    cos, sin = torch.cos(angle), torch.sin(angle)
    a = (side / zoom)[:, None, None] * torch.stack([torch.stack([cos, -sin], 1), torch.stack([sin, cos], 1)], 1)
    return torch.cat([a, (offset - shift)[:, :, None]], dim=2)  # (n, 2, 3)


def apply_affine(images: torch.Tensor, theta: torch.Tensor) -> torch.Tensor:
    """Warp images (N, C, H, W) by per-sample affine matrices theta (N, 2, 3); zeros fill the outside."""
    grid = F.affine_grid(theta.to(images.device, images.dtype), list(images.shape), align_corners=False)  # (N, H, W, 2)
    return F.grid_sample(images, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def adjust_brightness_contrast(images: torch.Tensor, brightness: torch.Tensor, contrast: torch.Tensor) -> torch.Tensor:
    """Per-sample brightness then contrast factors (N,) on images (N, C, H, W) in [0, 1].

    The same arithmetic as ``v2.functional.adjust_brightness`` (x·b, clamped) followed by
    ``adjust_contrast`` (blend with the image's mean gray level, clamped), one factor per image.
    """
    b = brightness.to(images.device, images.dtype).view(-1, 1, 1, 1)
    c = contrast.to(images.device, images.dtype).view(-1, 1, 1, 1)
    out = (images * b).clamp(0.0, 1.0)
    gray = out if out.shape[1] == 1 else (0.2989 * out[:, 0:1] + 0.587 * out[:, 1:2] + 0.114 * out[:, 2:3])
    mean = gray.mean(dim=(1, 2, 3), keepdim=True)  # (N, 1, 1, 1)
    return (c * out + (1 - c) * mean).clamp(0.0, 1.0)


class BatchAugment:
    """Per-sample random affine (rotation, zoom, shift, crop), brightness/contrast and noise for a whole batch.

    ``BatchAugment(AugmentStrength(rotation=15), seed=0)(x)`` with x (N, C, H, W) in [0, 1]
    returns a new (N, C, H, W) tensor on x's device, clamped to [0, 1]. Each call draws new
    parameters from its own generator, so a training run is reproducible from ``seed``.
    """

    def __init__(self, strength: AugmentStrength | None = None, seed: int = 0, **overrides):
        self.strength = strength if strength is not None else AugmentStrength(**overrides)
        self.generator = torch.Generator().manual_seed(seed)

    def __call__(self, images: torch.Tensor) -> torch.Tensor:
        if images.ndim != 4:
            raise ValueError(f"BatchAugment expects images (N, C, H, W); got shape {tuple(images.shape)}")
        s = self.strength
        out = images
        if s.rotation or s.scale or s.translate or s.crop:
            out = apply_affine(images, draw_affine_params(images.shape[0], s, self.generator))
        if s.brightness or s.contrast:
            n = images.shape[0]
            b = 1 + s.brightness * (2 * torch.rand(n, generator=self.generator) - 1)  # (N,) in [1 - b, 1 + b]
            c = 1 + s.contrast * (2 * torch.rand(n, generator=self.generator) - 1)
            out = adjust_brightness_contrast(out, b.clamp_min(0), c.clamp_min(0))
        if s.noise_std:
            noise = torch.randn(images.shape, generator=self.generator).to(images.device, images.dtype)
            out = out + noise * s.noise_std
        return out.clamp(0.0, 1.0) if out is not images else out.clone()

    def __repr__(self) -> str:
        return f"BatchAugment({self.strength})"


def gallery(images: torch.Tensor, copies: int, strength: AugmentStrength, seed: int = 0) -> torch.Tensor:
    """``copies`` augmented versions of each image (N, C, H, W) -> (N, copies + 1, C, H, W), originals first."""
    aug = BatchAugment(strength, seed=seed)
    repeated = images.repeat_interleave(copies, dim=0)  # (N·copies, C, H, W)
    out = aug(repeated).view(images.shape[0], copies, *images.shape[1:])
    return torch.cat([images[:, None], out], dim=1)


def tile(images: torch.Tensor, pad: int = 1) -> torch.Tensor:
    """Rows × cols of images (R, K, C, H, W) -> one (C, R·(H+pad)-pad, K·(W+pad)-pad) picture (one imshow is fast)."""
    r, k, c, h, w = images.shape
    canvas = torch.ones(c, r * (h + pad) - pad, k * (w + pad) - pad, dtype=images.dtype)
    for i in range(r):
        for j in range(k):
            canvas[:, i * (h + pad):i * (h + pad) + h, j * (w + pad):j * (w + pad) + w] = images[i, j]
    return canvas

