"""Pooling from scratch: max and average over K x K windows, and global average pooling.

A pool is a convolution without weights: the same windows (cut out here with
``F.unfold``, as in :func:`cnncourse.layers.conv.conv2d_im2col`), reduced by ``max`` or
``mean`` instead of a dot product, one channel at a time.

Taught in notebooks/04_pooling.ipynb.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F

from .conv import _output_size, _pair, conv_output_size

__all__ = ["pool_output_size", "max_pool2d", "avg_pool2d", "global_avg_pool2d"]


def pool_output_size(size: int, kernel_size: int, stride: int | None = None, padding: int = 0) -> int:
    """Length of a pool's output along one axis; ``stride=None`` means ``stride = kernel_size``.

    Same formula as a convolution's (:func:`conv_output_size` with D = 1), floor rounding
    (PyTorch's ``ceil_mode=False``).

    >>> pool_output_size(32, kernel_size=2)
    16

    Taught in notebooks/04_pooling.ipynb.
    """
    return conv_output_size(size, kernel_size, kernel_size if stride is None else stride, padding)


def _windows(x, kernel_size, stride, padding, where, pad_value):
    """Cut x (N, C, H, W) into pooling windows: (N, C, K_h*K_w, H', W'), padded with ``pad_value``."""
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{where}: x must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{where}: x must be a floating-point tensor, got {x.dtype}; use x.float()")
    if x.dim() != 4:
        hint = "; add a batch axis with x.unsqueeze(0)" if x.dim() == 3 else ""
        raise ValueError(f"{where}: x must be (N, C, H, W), got shape {tuple(x.shape)}{hint}")
    K = _pair(kernel_size, "kernel_size", where)
    S = K if stride is None else _pair(stride, "stride", where)
    P = _pair(padding, "padding", where, minimum=0)
    if P[0] > K[0] // 2 or P[1] > K[1] // 2:
        # PyTorch's rule too: more padding would make windows of padding only.
        raise ValueError(f"{where}: padding {padding} must be at most half of kernel_size {kernel_size}")
    N, C, H, W = x.shape
    H_out = _output_size(H, K[0], S[0], P[0], 1, where, "H")  # = pool_output_size, but naming where
    W_out = _output_size(W, K[1], S[1], P[1], 1, where, "W")
    if any(P):
        x = F.pad(x, (P[1], P[1], P[0], P[0]), value=pad_value)  # (N, C, H + 2P_h, W + 2P_w)
    cols = F.unfold(x, K, stride=S)  # (N, C*K_h*K_w, H'*W'), channel-major rows
    return cols.reshape(N, C, K[0] * K[1], H_out, W_out)


def _max_pool2d(x: torch.Tensor, kernel_size, stride=None, padding=0) -> torch.Tensor:
    """Max pooling: the largest value in each K x K window, per channel; matches ``F.max_pool2d``.

    Padding is with ``-inf``, so it is never the max (PyTorch does the same).

    Args:
        x: (N, C, H, W).
        kernel_size, stride, padding: K, S (default S = K), P; an int or an (h, w) pair, P <= K/2.

    Returns:
        (N, C, H', W') with ``H' = floor((H + 2P - K) / S) + 1``.

    Taught in notebooks/04_pooling.ipynb.
    """
    windows = _windows(x, kernel_size, stride, padding, "max_pool2d", float("-inf"))
    # .max (not .amax) sends the gradient to one winner per window, like F.max_pool2d.
    return windows.max(dim=2).values


def avg_pool2d(x: torch.Tensor, kernel_size, stride=None, padding=0) -> torch.Tensor:
    """Average pooling: the mean of each K x K window, per channel; matches ``F.avg_pool2d``.

    Zero padding counts in the mean (always divide by K_h*K_w), which is PyTorch's default
    ``count_include_pad=True``: windows on the border come out smaller.

    Args:
        x: (N, C, H, W).
        kernel_size, stride, padding: K, S (default S = K), P; an int or an (h, w) pair, P <= K/2.

    Returns:
        (N, C, H', W') with ``H' = floor((H + 2P - K) / S) + 1``.

    Taught in notebooks/04_pooling.ipynb.
    """
    windows = _windows(x, kernel_size, stride, padding, "avg_pool2d", 0.0)
    return windows.mean(dim=2)


def _global_avg_pool2d(x: torch.Tensor) -> torch.Tensor:
    """Global average pooling: one mean per channel over all of H x W, (N, C, H, W) -> (N, C).

    What replaces the big fully-connected layers at the end of modern CNNs (Lin et al.
    2013, "Network in Network"; ResNet), and what makes them accept any input size.
    Equal to ``F.adaptive_avg_pool2d(x, 1).flatten(1)``.

    Taught in notebooks/04_pooling.ipynb.
    """
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"global_avg_pool2d: x must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"global_avg_pool2d: x must be a floating-point tensor, got {x.dtype}; use x.float()")
    if x.dim() != 4:
        raise ValueError(f"global_avg_pool2d: x must be (N, C, H, W), got shape {tuple(x.shape)}")
    return x.mean(dim=(2, 3))
