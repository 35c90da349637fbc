"""Normalization layers from scratch: batch, layer, instance and group norm.

All four do the same thing, ``(x - mean) / sqrt(var + eps)`` then an optional per-channel
scale and shift; they differ only in WHICH axes the mean and variance are taken over
(:func:`norm_axes`). For x of shape (N, C, H, W):

================  =========================  ==============================================
kind              statistics over            one mean per
================  =========================  ==============================================
``"batch"``       (N, H, W)  axes (0, 2, 3)  channel, shared by the batch (needs N > 1)
``"layer"``       (C, H, W)  axes (1, 2, 3)  sample
``"instance"``    (H, W)     axes (2, 3)     sample and channel
``"group"``       (C/G, H, W) of the         sample and group of C/G channels
                  (N, G, C/G, H, W) view:
                  axes (2, 3, 4)
================  =========================  ==============================================

Variances are the biased ones (divide by n), as PyTorch normalises with; only batch norm's
running variance uses the unbiased one (n - 1).

Taught in notebooks/05_normalization.ipynb.
"""
from __future__ import annotations

import torch

__all__ = [
    "NORM_KINDS",
    "NORM_AXES",
    "norm_axes",
    "layer_norm",
    "instance_norm",
]

NORM_KINDS = ("batch", "layer", "instance", "group")


def norm_axes(kind: str, x_dim: int = 4) -> tuple[int, ...]:
    """The axes each normalization averages over, for an input with ``x_dim`` dims (N, C, ...).

    For ``"group"`` the axes are those of the grouped view (N, G, C/G, ...), which has
    ``x_dim + 1`` dims. For ``"layer"`` this is the CNN convention (everything but N, what
    ``nn.GroupNorm(1, C)`` does); :func:`layer_norm` itself takes the trailing
    ``normalized_shape``, like ``nn.LayerNorm``.

    >>> norm_axes("batch")
    (0, 2, 3)
    >>> norm_axes("batch", x_dim=2)  # BatchNorm1d on (N, C)
    (0,)

    Taught in notebooks/05_normalization.ipynb.
    """
    if kind not in NORM_KINDS:
        raise ValueError(f"norm_axes: kind must be one of {NORM_KINDS}, got {kind!r}")
    smallest = 3 if kind == "instance" else 2
    if isinstance(x_dim, bool) or not isinstance(x_dim, int) or x_dim < smallest:
        raise ValueError(f"norm_axes: {kind} norm needs an input of at least {smallest} dims (N, C, ...), got x_dim={x_dim!r}")
    spatial = tuple(range(2, x_dim))
    if kind == "batch":
        return (0, *spatial)
    if kind == "layer":
        return (1, *spatial)
    if kind == "instance":
        return spatial
    return tuple(range(2, x_dim + 1))  # group: (C/G, *spatial) of the (N, G, C/G, *spatial) view


NORM_AXES: dict[str, tuple[int, ...]] = {kind: norm_axes(kind, 4) for kind in NORM_KINDS}


def _normalize(x: torch.Tensor, axes: tuple[int, ...], eps: float) -> torch.Tensor:
    """``(x - mean) / sqrt(var + eps)`` over ``axes``, biased variance. Same shape as x."""
    mean = x.mean(dim=axes, keepdim=True)
    var = x.var(dim=axes, correction=0, keepdim=True)
    return (x - mean) / torch.sqrt(var + eps)


def _check_x(x, where: str, min_dim: int, shape_words: str) -> None:
    if not isinstance(x, torch.Tensor):
        raise TypeError(f"{where}: x must be a torch.Tensor, got {type(x).__name__}")
    if not x.is_floating_point():
        raise TypeError(f"{where}: x must be a floating-point tensor, got {x.dtype}; use x.float()")
    if x.dim() < min_dim:
        raise ValueError(f"{where}: x must be {shape_words}, got shape {tuple(x.shape)}")


def _check_param(t, name: str, shape: tuple[int, ...], where: str) -> None:
    if t is not None and (not isinstance(t, torch.Tensor) or tuple(t.shape) != shape):
        got = tuple(t.shape) if isinstance(t, torch.Tensor) else type(t).__name__
        raise ValueError(f"{where}: {name} must be None or a tensor of shape {shape}, got {got}")


def _check_eps(eps, where: str) -> None:
    if not isinstance(eps, (int, float)) or isinstance(eps, bool) or eps < 0:
        raise ValueError(f"{where}: eps must be a number >= 0 (typically 1e-5), got {eps!r}")


def _channel_shape(x: torch.Tensor) -> tuple[int, ...]:
    """(1, C, 1, 1, ...): how a per-channel (C,) vector broadcasts against x (N, C, ...)."""
    return (1, x.shape[1]) + (1,) * (x.dim() - 2)


def _batch_norm(
    x: torch.Tensor,
    gamma: torch.Tensor | None,
    beta: torch.Tensor | None,
    running_mean: torch.Tensor | None,
    running_var: torch.Tensor | None,
    training: bool,
    momentum: float = 0.1,
    eps: float = 1e-5,
):
    """Batch normalization (Ioffe & Szegedy 2015), functional, with PyTorch's running-stat update.

    Training: normalise each channel with the mean and biased variance of the batch over
    (N, H, W), and return updated running statistics
    ``new = (1 - momentum) * old + momentum * batch_stat``, where the running variance takes
    the UNBIASED batch variance (times n / (n - 1), n = N*H*W), as ``nn.BatchNorm2d`` does.
    Evaluation: normalise with the running statistics, which come back unchanged.
    The caller's tensors are never modified: keep the returned ones.

    Args:
        x: (N, C, H, W), or (N, C) / (N, C, L) as for BatchNorm1d.
        gamma, beta: (C,) scale and shift, or None for 1 and 0.
        running_mean, running_var: (C,), or both None (training only: batch stats, nothing kept).
        training: bool.

    Returns:
        ``(y, new_running_mean, new_running_var)``: y like x; the running stats (C,) or None.

    Taught in notebooks/05_normalization.ipynb.
    """
    where = "batch_norm"
    _check_x(x, where, 2, "(N, C, ...) such as (N, C, H, W)")
    C = x.shape[1]
    for name, t in (("gamma", gamma), ("beta", beta), ("running_mean", running_mean), ("running_var", running_var)):
        _check_param(t, name, (C,), where)
    if (running_mean is None) != (running_var is None):
        raise ValueError(f"{where}: pass both running_mean and running_var, or neither")
    if not isinstance(training, bool):
        raise TypeError(f"{where}: training must be True or False, got {training!r}")
    if isinstance(momentum, bool) or not isinstance(momentum, (int, float)) or not 0 <= momentum <= 1:
        raise ValueError(f"{where}: momentum must be a number in [0, 1] (PyTorch's default is 0.1), got {momentum!r}")
    _check_eps(eps, where)
    shape = _channel_shape(x)
    if training:
        n = x.numel() // C  # values per channel: N * H * W
        if n < 2:
            raise ValueError(
                f"{where}: training needs more than 1 value per channel, got x of shape {tuple(x.shape)}; "
                "use a batch of 2 or more, or training=False"
            )
        axes = norm_axes("batch", x.dim())
        mean = x.mean(dim=axes)  # (C,)
        var = x.var(dim=axes, correction=0)  # (C,), biased: what the batch is normalised with
        if running_mean is None:
            new_mean = new_var = None
        else:
            # Running stats are bookkeeping, not part of the graph: hence detach().
            new_mean = (1 - momentum) * running_mean + momentum * mean.detach()
            new_var = (1 - momentum) * running_var + momentum * var.detach() * (n / (n - 1))
    else:
        if running_mean is None:
            raise ValueError(f"{where}: evaluation (training=False) needs running_mean and running_var")
        mean, var = running_mean, running_var
        new_mean, new_var = running_mean, running_var
    y = (x - mean.reshape(shape)) / torch.sqrt(var.reshape(shape) + eps)
    if gamma is not None:
        y = y * gamma.reshape(shape)
    if beta is not None:
        y = y + beta.reshape(shape)
    return y, new_mean, new_var


def layer_norm(x: torch.Tensor, normalized_shape, weight=None, bias=None, eps: float = 1e-5) -> torch.Tensor:
    """Layer normalization (Ba et al. 2016) over the trailing ``normalized_shape`` axes, like ``F.layer_norm``.

    For a CNN, ``normalized_shape = x.shape[1:]`` = (C, H, W) normalises each sample on its own.

    Args:
        x: (..., *normalized_shape), e.g. (N, C, H, W).
        normalized_shape: an int or a tuple, the last dims of x.
        weight, bias: tensors of shape ``normalized_shape`` (elementwise affine) or None.

    Returns:
        Same shape, dtype and device as x.

    Taught in notebooks/05_normalization.ipynb.
    """
    where = "layer_norm"
    _check_x(x, where, 1, "a tensor with at least one dim")
    shape = (normalized_shape,) if isinstance(normalized_shape, int) else tuple(normalized_shape)
    if not shape or tuple(x.shape[-len(shape) :]) != shape:
        raise ValueError(
            f"{where}: normalized_shape {shape} must equal the last dims of x, got x of shape {tuple(x.shape)}; "
            "for a CNN use x.shape[1:]"
        )
    _check_param(weight, "weight", shape, where)
    _check_param(bias, "bias", shape, where)
    _check_eps(eps, where)
    y = _normalize(x, tuple(range(-len(shape), 0)), eps)
    if weight is not None:
        y = y * weight
    if bias is not None:
        y = y + bias
    return y


def instance_norm(x: torch.Tensor, eps: float = 1e-5) -> torch.Tensor:
    """Instance normalization (Ulyanov et al. 2016): each sample's each channel over (H, W).

    Equal to ``F.instance_norm(x)`` and to :func:`_group_norm` with ``num_groups = C``.
    Popular in style transfer: it removes each image's contrast.

    Args:
        x: (N, C, H, W) (or (N, C, L)), with more than one spatial value.

    Returns:
        Same shape, dtype and device as x.

    Taught in notebooks/05_normalization.ipynb.
    """
    where = "instance_norm"
    _check_x(x, where, 3, "(N, C, H, W) or (N, C, L)")
    _check_eps(eps, where)
    if x[0, 0].numel() < 2:
        raise ValueError(f"{where}: needs more than 1 spatial value per channel, got x of shape {tuple(x.shape)}")
    return _normalize(x, norm_axes("instance", x.dim()), eps)


def _group_norm(x: torch.Tensor, num_groups: int, weight=None, bias=None, eps: float = 1e-5) -> torch.Tensor:
    """Group normalization (Wu & He 2018): each sample's channels in G groups, each over (C/G, H, W).

    Independent of the batch size (unlike batch norm); ``num_groups=1`` is layer norm over
    (C, H, W), ``num_groups=C`` is instance norm. Matches ``F.group_norm``.

    Args:
        x: (N, C, H, W) (or (N, C, ...)).
        num_groups: G, must divide C.
        weight, bias: (C,) per-channel scale and shift, or None.

    Returns:
        Same shape, dtype and device as x.

    Taught in notebooks/05_normalization.ipynb.
    """
    where = "group_norm"
    _check_x(x, where, 2, "(N, C, ...) such as (N, C, H, W)")
    N, C = x.shape[:2]
    if isinstance(num_groups, bool) or not isinstance(num_groups, int) or num_groups < 1 or C % num_groups:
        raise ValueError(f"{where}: num_groups must be a positive int that divides C={C}, got {num_groups!r}")
    _check_param(weight, "weight", (C,), where)
    _check_param(bias, "bias", (C,), where)
    _check_eps(eps, where)
    grouped = x.reshape(N, num_groups, C // num_groups, *x.shape[2:])  # (N, G, C/G, H, W)
    y = _normalize(grouped, norm_axes("group", x.dim()), eps).reshape(x.shape)  # (N, C, H, W)
    shape = _channel_shape(x)
    if weight is not None:
        y = y * weight.reshape(shape)
    if bias is not None:
        y = y + bias.reshape(shape)
    return y
