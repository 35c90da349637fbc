"""Checks for exercises/06_data_augmentation.ipynb: a Gaussian-noise transform, per-channel standardisation.

Taught in notebooks/06_data_augmentation.ipynb.
"""
from __future__ import annotations

from dataclasses import dataclass

import torch

from .core import Case, Checker, compare, register

__all__ = ["add_gaussian_noise", "standardize"]

NOISE_SEED = 1234  # the checker seeds torch's global RNG with this before each call


def _test_images() -> list[torch.Tensor]:
    """The images every noise case is applied to: a gray batch, one RGB image, a bright batch."""
    g = torch.Generator().manual_seed(6)
    gray = torch.rand(2, 1, 8, 8, generator=g)
    return [gray, torch.rand(3, 6, 5, generator=g), gray * 0.2 + 0.8]


@dataclass(frozen=True)
class _NoiseSetting:
    """The expected behaviour of ``AddGaussianNoise(std, clip)`` (what the reference returns)."""

    std: float
    clip: bool


def _noisy(images: torch.Tensor, std: float, clip: bool, scale=lambda s: s, noise=torch.randn_like) -> torch.Tensor:
    """images + noise * scale(std) with the checker's seed (clamped when clip): the reference and its wrong variants."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(NOISE_SEED)
        out = images + noise(images) * scale(std)
    return out.clamp(0, 1) if clip else out


def _apply(transform, images: torch.Tensor) -> torch.Tensor:
    """The learner's transform applied to images (fresh ones per call), with torch's global RNG seeded (and restored after)."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(NOISE_SEED)
        return transform(images)


def _compare_noise(transform, setting: _NoiseSetting) -> str | None:
    if not callable(transform):
        return f"AddGaussianNoise(std, clip) should build a callable transform; got {type(transform).__name__}"
    for k, images in enumerate(_test_images()):
        before = images.clone()
        where = f"image set {k} of shape {tuple(images.shape)}"
        try:
            got = _apply(transform, images)
        except NotImplementedError:
            return "not implemented yet: replace the `raise NotImplementedError` line in __call__ with your code"
        except Exception as err:  # noqa: BLE001 - the learner's error, reported in one line
            return f"{where}: calling the transform raised {type(err).__name__}: {str(err).strip()[:120]}"
        if not torch.equal(before, images):
            return f"{where}: the transform changed its input in place; build a new tensor"
        problem = compare(got, _noisy(images, setting.std, setting.clip), where=where)
        if problem is not None:
            return problem
    return None


def _matches(transform, setting_args: tuple, setting_kwargs: dict, **variant) -> bool:
    """Does the learner's transform reproduce a given wrong variant on every test image?"""
    std, clip = setting_args[0], setting_kwargs.get("clip", True)
    clip = variant.pop("clip", clip)
    return all(torch.allclose(_apply(transform, x), _noisy(x, std, clip, **variant)) for x in _test_images())


def _noise_cases(g: torch.Generator):
    return [
        Case("std 0.1", (0.1,)),
        Case("std 0.5", (0.5,)),
        Case("std 0 changes nothing", (0.0,)),
        Case("std 0.3, clip=False", (0.3,), {"clip": False}),
        Case("std 0.4, clip=True (must clamp to [0, 1])", (0.4,), {"clip": True}),
    ]


def _clip_of(case) -> bool:
    return case.kwargs.get("clip", True)


def _raw_unclamped_in_range(got, case) -> bool:
    if _clip_of(case):
        return False
    outs = [_apply(got, x) for x in _test_images()]
    return all(bool(o.min() >= 0) and bool(o.max() <= 1) for o in outs)


add_gaussian_noise = register(Checker(
    name="AddGaussianNoise",
    reference=lambda std, clip=True: _NoiseSetting(float(std), bool(clip)),
    cases=_noise_cases,
    compare=_compare_noise,
    diagnoses=[
        (lambda got, c: _clip_of(c) and _matches(got, c.args, c.kwargs, clip=False),
         "the noise is not clipped: with clip=True the result must be clamped back to [0, 1] (x.clamp(0, 1))."),
        (lambda got, c: _matches(got, c.args, c.kwargs, scale=lambda s: s ** 2),
         "the noise's spread is std squared: you multiplied by the variance; randn has std 1, so multiply by std itself."),
        (lambda got, c: _matches(got, c.args, c.kwargs, scale=lambda s: s ** 0.5),
         "you multiplied by sqrt(std), as if std were a variance: std is already the standard deviation."),
        (lambda got, c: _matches(got, c.args, c.kwargs, noise=torch.rand_like),
         "that is uniform noise in [0, std): Gaussian noise comes from torch.randn_like, not torch.rand_like."),
        (_raw_unclamped_in_range, "with clip=False the values must NOT be clamped (the caller asked for raw noise)."),
    ],
    hints=[
        "Gaussian noise with standard deviation std is torch.randn_like(x) * std; add it to the image.",
        "Draw the noise inside __call__ (a new draw per call, from torch's global RNG) and clamp only when self.clip is True.",
        "In __call__: noise of the input's shape scaled by self.std, added to a new tensor (never to x in place); "
        "clamp into [0, 1] only when self.clip is set.",
    ],
))


def _standardize_reference(x: torch.Tensor, mean: torch.Tensor, std: torch.Tensor) -> torch.Tensor:
    return (x - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1)


def _standardize_cases(g: torch.Generator):
    rgb = torch.rand(4, 3, 5, 6, generator=g)
    square = torch.rand(2, 3, 3, 3, generator=g)  # C == H == W: a wrong broadcast does not crash here
    gray = torch.rand(3, 1, 4, 4, generator=g)
    imagenet = (torch.tensor([0.485, 0.456, 0.406]), torch.tensor([0.229, 0.224, 0.225]))
    return [
        Case("RGB batch, ImageNet statistics", (rgb, *imagenet)),
        Case("C = H = W = 3 (broadcast trap)", (square, *imagenet)),
        Case("grayscale, MNIST statistics", (gray, torch.tensor([0.1307]), torch.tensor([0.3081]))),
        Case("statistics of the batch itself", (rgb, rgb.mean(dim=(0, 2, 3)), rgb.std(dim=(0, 2, 3)))),
    ]


def _wrong_axis(x, mean, std):
    return (x - mean.view(1, 1, 1, -1)) / std.view(1, 1, 1, -1)


standardize = register(Checker(
    name="standardize",
    reference=_standardize_reference,
    cases=_standardize_cases,
    diagnoses=[
        (lambda got, c: torch.allclose(got, (c.args[0] - c.args[1].view(1, -1, 1, 1)) / c.args[2].view(1, -1, 1, 1) ** 2),
         "you divided by the variance (std squared); standardising divides by the standard deviation."),
        (lambda got, c: torch.allclose(got, _wrong_axis(*c.args)),
         "mean/std were broadcast over the width (the last axis), not the channels: reshape them to (1, C, 1, 1)."),
        (lambda got, c: torch.allclose(got, c.args[0] / c.args[2].view(1, -1, 1, 1) - c.args[1].view(1, -1, 1, 1)),
         "subtract the mean first, then divide: (x - mean) / std, not x / std - mean."),
        (lambda got, c: torch.allclose(got, c.args[0] - c.args[1].view(1, -1, 1, 1)),
         "you only centred the data (x - mean); standardising also divides by std."),
        (lambda got, c: torch.allclose(got, (c.args[0] - c.args[0].mean()) / c.args[0].std()),
         "you used the batch's own overall mean/std; use the given per-channel mean and std."),
    ],
    hints=[
        "Each channel c gets (x[:, c] - mean[c]) / std[c]; do it without a loop by broadcasting.",
        "A (C,) tensor broadcasts against (N, C, H, W) along the LAST axis unless you reshape it.",
        "Reshape mean and std so that their C values sit on the channel axis (shape (1, C, 1, 1), by view or by "
        "indexing with None), then subtract and divide.",
    ],
))
