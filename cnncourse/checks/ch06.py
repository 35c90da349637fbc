"""Checks for exercises/06_data_augmentation.ipynb: a Gaussian-noise transform, per-channel standardisation.

Taught in notebooks/06_data_augmentation.ipynb.
"""
from __future__ import annotations

import torch

from ..i18n import message
from .core import Case, Checker, Mistake, Symptom, compare, register

__all__ = ["add_gaussian_noise", "standardize"]

NOISE_SEED = 1234  # the checker seeds torch's global RNG with this before each call


def _test_images() -> list[torch.Tensor]:
    """The images every noise case is applied to: a gray batch, one RGB image, a bright batch."""
    g = torch.Generator().manual_seed(6)
    gray = torch.rand(2, 1, 8, 8, generator=g)
    return [gray, torch.rand(3, 6, 5, generator=g), gray * 0.2 + 0.8]


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


def _image_set(k: int, images: torch.Tensor) -> str:
    """'image set 1 of shape (3, 6, 5)': which of the test images a report is about."""
    return message("compare.AddGaussianNoise.image_set", k=k, shape=f"{tuple(images.shape)}")


def _noise_call(cls, args, kwargs):
    """Build the learner's transform and apply it to each test image: the noisy images (or why it could not)."""
    transform = cls(*args, **kwargs)
    if not callable(transform):
        return message("compare.AddGaussianNoise.not_callable", kind=type(transform).__name__)
    outputs = []
    for k, images in enumerate(_test_images()):
        before = images.clone()
        outputs.append(_apply(transform, images))
        if not torch.equal(before, images):
            return message("compare.AddGaussianNoise.changed_input", where=_image_set(k, images))
    return outputs


def _noise_reference(std, clip=True, **variant):
    """The noisy test images ``AddGaussianNoise(std, clip)`` must give (``variant``: a mistake's scale or noise)."""
    return [_noisy(x, float(std), bool(clip), **variant) for x in _test_images()]


def _compare_noise(got, expected) -> str | None:
    if isinstance(got, str):  # what _noise_call found wrong with the transform itself
        return got
    if isinstance(got, list) and len(got) == len(expected):
        for k, (out, want) in enumerate(zip(got, expected)):
            problem = compare(out, want, where=_image_set(k, want))
            if problem is not None:
                return problem
        return None
    return compare(got, expected)


def _noise_cases(g: torch.Generator):
    return [
        Case("std 0.1", (0.1,)),
        Case("std 0.5", (0.5,)),
        Case("std 0 changes nothing", (0.0,)),
        Case("std 0.3, clip=False", (0.3,), {"clip": False}),
        Case("std 0.4, clip=True (must clamp to [0, 1])", (0.4,), {"clip": True}),
    ]


def _raw_unclamped_in_range(got, case) -> bool:
    return (not case.kwargs.get("clip", True) and isinstance(got, list)
            and all(bool(out.min() >= 0) and bool(out.max() <= 1) for out in got))


add_gaussian_noise = register(Checker(
    name="AddGaussianNoise",
    reference=_noise_reference,
    cases=_noise_cases,
    call=_noise_call,
    compare=_compare_noise,
    diagnoses=[
        Mistake("not_clipped", lambda std, clip=True: _noise_reference(std, False)),
        Mistake("std_squared", lambda std, clip=True: _noise_reference(std, clip, scale=lambda s: s ** 2)),
        Mistake("sqrt_std", lambda std, clip=True: _noise_reference(std, clip, scale=lambda s: s ** 0.5)),
        Mistake("uniform", lambda std, clip=True: _noise_reference(std, clip, noise=torch.rand_like)),
        Symptom("clamped_anyway", _raw_unclamped_in_range),  # clamped although clip=False
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
        Mistake("divided_by_variance", lambda x, mean, std: (x - mean.view(1, -1, 1, 1)) / std.view(1, -1, 1, 1) ** 2),
        Mistake("wrong_axis", _wrong_axis),  # broadcast over the width, not the channels
        Mistake("divided_first", lambda x, mean, std: x / std.view(1, -1, 1, 1) - mean.view(1, -1, 1, 1)),
        Mistake("only_centred", lambda x, mean, std: x - mean.view(1, -1, 1, 1)),
        Mistake("overall_statistics", lambda x, mean, std: (x - x.mean()) / x.std()),
    ],
))
