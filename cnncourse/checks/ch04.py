"""Checks for exercises/04_pooling.ipynb: max pooling and global average pooling from scratch.

Taught in notebooks/04_pooling.ipynb.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .core import Case, Checker, register

__all__ = ["max_pool2d", "global_avg_pool2d"]


def _close(a, b) -> bool:
    return isinstance(a, torch.Tensor) and a.shape == b.shape and torch.allclose(a.double(), b.double(), atol=1e-5, rtol=1e-4)


# ----------------------------------------------------------------------------- max_pool2d

def _max_pool_reference(x, kernel_size, stride=None):
    return F.max_pool2d(x, kernel_size, stride)


def _max_pool_cases(g: torch.Generator):
    def r(*shape):
        return torch.randn(*shape, generator=g)

    return [
        Case("2x3x8x8, K=2 (stride defaults to K)", (r(2, 3, 8, 8), 2)),
        Case("non-square 2x4x6x10, K=2", (r(2, 4, 6, 10), 2)),
        Case("odd size 1x2x7x9, K=2 (last row/column dropped)", (r(1, 2, 7, 9), 2)),
        Case("K=3, stride=2 (overlapping, AlexNet)", (r(2, 3, 11, 9), 3, 2)),
        Case("K=2, stride=1", (r(1, 3, 6, 7), 2, 1)),
        Case("K=2, stride=3 (gaps between windows)", (r(2, 2, 9, 10), 2, 3)),
        Case("K=3 (stride defaults to 3)", (r(2, 5, 9, 12), 3)),
        Case("batch 1, one channel", (r(1, 1, 6, 6), 2)),
        Case("all values negative", (-r(2, 3, 8, 6).abs() - 0.1, 2)),
        Case("stride as keyword", (r(2, 3, 10, 10), 4), {"stride": 2}),
    ]


def _stride(case: Case):
    x, k, *rest = case.args
    return case.kwargs.get("stride", rest[0] if rest else None)


def _max_pool_is(make):
    """A diagnosis predicate: the learner's output equals ``make(x, K, S)`` (and that is wrong)."""
    def recognises(got, case):
        x, k = case.args[:2]
        s = _stride(case)
        wrong = make(x, k, s)
        return _close(got, wrong) and not _close(wrong, _max_pool_reference(x, k, s))
    return recognises


def _signed_abs_max(x, k, s):
    _, idx = F.max_pool2d(x.abs(), k, s, return_indices=True)
    return x.flatten(2).gather(2, idx.flatten(2)).view_as(idx)


def _over_channels(got, case):
    x, k = case.args[:2]
    expected = _max_pool_reference(x, k, _stride(case))
    if not isinstance(got, torch.Tensor) or x.shape[1] == 1:
        return False
    if got.ndim == 3 and got.shape == (expected.shape[0], *expected.shape[2:]):
        return True
    return got.ndim == 4 and got.shape[1] == 1 or _close(got, expected.amax(1, keepdim=True).expand_as(expected))


def _ceil_shape(got, case):
    x, k = case.args[:2]
    s = _stride(case)
    return (isinstance(got, torch.Tensor) and got.shape == F.max_pool2d(x, k, s, ceil_mode=True).shape
            and got.shape != _max_pool_reference(x, k, s).shape)


max_pool2d = register(Checker(
    name="max_pool2d",
    reference=_max_pool_reference,
    cases=_max_pool_cases,
    forbids=("torch.nn.functional.max_pool2d", "torch.max_pool2d", "torch.nn.functional.max_pool2d_with_indices",
             "torch.nn.MaxPool2d", "torch.nn.functional.adaptive_max_pool2d"),
    diagnoses=[
        (_max_pool_is(lambda x, k, s: F.max_pool2d(x, k, 1)),
         "your stride defaults to 1: when stride is None it must be kernel_size (non-overlapping windows), as in nn.MaxPool2d."),
        (_max_pool_is(lambda x, k, s: F.avg_pool2d(x, k, s)), "you averaged each window: max pooling takes the LARGEST value."),
        (_max_pool_is(lambda x, k, s: F.max_pool2d(x.abs(), k, s)),
         "you took the max of |x|: max pooling keeps the largest signed value, negative numbers stay negative."),
        (_max_pool_is(_signed_abs_max), "you kept the value of largest magnitude: max pooling keeps the largest signed value."),
        (_max_pool_is(lambda x, k, s: F.max_pool2d(x, k, s).clamp(min=0)),
         "your max starts at 0, so windows of negative values give 0: start from the window's first value or -inf."),
        (_over_channels, "you pooled over the channels too: pool each channel separately, the output keeps all C channels."),
        (_ceil_shape, "your output has an extra row or column: a window that runs off the edge is dropped, "
                      "H' = (H - K) // S + 1 (floor, like PyTorch's ceil_mode=False)."),
        (_max_pool_is(lambda x, k, s: F.max_pool2d(x, k, s).transpose(-2, -1).contiguous().view_as(F.max_pool2d(x, k, s))),
         "your output values are in the wrong order: the last axis is W (columns), the one before it H (rows)."),
    ],
    hints=[
        "stride = kernel_size if stride is None. For every channel, slide a K x K window S pixels at a time "
        "and keep its largest value; the output is (N, C, (H - K) // S + 1, (W - K) // S + 1).",
        "Window (i, j) is x[:, :, i*S : i*S+K, j*S : j*S+K]; window.amax(dim=(-2, -1)) gives its (N, C) maxima at once.",
        "Vectorised: F.unfold(x, K, stride=S) gives (N, C*K*K, H'*W'); .view(N, C, K*K, H', W').amax(dim=2).",
    ],
))


# ----------------------------------------------------------------------------- global_avg_pool2d

def _gap_reference(x):
    return F.adaptive_avg_pool2d(x, 1).flatten(1)


def _gap_cases(g: torch.Generator):
    def r(*shape):
        return torch.randn(*shape, generator=g)

    return [
        Case("2x3x5x5", (r(2, 3, 5, 5),)),
        Case("non-square 4x8x3x7", (r(4, 8, 3, 7),)),
        Case("batch 1 (N stays in the output)", (r(1, 16, 7, 7),)),
        Case("one channel 3x1x6x6", (r(3, 1, 6, 6),)),
        Case("1x1 maps 2x5x1x1", (r(2, 5, 1, 1),)),
        Case("ResNet head size 2x64x7x7", (r(2, 64, 7, 7),)),
        Case("all values negative", (-r(2, 4, 4, 6).abs(),)),
    ]


def _gap_is(make):
    def recognises(got, case):
        (x,) = case.args
        wrong = make(x)
        return _close(got, wrong) and not _close(wrong, _gap_reference(x))
    return recognises


def _squeezed_batch(got, case):
    (x,) = case.args
    return x.shape[0] == 1 and isinstance(got, torch.Tensor) and got.shape == (x.shape[1],)


global_avg_pool2d = register(Checker(
    name="global_avg_pool2d",
    reference=_gap_reference,
    cases=_gap_cases,
    diagnoses=[
        (_gap_is(lambda x: x.mean(dim=(2, 3), keepdim=True)),
         "you returned (N, C, 1, 1), like nn.AdaptiveAvgPool2d(1); this exercise wants (N, C): flatten(1) or mean without keepdim."),
        (_squeezed_batch, "with a batch of 1 your output lost the batch axis: .squeeze() drops EVERY size-1 axis; "
                          "use .flatten(1) or mean(dim=(2, 3))."),
        (_gap_is(lambda x: x.sum(dim=(2, 3))), "you summed each map: divide by the number of positions H * W (take the mean)."),
        (_gap_is(lambda x: x.amax(dim=(2, 3))), "you took the max of each map: that is global MAX pooling; take the mean."),
        (_gap_is(lambda x: x.mean(dim=(1, 2, 3))), "you averaged over the channels too: one mean per (sample, channel), shape (N, C)."),
        (_gap_is(lambda x: x.mean(dim=(1, 2, 3), keepdim=True).flatten(1)),
         "you averaged over the channels too: one mean per (sample, channel), shape (N, C)."),
        (_gap_is(lambda x: x.mean(dim=(0, 2, 3))), "you averaged over the batch too: each sample keeps its own C means, shape (N, C)."),
        (_gap_is(lambda x: x.mean(dim=3)), "you averaged over W only: average over both spatial axes, dim=(2, 3)."),
        (_gap_is(lambda x: x.mean(dim=2)), "you averaged over H only: average over both spatial axes, dim=(2, 3)."),
        (_gap_is(lambda x: x.mean()), "you averaged everything into one number: one mean per (sample, channel), shape (N, C)."),
    ],
    hints=[
        "One number per (sample, channel): the mean of that channel's H x W map. The output is (N, C).",
        "x.mean(dim=(2, 3)) averages over H and W and drops those axes.",
    ],
))
