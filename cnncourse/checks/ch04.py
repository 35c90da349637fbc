"""Checks for exercises/04_pooling.ipynb: max pooling, global average pooling and max pooling's backward pass.

Taught in notebooks/04_pooling.ipynb.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .core import (FLOAT64, Case, Checker, Mistake, Symptom, autograd_gradients, one_of, compare_rel_error, numerical_gradients,
                   register, rel_error_note)

__all__ = ["max_pool2d", "global_avg_pool2d", "max_pool2d_backward"]


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


def _signed_abs_max(x, kernel_size, stride=None):
    _, idx = F.max_pool2d(x.abs(), kernel_size, stride, return_indices=True)
    return x.flatten(2).gather(2, idx.flatten(2)).view_as(idx)


def _over_channels_shape(got, case):
    x, k = case.args[:2]
    expected = _max_pool_reference(x, k, _stride(case))
    if not isinstance(got, torch.Tensor) or x.shape[1] == 1:
        return False
    if got.ndim == 3 and got.shape == (expected.shape[0], *expected.shape[2:]):
        return True
    return got.ndim == 4 and got.shape[1] == 1


def _over_channels(x, kernel_size, stride=None):
    """The max over the channels too, broadcast back to every channel."""
    pooled = F.max_pool2d(x, kernel_size, stride)
    return pooled.amax(1, keepdim=True).expand_as(pooled)


def _ceil_shape(got, case):
    x, k = case.args[:2]
    s = _stride(case)
    return (isinstance(got, torch.Tensor) and got.shape == F.max_pool2d(x, k, s, ceil_mode=True).shape
            and got.shape != _max_pool_reference(x, k, s).shape)


def _rows_and_columns_swapped(x, kernel_size, stride=None):
    pooled = F.max_pool2d(x, kernel_size, stride)
    return pooled.transpose(-2, -1).contiguous().view_as(pooled)


max_pool2d = register(Checker(
    name="max_pool2d",
    reference=_max_pool_reference,
    cases=_max_pool_cases,
    forbids=("torch.nn.functional.max_pool2d", "torch.max_pool2d", "torch.nn.functional.max_pool2d_with_indices",
             "torch.nn.MaxPool2d", "torch.nn.functional.adaptive_max_pool2d"),
    diagnoses=[
        Mistake("stride_one", lambda x, kernel_size, stride=None: F.max_pool2d(x, kernel_size, 1)),
        Mistake("averaged", lambda x, kernel_size, stride=None: F.avg_pool2d(x, kernel_size, stride)),
        Mistake("abs_max", lambda x, kernel_size, stride=None: F.max_pool2d(x.abs(), kernel_size, stride)),
        Mistake("signed_abs_max", _signed_abs_max),
        Mistake("zero_start", lambda x, kernel_size, stride=None: F.max_pool2d(x, kernel_size, stride).clamp(min=0)),
        Symptom("over_channels_shape", _over_channels_shape),  # over_channels, seen in the shape alone
        Mistake("over_channels", _over_channels),
        Symptom("ceil_shape", _ceil_shape),  # an extra row or column: windows running off the edge kept
        Mistake("rows_and_columns_swapped", _rows_and_columns_swapped),
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


def _squeezed_batch(got, case):
    (x,) = case.args
    return x.shape[0] == 1 and isinstance(got, torch.Tensor) and got.shape == (x.shape[1],)


global_avg_pool2d = register(Checker(
    name="global_avg_pool2d",
    reference=_gap_reference,
    cases=_gap_cases,
    diagnoses=[
        Mistake("keepdim", lambda x: x.mean(dim=(2, 3), keepdim=True)),
        Symptom("squeezed_batch", _squeezed_batch),  # .squeeze() also dropped the batch axis of a batch of 1
        Mistake("summed", lambda x: x.sum(dim=(2, 3))),
        Mistake("max", lambda x: x.amax(dim=(2, 3))),
        Mistake("over_channels",
                lambda x: one_of(x.mean(dim=(1, 2, 3)), x.mean(dim=(1, 2, 3), keepdim=True).flatten(1))),
        Mistake("over_batch", lambda x: x.mean(dim=(0, 2, 3))),
        Mistake("width_only", lambda x: x.mean(dim=3)),
        Mistake("height_only", lambda x: x.mean(dim=2)),
        Mistake("one_number", lambda x: x.mean()),
    ],
))


# ----------------------------------------------------------------------------- max_pool2d_backward

BACKWARD_FORBIDS = ("torch.autograd.grad", "torch.autograd.backward", "torch.Tensor.backward", "torch.func.vjp",
                    "torch.autograd.functional.vjp", "torch.autograd.functional.jacobian",
                    "torch.nn.functional.max_pool2d", "torch.max_pool2d", "torch.nn.functional.max_pool2d_with_indices",
                    "torch.nn.MaxPool2d", "torch.nn.functional.max_unpool2d", "torch.nn.MaxUnpool2d")
"""Autograd, and PyTorch's max pooling with its indices (whose max_unpool2d would be the answer)."""

MAX_REL_ERROR = 1e-6


def _max_pool_backward_reference(grad_out, x, kernel_size, stride=None):
    """dx by torch.autograd through F.max_pool2d: each window's gradient goes to ONE position, its first
    maximum in reading order (row by row, left to right), as PyTorch's max_pool2d on the CPU does."""
    return autograd_gradients(lambda x: F.max_pool2d(x, kernel_size, stride), (x,), grad_out)[0]


def _max_pool_backward_numerical(grad_out, x, kernel_size, stride=None):
    """dx by centred finite differences (distinct values far apart: no maximum changes within h)."""
    return numerical_gradients(lambda x: F.max_pool2d(x, kernel_size, stride), (x,), grad_out, h=1e-3)[0]


def _max_pool_backward_cases(g: torch.Generator):
    def r(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    def case(label, x, k, stride=None, keyword=False, reference=None):
        grad_out = r(*F.max_pool2d(x, k, stride).shape)
        if keyword:
            return Case(label, (grad_out, x, k), {"stride": stride}, reference)
        return Case(label, (grad_out, x, k) + (() if stride is None else (stride,)), {}, reference)

    ties = torch.randint(0, 3, (2, 3, 8, 8), generator=g).double()
    tiny = (torch.randperm(16, generator=g).double() * 0.5).view(1, 1, 4, 4)
    return [
        case("2x3x8x8, K=2 (stride defaults to K)", r(2, 3, 8, 8), 2),
        case("non-square 2x4x6x10, K=2", r(2, 4, 6, 10), 2),
        case("odd size 1x2x7x9, K=2 (the dropped last row/column get 0)", r(1, 2, 7, 9), 2),
        case("K=3, stride=2 (overlapping windows)", r(2, 3, 11, 9), 3, 2),
        case("K=2, stride=1 (overlapping windows)", r(1, 3, 6, 7), 2, 1),
        case("K=2, stride=3 (gaps between windows)", r(2, 2, 9, 10), 2, 3),
        case("ties: whole numbers 0..2, K=2", ties, 2),
        case("ties: a constant map, K=3, stride=1", torch.ones(1, 2, 6, 6, dtype=torch.float64), 3, 1),
        case("stride as keyword, K=4, stride=2", r(2, 3, 10, 10), 4, 2, keyword=True),
        case("tiny 1x1x4x4, K=2, stride=1: against centred finite differences", tiny, 2, 1,
             reference=_max_pool_backward_numerical),
    ]


def _windows_of(x, k, s):
    """(N, C, K*K, L) windows of x (F.unfold), and fold(...) that adds (N, C, K*K, L) back into x's shape."""
    N, C, H, W = x.shape
    cols = F.unfold(x, k, stride=s).view(N, C, k * k, -1)

    def fold(parts):
        return F.fold(parts.reshape(N, C * k * k, -1), (H, W), k, stride=s)
    return cols, fold


def _routed(grad_out, x, k, s, rule):
    """dx with each window's gradient routed by ``rule``: 'first', 'last', 'all' or 'split' (tied maxima),
    'spread' (evenly over the window), 'copy' (to every pixel of the window)."""
    cols, fold = _windows_of(x, k, s)
    g = grad_out.flatten(2).unsqueeze(2)  # (N, C, 1, L)
    is_max = cols == cols.amax(dim=2, keepdim=True)
    if rule == "first":
        mask = F.one_hot(cols.argmax(dim=2), k * k).transpose(2, 3).to(x.dtype)
    elif rule == "last":
        mask = F.one_hot(k * k - 1 - cols.flip(2).argmax(dim=2), k * k).transpose(2, 3).to(x.dtype)
    elif rule == "all":
        mask = is_max.to(x.dtype)
    elif rule == "split":
        mask = is_max.to(x.dtype) / is_max.sum(dim=2, keepdim=True)
    elif rule == "spread":
        mask = torch.full_like(cols, 1.0 / (k * k))
    else:  # "copy"
        mask = torch.ones_like(cols)
    return fold(mask * g)


def _overwritten(grad_out, x, k, s):
    """dx where a later window's gradient REPLACES an earlier one's at a shared maximum (= instead of +=)."""
    N, C = x.shape[:2]
    cols, _ = _windows_of(x, k, s)
    first = cols.argmax(dim=2)  # (N, C, L)
    W_out = grad_out.shape[-1]
    dx = torch.zeros_like(x).flatten(2)
    for index in range(first.shape[-1]):
        i, j = divmod(index, W_out)
        p, q = first[:, :, index] // k, first[:, :, index] % k
        position = (i * s + p) * x.shape[-1] + (j * s + q)
        dx.scatter_(2, position.unsqueeze(2), grad_out.flatten(2)[:, :, index:index + 1])
    return dx.view_as(x)


def _stride_one(grad_out, x, kernel_size, stride=None):
    """dx when the windows were taken 1 pixel apart (stride None read as 1) over grad_out's H' x W' positions."""
    k = kernel_size
    H_out, W_out = grad_out.shape[-2:]
    inside = _routed(grad_out, x[:, :, :H_out + k - 1, :W_out + k - 1], k, 1, "first")
    return F.pad(inside, (0, x.shape[-1] - inside.shape[-1], 0, x.shape[-2] - inside.shape[-2]))


def _routed_by(rule):
    """The mistaken dx that routes each window's gradient by ``rule`` (see :func:`_routed`; "overwrite": = not +=)."""
    def wrong(grad_out, x, kernel_size, stride=None):
        s = kernel_size if stride is None else stride
        if rule == "overwrite":
            return _overwritten(grad_out, x, kernel_size, s)
        return _routed(grad_out, x, kernel_size, s, rule)
    return wrong


def _dx_grad_shaped(got, case):
    grad_out, x = case.args[:2]
    return isinstance(got, torch.Tensor) and got.shape == grad_out.shape and got.shape != x.shape


max_pool2d_backward = register(Checker(
    name="max_pool2d_backward",
    reference=_max_pool_backward_reference,
    cases=_max_pool_backward_cases,
    compare=compare_rel_error(MAX_REL_ERROR),
    note=rel_error_note(),
    forbids=BACKWARD_FORBIDS,
    tol=FLOAT64,
    diagnoses=[
        Symptom("grad_out_shaped", _dx_grad_shaped),  # dx shaped like grad_out instead of x
        Mistake("spread", _routed_by("spread")),
        Mistake("copied", _routed_by("copy")),
        Mistake("all_ties", _routed_by("all")),
        Mistake("split_ties", _routed_by("split")),
        Mistake("last_tie", _routed_by("last")),
        Mistake("overwritten", _routed_by("overwrite")),  # = instead of += where windows overlap
        Mistake("stride_one", _stride_one),
    ],
))
