"""Checks for exercises/01_introduction.ipynb: counting parameters, shifting an image.

Taught in notebooks/01_introduction.ipynb.
"""
from __future__ import annotations

import torch
from torch import nn
import torch.nn.functional as F

from .core import EXACT, Case, Checker, Mistake, register

__all__ = ["conv_params", "linear_params", "translate"]


def _count(module: nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def _conv_cases(g: torch.Generator):
    cases = [
        Case("LeNet conv1 (1->6, 5x5)", (1, 6, 5)),
        Case("LeNet conv2 (6->16, 5x5)", (6, 16, 5)),
        Case("RGB 3->64, 3x3", (3, 64, 3)),
        Case("1x1 conv 64->32", (64, 32, 1)),
        Case("no bias 3->8, 3x3", (3, 8, 3), {"bias": False}),
    ]
    for _ in range(5):
        c_in, c_out, k = (int(v) for v in torch.randint(1, 65, (3,), generator=g))
        cases.append(Case(f"random {c_in}->{c_out}, {k % 7 + 1}x{k % 7 + 1}", (c_in, c_out, k % 7 + 1)))
    return cases


conv_params = register(Checker(
    name="conv_params",
    reference=lambda c_in, c_out, k, bias=True: _count(nn.Conv2d(c_in, c_out, k, bias=bias)),
    cases=_conv_cases,
    tol=EXACT,
    diagnoses=[
        Mistake("bias_flag_ignored", lambda c_in, c_out, k, bias=True: c_in * c_out * k ** 2 + c_out),
        Mistake("no_bias", lambda c_in, c_out, k, bias=True: c_in * c_out * k ** 2),
        Mistake("bias_per_pair", lambda c_in, c_out, k, bias=True: c_in * c_out * k ** 2 + c_in * c_out),
        Mistake("one_input_channel", lambda c_in, c_out, k, bias=True: c_out * k ** 2 + c_out),
        Mistake("two_k", lambda c_in, c_out, k, bias=True: c_in * c_out * k * 2 + c_out),  # 2K weights, not K**2
    ],
))


def _linear_cases(g: torch.Generator):
    cases = [Case("MNIST image -> 100 hidden", (784, 100)), Case("LeNet fc3", (84, 10)),
             Case("no bias", (10, 3), {"bias": False})]
    for _ in range(5):
        i, o = (int(v) for v in torch.randint(1, 2000, (2,), generator=g))
        cases.append(Case(f"random {i}->{o}", (i, o)))
    return cases


linear_params = register(Checker(
    name="linear_params",
    reference=lambda n_in, n_out, bias=True: _count(nn.Linear(n_in, n_out, bias=bias)),
    cases=_linear_cases,
    tol=EXACT,
    diagnoses=[
        Mistake("bias_flag_ignored", lambda n_in, n_out, bias=True: n_in * n_out + n_out),
        Mistake("no_bias", lambda n_in, n_out, bias=True: n_in * n_out),
        Mistake("bias_per_input", lambda n_in, n_out, bias=True: n_in * n_out + n_in),
    ],
))


def _translate_reference(images: torch.Tensor, dx: int, dy: int) -> torch.Tensor:
    """Shift (N, C, H, W) images right by dx and down by dy pixels, filling with zeros."""
    h, w = images.shape[-2:]
    padded = F.pad(images, (max(dx, 0), max(-dx, 0), max(dy, 0), max(-dy, 0)))
    top, left = max(-dy, 0), max(-dx, 0)
    return padded[..., top:top + h, left:left + w]


def _translate_cases(g: torch.Generator):
    x = torch.rand(2, 1, 8, 8, generator=g)
    rgb = torch.rand(1, 3, 5, 7, generator=g)
    return [
        Case("right 2", (x, 2, 0)), Case("down 3", (x, 0, 3)), Case("left 1, up 2", (x, -1, -2)),
        Case("no shift", (x, 0, 0)), Case("RGB, non-square, right 3 down 1", (rgb, 3, 1)),
        Case("shift bigger than image", (x, 9, 0)),
    ]


translate = register(Checker(
    name="translate",
    reference=_translate_reference,
    cases=_translate_cases,
    diagnoses=[
        Mistake("rolled", lambda images, dx, dy: torch.roll(images, (dy, dx), dims=(-2, -1))),  # wraps around
        Mistake("backwards", lambda images, dx, dy: _translate_reference(images, -dx, -dy)),
        Mistake("swapped", lambda images, dx, dy: _translate_reference(images, dy, dx)),  # dx and dy swapped
    ],
))
