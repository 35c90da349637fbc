"""2-D convolution from scratch: output sizes, padding, a loops version, an im2col version, costs.

Letters used everywhere in the course: N batch, C channels, H height, W width;
K kernel size, S stride, P padding, D dilation. A pair argument (``stride=2`` or
``stride=(2, 1)``) is (height, width), like ``torch.nn.Conv2d``.

Taught in notebooks/02_convolution.ipynb.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

__all__ = [
    "conv_output_size",
    "pad2d",
    "conv2d_loops",
    "conv2d_im2col",
    "conv_flops",
    "receptive_field",
    "depthwise_separable_params",
]

PAD_MODES = ("zeros", "reflect", "replicate", "circular")


def _pair(value, name: str, where: str, minimum: int = 1) -> tuple[int, int]:
    """``3`` -> ``(3, 3)``; ``(3, 1)`` stays; a non-int is a TypeError, a value < minimum a ValueError."""
    if isinstance(value, (tuple, list)) and len(value) == 2:
        pair = tuple(value)
    elif isinstance(value, (tuple, list)):
        raise ValueError(f"{where}: {name} must be an int or an (h, w) pair, got {value!r}")
    else:
        pair = (value, value)
    for v in pair:
        # bool is an int subclass; stride=True is surely a mistake.
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"{where}: {name} must be an int or an (h, w) pair of ints, got {value!r}")
        if v < minimum:
            raise ValueError(f"{where}: {name} must be >= {minimum}, got {value!r}")
    return pair  # type: ignore[return-value]


def _check_int(value, name: str, where: str, minimum: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise TypeError(f"{where}: {name} must be an int, got {value!r}")
    if value < minimum:
        raise ValueError(f"{where}: {name} must be >= {minimum}, got {value}")
    return value


def conv_output_size(size: int, kernel_size: int, stride: int = 1, padding: int = 0, dilation: int = 1) -> int:
    """Length of a convolution's output along one axis.

    ``floor((size + 2P - D(K - 1) - 1) / S) + 1``, the formula in ``torch.nn.Conv2d``'s docs:
    ``D(K - 1) + 1`` is the span of a dilated kernel, and it fits ``floor(...) + 1`` times.

    >>> conv_output_size(32, kernel_size=3, padding=1)
    32
    >>> conv_output_size(32, kernel_size=3, stride=2, padding=1)
    16

    Taught in notebooks/02_convolution.ipynb.
    """
    where = "conv_output_size"
    _check_int(size, "size", where, 1)
    _check_int(kernel_size, "kernel_size", where, 1)
    _check_int(stride, "stride", where, 1)
    _check_int(padding, "padding", where, 0)
    _check_int(dilation, "dilation", where, 1)
    return _output_size(size, kernel_size, stride, padding, dilation, where)


def _output_size(size: int, K: int, S: int, P: int, D: int, where: str, axis: str = "") -> int:
    """The formula of :func:`conv_output_size` on checked ints; a ValueError naming ``where`` if < 1."""
    span = D * (K - 1) + 1  # a dilated kernel covers this many input pixels
    out = (size + 2 * P - span) // S + 1
    if out < 1:
        along = f"along {axis}, " if axis else ""
        raise ValueError(
            f"{where}: {along}a kernel spanning {span} pixels (K={K}, D={D}) does not fit in size {size} "
            f"with padding {P}; use a smaller kernel or dilation, or more padding"
        )
    return out


def _pad_indices(size: int, before: int, after: int, mode: str) -> torch.Tensor:
    """Which input row (or column) each padded row reads from: shape (before + size + after,)."""
    i = torch.arange(-before, size + after)
    if mode == "replicate":
        return i.clamp(0, size - 1)
    if mode == "circular":
        return i % size
    # reflect: mirror about the edge without repeating it, ... 2 1 | 0 1 2 ... H-1 | H-2 ...
    i = i.abs()
    return torch.where(i > size - 1, 2 * (size - 1) - i, i)


def pad2d(x: torch.Tensor, padding, mode: str = "zeros") -> torch.Tensor:
    """Pad the last two axes (H, W) of ``x``; matches ``F.pad``.

    Args:
        x: (..., H, W), usually (N, C, H, W).
        padding: ``P`` (all four sides), ``(P_h, P_w)``, or ``(left, right, top, bottom)``
            in ``F.pad``'s order. Non-negative ints.
        mode: ``"zeros"``, ``"reflect"`` (mirror, edge not repeated: needs P < size),
            ``"replicate"`` (repeat the edge) or ``"circular"`` (wrap around: needs P <= size).

    Returns:
        (..., H + top + bottom, W + left + right), same dtype and device.

    Taught in notebooks/02_convolution.ipynb.
    """
    where = "pad2d"
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{where}: x must be a torch.Tensor, got {type(x).__name__}")
    if x.dim() < 2:
        raise ValueError(f"{where}: x must have at least 2 dims (..., H, W), got shape {tuple(x.shape)}")
    if mode not in PAD_MODES:
        raise ValueError(f"{where}: mode must be one of {PAD_MODES}, got {mode!r}")
    if isinstance(padding, (tuple, list)) and len(padding) == 4:
        left, right, top, bottom = (_check_int(p, "padding", where, 0) for p in padding)
    else:
        top, left = _pair(padding, "padding", where, minimum=0)
        bottom, right = top, left
    H, W = x.shape[-2:]
    if mode == "zeros":
        out = x.new_zeros(*x.shape[:-2], H + top + bottom, W + left + right)
        # Writing into a fresh tensor is out of place for x, and autograd follows the copy.
        out[..., top : top + H, left : left + W] = x
        return out
    limit_h, limit_w = (H - 1, W - 1) if mode == "reflect" else (H, W)
    if mode != "replicate" and (max(top, bottom) > limit_h or max(left, right) > limit_w):
        need = "smaller than" if mode == "reflect" else "at most"
        raise ValueError(
            f"{where}: {mode} padding must be {need} the input size, got padding "
            f"(left={left}, right={right}, top={top}, bottom={bottom}) for H={H}, W={W}"
        )
    rows = _pad_indices(H, top, bottom, mode).to(x.device)
    cols = _pad_indices(W, left, right, mode).to(x.device)
    return x.index_select(-2, rows).index_select(-1, cols)


def _check_conv_args(x, weight, bias, stride, padding, dilation, groups, where):
    """Validate a conv call; return (S, P, D) pairs. Shapes as in ``torch.nn.functional.conv2d``."""
    for name, t in (("x", x), ("weight", weight)):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"{where}: {name} must be a torch.Tensor, got {type(t).__name__}")
        if not t.is_floating_point():
            raise TypeError(f"{where}: {name} must be a floating-point tensor, got {t.dtype}; use .float()")
    if x.dim() != 4:
        hint = "; add a batch axis with x.unsqueeze(0)" if x.dim() == 3 else ""
        raise ValueError(f"{where}: x must be (N, C_in, H, W), got shape {tuple(x.shape)}{hint}")
    if weight.dim() != 4:
        raise ValueError(f"{where}: weight must be (C_out, C_in/groups, K_h, K_w), got shape {tuple(weight.shape)}")
    _check_int(groups, "groups", where, 1)
    c_in, c_out = x.shape[1], weight.shape[0]
    if c_in % groups or c_out % groups:
        raise ValueError(
            f"{where}: groups={groups} must divide both C_in={c_in} and C_out={c_out}"
        )
    if weight.shape[1] * groups != c_in:
        raise ValueError(
            f"{where}: weight has {weight.shape[1]} input channels per group but x has {c_in} channels "
            f"and groups={groups}; weight must be (C_out, C_in/groups, K_h, K_w)"
        )
    if bias is not None and (not isinstance(bias, torch.Tensor) or bias.shape != (c_out,)):
        shape = tuple(bias.shape) if isinstance(bias, torch.Tensor) else type(bias).__name__
        raise ValueError(f"{where}: bias must be None or a tensor of shape (C_out,) = ({c_out},), got {shape}")
    S = _pair(stride, "stride", where, minimum=1)
    P = _pair(padding, "padding", where, minimum=0)
    D = _pair(dilation, "dilation", where, minimum=1)
    for axis, size, K, S_, P_, D_ in zip("HW", x.shape[2:], weight.shape[2:], S, P, D):
        _output_size(size, K, S_, P_, D_, where, axis)  # raises if the kernel does not fit
    return S, P, D


def conv2d_loops(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> torch.Tensor:
    """2-D cross-correlation (what deep learning calls convolution) with explicit loops.

    Loops over output positions (i, j); at each one, takes the (dilated) window under the
    kernel and multiplies-and-sums it with every filter at once. Slow on purpose: it is the
    definition, for reading and for checking faster versions against.

    Args:
        x: (N, C_in, H, W).
        weight: (C_out, C_in/groups, K_h, K_w).
        bias: (C_out,) or None.
        stride, padding, dilation: S, P, D; an int or an (h, w) pair. Zero padding.
        groups: split channels into this many independent convs (``groups=C_in`` is depthwise).

    Returns:
        (N, C_out, H', W') with ``H' = floor((H + 2P - D(K - 1) - 1) / S) + 1`` (same for W').

    Taught in notebooks/02_convolution.ipynb.
    """
    (S_h, S_w), P, (D_h, D_w) = _check_conv_args(x, weight, bias, stride, padding, dilation, groups, "conv2d_loops")
    N, C_in, H, W = x.shape
    C_out, C_per_group, K_h, K_w = weight.shape
    G = groups
    H_out = _output_size(H, K_h, S_h, P[0], D_h, "conv2d_loops")
    W_out = _output_size(W, K_w, S_w, P[1], D_w, "conv2d_loops")
    x = pad2d(x, P)  # (N, C_in, H + 2P_h, W + 2P_w)
    w = weight.reshape(G, C_out // G, C_per_group, K_h, K_w)
    out = x.new_empty(N, C_out, H_out, W_out)
    for i in range(H_out):
        for j in range(W_out):
            top, left = i * S_h, j * S_w
            window = x[:, :, top : top + D_h * (K_h - 1) + 1 : D_h, left : left + D_w * (K_w - 1) + 1 : D_w]
            window = window.reshape(N, G, C_per_group, K_h, K_w)
            # sum over c, k_h, k_w: one number per (sample n, group g, filter o in g)
            out[:, :, i, j] = torch.einsum("ngchw,gochw->ngo", window, w).reshape(N, C_out)
    if bias is not None:
        out = out + bias.view(1, C_out, 1, 1)
    return out


def conv2d_im2col(x, weight, bias=None, stride=1, padding=0, dilation=1, groups=1) -> torch.Tensor:
    """2-D convolution as one matrix multiply: im2col (``F.unfold``) then filters @ columns.

    ``F.unfold`` copies every window under the kernel into a column, so the convolution
    becomes ``(C_out, C_in*K_h*K_w) @ (C_in*K_h*K_w, H'*W')`` per sample: the trick
    (Chellapilla et al., 2006; Caffe) that hands the work to a fast matmul, at the cost of
    K_h*K_w copies of the input.

    Args:
        x: (N, C_in, H, W).
        weight: (C_out, C_in/groups, K_h, K_w).
        bias: (C_out,) or None.
        stride, padding, dilation: S, P, D; an int or an (h, w) pair. Zero padding.
        groups: split channels into this many independent convs (``groups=C_in`` is depthwise).

    Returns:
        (N, C_out, H', W'), equal to ``F.conv2d`` with the same arguments.

    Taught in notebooks/02_convolution.ipynb.
    """
    S, P, D = _check_conv_args(x, weight, bias, stride, padding, dilation, groups, "conv2d_im2col")
    N, C_in, H, W = x.shape
    C_out, C_per_group, K_h, K_w = weight.shape
    G = groups
    H_out = _output_size(H, K_h, S[0], P[0], D[0], "conv2d_im2col")
    W_out = _output_size(W, K_w, S[1], P[1], D[1], "conv2d_im2col")
    cols = F.unfold(x, (K_h, K_w), dilation=D, padding=P, stride=S)  # (N, C_in*K_h*K_w, H'*W')
    if G == 1:
        # (C_out, C_in*K_h*K_w) @ (N, C_in*K_h*K_w, H'*W') broadcasts over N: one batched matmul.
        out = weight.reshape(C_out, -1) @ cols  # (N, C_out, H'*W')
    else:
        # unfold orders rows channel-major, so each group's channels are one contiguous block.
        cols = cols.reshape(N, G, C_per_group * K_h * K_w, H_out * W_out)  # (N, G, C_in/G*K_h*K_w, H'*W')
        w = weight.reshape(G, C_out // G, C_per_group * K_h * K_w)  # (G, C_out/G, C_in/G*K_h*K_w)
        out = (w @ cols).reshape(N, C_out, H_out * W_out)  # (N, G, C_out/G, H'*W') -> (N, C_out, H'*W')
    out = out.reshape(N, C_out, H_out, W_out)
    if bias is not None:
        out = out + bias.view(1, C_out, 1, 1)
    return out


def _conv_params(in_channels: int, out_channels: int, kernel_size, groups: int = 1, bias: bool = True) -> int:
    """Number of learnable parameters of an ``nn.Conv2d``: ``C_out * C_in/groups * K_h * K_w (+ C_out)``.

    >>> _conv_params(3, 64, 3)
    1792

    Taught in notebooks/02_convolution.ipynb.
    """
    where = "conv_params"
    _check_int(in_channels, "in_channels", where, 1)
    _check_int(out_channels, "out_channels", where, 1)
    _check_int(groups, "groups", where, 1)
    K_h, K_w = _pair(kernel_size, "kernel_size", where)
    if in_channels % groups or out_channels % groups:
        raise ValueError(
            f"{where}: groups={groups} must divide both in_channels={in_channels} and out_channels={out_channels}"
        )
    return out_channels * (in_channels // groups) * K_h * K_w + (out_channels if bias else 0)


def conv_flops(
    in_channels: int,
    out_channels: int,
    kernel_size,
    input_size,
    stride=1,
    padding=0,
    dilation=1,
    groups: int = 1,
) -> int:
    """Multiply-accumulates (MACs) one conv layer does for ONE sample.

    Convention: one MAC is one multiply plus one add; the count covers the whole output of
    one sample, all C_out maps of H' x W': ``C_out * H' * W' * (C_in/groups) * K_h * K_w``.
    Bias adds are not counted. Multiply by N for a batch, and by 2 for "FLOPs" in the
    multiply-and-add-counted-separately sense (papers differ: say which one you quote).

    Args:
        input_size: H (square) or (H, W) of the input.

    >>> conv_flops(3, 64, 3, input_size=32, padding=1)  # 64 * 32*32 * 3*3*3
    1769472

    Taught in notebooks/02_convolution.ipynb.
    """
    where = "conv_flops"
    _conv_params(in_channels, out_channels, kernel_size, groups)  # validates channels, groups, kernel
    K_h, K_w = _pair(kernel_size, "kernel_size", where)
    H, W = _pair(input_size, "input_size", where)
    S, P, D = _pair(stride, "stride", where), _pair(padding, "padding", where, 0), _pair(dilation, "dilation", where)
    H_out = _output_size(H, K_h, S[0], P[0], D[0], where, "H")
    W_out = _output_size(W, K_w, S[1], P[1], D[1], where, "W")
    macs_per_output = (in_channels // groups) * K_h * K_w  # one dot product per output value
    return out_channels * H_out * W_out * macs_per_output


def receptive_field(layers) -> int:
    """Receptive field (in input pixels, along one axis) of a stack of convs or pools.

    ``layers`` is a list of ``(kernel_size, stride, dilation)``, first layer first. Each layer
    widens the field by ``D(K - 1)`` times the product of the strides before it
    (the "jump" between neighbouring outputs, measured in input pixels).

    >>> receptive_field([(3, 1, 1), (3, 1, 1)])  # two 3x3 convs see 5x5, like one 5x5
    5

    Taught in notebooks/02_convolution.ipynb.
    """
    where = "receptive_field"
    field, jump = 1, 1
    for index, layer in enumerate(layers):
        if not isinstance(layer, (tuple, list)) or len(layer) != 3:
            raise ValueError(
                f"{where}: layer {index} is {layer!r}; each layer must be a (kernel_size, stride, dilation) tuple"
            )
        K, S, D = (_check_int(v, name, where, 1) for v, name in zip(layer, ("kernel_size", "stride", "dilation")))
        field += D * (K - 1) * jump
        jump *= S
    return field


def depthwise_separable_params(in_channels: int, out_channels: int, kernel_size, bias: bool = True) -> int:
    """Parameters of a depthwise-separable conv (MobileNet, Howard et al. 2017).

    A depthwise K x K conv (``groups=C_in``, one filter per channel) then a pointwise 1 x 1
    conv mixing channels: ``C_in*K_h*K_w + C_in*C_out`` weights (+ ``C_in + C_out`` biases),
    against ``C_in*C_out*K_h*K_w`` for a full conv.

    Taught in notebooks/02_convolution.ipynb.
    """
    depthwise = _conv_params(in_channels, in_channels, kernel_size, groups=in_channels, bias=bias)
    pointwise = _conv_params(in_channels, out_channels, 1, bias=bias)
    return depthwise + pointwise
