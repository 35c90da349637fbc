"""Checks for exercises/02_convolution.ipynb: the output-size formula, conv2d, its backward pass, and a
``torch.autograd.Function`` built from them.

Taught in notebooks/02_convolution.ipynb.
"""
from __future__ import annotations

import math
import traceback
from pathlib import Path

import torch
import torch.nn.functional as F

from ..i18n import message
from .core import (_AUTOGRAD_GRAD, _PACKAGE_DIR, FLOAT64, Case, Checker, Mistake, Symptom, autograd_gradients,
                   compare_rel_error, numerical_gradients, one_of, register, rel_error_note)

__all__ = ["output_size", "conv2d", "conv2d_backward", "conv2d_function"]


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


def _size_mistake(name, formula):
    """A Mistake: the answer is ``formula(H, K, S, P, D)`` (the case's arguments, given by position or keyword)."""
    def wrong(size, kernel_size, stride=1, padding=0, dilation=1):
        return formula(size, kernel_size, stride, padding, dilation)
    return Mistake(name, wrong)


output_size = register(Checker(
    name="output_size",
    reference=_output_size_reference,
    cases=_output_size_cases,
    tol=FLOAT64,
    diagnoses=[
        _size_mistake("fraction", lambda H, K, S, P, D: (H + 2 * P - D * (K - 1) - 1) / S + 1),
        _size_mistake("ceil", lambda H, K, S, P, D: math.ceil((H + 2 * P - D * (K - 1) - 1) / S) + 1),
        _size_mistake("no_plus_one", lambda H, K, S, P, D: (H + 2 * P - D * (K - 1) - 1) // S),
        _size_mistake("span_minus_one", lambda H, K, S, P, D: (H + 2 * P - D * (K - 1)) // S + 1),
        _size_mistake("pad_once", lambda H, K, S, P, D: (H + P - D * (K - 1) - 1) // S + 1),
        _size_mistake("no_dilation", lambda H, K, S, P, D: (H + 2 * P - K) // S + 1),
        _size_mistake("no_stride", lambda H, K, S, P, D: H + 2 * P - D * (K - 1)),
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


def _one_sided_pad(x, w, b=None, stride=1, padding=0):
    return F.conv2d(F.pad(x, (padding, 0, padding, 0)), w, b, stride=stride)


def _first_channel_only(x, w, b=None, stride=1, padding=0):
    return F.conv2d(x[:, :1], w[:, :1], b, stride=stride, padding=padding)


def _mean_over_channels(x, w, b=None, stride=1, padding=0):
    out = F.conv2d(x, w, None, stride=stride, padding=padding) / x.shape[1]
    return out if b is None else out + b.view(1, -1, 1, 1)


def _shape_off_by_one(got, case):
    x, w, b = case.args
    expected = _conv2d_reference(x, w, b, **case.kwargs).shape
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
        # true convolution instead of cross-correlation
        Mistake("flipped_kernel", lambda x, w, b=None, stride=1, padding=0: F.conv2d(x, w.flip(-2, -1), b, stride=stride, padding=padding)),
        Mistake("no_bias", lambda x, w, b=None, stride=1, padding=0: F.conv2d(x, w, None, stride=stride, padding=padding)),
        Symptom("channels_not_summed", _not_summed),
        Mistake("first_channel_only", _first_channel_only),
        Mistake("channels_averaged", _mean_over_channels),
        Mistake("no_stride", lambda x, w, b=None, stride=1, padding=0: F.conv2d(x, w, b, stride=1, padding=padding)),
        Mistake("one_sided_padding", _one_sided_pad),  # only top and left
        Mistake("no_padding", lambda x, w, b=None, stride=1, padding=0: F.conv2d(x, w, b, stride=stride, padding=0)),
        Symptom("shape_off_by_one", _shape_off_by_one),
    ],
))


# ----------------------------------------------------------------------------- conv2d_backward

AUTOGRAD_FORBIDS = ("torch.autograd.grad", "torch.autograd.backward", "torch.Tensor.backward", "torch.func.vjp",
                    "torch.autograd.functional.vjp", "torch.autograd.functional.jacobian")
"""The autograd calls a backward-pass exercise may not use: the learner writes the gradient."""

CONV_GRAD_FORBIDS = ("torch.nn.grad.conv2d_input", "torch.nn.grad.conv2d_weight", "torch.nn.functional.conv_transpose2d",
                     "torch.conv_transpose2d", "torch.nn.ConvTranspose2d", "torch.convolution", "torch._convolution")
"""PyTorch's own conv2d gradients (conv_transpose2d IS dx); F.conv2d itself stays allowed."""

MAX_REL_ERROR = 1e-6
"""A gradient passes when its relative error (cs231n's) is at most this, in float64."""


def _conv2d_backward_reference(grad_out, x, weight, stride=1, padding=0):
    """(dx, dw, db) by torch.autograd through F.conv2d (in the inputs' dtype, float64 in the cases)."""
    bias = x.new_zeros(weight.shape[0])
    return autograd_gradients(lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding), (x, weight, bias), grad_out)


def _conv2d_backward_numerical(grad_out, x, weight, stride=1, padding=0):
    """(dx, dw, db) by centred finite differences (exact up to rounding: the output is linear in each input)."""
    bias = x.new_zeros(weight.shape[0])
    return numerical_gradients(lambda x, w, b: F.conv2d(x, w, b, stride=stride, padding=padding), (x, weight, bias),
                               grad_out, h=1e-3)


def _conv2d_backward_cases(g: torch.Generator):
    def r(*shape):
        return torch.randn(*shape, generator=g, dtype=torch.float64)

    def case(label, x_shape, w_shape, stride=1, padding=0, reference=None):
        x, w = r(*x_shape), r(*w_shape)
        out = F.conv2d(x, w, stride=stride, padding=padding)
        kwargs = {k: v for k, v in (("stride", stride), ("padding", padding)) if v}
        return Case(label, (r(*out.shape), x, w), kwargs, reference)

    return [
        case("2x3x7x9 input, 4 filters 3x3", (2, 3, 7, 9), (4, 3, 3, 3)),
        case("stride 2", (2, 3, 9, 9), (4, 3, 3, 3), stride=2),
        case("padding 1", (2, 3, 6, 7), (4, 3, 3, 3), padding=1),
        case("stride 2, padding 2, 5x5 kernel", (1, 3, 10, 8), (2, 3, 5, 5), stride=2, padding=2),
        case("stride 3, padding 1 (sizes do not divide)", (2, 2, 10, 11), (3, 2, 3, 3), stride=3, padding=1),
        case("non-square kernel 2x3, 3 -> 5 channels", (2, 3, 7, 7), (5, 3, 2, 3)),
        case("batch 1, one channel", (1, 1, 8, 8), (1, 1, 3, 3)),
        case("tiny 1x2x5x5, stride 2, padding 1: against centred finite differences", (1, 2, 5, 5), (2, 2, 3, 3),
             stride=2, padding=1, reference=_conv2d_backward_numerical),
    ]


def _bw_args(case: Case):
    grad_out, x, w = case.args
    return grad_out, x, w, case.kwargs.get("stride", 1), case.kwargs.get("padding", 0)


def _output_padding(x, w, grad_out, S, P):
    """What conv_transpose2d needs to give back x's size when the last window does not reach the edge."""
    H, W = x.shape[-2:]
    return (H + 2 * P - w.shape[-2] - (grad_out.shape[-2] - 1) * S, W + 2 * P - w.shape[-1] - (grad_out.shape[-1] - 1) * S)


def _dx_padded(grad_out, x, w, S, P):
    """dx of the padded input (N, C, H + 2P, W + 2P), border included."""
    return F.conv_transpose2d(grad_out, w, stride=S, output_padding=_output_padding(x, w, grad_out, S, P))


def _dx_cropped_first(grad_out, x, w, stride=1, padding=0):
    """dx cut as the FIRST H x W of the padded gradient (instead of its inside)."""
    return _dx_padded(grad_out, x, w, stride, padding)[..., :x.shape[-2], :x.shape[-1]]


def _dx_unflipped(grad_out, x, w, stride=1, padding=0):
    """dx from 'full convolution of grad_out with the kernel' without the 180° flip."""
    return F.conv_transpose2d(grad_out, w.flip(-2, -1), stride=stride, padding=padding,
                              output_padding=_output_padding(x, w, grad_out, stride, padding))


def _dx_stride_ignored(grad_out, x, w, stride=1, padding=0):
    """grad_out scattered back as if the windows moved 1 pixel at a time."""
    H, W = x.shape[-2:]
    t = F.conv_transpose2d(grad_out, w)
    t = F.pad(t, (0, max(0, W + 2 * padding - t.shape[-1]), 0, max(0, H + 2 * padding - t.shape[-2])))
    return t[..., padding:padding + H, padding:padding + W]


def _dw_at_stride(grad_out, x, w, step, P):
    """dw with the windows taken every ``step`` pixels (step = S is right, step = 1 ignores the stride)."""
    N, C = x.shape[:2]
    C_out, _, K_h, K_w = w.shape
    H_out, W_out = grad_out.shape[-2:]
    cols = F.unfold(x, (K_h, K_w), padding=P, stride=step)  # (N, C*K_h*K_w, L)
    rows = (x.shape[-2] + 2 * P - K_h) // step + 1
    cols = cols.view(N, C * K_h * K_w, rows, -1)[:, :, :H_out, :W_out]
    return torch.einsum("nkhw,nohw->ok", cols, grad_out).view(C_out, C, K_h, K_w)


def _db_partial_sums(grad_out, x, w, stride=1, padding=0):
    """db summed over some of (N, H', W') only, or not at all."""
    return one_of(grad_out.sum(dim=(2, 3)), grad_out.sum(dim=0), grad_out.sum(dim=(0, 2)), grad_out.sum(dim=(0, 3)),
                  grad_out.sum(dim=(0, 2, 3), keepdim=True), grad_out)


def _db_wrong_shape(got, case):
    grad_out, x, w, S, P = _bw_args(case)
    db = got[2]
    return isinstance(db, torch.Tensor) and db.shape != (w.shape[0],) and db.numel() > w.shape[0]


def _dw_transposed(grad_out, x, w, stride=1, padding=0):
    """dw with its two channel axes swapped (transposed, or transposed then viewed back to weight's shape)."""
    right = _conv2d_backward_reference(grad_out, x, w, stride, padding)[1]
    return one_of(right.transpose(0, 1), right.transpose(0, 1).contiguous().view(right.shape))


def _dx_border_kept(got, case):
    grad_out, x, w, S, P = _bw_args(case)
    H, W = x.shape[-2:]
    dx = got[0]
    return P > 0 and isinstance(dx, torch.Tensor) and dx.shape[-2:] == (H + 2 * P, W + 2 * P)


def _dx_too_small(got, case):
    grad_out, x, w, S, P = _bw_args(case)
    dx = got[0]
    op = _output_padding(x, w, grad_out, S, P)
    return (isinstance(dx, torch.Tensor) and dx.ndim == 4 and any(op)
            and dx.shape[-2:] in {(x.shape[-2] - op[0], x.shape[-1] - op[1]),
                                  (x.shape[-2] + 2 * P - op[0], x.shape[-1] + 2 * P - op[1])})


conv2d_backward = register(Checker(
    name="conv2d_backward",
    reference=_conv2d_backward_reference,
    cases=_conv2d_backward_cases,
    compare=compare_rel_error(MAX_REL_ERROR, names=("dx", "dw", "db")),
    note=rel_error_note(),
    forbids=AUTOGRAD_FORBIDS + CONV_GRAD_FORBIDS,
    tol=FLOAT64,
    diagnoses=[
        # db not summed over N, H' and W': some axes summed, or a db of the wrong shape
        Mistake("db_partial_sum", _db_partial_sums, part=2),
        Symptom("db_wrong_shape", _db_wrong_shape),
        Mistake("db_averaged", lambda g, x, w, stride=1, padding=0: g.mean(dim=(0, 2, 3)), part=2),
        Mistake("dw_transposed", _dw_transposed, part=1),  # first two axes swapped
        Mistake("dw_rotated", lambda g, x, w, stride=1, padding=0: _dw_at_stride(g, x, w, stride, padding).flip(-2, -1),
                part=1),
        Mistake("dw_kernel_transposed",
                lambda g, x, w, stride=1, padding=0: _dw_at_stride(g, x, w, stride, padding).transpose(-2, -1), part=1),
        Mistake("dw_stride_ignored", lambda g, x, w, stride=1, padding=0: _dw_at_stride(g, x, w, 1, padding), part=1),
        Symptom("dx_border_kept", _dx_border_kept),  # the padded input's gradient, border included
        Mistake("dx_shifted", _dx_cropped_first, part=0),  # cropped to the first H x W
        Mistake("dx_unflipped", _dx_unflipped, part=0),  # a full convolution with the kernel not rotated
        Mistake("dx_stride_ignored", _dx_stride_ignored, part=0),
        Symptom("dx_wrong_size", _dx_too_small),  # smaller than x: the rows and columns no window reaches dropped
    ],
))


# ----------------------------------------------------------------------------- conv2d_function (torch.autograd.Function)

def _apply_of(fn):
    """The learner's ``Function.apply``; anything but a torch.autograd.Function subclass is refused."""
    if isinstance(fn, type) and issubclass(fn, torch.autograd.Function):
        return fn.apply
    if getattr(fn, "__name__", "") == "apply" and isinstance(getattr(fn, "__self__", None), type) \
            and issubclass(fn.__self__, torch.autograd.Function):
        return fn  # Conv2dFunction.apply
    raise TypeError(message("compare.Conv2dFunction.not_a_function",
                            got=f"{type(fn).__name__} {getattr(fn, '__name__', '')}".rstrip()))


def _tiny_cnn_losses(conv, x, y, params, steps=10, lr=1.0):
    """Train a two-layer CNN (conv 3x3 -> ReLU -> conv 3x3 stride 2 -> ReLU -> mean -> linear) with ``conv``.

    ``conv(x, weight, bias, stride, padding)``; full-batch SGD; returns the loss before each step.
    """
    params = [p.detach().clone().requires_grad_(True) for p in params]
    w1, b1, w2, b2, fc_w, fc_b = params
    losses = []
    for _ in range(steps):
        with torch.enable_grad():
            h = conv(x, w1, b1, 1, 1).relu()
            h = conv(h, w2, b2, 2, 1).relu()
            loss = F.cross_entropy(h.mean(dim=(2, 3)) @ fc_w.T + fc_b, y)
            grads = _AUTOGRAD_GRAD(loss, params)
        losses.append(loss.detach())
        with torch.no_grad():
            for p, grad in zip(params, grads):
                p -= lr * grad
    return torch.stack(losses)


def _engine_grad(out, leaves, grad_out):
    """torch.autograd.grad through the learner's backward; an error raised by the engine itself (wrong number
    or shape of gradients) comes back as one clean line, not as a line of torch's own code."""
    try:
        return _AUTOGRAD_GRAD(out, leaves, grad_out, allow_unused=True)
    except RuntimeError as err:
        torch_dir = str(Path(torch.__file__).resolve().parent)
        own = [f for f in traceback.extract_tb(err.__traceback__)
               if not f.filename.startswith((torch_dir, _PACKAGE_DIR)) and "site-packages" not in f.filename]
        if own:
            raise  # raised in the learner's backward: keep its line
        first_line = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise RuntimeError(message("compare.Conv2dFunction.autograd_error", message=first_line)) from None


def _conv2d_function_call(fn, args, kwargs):
    """Run the learner's Function: its output and gradients (a gradient case), or a short training run."""
    apply = _apply_of(fn)
    if args and args[0] == "train":
        _, x, y, params = args
        return {"losses": _tiny_cnn_losses(lambda *a: apply(*a), x, y, params)}
    x, weight, bias, grad_out = args
    stride, padding = kwargs.get("stride", 1), kwargs.get("padding", 0)
    leaves = [t.detach().requires_grad_(True) for t in (x, weight) + ((bias,) if bias is not None else ())]
    with torch.enable_grad():
        out = apply(leaves[0], leaves[1], leaves[2] if bias is not None else None, stride, padding)
        if not isinstance(out, torch.Tensor):
            return out
        if out.grad_fn is None:
            return (out, None, None, None)
        grads = _engine_grad(out, leaves, grad_out)
    return (out.detach(),) + tuple(g.detach() if g is not None else None for g in grads) + ((None,) if bias is None else ())


def _conv2d_function_reference(*args, **kwargs):
    if args and args[0] == "train":
        _, x, y, params = args
        return {"losses": _tiny_cnn_losses(lambda x, w, b, s, p: F.conv2d(x, w, b, stride=s, padding=p), x, y, params)}
    x, weight, bias, grad_out = args
    stride, padding = kwargs.get("stride", 1), kwargs.get("padding", 0)
    out = F.conv2d(x, weight, bias, stride=stride, padding=padding)
    tensors = (x, weight) + ((bias,) if bias is not None else ())
    grads = autograd_gradients(lambda *t: F.conv2d(t[0], t[1], t[2] if len(t) > 2 else None, stride=stride,
                                                   padding=padding), tensors, grad_out)
    return (out,) + grads + ((None,) if bias is None else ())


def _conv2d_function_cases(g: torch.Generator):
    def r(*shape, scale=1.0):
        return torch.randn(*shape, generator=g, dtype=torch.float64) * scale

    def case(label, x_shape, w_shape, stride=1, padding=0, bias=True):
        x, w = r(*x_shape), r(*w_shape)
        b = r(w_shape[0]) if bias else None
        out = F.conv2d(x, w, stride=stride, padding=padding)
        kwargs = {k: v for k, v in (("stride", stride), ("padding", padding)) if v}
        return Case(label, (x, w, b, r(*out.shape)), kwargs)

    # A tiny task the CNN learns in a few steps: which third of the image holds a bright horizontal bar.
    N, classes = 24, 3
    labels = torch.arange(N) % classes
    images = r(N, 1, 8, 8, scale=0.3)
    for n, k in enumerate(labels.tolist()):
        images[n, 0, 3 * k:3 * k + 2, :] += 1.0
    params = (r(4, 1, 3, 3, scale=0.5), r(4, scale=0.1), r(6, 4, 3, 3, scale=0.3), r(6, scale=0.1),
              r(classes, 6, scale=0.5), torch.zeros(classes, dtype=torch.float64))
    return [
        case("gradients: 2x3x7x9 input, 4 filters 3x3", (2, 3, 7, 9), (4, 3, 3, 3)),
        case("gradients: stride 2, padding 1", (2, 3, 9, 8), (4, 3, 3, 3), stride=2, padding=1),
        case("gradients: stride 3, padding 2, 5x5 kernel", (1, 2, 11, 10), (3, 2, 5, 5), stride=3, padding=2),
        case("gradients: bias=None (its gradient is None)", (2, 2, 6, 6), (3, 2, 3, 3), padding=1, bias=False),
        Case("training: a two-layer CNN, 10 SGD steps (the loss must go down, as with F.conv2d)",
             ("train", images, labels, params)),
    ]


def _conv2d_function_compare(got, expected):
    if isinstance(expected, dict):
        losses = got.get("losses") if isinstance(got, dict) else None
        if isinstance(losses, torch.Tensor) and losses.numel() > 1 and torch.isfinite(losses).all():
            if not losses[-1] < losses[0]:
                return message("compare.Conv2dFunction.loss_not_decreasing", first=f"{losses[0].item():.4g}",
                               last=f"{losses[-1].item():.4g}", steps=losses.numel(),
                               reference=f"{expected['losses'][-1].item():.4g}")
    return compare_rel_error(MAX_REL_ERROR, names=("output", "dx", "dw", "db"))(got, expected)


def _grad_is_none(index):
    def recognises(got, case):
        return isinstance(got, tuple) and len(got) == 4 and got[index] is None and case.args[0] != "train" \
            and (index < 3 or case.args[2] is not None)
    return recognises


def _not_connected(got, case):
    return isinstance(got, tuple) and len(got) == 4 and all(g is None for g in got[1:])


conv2d_function = register(Checker(
    name="Conv2dFunction",
    reference=_conv2d_function_reference,
    cases=_conv2d_function_cases,
    call=_conv2d_function_call,
    compare=_conv2d_function_compare,
    note=rel_error_note(),
    forbids=AUTOGRAD_FORBIDS + CONV_GRAD_FORBIDS,
    diagnoses=[
        Symptom("not_connected", _not_connected),  # the output has no gradient at all
        Symptom("no_dx", _grad_is_none(1)),
        Symptom("no_dw", _grad_is_none(2)),
        Symptom("no_db", _grad_is_none(3)),
    ],
))
