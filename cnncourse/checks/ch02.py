"""Checks for exercises/02_convolution.ipynb: the output-size formula and conv2d from scratch.

Taught in notebooks/02_convolution.ipynb.
"""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .core import Case, Checker, register

__all__ = ["output_size", "conv2d"]


# ----------------------------------------------------------------------------- output_size

def _output_size_reference(size, kernel_size, stride=1, padding=0, dilation=1) -> int:
    """What PyTorch really returns: run F.conv2d on a (1, 1, 1, size) row of zeros."""
    x = torch.zeros(1, 1, 1, size)
    w = torch.zeros(1, 1, 1, kernel_size)
    return int(F.conv2d(x, w, stride=(1, stride), padding=(0, padding), dilation=(1, dilation)).shape[-1])


def _output_size_cases(g: torch.Generator):
    cases = [
        Case("H=32, K=3", (32, 3, 1, 0, 1)),
        Case("H=32, K=5, P=2 ('same')", (32, 5, 1, 2, 1)),
        Case("H=32, K=3, P=1 ('same')", (32, 3, 1, 1, 1)),
        Case("H=32, K=3, S=2, P=1", (32, 3, 2, 1, 1)),
        Case("H=7, K=3, S=2 (odd size)", (7, 3, 2, 0, 1)),
        Case("H=28, K=5, S=3 (does not divide)", (28, 5, 3, 0, 1)),
        Case("H=32, K=3, D=2", (32, 3, 1, 0, 2)),
        Case("H=10, K=3, S=2, P=2, D=3", (10, 3, 2, 2, 3)),
        Case("1x1 kernel, S=2", (9, 1, 2, 0, 1)),
        Case("kernel = input", (5, 5, 1, 0, 1)),
        Case("keywords", (), {"size": 224, "kernel_size": 7, "stride": 2, "padding": 3, "dilation": 1}),
    ]
    while len(cases) < 20:
        size, K, S, P, D = (int(v) for v in torch.randint(1, 9, (5,), generator=g))
        size, P = size * 7, P - 1
        if D * (K - 1) + 1 <= size + 2 * P:
            cases.append(Case(f"random H={size}, K={K}, S={S}, P={P}, D={D}", (size, K, S, P, D)))
    return cases


def _size_args(case: Case):
    if case.kwargs:
        k = case.kwargs
        return k["size"], k["kernel_size"], k["stride"], k["padding"], k["dilation"]
    return case.args


def _size_is(formula):
    """A diagnosis predicate: the learner's answer equals ``formula(H, K, S, P, D)`` (and is wrong)."""
    def recognises(got, case):
        H, K, S, P, D = _size_args(case)
        if isinstance(got, torch.Tensor):
            got = got.item()
        return math.isclose(float(got), float(formula(H, K, S, P, D))) and float(got) != _output_size_reference(H, K, S, P, D)
    return recognises


output_size = register(Checker(
    name="output_size",
    reference=_output_size_reference,
    cases=_output_size_cases,
    diagnoses=[
        (_size_is(lambda H, K, S, P, D: (H + 2 * P - D * (K - 1) - 1) / S + 1),
         "you returned a fraction: round DOWN with // (floor division), the last window that does not fit is dropped."),
        (_size_is(lambda H, K, S, P, D: math.ceil((H + 2 * P - D * (K - 1) - 1) / S) + 1),
         "you rounded UP: a window that runs off the padded input is not computed, use floor (//)."),
        (_size_is(lambda H, K, S, P, D: (H + 2 * P - D * (K - 1) - 1) // S),
         "off by one: you forgot the + 1 (the first window sits at position 0 and also counts)."),
        (_size_is(lambda H, K, S, P, D: (H + 2 * P - D * (K - 1)) // S + 1),
         "off by one inside the floor: the dilated kernel spans D*(K-1) + 1 pixels, so subtract D*(K-1) + 1, not D*(K-1)."),
        (_size_is(lambda H, K, S, P, D: (H + P - D * (K - 1) - 1) // S + 1),
         "padding is added on BOTH sides: use 2*P, not P."),
        (_size_is(lambda H, K, S, P, D: (H + 2 * P - K) // S + 1),
         "you ignored dilation: a dilated kernel spans D*(K-1) + 1 pixels, not K."),
        (_size_is(lambda H, K, S, P, D: H + 2 * P - D * (K - 1)),
         "you ignored the stride: the window moves S pixels at a time, so divide by S."),
    ],
    hints=[
        "Count how many positions the (dilated) kernel can take on the padded input, moving S pixels at a time.",
        "The padded input has H + 2P pixels; a dilated kernel spans D*(K-1) + 1 of them.",
        "return (size + 2*padding - dilation*(kernel_size - 1) - 1) // stride + 1",
    ],
))


# ----------------------------------------------------------------------------- conv2d

def _conv2d_reference(x, weight, bias=None, stride=1, padding=0):
    return F.conv2d(x, weight, bias, stride=stride, padding=padding)


def _conv2d_cases(g: torch.Generator):
    def r(*shape):
        return torch.randn(*shape, generator=g)

    return [
        Case("2x3x7x9 input, 4 filters 3x3", (r(2, 3, 7, 9), r(4, 3, 3, 3), r(4))),
        Case("non-square input 1x2x6x11", (r(1, 2, 6, 11), r(3, 2, 3, 3), r(3))),
        Case("stride 2", (r(2, 3, 9, 9), r(4, 3, 3, 3), r(4)), {"stride": 2}),
        Case("padding 1", (r(2, 3, 6, 7), r(4, 3, 3, 3), r(4)), {"padding": 1}),
        Case("stride 2, padding 2, 5x5 kernel", (r(1, 3, 10, 8), r(2, 3, 5, 5), r(2)), {"stride": 2, "padding": 2}),
        Case("batch 1, one channel (gray)", (r(1, 1, 8, 8), r(1, 1, 3, 3), r(1))),
        Case("8 input channels", (r(2, 8, 5, 5), r(5, 8, 3, 3), r(5))),
        Case("non-square kernel 2x3", (r(2, 3, 7, 7), r(4, 3, 2, 3), r(4))),
        Case("stride 3, padding 1 (sizes do not divide)", (r(1, 2, 10, 11), r(3, 2, 3, 3), r(3)), {"stride": 3, "padding": 1}),
        Case("bias=None", (r(2, 3, 6, 6), r(4, 3, 3, 3), None)),
    ]


def _kw(case: Case):
    return case.kwargs.get("stride", 1), case.kwargs.get("padding", 0)


def _got_is(make):
    """A diagnosis predicate: the learner's output equals ``make(x, weight, bias, S, P)``."""
    def recognises(got, case):
        x, w, b = case.args
        S, P = _kw(case)
        wrong = make(x, w, b, S, P)
        right = _conv2d_reference(x, w, b, S, P)
        return (got.shape == wrong.shape and torch.allclose(got, wrong, atol=1e-4, rtol=1e-4)
                and not (wrong.shape == right.shape and torch.allclose(wrong, right, atol=1e-4, rtol=1e-4)))
    return recognises


def _one_sided_pad(x, w, b, S, P):
    return F.conv2d(F.pad(x, (P, 0, P, 0)), w, b, stride=S)


def _first_channel_only(x, w, b, S, P):
    return F.conv2d(x[:, :1], w[:, :1], b, stride=S, padding=P)


def _mean_over_channels(x, w, b, S, P):
    out = F.conv2d(x, w, None, stride=S, padding=P) / x.shape[1]
    return out if b is None else out + b.view(1, -1, 1, 1)


def _shape_off_by_one(got, case):
    x, w, b = case.args
    expected = _conv2d_reference(x, w, b, *_kw(case)).shape
    if got.ndim != 4 or got.shape[:2] != expected[:2]:
        return False
    dh, dw = abs(got.shape[2] - expected[2]), abs(got.shape[3] - expected[3])
    return got.shape != expected and dh <= 1 and dw <= 1


def _not_summed(got, case):
    x, w, _ = case.args
    return got.ndim == 5 or (got.ndim == 4 and x.shape[1] > 1 and got.shape[1] == w.shape[0] * x.shape[1])


conv2d = register(Checker(
    name="conv2d",
    reference=_conv2d_reference,
    cases=_conv2d_cases,
    forbids=("torch.nn.functional.conv2d", "torch.conv2d", "torch.convolution", "torch._convolution", "torch.nn.Conv2d"),
    diagnoses=[
        (_got_is(lambda x, w, b, S, P: F.conv2d(x, w.flip(-2, -1), b, stride=S, padding=P)),
         "you flipped the kernel: that is true (mathematical) convolution. Deep learning's 'convolution' is "
         "cross-correlation: multiply the window by the kernel as it is."),
        (_got_is(lambda x, w, b, S, P: F.conv2d(x, w, None, stride=S, padding=P)),
         "you forgot the bias: add bias[o] to every pixel of output channel o (when bias is not None)."),
        (_not_summed, "you did not sum over the input channels: each output channel is ONE map, the sum over all "
                      "input channels of (channel c slid under kernel slice c)."),
        (_got_is(_first_channel_only),
         "only the first input channel counts in your output: sum the products over ALL input channels."),
        (_got_is(_mean_over_channels), "you averaged over the input channels; convolution SUMS them."),
        (_got_is(lambda x, w, b, S, P: F.conv2d(x, w, b, stride=1, padding=P)),
         "you ignored the stride: move the window S pixels at a time (output position i starts at i*S)."),
        (_got_is(_one_sided_pad),
         "you padded only the top and left: padding P adds P zeros on EACH side (F.pad(x, (P, P, P, P)))."),
        (_got_is(lambda x, w, b, S, P: F.conv2d(x, w, b, stride=S, padding=0)),
         "you ignored the padding: add P zero rows/columns on every side before sliding the kernel."),
        (_shape_off_by_one,
         "your output is one row or column off: check the size formula (H + 2P - K) // S + 1, the + 1 and the floor."),
    ],
    hints=[
        "Pad x with zeros (P on every side), then for every output position take the C_in x K_h x K_w window "
        "under the kernel and multiply-and-sum it with each filter; add the bias.",
        "Output size: H' = (H + 2P - K_h) // S + 1. Window (i, j) is x_padded[:, :, i*S : i*S+K_h, j*S : j*S+K_w]; "
        "torch.einsum('nchw,ochw->no', window, weight) sums over channels and the kernel at once.",
        "Or im2col: cols = F.unfold(x, (K_h, K_w), padding=P, stride=S)  # (N, C_in*K_h*K_w, H'*W'); "
        "out = (weight.view(C_out, -1) @ cols).view(N, C_out, H', W') + bias.view(1, -1, 1, 1).",
    ],
))
